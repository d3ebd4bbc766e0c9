//! The loss curve: E/N per epoch for the training and the test set, and below it the accuracy
//! of a classifier.
//!
//! Per-epoch values of mini-batch SGD are noisy, so each series is drawn twice: the raw values
//! as a faint line, and over them a centred moving average (the legend says over how many
//! epochs). The loss axis is logarithmic, labelled at every decade, when the loss falls by
//! more than a decade. A known floor of the loss (the spiral's ½ for an odd network) is drawn
//! as a dashed line, its reason in the legend.

use super::draw::{FONT, Picture, chart_on, class_color, e2s, extent, legend, padded, titled};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::ops::Range;

/// The loss per epoch and, for classification, the accuracy.
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
    /// A loss the network cannot go below, and why (drawn as a dashed line).
    pub floor: Option<(f64, String)>,
}

/// The epochs a moving average spans for `epochs` epochs: about a 25th of the run, odd (so it
/// is centred), 1 for short runs.
pub fn smoothing_window(epochs: usize) -> usize {
    let w = epochs / 25;
    if w < 3 { 1 } else { w | 1 }
}

/// The centred moving average of `v` over `window` values (fewer at the ends); non-finite
/// values are left out of every mean.
pub fn moving_average(v: &[f64], window: usize) -> Vec<f64> {
    let half = window / 2;
    (0..v.len())
        .map(|i| {
            let part = &v[i.saturating_sub(half)..(i + half + 1).min(v.len())];
            let (sum, n) = part
                .iter()
                .filter(|x| x.is_finite())
                .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
            if n == 0 { f64::NAN } else { sum / n as f64 }
        })
        .collect()
}

/// Axis ticks for `lo..hi`: every decade of a log10 axis (with 2× and 5× between when it spans
/// fewer than two decades), or 1, 2 or 5 × 10^k steps, about six of them, on a linear one.
pub fn ticks(lo: f64, hi: f64, log: bool) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![];
    }
    if log {
        let (a, b) = (lo.floor() as i32, hi.ceil() as i32);
        let per_decade: &[f64] = if hi - lo < 2.0 {
            &[1.0, 2.0, 5.0]
        } else {
            &[1.0]
        };
        let mut v = Vec::new();
        for d in a..=b {
            for m in per_decade {
                let t = f64::from(d) + m.log10();
                if (lo..=hi).contains(&t) {
                    v.push(t);
                }
            }
        }
        return v;
    }
    let raw = (hi - lo) / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A loss as an axis label: 0.5, 0.02, 1e-5, 3e+04; `log` values are log10 of the loss.
fn loss_label(v: f64, log: bool) -> String {
    let x = if log { 10f64.powf(v) } else { v };
    if x == 0.0 {
        return "0".into();
    }
    // 10^−3 computed from its log may fall an ulp short of 0.001.
    if (0.999e-3..1e4).contains(&x.abs()) {
        // Shortest text of the value rounded to 3 significant digits: 0.05, not 0.05000000001.
        let digits = (2 - x.abs().log10().floor() as i32).max(0) as usize;
        let t = format!("{x:.digits$}");
        let t = if t.contains('.') {
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            t
        };
        return t;
    }
    format!("{x:.0e}")
}

/// A linear axis labelled at the values given (plotters would choose its own).
struct Ticked {
    inner: RangedCoordf64,
    ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        // Grid lines at the labels only: no light lines between them.
        if hint.weight().allow_light_points() {
            vec![]
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.inner.range()
    }
}

type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Ticked>>;

impl Picture for LossCurve {
    fn size(&self) -> (u32, u32) {
        (
            900,
            if self.train_accuracy.is_empty() {
                480
            } else {
                720
            },
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let root = titled(root, &self.title, 20)?;
        let (top, bottom) = if self.train_accuracy.is_empty() {
            (root, None)
        } else {
            let (t, b) = root.split_vertically(430);
            (t, Some(b))
        };
        let epochs = self.train.len().max(1);
        let x_range = 1.0..(epochs as f64).max(2.0);
        let window = smoothing_window(epochs);
        let floor = self.floor.as_ref().map(|f| f.0);
        let (lo, hi) = extent(
            self.train
                .iter()
                .chain(&self.test)
                .chain(&floor)
                .copied()
                .filter(|v| v.is_finite()),
        );
        // A log axis (of log10 E/N) when the loss falls by more than a decade.
        let log = lo > 0.0 && hi.is_finite() && hi / lo > 10.0;
        let scale = |v: f64| if log { v.log10() } else { v };
        let (a, b) = if log {
            padded(lo.log10(), hi.log10(), 0.04)
        } else {
            padded(lo, hi, 0.05)
        };
        let y_desc = if log {
            "mean loss E/N (log scale)"
        } else {
            "mean loss E/N"
        };
        let loss = |v: &[f64]| -> Vec<f64> { v.iter().map(|&x| scale(x)).collect() };
        let mut chart = panel(
            &top,
            x_range.clone(),
            (a, b),
            ticks(a, b, log),
            y_desc,
            &|v| loss_label(*v, log),
        )?;
        if let Some((value, why)) = &self.floor {
            // Dashed, named in the legend: the curves may run close above it.
            let y = scale(*value);
            let style = BLACK.mix(0.7).stroke_width(1);
            chart
                .draw_series(DashedLineSeries::new(
                    [(x_range.start, y), (x_range.end, y)],
                    6,
                    4,
                    style,
                ))
                .map_err(e2s)?
                .label(why.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        }
        draw_series(
            &mut chart,
            &loss(&self.train),
            &loss(&self.test),
            window,
            SeriesLabelPosition::UpperRight,
        )?;
        if let Some(bottom) = bottom {
            let pct = |v: &[f64]| -> Vec<f64> { v.iter().map(|a| 100.0 * a).collect() };
            let mut chart = panel(
                &bottom,
                x_range,
                (0.0, 100.0),
                vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0],
                "accuracy (%)",
                &|v| format!("{v:.0}"),
            )?;
            // The loss panel's drawing again, on the accuracy's own axis.
            draw_series(
                &mut chart,
                &pct(&self.train_accuracy),
                &pct(&self.test_accuracy),
                window,
                SeriesLabelPosition::LowerRight,
            )?;
        }
        Ok(())
    }
}

/// A panel over the epochs with a y axis from `y.0` to `y.1`, labelled at `ticks`.
fn panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x_range: Range<f64>,
    y: (f64, f64),
    ticks: Vec<f64>,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<Chart<'a, DB>, String> {
    let mut chart = chart_on(area, 70)
        .build_cartesian_2d(
            x_range,
            Ticked {
                inner: (y.0..y.1).into(),
                ticks,
            },
        )
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .label_style((FONT, 14))
        // Grid lines at the labels only.
        .light_line_style(WHITE.mix(0.0))
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(y_label)
        .draw()
        .map_err(e2s)?;
    Ok(chart)
}

/// The training and test series, each as a faint raw line under its moving average; the
/// training series last, so that it stays visible where the two meet.
fn draw_series<'a, DB: DrawingBackend + 'a>(
    chart: &mut Chart<'a, DB>,
    train: &[f64],
    test: &[f64],
    window: usize,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    let points = |v: &[f64]| -> Vec<(f64, f64)> {
        v.iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(i, &y)| ((i + 1) as f64, y))
            .collect()
    };
    let smoothed = if window > 1 {
        format!(" (mean of {window} epochs)")
    } else {
        String::new()
    };
    for (name, values, color) in [
        ("test", test, class_color(3)),
        ("training", train, class_color(0)),
    ] {
        if values.is_empty() {
            continue;
        }
        if window > 1 {
            chart
                .draw_series(LineSeries::new(
                    points(values),
                    color.mix(0.3).stroke_width(1),
                ))
                .map_err(e2s)?;
        }
        chart
            .draw_series(LineSeries::new(
                points(&moving_average(values, window)),
                color.stroke_width(2),
            ))
            .map_err(e2s)?
            .label(format!("{name}{smoothed}"))
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    legend(chart, position)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::draw::render;

    #[test]
    fn a_log_axis_is_labelled_at_every_decade() {
        // The seeded set's run: 0.2 down to 0.016 spans log10 −0.7 … −1.8.
        let t = ticks(0.016f64.log10(), 0.21f64.log10(), true);
        let labels: Vec<String> = t.iter().map(|&v| loss_label(v, true)).collect();
        assert_eq!(labels, ["0.02", "0.05", "0.1", "0.2"]);
        let t = ticks(-5.2, 0.4, true);
        let labels: Vec<String> = t.iter().map(|&v| loss_label(v, true)).collect();
        assert_eq!(labels, ["1e-5", "1e-4", "0.001", "0.01", "0.1", "1"]);
        let t = ticks(0.42, 1.07, false);
        let labels: Vec<String> = t.iter().map(|&v| loss_label(v, false)).collect();
        assert_eq!(labels, ["0.6", "0.8", "1"]);
    }

    #[test]
    fn the_moving_average_is_centred_and_skips_non_finite_values() {
        let v = [1.0, 2.0, 3.0, f64::NAN, 5.0];
        assert_eq!(moving_average(&v, 3), vec![1.5, 2.0, 2.5, 4.0, 5.0]);
        assert_eq!(moving_average(&v[..3], 1), vec![1.0, 2.0, 3.0]);
        assert_eq!(smoothing_window(500), 21);
        assert_eq!(smoothing_window(40), 1);
    }

    #[test]
    fn loss_curves_render_to_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let curve = LossCurve {
            title: "t".into(),
            train: vec![1.0, 0.5, 0.25],
            test: vec![1.1, 0.6, 0.3],
            train_accuracy: vec![0.5, 0.7, 0.9],
            test_accuracy: vec![0.4, 0.6, 0.8],
            floor: Some((0.5, "a floor".into())),
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
        assert!(svg.contains("<svg") && svg.contains("epoch") && svg.contains("a floor"));
        // Only the two pictures: no temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
