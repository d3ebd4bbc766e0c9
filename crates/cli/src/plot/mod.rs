//! Pictures: the loss curve, the decision boundary of a 2-D classifier (or the output surface of
//! a 2-D regression), and the fitted curve of a 1-D regression.
//!
//! PNG or SVG by the file's extension, drawn with plotters and the embedded DejaVu Sans font
//! (ab_glyph), so no system font is needed. Files are written atomically ([`draw::render`]).
//! `draw` holds what every picture shares (the format, the colours, rendering); each picture is
//! a module of its own, which also samples the network's answer it shows.

pub mod boundary;
pub mod draw;
pub mod fit;
pub mod loss;
