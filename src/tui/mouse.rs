//! The mouse: a click on a tab shows that panel, a click on a list row selects it, the
//! wheel scrolls the list under the pointer. crossterm's mouse capture is on unless
//! `--no-mouse` (or `APG_BENCH_NO_MOUSE=1`) turns it off, which gives the terminal back
//! its own text selection.

use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};

use crate::tui::scroll::Viewport;

/// Rows the wheel moves per notch.
pub const WHEEL_ROWS: usize = 3;

/// What a mouse event means to the workbench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mouse {
    /// The left button went down on this cell.
    Click { column: u16, row: u16 },
    /// A wheel notch over this cell: `down` towards the end of a list.
    Wheel { column: u16, row: u16, down: bool },
}

impl Mouse {
    /// The events the workbench acts on (drags, releases and other buttons are not).
    pub fn from_event(event: MouseEvent) -> Option<Mouse> {
        let (column, row) = (event.column, event.row);
        match event.kind {
            MouseEventKind::Down(MouseButton::Left) => Some(Mouse::Click { column, row }),
            MouseEventKind::ScrollDown => Some(Mouse::Wheel { column, row, down: true }),
            MouseEventKind::ScrollUp => Some(Mouse::Wheel { column, row, down: false }),
            _ => None,
        }
    }

    pub fn position(self) -> (u16, u16) {
        match self {
            Mouse::Click { column, row } | Mouse::Wheel { column, row, .. } => (column, row),
        }
    }
}

/// The selection of a list (of `len` rows, drawn through `view`) after `mouse`: the row
/// clicked, or the selection moved by the wheel; None when the event is not over it.
pub fn select_in(view: &Viewport, mouse: Mouse, selected: usize, len: usize) -> Option<usize> {
    match mouse {
        Mouse::Click { column, row } => view.row_at(column, row),
        Mouse::Wheel { column, row, down } if view.contains(column, row) && len > 0 => {
            Some(if down { (selected + WHEEL_ROWS).min(len - 1) } else { selected.saturating_sub(WHEEL_ROWS) })
        }
        Mouse::Wheel { .. } => None,
    }
}

/// Whether mouse capture is wanted: not when `--no-mouse` was given or
/// `APG_BENCH_NO_MOUSE` is set to anything but empty or `0`.
pub fn wanted(no_mouse_flag: bool) -> bool {
    let off_by_env = std::env::var("APG_BENCH_NO_MOUSE").is_ok_and(|v| !v.is_empty() && v != "0");
    !no_mouse_flag && !off_by_env
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyModifiers;
    use ratatui::layout::Rect;

    fn event(kind: MouseEventKind, column: u16, row: u16) -> MouseEvent {
        MouseEvent { kind, column, row, modifiers: KeyModifiers::NONE }
    }

    #[test]
    fn only_left_clicks_and_the_wheel_count() {
        assert_eq!(
            Mouse::from_event(event(MouseEventKind::Down(MouseButton::Left), 3, 4)),
            Some(Mouse::Click { column: 3, row: 4 })
        );
        assert_eq!(Mouse::from_event(event(MouseEventKind::Down(MouseButton::Right), 3, 4)), None);
        assert_eq!(Mouse::from_event(event(MouseEventKind::Up(MouseButton::Left), 3, 4)), None);
        assert_eq!(Mouse::from_event(event(MouseEventKind::Moved, 3, 4)), None);
        assert_eq!(
            Mouse::from_event(event(MouseEventKind::ScrollDown, 1, 2)),
            Some(Mouse::Wheel { column: 1, row: 2, down: true })
        );
    }

    #[test]
    fn the_wheel_moves_the_selection_of_the_list_under_it_within_the_list() {
        let view = Viewport::default();
        view.window(0, 10, 5);
        view.place(Rect::new(0, 2, 20, 5));
        let over = |down| Mouse::Wheel { column: 4, row: 3, down };
        assert_eq!(select_in(&view, over(true), 0, 10), Some(3));
        assert_eq!(select_in(&view, over(true), 8, 10), Some(9), "stops at the last row");
        assert_eq!(select_in(&view, over(false), 2, 10), Some(0), "stops at the first row");
        let elsewhere = Mouse::Wheel { column: 30, row: 3, down: true };
        assert_eq!(select_in(&view, elsewhere, 0, 10), None);
        assert_eq!(select_in(&view, Mouse::Click { column: 4, row: 4 }, 0, 10), Some(2));
    }
}
