//! Drawing: the tab bar, the active panel, the status bar and the help popup. `draw`
//! only reads the state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row, Table, Tabs, Wrap};

use crate::tui::app::{App, Panel};
use crate::tui::keys;
use crate::tui::shared::Component;

/// The smallest terminal the panels are laid out for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// Timing figures shown in the status bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    pub frame_ms: f64,
    pub key_to_screen_ms: Option<f64>,
}

pub fn draw(frame: &mut Frame, app: &App, timing: Timing) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let message = format!(
            "apg-bench needs at least {MIN_WIDTH}x{MIN_HEIGHT}; this terminal is {}x{}. Enlarge it, or press q to quit.",
            area.width, area.height
        );
        frame.render_widget(Paragraph::new(message).wrap(Wrap { trim: true }), area);
        return;
    }
    let [tabs_area, body, status_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(10), Constraint::Length(2)]).areas(area);
    let titles: Vec<Line> = Panel::ALL.iter().map(|p| Line::raw(tab_title(*p))).collect();
    let selected = Panel::ALL.iter().position(|p| *p == app.panel).unwrap_or(0);
    let tabs =
        Tabs::new(titles).select(selected).highlight_style(app.shared.theme.selected()).divider("│").padding("", "");
    // The tabs take what they need; the workspace's name the rest.
    let tabs_width = Panel::ALL.iter().map(|p| tab_title(*p).chars().count() as u16 + 1).sum::<u16>();
    let [tabs_left, tabs_right] =
        Layout::horizontal([Constraint::Length(tabs_width), Constraint::Min(0)]).areas(tabs_area);
    frame.render_widget(tabs, tabs_left);
    let workspace = format!("workspace {} ", app.shared.workspace.name);
    frame.render_widget(Paragraph::new(Line::styled(workspace, app.shared.theme.dim()).right_aligned()), tabs_right);

    let panel: &dyn Component = match app.panel {
        Panel::Data => &app.data,
        Panel::Conditions => &app.conditions,
        Panel::Train => &app.train,
        Panel::Runs => &app.runs,
        Panel::Inspect => &app.inspect,
    };
    panel.draw(frame, body, &app.shared);
    draw_status(frame, app, status_area, timing);
    if app.help {
        draw_help(frame, app, area);
    }
    if let Some(message) = &app.message {
        draw_message(frame, app, message, area);
    }
}

/// The whole message (`!`), wrapped, in a popup that scrolls with ↑/↓.
fn draw_message(frame: &mut Frame, app: &App, message: &str, area: Rect) {
    let [popup] = Layout::vertical([Constraint::Percentage(70)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Percentage(90)]).flex(Flex::Center).areas(popup);
    frame.render_widget(Clear, popup);
    let title = Span::styled(" Message (↑/↓ scroll, any other key closes) ", app.shared.theme.title());
    let text = Paragraph::new(message.to_string())
        .wrap(Wrap { trim: false })
        .scroll((app.message_scroll, 0))
        .block(Block::default().borders(Borders::ALL).title(title));
    frame.render_widget(text, popup);
}

/// `text` on one line of `width` cells; a longer text is cut and says that `!` reads it
/// whole.
pub fn cut(text: &str, width: u16) -> String {
    const MORE: &str = " … (! reads all)";
    let text = text.replace('\n', " ");
    let width = width as usize;
    if text.chars().count() <= width {
        return text;
    }
    let kept: String = text.chars().take(width.saturating_sub(MORE.chars().count())).collect();
    format!("{kept}{MORE}")
}

/// A tab's text: ` 1 Data `.
fn tab_title(panel: Panel) -> String {
    format!(" {} {} ", panel.index() + 1, panel.title())
}

/// The panel whose tab is at `column` of the tab bar (the top line): the tabs are drawn
/// from the left edge, one column of divider between them.
pub fn tab_at(column: u16) -> Option<Panel> {
    let mut start = 0u16;
    for panel in Panel::ALL {
        let end = start + tab_title(panel).chars().count() as u16;
        if column >= start && column < end {
            return Some(panel);
        }
        start = end + 1;
    }
    None
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect, timing: Timing) {
    let theme = &app.shared.theme;
    let [first, second] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    // Line 1: the quit question, an error, the config error (it stays until a save fixes
    // it), else the last message.
    let line = match app.config_error() {
        _ if app.asking_quit => Line::styled(app.status().to_string(), theme.accent()),
        // A fresh error (a refused key, a failed run) before the standing config error.
        _ if app.shared.status.is_error() => Line::styled(cut(app.status(), first.width), theme.bad()),
        Some(error) => Line::styled(cut(&format!("config error: {error}"), first.width), theme.bad()),
        None => Line::raw(cut(app.status(), first.width)),
    };
    frame.render_widget(Paragraph::new(line), first);
    // Keys that do the same thing share a hint: `Esc/Enter close`.
    let mut same: Vec<(String, &str)> = Vec::new();
    for b in app.bindings().iter().filter(|b| {
        !matches!(b.action, keys::Action::Up | keys::Action::Down | keys::Action::Left | keys::Action::Right)
    }) {
        match same.iter_mut().find(|(_, help)| *help == b.help) {
            Some((label, _)) => *label = format!("{label}/{}", keys::key_label(b)),
            None => same.push((keys::key_label(b), b.help)),
        }
    }
    let hints: Vec<String> = same.into_iter().map(|(label, help)| format!("{label} {help}")).collect();
    let watch = if app.config_error().is_some() { "hot reload: error" } else { "hot reload: ok" };
    let latency = timing.key_to_screen_ms.map_or(String::new(), |ms| format!(" · key→screen {ms:.1} ms"));
    // The timing figures only where they leave room for the keys of the panel.
    let right = if second.width >= 120 {
        format!("{watch} · frame {:.1} ms{latency} · ? help", timing.frame_ms)
    } else {
        format!("{watch} · ? help")
    };
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(right.chars().count() as u16 + 1)]).areas(second);
    // Whole hints only: those that do not fit before the right-hand text are left out.
    let hints = keys::fit_hints(&hints, left_area.width.saturating_sub(1) as usize);
    frame.render_widget(Paragraph::new(Line::styled(hints, theme.dim())), left_area);
    frame.render_widget(Paragraph::new(Line::styled(right, theme.dim()).right_aligned()), right_area);
}

fn draw_help(frame: &mut Frame, app: &App, area: Rect) {
    // Keys that do the same thing share a line: `↓/j  scroll down`.
    let mut lines: Vec<(String, &str)> = Vec::new();
    for b in app.bindings() {
        match lines.iter_mut().find(|(_, help)| *help == b.help) {
            Some((label, _)) => *label = format!("{label}/{}", keys::key_label(&b)),
            None => lines.push((keys::key_label(&b), b.help)),
        }
    }
    // One column when the keys fit on screen (a row of margin above and below, the
    // borders), else two side by side, so that every key shows at 80x24; descriptions
    // that do not fit their column wrap instead of being cut.
    let fits = area.height.saturating_sub(4) as usize;
    let columns: u16 = if lines.len() > fits { 2 } else { 1 };
    let width = if columns == 1 { 52 } else { area.width.saturating_sub(2).min(104) };
    let label_width = lines.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(4).clamp(4, 12);
    let column_width = (width.saturating_sub(2) / columns) as usize;
    let text_width = column_width.saturating_sub(label_width + 1).max(8);
    let wrapped: Vec<(String, Vec<String>)> =
        lines.iter().map(|(label, help)| (label.clone(), wrap_words(help, text_width))).collect();
    // Fill the first column up to half of all the lines, the second with the rest.
    let total: usize = wrapped.iter().map(|(_, text)| text.len()).sum();
    let half = total.div_ceil(columns as usize);
    let mut split = wrapped.len();
    let mut so_far = 0;
    for (i, (_, text)) in wrapped.iter().enumerate() {
        if columns == 2 && so_far + text.len() > half {
            split = i;
            break;
        }
        so_far += text.len();
    }
    let parts = [&wrapped[..split], &wrapped[split..]];
    let tallest = parts.iter().map(|p| p.iter().map(|(_, t)| t.len()).sum::<usize>()).max().unwrap_or(0);
    let height = (tallest as u16 + 2).min(area.height);
    let [popup] = Layout::vertical([Constraint::Length(height)]).flex(Flex::Center).areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)]).flex(Flex::Center).areas(popup);
    frame.render_widget(Clear, popup);
    let title = Span::styled(format!(" Keys: {} (any key closes) ", app.keys_title()), app.shared.theme.title());
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(popup);
    frame.render_widget(block, popup);
    let areas = Layout::horizontal(vec![Constraint::Ratio(1, columns as u32); columns as usize]).split(inner);
    for (part, column) in parts.iter().zip(areas.iter()) {
        let rows: Vec<Row> = part
            .iter()
            .map(|(label, text)| Row::new([label.clone(), text.join("\n")]).height(text.len() as u16))
            .collect();
        frame.render_widget(Table::new(rows, [Constraint::Length(label_width as u16), Constraint::Min(8)]), *column);
    }
}

/// `text` in lines of at most `width` characters, broken between words (a word longer
/// than a line is cut into pieces).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::wrap_words;

    #[test]
    fn words_wrap_at_the_width_and_long_words_are_cut() {
        assert_eq!(wrap_words("take the selected experiment out", 12), ["take the", "selected", "experiment", "out"]);
        assert_eq!(wrap_words("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap_words("", 4), [""]);
        assert_eq!(wrap_words("fits whole", 10), ["fits whole"]);
    }
}
