//! The fitted curve of a 1-input network: its outputs along the input's range, one colour per
//! output, over the samples.

use super::draw::{
    FONT, Picture, chart_on, class_color, e2s, extent, legend, padded, padded_pair, tick, titled,
};
use crate::budget;
use crate::data::Table;
use anyhow::Result;
use backprop::{Network, Scalar};
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A 1-D regression: the samples and the network's curve, one colour per output.
pub struct Fit {
    /// The title line.
    pub title: String,
    /// The samples: x and the l_n targets.
    pub points: Vec<(f64, Vec<f64>)>,
    /// The curve: x and the l_n outputs, in increasing x.
    pub curve: Vec<(f64, Vec<f64>)>,
}

/// Intervals of the fitted curve.
pub const STEPS: usize = 300;

impl Fit {
    /// The outputs of `net` (1 input) at [`STEPS`] + 1 points across the range of the samples
    /// of `table` (column x_0, then the targets) widened by a tenth, with the samples.
    pub fn sample<T: Scalar>(net: &Network<T>, table: &Table, title: String) -> Result<Fit> {
        let (lo, hi) = padded_pair(extent((0..table.rows()).map(|s| table.row(s)[0])));
        let xs: Vec<f64> = (0..=STEPS)
            .map(|i| lo + (hi - lo) * i as f64 / STEPS as f64)
            .collect();
        let grid_x = DMatrix::<T>::from_fn(1, xs.len(), |_, c| T::of_f64(xs[c]));
        let z = budget::predict_in_chunks(net, &grid_x)?;
        let curve = xs
            .iter()
            .enumerate()
            .map(|(c, &x)| (x, z.column(c).iter().map(|v| v.as_f64()).collect()))
            .collect();
        let points = (0..table.rows())
            .map(|s| (table.row(s)[0], table.row(s)[1..].to_vec()))
            .collect();
        Ok(Fit {
            title,
            points,
            curve,
        })
    }
}

impl Picture for Fit {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let root = titled(root, &self.title, 18)?;
        let xs = self
            .points
            .iter()
            .map(|p| p.0)
            .chain(self.curve.iter().map(|p| p.0));
        let (xlo, xhi) = extent(xs);
        let ys = self
            .points
            .iter()
            .flat_map(|p| p.1.iter().copied())
            .chain(self.curve.iter().flat_map(|p| p.1.iter().copied()))
            .filter(|v| v.is_finite());
        let (ylo, yhi) = extent(ys);
        let (xlo, xhi) = padded(xlo, xhi, 0.02);
        let (ylo, yhi) = padded(ylo, yhi, 0.08);
        let mut chart = chart_on(&root, 60)
            .build_cartesian_2d(xlo..xhi, ylo..yhi)
            .map_err(e2s)?;
        chart
            .configure_mesh()
            .x_desc("x0")
            .y_desc("output")
            .label_style((FONT, 14))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()
            .map_err(e2s)?;
        let outputs = self.points.first().map_or(0, |p| p.1.len());
        for k in 0..outputs {
            let color = class_color(k);
            chart
                .draw_series(
                    self.points
                        .iter()
                        .map(|p| Circle::new((p.0, p.1[k]), 3, color.mix(0.5).filled())),
                )
                .map_err(e2s)?
                .label(format!("target y{k}"))
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.mix(0.5).filled()));
            chart
                .draw_series(LineSeries::new(
                    self.curve.iter().map(|p| (p.0, p.1[k])),
                    color.stroke_width(3),
                ))
                .map_err(e2s)?
                .label(format!("network z{k}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        Ok(())
    }
}
