//! What every picture shares: the file format, the embedded font, the colours, and rendering
//! to a file atomically.

use crate::io;
use anyhow::{Result, anyhow, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// The font family name the embedded font is registered under.
pub const FONT: &str = "sans-serif";

/// Registers the embedded DejaVu Sans under [`FONT`], once.
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
pub fn tick(v: &f64) -> String {
    let t = format!("{v:.1}");
    if t == "-0.0" { "0.0".into() } else { t }
}

/// A plotters error as text.
pub fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Paints `root` white and puts `title` on top; returns the area under the title.
pub fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    size: u32,
) -> Result<DrawingArea<DB, Shift>, String> {
    root.fill(&WHITE).map_err(e2s)?;
    root.titled(title, (FONT, size).into_font()).map_err(e2s)
}

/// A chart builder on `area` with the pictures' margins: `y_labels` pixels for the y axis's
/// labels, 40 for the x axis's.
pub fn chart_on<'a, 'b, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    y_labels: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(y_labels);
    builder
}

/// Draws the chart's legend (the labels of its series) at `position`, on a white box.
pub fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .position(position)
        .draw()
        .map_err(e2s)
}

/// Renders `picture` to `path` (PNG or SVG by extension), atomically.
pub fn render(path: &Path, picture: &impl Picture) -> Result<()> {
    draw_pending(path, picture)?.commit()
}

/// A picture drawn, not yet at its path: [`Pending::commit`] puts it there, atomically.
/// Dropped uncommitted, it leaves no trace (the PNG's temporary file is removed).
pub struct Pending {
    path: PathBuf,
    contents: Contents,
}

enum Contents {
    /// A PNG encoded into a temporary file beside the path.
    Png(io::Scratch),
    /// An SVG's text.
    Svg(String),
}

impl Pending {
    /// Puts the picture at its path (the rename of the PNG's temporary file, or the SVG's
    /// atomic write).
    ///
    /// # Errors
    /// A file that cannot be written; the path is then untouched.
    pub fn commit(self) -> Result<()> {
        match self.contents {
            Contents::Png(tmp) => io::commit(tmp, &self.path),
            Contents::Svg(text) => io::write_file(&self.path, text.as_bytes()),
        }
    }
}

/// Draws `picture` for `path` (PNG or SVG by extension) without putting it there: the work of
/// [`render`] before the commit, which another thread can do while the other outputs are
/// written in their order.
///
/// # Errors
/// A path without a picture extension, a temporary file that cannot be made, a failed
/// drawing.
pub fn draw_pending(path: &Path, picture: &impl Picture) -> Result<Pending> {
    register_font();
    let format = format_of(path)?;
    let size = picture.size();
    let fail = |e: String| anyhow!("{}: cannot draw the picture: {e}", path.display());
    let contents = match format {
        Format::Png => {
            // The encoder picks the format by the extension: keep .png on the temporary file.
            let tmp = io::scratch(path, ".tmp.png")?;
            {
                let root = BitMapBackend::new(tmp.path(), size).into_drawing_area();
                picture.draw(&root).map_err(fail)?;
                root.present().map_err(e2s).map_err(fail)?;
            }
            Contents::Png(tmp)
        }
        Format::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
                picture.draw(&root).map_err(fail)?;
                root.present().map_err(e2s).map_err(fail)?;
            }
            Contents::Svg(text)
        }
    };
    Ok(Pending {
        path: path.to_path_buf(),
        contents,
    })
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

/// The colour of class (or series) `c`.
pub fn class_color(c: usize) -> RGBColor {
    PALETTE[c % PALETTE.len()]
}

/// `t` of the way from white to `c`.
pub fn tint(c: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    let mix = |v: u8| (255.0 + (f64::from(v) - 255.0) * t).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}

/// Blue (low) through white to red (high), for `t` in [0, 1].
pub fn diverging(t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    if t < 0.5 {
        tint(RGBColor(49, 54, 149), 1.0 - 2.0 * t)
    } else {
        tint(RGBColor(165, 0, 38), 2.0 * t - 1.0)
    }
}

/// The range `lo..hi` widened by `frac` of its span on each side; (0, 1) when either end is not
/// finite.
pub fn padded(lo: f64, hi: f64, frac: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let span = (hi - lo).max(1e-12);
    (lo - frac * span, hi + frac * span)
}

/// [`padded`] by a tenth: the range of a picture's axis around the samples.
pub fn padded_pair((lo, hi): (f64, f64)) -> (f64, f64) {
    padded(lo, hi, 0.1)
}

/// The smallest and largest of `values` (∞ and −∞ when there is none).
pub fn extent(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    })
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

    /// A loss curve to draw.
    fn curve() -> crate::plot::loss::LossCurve {
        crate::plot::loss::LossCurve {
            title: "t".into(),
            train: (1..200).map(|k| 1.0 / f64::from(k)).collect(),
            test: (1..200).map(|k| 1.1 / f64::from(k)).collect(),
            train_accuracy: (1..200).map(|k| 1.0 - 1.0 / f64::from(k)).collect(),
            test_accuracy: (1..200).map(|k| 1.0 - 1.2 / f64::from(k)).collect(),
            floor: Some((0.005, "a floor".into())),
        }
    }

    #[test]
    fn a_picture_drawn_then_committed_is_the_one_rendered_directly() {
        // The way `render` drew before it was split in two: straight to the file.
        let dir = tempfile::tempdir().unwrap();
        register_font();
        let (old_png, old_svg) = (dir.path().join("old.png"), dir.path().join("old.svg"));
        let picture = curve();
        {
            let root = BitMapBackend::new(&old_png, picture.size()).into_drawing_area();
            picture.draw(&root).unwrap();
            root.present().unwrap();
        }
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, picture.size()).into_drawing_area();
            picture.draw(&root).unwrap();
            root.present().unwrap();
        }
        std::fs::write(&old_svg, text).unwrap();
        for (old, new) in [(old_png, "new.png"), (old_svg, "new.svg")] {
            let new = dir.path().join(new);
            draw_pending(&new, &picture).unwrap().commit().unwrap();
            assert_eq!(std::fs::read(&old).unwrap(), std::fs::read(&new).unwrap());
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn a_pending_picture_dropped_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.png", "a.svg"] {
            let pending = draw_pending(&dir.path().join(name), &curve()).unwrap();
            drop(pending);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
