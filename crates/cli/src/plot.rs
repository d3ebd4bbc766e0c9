//! Pictures: the loss curve, the decision boundary of a 2-D classifier (or the output surface of
//! a 2-D regression), and the fitted curve of a 1-D regression.
//!
//! PNG or SVG by the file's extension, drawn with plotters and the embedded DejaVu Sans font
//! (ab_glyph), so no system font is needed. Files are written atomically: drawn into a temporary
//! file in the target's directory, then renamed over it.

use anyhow::{Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The font family name the embedded font is registered under.
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded font is a valid TrueType file; should it ever fail to parse, text is
        // skipped by plotters rather than the program failing.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Picture file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Portable Network Graphics.
    Png,
    /// Scalable Vector Graphics.
    Svg,
}

/// The format a picture path asks for, from its extension.
pub fn format_of(path: &Path) -> Result<Format> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => Ok(Format::Png),
        Some("svg") => Ok(Format::Svg),
        _ => bail!("{}: a picture must end in .png or .svg", path.display()),
    }
}

/// Something that draws itself on any plotters backend.
pub trait Picture {
    /// Pixel size (width, height).
    fn size(&self) -> (u32, u32);
    /// Draws on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// An axis label: one decimal, and 0 never shown as −0.0.
fn tick(v: &f64) -> String {
    let t = format!("{v:.1}");
    if t == "-0.0" { "0.0".into() } else { t }
}

fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Renders `picture` to `path` (PNG or SVG by extension), atomically.
pub fn render(path: &Path, picture: &impl Picture) -> Result<()> {
    register_font();
    let format = format_of(path)?;
    let size = picture.size();
    let fail = |e: String| anyhow!("{}: cannot draw the picture: {e}", path.display());
    match format {
        Format::Png => {
            // The encoder picks the format by the extension: keep .png on the temporary file.
            let tmp = crate::common::temp_beside(path, ".png")?;
            {
                let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
                picture.draw(&root).map_err(fail)?;
                root.present().map_err(e2s).map_err(fail)?;
            }
            crate::common::persist(tmp, path)?;
        }
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                picture.draw(&root).map_err(fail)?;
                root.present().map_err(e2s).map_err(fail)?;
            }
            crate::common::write_file(path, text.as_bytes())?;
        }
    }
    Ok(())
}

/// Class colours: distinct hues that stay readable when lightened.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn class_color(c: usize) -> RGBColor {
    PALETTE[c % PALETTE.len()]
}

/// `t` of the way from white to `c`.
fn tint(c: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |v: u8| (255.0 + (f64::from(v) - 255.0) * t).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// Blue (low) through white to red (high), for `t` in [0, 1].
fn diverging(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    if t < 0.5 {
        tint(RGBColor(49, 54, 149), 1.0 - 2.0 * t)
    } else {
        tint(RGBColor(165, 0, 38), 2.0 * t - 1.0)
    }
}

/// The loss per epoch (log scale when positive) and, for classification, the accuracy.
pub struct LossCurve {
    /// The title line.
    pub title: String,
    /// Mean training loss E/N per epoch.
    pub train: Vec<f64>,
    /// Mean test loss per epoch (empty without a test split).
    pub test: Vec<f64>,
    /// Training accuracy per epoch, in [0, 1] (empty for regression).
    pub train_accuracy: Vec<f64>,
    /// Test accuracy per epoch (empty without a test split or for regression).
    pub test_accuracy: Vec<f64>,
}

fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-12);
    (lo - frac * span, hi + frac * span)
}

impl Picture for LossCurve {
    fn size(&self) -> (u32, u32) {
        (
            800,
            if self.train_accuracy.is_empty() {
                450
            } else {
                650
            },
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(e2s)?;
        let root = root
            .titled(&self.title, (FONT, 20).into_font())
            .map_err(e2s)?;
        let (top, bottom) = if self.train_accuracy.is_empty() {
            (root, None)
        } else {
            let (t, b) = root.split_vertically(400);
            (t, Some(b))
        };
        let epochs = self.train.len().max(1);
        let x_range = 1.0..(epochs as f64).max(2.0);
        let all = self.train.iter().chain(&self.test).copied();
        let finite: Vec<f64> = all.filter(|v| v.is_finite()).collect();
        let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let series = |v: &[f64]| -> Vec<(f64, f64)> {
            v.iter()
                .enumerate()
                .filter(|(_, y)| y.is_finite())
                .map(|(i, &y)| ((i + 1) as f64, y))
                .collect()
        };
        let mut builder = ChartBuilder::on(&top);
        builder
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        // A log axis when the loss falls by more than a decade; a linear one otherwise.
        if lo > 0.0 && hi.is_finite() && hi / lo > 10.0 {
            let mut chart = builder
                .build_cartesian_2d(x_range.clone(), (lo / 1.3..hi * 1.3).log_scale())
                .map_err(e2s)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("mean loss E/N (log)")
                .label_style((FONT, 14))
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.0e}"))
                .draw()
                .map_err(e2s)?;
            self.draw_lines(
                &mut chart,
                &series(&self.train),
                &series(&self.test),
                SeriesLabelPosition::UpperRight,
            )?;
        } else {
            let (a, b) = padded(lo, hi, 0.05);
            let mut chart = builder
                .build_cartesian_2d(x_range.clone(), a..b)
                .map_err(e2s)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("mean loss E/N")
                .label_style((FONT, 14))
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.2}"))
                .draw()
                .map_err(e2s)?;
            self.draw_lines(
                &mut chart,
                &series(&self.train),
                &series(&self.test),
                SeriesLabelPosition::UpperRight,
            )?;
        }
        if let Some(bottom) = bottom {
            let mut chart = ChartBuilder::on(&bottom)
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(70)
                .build_cartesian_2d(x_range, 0.0..100.0)
                .map_err(e2s)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("accuracy (%)")
                .label_style((FONT, 14))
                .y_labels(6)
                .x_label_formatter(&|v| format!("{v:.0}"))
                .y_label_formatter(&|v| format!("{v:.0}"))
                .draw()
                .map_err(e2s)?;
            let pct = |v: &[f64]| -> Vec<f64> { v.iter().map(|a| 100.0 * a).collect() };
            self.draw_lines(
                &mut chart,
                &series(&pct(&self.train_accuracy)),
                &series(&pct(&self.test_accuracy)),
                SeriesLabelPosition::LowerRight,
            )?;
        }
        Ok(())
    }
}

impl LossCurve {
    fn draw_lines<'a, DB, X, Y>(
        &self,
        chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
        train: &[(f64, f64)],
        test: &[(f64, f64)],
        legend: SeriesLabelPosition,
    ) -> Result<(), String>
    where
        DB: DrawingBackend + 'a,
        X: Ranged<ValueType = f64>,
        Y: Ranged<ValueType = f64>,
    {
        let train_color = class_color(0);
        let test_color = class_color(3);
        chart
            .draw_series(LineSeries::new(
                train.iter().copied(),
                train_color.stroke_width(2),
            ))
            .map_err(e2s)?
            .label("training")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], train_color.stroke_width(2))
            });
        if !test.is_empty() {
            chart
                .draw_series(LineSeries::new(
                    test.iter().copied(),
                    test_color.stroke_width(2),
                ))
                .map_err(e2s)?
                .label("test")
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], test_color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font((FONT, 14))
            .position(legend)
            .draw()
            .map_err(e2s)?;
        Ok(())
    }
}

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

impl Boundary {
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

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (k, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = k;
        }
    }
    best
}

impl Picture for Boundary {
    fn size(&self) -> (u32, u32) {
        (700, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(e2s)?;
        let root = root
            .titled(&self.title, (FONT, 18).into_font())
            .map_err(e2s)?;
        let (x0, x1) = self.x_range;
        let (y0, y1) = self.y_range;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
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
            let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
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
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font((FONT, 14))
                .position(SeriesLabelPosition::UpperRight)
                .draw()
                .map_err(e2s)?;
        }
        Ok(())
    }
}

/// A 1-D regression: the samples and the network's curve, one colour per output.
pub struct Fit {
    /// The title line.
    pub title: String,
    /// The samples: x and the l_n targets.
    pub points: Vec<(f64, Vec<f64>)>,
    /// The curve: x and the l_n outputs, in increasing x.
    pub curve: Vec<(f64, Vec<f64>)>,
}

impl Picture for Fit {
    fn size(&self) -> (u32, u32) {
        (800, 500)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        root.fill(&WHITE).map_err(e2s)?;
        let root = root
            .titled(&self.title, (FONT, 18).into_font())
            .map_err(e2s)?;
        let xs = self
            .points
            .iter()
            .map(|p| p.0)
            .chain(self.curve.iter().map(|p| p.0));
        let (xlo, xhi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let ys = self
            .points
            .iter()
            .flat_map(|p| p.1.iter().copied())
            .chain(self.curve.iter().flat_map(|p| p.1.iter().copied()))
            .filter(|v| v.is_finite());
        let (ylo, yhi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (xlo, xhi) = padded(xlo, xhi, 0.02);
        let (ylo, yhi) = padded(ylo, yhi, 0.08);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
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
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 14))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(e2s)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(format_of(Path::new("a/b.PNG")).unwrap(), Format::Png);
        assert_eq!(format_of(Path::new("b.svg")).unwrap(), Format::Svg);
        assert!(format_of(Path::new("b.jpg")).is_err());
        assert!(format_of(Path::new("b")).is_err());
    }

    #[test]
    fn pictures_render_to_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let curve = LossCurve {
            title: "t".into(),
            train: vec![1.0, 0.5, 0.25],
            test: vec![1.1, 0.6, 0.3],
            train_accuracy: vec![0.5, 0.7, 0.9],
            test_accuracy: vec![0.4, 0.6, 0.8],
        };
        for name in ["loss.png", "loss.svg"] {
            let p = dir.path().join(name);
            render(&p, &curve).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            assert!(bytes.len() > 1000, "{name}");
        }
        let png = std::fs::read(dir.path().join("loss.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(dir.path().join("loss.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("epoch"));
        // Only the two pictures: no temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
