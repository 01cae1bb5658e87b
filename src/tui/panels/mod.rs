//! One file per panel: its state (where it has its own), its key handling and its view.

pub mod compare;
pub mod conditions;
pub mod data;
pub mod runs;
pub mod train;

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// A horizontal bar of `width` cells for `share` in [0, 1], drawn with block characters.
pub fn bar(share: f64, width: usize) -> String {
    let cells = (share.clamp(0.0, 1.0) * width as f64 * 8.0).round() as usize;
    let (full, rest) = (cells / 8, cells % 8);
    let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][rest];
    format!("{}{}", "█".repeat(full), partial)
}

/// `label: value` with the label dimmed.
pub fn field<'a>(label: &'a str, value: String, dim: Style) -> Vec<Span<'a>> {
    vec![Span::styled(format!("{label} "), dim), Span::raw(value)]
}

pub fn lines_of(texts: Vec<String>) -> Vec<Line<'static>> {
    texts.into_iter().map(Line::from).collect()
}
