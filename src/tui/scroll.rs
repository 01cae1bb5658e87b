//! Scrolling for every list and table of the workbench: a selection that moves without
//! wrapping (by a row, a page, or to either end) and a viewport that keeps it on
//! screen, with a scrollbar when the rows do not fit.
//!
//! Drawing only borrows the app, so the viewport keeps what it learns while drawing (the
//! first row shown, the page height) in cells: the next key then pages by what the
//! screen really holds.

use std::cell::Cell;
use std::ops::Range;

use ratatui::Frame;
use ratatui::layout::{Margin, Rect};
use ratatui::widgets::{Scrollbar, ScrollbarOrientation, ScrollbarState};

use crate::tui::keys::Action;

/// How a key moves a selection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

impl Motion {
    /// The motion an action stands for, if it is one.
    pub fn of(action: Action) -> Option<Motion> {
        Some(match action {
            Action::Up => Motion::Up,
            Action::Down => Motion::Down,
            Action::PageUp => Motion::PageUp,
            Action::PageDown => Motion::PageDown,
            Action::Top => Motion::Top,
            Action::Bottom => Motion::Bottom,
            _ => return None,
        })
    }
}

/// The part of a list on screen.
#[derive(Debug, Clone, Default)]
pub struct Viewport {
    offset: Cell<usize>,
    /// Rows the list showed when last drawn (0 before the first draw).
    height: Cell<usize>,
    /// Where on screen the rows were drawn (the first row at the top), for mouse clicks
    /// and the wheel; empty until a panel says where.
    rows_area: Cell<Rect>,
    /// How many rows the list had when drawn.
    len: Cell<usize>,
}

impl Viewport {
    /// Rows a page moves: the height last drawn, at least 1.
    pub fn page(&self) -> usize {
        self.height.get().max(1)
    }

    /// `selected` (of `len` rows) moved by `motion`, clamped to the list: no wrapping.
    pub fn moved(&self, selected: usize, len: usize, motion: Motion) -> usize {
        let last = len.saturating_sub(1);
        match motion {
            Motion::Up => selected.saturating_sub(1),
            Motion::Down => (selected + 1).min(last),
            Motion::PageUp => selected.saturating_sub(self.page()),
            Motion::PageDown => (selected + self.page()).min(last),
            Motion::Top => 0,
            Motion::Bottom => last,
        }
    }

    /// Remembers where the rows of the window just computed are drawn: the first shown
    /// row on the top line of `rows` (below any header), one row per line.
    pub fn place(&self, rows: Rect) {
        self.rows_area.set(rows);
    }

    /// The list row under the screen cell (`column`, `row`), if the list was drawn there.
    pub fn row_at(&self, column: u16, row: u16) -> Option<usize> {
        let area = self.rows_area.get();
        let inside = column >= area.x && column < area.right() && row >= area.y && row < area.bottom();
        let index = self.offset.get() + usize::from(row.checked_sub(area.y)?);
        (inside && index < self.len.get()).then_some(index)
    }

    /// Whether the screen cell (`column`, `row`) is on the list's rows.
    pub fn contains(&self, column: u16, row: u16) -> bool {
        let area = self.rows_area.get();
        column >= area.x && column < area.right() && row >= area.y && row < area.bottom()
    }

    /// The rows to draw in a view `height` rows tall so that `selected` shows: the
    /// window moves only when the selection would leave it.
    pub fn window(&self, selected: usize, len: usize, height: usize) -> Range<usize> {
        self.height.set(height);
        self.len.set(len);
        if height == 0 || len == 0 {
            return 0..0;
        }
        let selected = selected.min(len - 1);
        let mut offset = self.offset.get().min(len.saturating_sub(height));
        if selected < offset {
            offset = selected;
        } else if selected >= offset + height {
            offset = selected + 1 - height;
        }
        self.offset.set(offset);
        offset..(offset + height).min(len)
    }

    /// The rows to draw when there is no selection, `from_end` rows up from the bottom
    /// (a log follows its newest line at 0).
    pub fn tail(&self, from_end: usize, len: usize, height: usize) -> Range<usize> {
        self.height.set(height);
        let end = len.saturating_sub(from_end.min(len.saturating_sub(height)));
        end.saturating_sub(height)..end
    }

    /// The rows to draw when there is no selection, `from` rows down from the top; the
    /// last page is a full one.
    pub fn from_top(&self, from: usize, len: usize, height: usize) -> Range<usize> {
        self.height.set(height);
        self.len.set(len);
        let start = from.min(len.saturating_sub(height));
        self.offset.set(start);
        start..(start + height).min(len)
    }
}

/// A vertical scrollbar on the right border of `area` when `len` rows do not fit in
/// `height`; `shown` is the window drawn.
pub fn scrollbar(frame: &mut Frame, area: Rect, len: usize, shown: &Range<usize>) {
    if shown.len() >= len {
        return;
    }
    let mut state = ScrollbarState::new(len.saturating_sub(shown.len())).position(shown.start);
    let bar = Scrollbar::new(ScrollbarOrientation::VerticalRight).begin_symbol(None).end_symbol(None);
    frame.render_stateful_widget(bar, area.inner(Margin { vertical: 1, horizontal: 0 }), &mut state);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_stop_at_both_ends() {
        let view = Viewport::default();
        assert_eq!(view.moved(0, 5, Motion::Up), 0);
        assert_eq!(view.moved(4, 5, Motion::Down), 4, "no wrap to the top");
        assert_eq!(view.moved(2, 5, Motion::Top), 0);
        assert_eq!(view.moved(2, 5, Motion::Bottom), 4);
        assert_eq!(view.moved(0, 0, Motion::Bottom), 0);
    }

    #[test]
    fn pages_move_by_the_height_drawn() {
        let view = Viewport::default();
        assert_eq!(view.moved(0, 50, Motion::PageDown), 1, "before any draw a page is one row");
        view.window(0, 50, 10);
        assert_eq!(view.moved(0, 50, Motion::PageDown), 10);
        assert_eq!(view.moved(45, 50, Motion::PageDown), 49);
        assert_eq!(view.moved(15, 50, Motion::PageUp), 5);
        assert_eq!(view.moved(5, 50, Motion::PageUp), 0);
    }

    #[test]
    fn the_window_follows_the_selection_and_only_then() {
        let view = Viewport::default();
        assert_eq!(view.window(0, 44, 10), 0..10);
        assert_eq!(view.window(9, 44, 10), 0..10);
        assert_eq!(view.window(10, 44, 10), 1..11, "one past the bottom scrolls by one");
        assert_eq!(view.window(5, 44, 10), 1..11, "moving back up inside the window keeps it");
        assert_eq!(view.window(0, 44, 10), 0..10);
        assert_eq!(view.window(43, 44, 10), 34..44);
        // The list shrank (a filter): the window stays inside it.
        assert_eq!(view.window(3, 5, 10), 0..5);
        assert_eq!(view.window(0, 0, 10), 0..0);
    }

    #[test]
    fn a_click_finds_the_row_under_it_through_the_scroll_offset() {
        let view = Viewport::default();
        assert_eq!(view.row_at(5, 5), None, "nothing before the first draw");
        // 44 rows, 10 on screen from line 3, scrolled so that rows 1..11 show.
        view.window(10, 44, 10);
        view.place(Rect::new(2, 3, 30, 10));
        assert_eq!(view.row_at(2, 3), Some(1));
        assert_eq!(view.row_at(31, 12), Some(10));
        assert_eq!(view.row_at(32, 12), None, "right of the rows");
        assert_eq!(view.row_at(5, 13), None, "below the rows");
        assert_eq!(view.row_at(5, 2), None, "the header line");
        // A short list: lines below its last row are not rows.
        view.window(0, 3, 10);
        assert_eq!(view.row_at(5, 5), Some(2));
        assert_eq!(view.row_at(5, 6), None);
    }

    #[test]
    fn a_list_without_selection_scrolls_from_the_top_and_keeps_the_last_page_full() {
        let view = Viewport::default();
        assert_eq!(view.from_top(0, 21, 6), 0..6);
        assert_eq!(view.from_top(6, 21, 6), 6..12);
        assert_eq!(view.from_top(18, 21, 6), 15..21, "the last page shows 6 rows, not 3");
        assert_eq!(view.from_top(4, 3, 6), 0..3);
        assert_eq!(view.page(), 6);
    }

    #[test]
    fn a_tail_shows_the_newest_rows_and_scrolls_back() {
        let view = Viewport::default();
        assert_eq!(view.tail(0, 200, 10), 190..200);
        assert_eq!(view.tail(15, 200, 10), 175..185);
        assert_eq!(view.tail(1000, 200, 10), 0..10, "no further than the first line");
        assert_eq!(view.tail(0, 4, 10), 0..4);
    }
}
