//! `/` search in a list: type to jump to the first row at or after the cursor whose
//! label contains the text (case-insensitive, wrapping around), ↓ / ↑ (or Ctrl-n /
//! Ctrl-p) for the next / previous match, Enter to stay there, Esc to go back to where
//! the search started. A panel owns one `Search` per list and hands it the list's labels.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::text::{Line, Span};

use crate::tui::theme::Theme;

#[derive(Debug, Clone, Default)]
pub struct Search {
    /// The text typed so far, while the prompt is open.
    pub query: String,
    /// Whether the prompt is open (it takes every key).
    pub active: bool,
    /// The row the search started from, restored by Esc.
    origin: usize,
    /// The last accepted text, searched again by `/` then Enter.
    last: String,
    /// Whether the text typed matches no row.
    pub no_match: bool,
}

/// What a key did to the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReply {
    /// The cursor goes to this row (the prompt may still be open).
    MoveTo(usize),
    /// The prompt closed; the cursor stays.
    Done,
    /// Nothing to do (an unknown key, or no match).
    Nothing,
}

impl Search {
    /// Opens the prompt with the cursor on row `cursor`.
    pub fn open(&mut self, cursor: usize) {
        self.active = true;
        self.query.clear();
        self.no_match = false;
        self.origin = cursor;
    }

    /// A key while the prompt is open; `labels` are the list's rows as shown, `cursor`
    /// the current row.
    pub fn on_key(&mut self, key: KeyEvent, labels: &[String], cursor: usize) -> SearchReply {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => {
                self.active = false;
                self.no_match = false;
                SearchReply::MoveTo(self.origin)
            }
            KeyCode::Enter => {
                self.active = false;
                if self.query.is_empty() && !self.last.is_empty() {
                    // `/` Enter: the next match of the last search.
                    self.query = self.last.clone();
                    return self.step(labels, cursor + 1, true);
                }
                self.last = self.query.clone();
                SearchReply::Done
            }
            KeyCode::Down => self.step(labels, cursor + 1, true),
            KeyCode::Char('n') if ctrl => self.step(labels, cursor + 1, true),
            KeyCode::Up => self.step(labels, cursor + labels.len().max(1) - 1, false),
            KeyCode::Char('p') if ctrl => self.step(labels, cursor + labels.len().max(1) - 1, false),
            KeyCode::Backspace => {
                self.query.pop();
                self.step(labels, self.origin, true)
            }
            KeyCode::Char(c) if !ctrl => {
                self.query.push(c);
                // Typing refines the match from where the search started, so that the
                // row found for "ag" is the first "age" after the origin, not after "a".
                self.step(labels, self.origin, true)
            }
            _ => SearchReply::Nothing,
        }
    }

    /// The first row from `from` (wrapping) in the given direction that matches.
    fn step(&mut self, labels: &[String], from: usize, forward: bool) -> SearchReply {
        if self.query.is_empty() {
            self.no_match = false;
            return SearchReply::MoveTo(self.origin.min(labels.len().saturating_sub(1)));
        }
        match find(labels, &self.query, from, forward) {
            Some(row) => {
                self.no_match = false;
                SearchReply::MoveTo(row)
            }
            None => {
                self.no_match = true;
                SearchReply::Nothing
            }
        }
    }

    /// The prompt line a panel draws while the search is open.
    pub fn prompt(&self, theme: &Theme) -> Line<'static> {
        let mut spans = vec![Span::styled("/", theme.accent()), Span::raw(self.query.clone())];
        spans.push(Span::styled("▏", theme.accent()));
        if self.no_match {
            spans.push(Span::styled("  no match", theme.bad()));
        } else {
            spans.push(Span::styled("  ↓/↑ next/previous · Enter stay · Esc back", theme.dim()));
        }
        Line::from(spans)
    }
}

/// The first row at or after `from` (before, going backwards), wrapping around, whose
/// label contains `query` ignoring case.
pub fn find(labels: &[String], query: &str, from: usize, forward: bool) -> Option<usize> {
    let n = labels.len();
    if n == 0 {
        return None;
    }
    let query = query.to_lowercase();
    (0..n)
        .map(|i| if forward { (from + i) % n } else { (from % n + n - i) % n })
        .find(|&row| labels[row].to_lowercase().contains(&query))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<String> {
        ["user", "item", "age", "age_bucket", "gender", "user_activity"].iter().map(|s| s.to_string()).collect()
    }

    fn type_text(search: &mut Search, text: &str, cursor: &mut usize) {
        for c in text.chars() {
            if let SearchReply::MoveTo(row) = search.on_key(KeyEvent::from(KeyCode::Char(c)), &labels(), *cursor) {
                *cursor = row;
            }
        }
    }

    #[test]
    fn typing_jumps_to_the_first_match_after_the_origin_and_wraps() {
        let mut search = Search::default();
        let mut cursor = 3; // age_bucket
        search.open(cursor);
        type_text(&mut search, "us", &mut cursor);
        // From row 3: "user_activity" (5) comes before wrapping to "user" (0).
        assert_eq!(cursor, 5);
        let next = search.on_key(KeyEvent::from(KeyCode::Down), &labels(), cursor);
        assert_eq!(next, SearchReply::MoveTo(0), "wraps around to the first row");
        let back = search.on_key(KeyEvent::from(KeyCode::Up), &labels(), 0);
        assert_eq!(back, SearchReply::MoveTo(5), "previous match, wrapping backwards");
    }

    #[test]
    fn the_match_ignores_case_and_says_when_nothing_matches() {
        let mut search = Search::default();
        let mut cursor = 0;
        search.open(cursor);
        type_text(&mut search, "GEN", &mut cursor);
        assert_eq!(cursor, 4);
        type_text(&mut search, "x", &mut cursor);
        assert!(search.no_match);
        assert_eq!(cursor, 4, "no match keeps the cursor");
        let reply = search.on_key(KeyEvent::from(KeyCode::Backspace), &labels(), cursor);
        assert_eq!(reply, SearchReply::MoveTo(4));
        assert!(!search.no_match);
    }

    #[test]
    fn esc_goes_back_to_where_the_search_started_and_enter_stays() {
        let mut search = Search::default();
        let mut cursor = 1;
        search.open(cursor);
        type_text(&mut search, "act", &mut cursor);
        assert_eq!(cursor, 5);
        assert_eq!(search.on_key(KeyEvent::from(KeyCode::Esc), &labels(), cursor), SearchReply::MoveTo(1));
        assert!(!search.active);

        search.open(1);
        type_text(&mut search, "age", &mut cursor);
        assert_eq!(search.on_key(KeyEvent::from(KeyCode::Enter), &labels(), cursor), SearchReply::Done);
        assert_eq!(cursor, 2);
        // `/` then Enter: the next match of the last text.
        search.open(cursor);
        assert_eq!(search.on_key(KeyEvent::from(KeyCode::Enter), &labels(), cursor), SearchReply::MoveTo(3));
    }

    #[test]
    fn an_empty_list_matches_nothing() {
        assert_eq!(find(&[], "a", 0, true), None);
        assert_eq!(find(&labels(), "zzz", 2, false), None);
    }
}
