//! The decision boundary of a 2-input network: its answer on a grid of the input plane (the
//! class whose output is largest, for a classifier; the first output, for a regression), with
//! the samples on top.

use super::draw::{
    FONT, Format, Picture, chart_on, class_color, diverging, e2s, extent, legend, padded_pair,
    tick, tint, titled,
};
use crate::budget;
use crate::classes::argmax;
use crate::data::Table;
use anyhow::Result;
use backprop::{Network, Scalar};
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A 2-D input plane: the network's answer on a grid, with the samples on top.
pub struct Boundary {
    /// The title line.
    pub title: String,
    /// x_0 range.
    pub x_range: (f64, f64),
    /// x_1 range.
    pub y_range: (f64, f64),
    /// Cells per side of the grid.
    pub cells: usize,
    /// The network's outputs at the grid cells' centres, row-major from the bottom-left:
    /// cell (i, j) (i along x_0, j along x_1) holds `outputs` values at
    /// `grid[(j * cells + i) * outputs..]`.
    pub grid: Vec<f64>,
    /// l_n.
    pub outputs: usize,
    /// The samples: (x_0, x_1, class or target value).
    pub points: Vec<(f64, f64, f64)>,
    /// Class names for a classifier; `None` for a regression (the first output is shown).
    pub classes: Option<Vec<String>>,
}

/// Cells per side of the grid: fine for a bitmap, fewer for SVG, where each cell is an element
/// of the file.
pub fn cells(format: Format) -> usize {
    match format {
        Format::Svg => 60,
        Format::Png => 150,
    }
}

impl Boundary {
    /// The answer of `net` (2 inputs) on a `cells` × `cells` grid over the range of the samples
    /// of `table` (columns x_0, x_1, then the targets) widened by a tenth, with the samples:
    /// their class (the largest target) for a classifier, their first target otherwise. The
    /// forward passes go in chunks within the memory budget, or in two halves on two threads
    /// ([`predict_in_halves`]).
    pub fn sample<T: Scalar>(
        net: &Network<T>,
        table: &Table,
        classes: Option<Vec<String>>,
        cells: usize,
        title: String,
    ) -> Result<Boundary> {
        let column = |k: usize| extent((0..table.rows()).map(|s| table.row(s)[k]));
        let x_range = padded_pair(column(0));
        let y_range = padded_pair(column(1));
        let centres = Boundary::centres(x_range, y_range, cells);
        let grid_x = DMatrix::<T>::from_fn(2, centres.len(), |r, c| T::of_f64(centres[c][r]));
        let z = predict_in_halves(net, &grid_x)?;
        let points = (0..table.rows())
            .map(|s| {
                let row = table.row(s);
                let v = match classes {
                    Some(_) => argmax(&row[2..]) as f64,
                    None => row[2],
                };
                (row[0], row[1], v)
            })
            .collect();
        Ok(Boundary {
            title,
            x_range,
            y_range,
            cells,
            grid: z.iter().map(|v| v.as_f64()).collect(),
            outputs: net.outputs(),
            points,
            classes,
        })
    }

    /// The grid's cell centres, row by row from the bottom: the inputs to evaluate.
    pub fn centres(x_range: (f64, f64), y_range: (f64, f64), cells: usize) -> Vec<[f64; 2]> {
        let mut v = Vec::with_capacity(cells * cells);
        for j in 0..cells {
            for i in 0..cells {
                let x = x_range.0 + (x_range.1 - x_range.0) * (i as f64 + 0.5) / cells as f64;
                let y = y_range.0 + (y_range.1 - y_range.0) * (j as f64 + 0.5) / cells as f64;
                v.push([x, y]);
            }
        }
        v
    }
}

/// The fewest columns for which [`predict_in_halves`] splits: each half has more than 5, so
/// that it goes through the same products as the whole (nalgebra multiplies matrices of at
/// most 5 columns by another loop, which rounds differently); and the split pays for a thread.
const SPLIT_FROM: usize = 1024;

/// z_n for every column of `x`, as [`budget::predict_in_chunks`] computes it, bit for bit: when
/// the whole pass fits in one chunk and has at least [`SPLIT_FROM`] columns, its two halves on
/// two threads (together the memory of the one pass); otherwise in chunks, on this thread.
pub fn predict_in_halves<T: Scalar>(net: &Network<T>, x: &DMatrix<T>) -> Result<DMatrix<T>> {
    let n = x.ncols();
    if n < SPLIT_FROM || n > budget::chunk_of(&net.sizes(), T::DTYPE.size()) {
        return budget::predict_in_chunks(net, x);
    }
    let half = n / 2;
    let (left, right) = (x.columns(0, half), x.columns(half, n - half));
    let (z_left, z_right) = std::thread::scope(|scope| {
        let other = std::thread::Builder::new()
            .name("grid".into())
            .spawn_scoped(scope, || net.predict(right));
        let z_left = net.predict(left);
        let z_right = match other {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            // No thread: this one does both halves.
            Err(_) => net.predict(right),
        };
        (z_left, z_right)
    });
    let (z_left, z_right) = (z_left?, z_right?);
    let mut z = DMatrix::<T>::zeros(z_left.nrows(), n);
    z.columns_mut(0, half).copy_from(&z_left);
    z.columns_mut(half, n - half).copy_from(&z_right);
    Ok(z)
}

impl Picture for Boundary {
    fn size(&self) -> (u32, u32) {
        (700, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let root = titled(root, &self.title, 18)?;
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let mut chart = chart_on(&root, 50)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("x0")
            .y_desc("x1")
            .label_style((FONT, 14))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()
            .map_err(e2s)?;
        let n = self.cells;
        let (dx, dy) = ((x1 - x0) / n as f64, (y1 - y0) / n as f64);
        let k = self.outputs;
        // Regression: scale the first output over the range of the grid and the targets.
        let (lo, hi) = if self.classes.is_none() {
            let vals = (0..n * n)
                .map(|c| self.grid[c * k])
                .chain(self.points.iter().map(|p| p.2));
            let (lo, hi) = extent(vals);
            (lo, if hi > lo { hi } else { lo + 1.0 })
        } else {
            (0.0, 1.0)
        };
        let cells = (0..n * n).map(|c| {
            let (i, j) = (c % n, c / n);
            let out = &self.grid[c * k..(c + 1) * k];
            let color = match &self.classes {
                Some(_) => {
                    let best = argmax(out);
                    // Deeper where the winning output is closer to its one-hot target 1.
                    tint(class_color(best), 0.2 + 0.35 * out[best].clamp(0.0, 1.0))
                }
                None => diverging((out[0] - lo) / (hi - lo)),
            };
            let (ax, ay) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
            Rectangle::new([(ax, ay), (ax + dx, ay + dy)], color.filled())
        });
        chart.draw_series(cells).map_err(e2s)?;
        let points = self.points.iter().map(|&(x, y, v)| {
            let color = match &self.classes {
                Some(_) => class_color(v as usize),
                None => diverging((v - lo) / (hi - lo)),
            };
            Circle::new((x, y), 3, color.filled())
        });
        chart.draw_series(points).map_err(e2s)?;
        let outlines = self
            .points
            .iter()
            .map(|&(x, y, _)| Circle::new((x, y), 3, BLACK.mix(0.6).stroke_width(1)));
        chart.draw_series(outlines).map_err(e2s)?;
        if let Some(classes) = &self.classes {
            for (c, name) in classes.iter().enumerate() {
                let color = class_color(c);
                chart
                    .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                    .map_err(e2s)?
                    .label(format!("class {name}"))
                    .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
            }
            legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backprop::Activation;

    fn halves_equal_one_pass<T: Scalar>(sizes: &[usize], n: usize) {
        for (seed, act) in (0..).zip(Activation::ALL) {
            let net = Network::<T>::random(sizes, act, seed).unwrap();
            let x = DMatrix::<T>::from_fn(sizes[0], n, |r, c| {
                T::of_f64(((r * 7919 + c * 104_729) % 1000) as f64 / 250.0 - 2.0)
            });
            let whole = net.predict(x.as_view()).unwrap();
            let halves = predict_in_halves(&net, &x).unwrap();
            let bits = |m: &DMatrix<T>| m.iter().map(|v| v.as_f64().to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&whole), bits(&halves), "{sizes:?} {act} {n}");
        }
    }

    #[test]
    fn the_grid_in_two_halves_is_the_grid_in_one_pass_bit_for_bit() {
        // The main job's grid (150 × 150) and network, odd sizes, f32, and sizes that do not
        // split (below SPLIT_FROM).
        halves_equal_one_pass::<f64>(&[2, 24, 24, 2], 150 * 150);
        halves_equal_one_pass::<f32>(&[2, 24, 24, 2], 60 * 60);
        halves_equal_one_pass::<f64>(&[2, 7, 5, 3], 1025);
        halves_equal_one_pass::<f64>(&[2, 33, 1], 1024);
        halves_equal_one_pass::<f64>(&[2, 16, 2], 1023);
        halves_equal_one_pass::<f64>(&[2, 16, 2], 3);
    }
}
