//! One file per panel: its state (where it has its own), its key handling and its view.

pub mod compare;
pub mod conditions;
pub mod data;
pub mod detail;
pub mod inspect;
pub mod runs;
pub mod studies;
pub mod train;

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::{Margin, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::search::Search;
use crate::tui::theme::Theme;

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

/// What was drawn into `buffer`, as lines: how a chart scrolls with the text around it.
pub fn buffer_lines(buffer: &Buffer) -> Vec<Line<'static>> {
    let area = buffer.area;
    (area.top()..area.bottom())
        .map(|y| {
            let mut spans: Vec<Span<'static>> = Vec::new();
            for x in area.left()..area.right() {
                let cell = &buffer[(x, y)];
                match spans.last_mut() {
                    Some(last) if last.style == cell.style() => last.content.to_mut().push_str(cell.symbol()),
                    _ => spans.push(Span::styled(cell.symbol().to_string(), cell.style())),
                }
            }
            Line::from(spans)
        })
        .collect()
}

/// The rows of a bordered list or table in `area`: inside the border, below `header`
/// lines (for mouse clicks, see `scroll::Viewport::place`).
pub fn rows_area(area: Rect, header: u16) -> Rect {
    let inner = area.inner(Margin { vertical: 1, horizontal: 1 });
    Rect { y: inner.y + header, height: inner.height.saturating_sub(header), ..inner }
}

/// The `/` search prompt, drawn on the bottom border of the list it searches.
pub fn search_prompt(frame: &mut Frame, list: Rect, search: &Search, theme: &Theme) {
    if list.height < 3 || list.width < 4 {
        return;
    }
    let line = Rect { x: list.x + 1, y: list.bottom() - 1, width: list.width - 2, height: 1 };
    frame.render_widget(Clear, line);
    frame.render_widget(Paragraph::new(search.prompt(theme)), line);
}
