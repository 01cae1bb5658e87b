//! The Inspect panel: what a run's APG layers generate (`crate::inspect`), opened with
//! `i` on a run of the Runs panel. For a group-wise run a heatmap of the groups'
//! similarity (cos S or cos W, the value under the cursor spelled out) and the table of
//! groups (rows, AUC, distance from the mean S, bias); for every run the sampled rows'
//! S projected to 2-D (PCA) as a scatter, one marker per value of the colour field, and
//! the share of S's variance that field explains. The numbers are computed off the UI
//! thread (the event loop runs [`Effect::Inspect`]).

use std::path::PathBuf;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::Canvas;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use crate::format::{Format, percent, thousands};
use crate::inspect::{Inspection, LayerInspection, Options};
use crate::tui::keys::{self, Action, Binding};
use crate::tui::scroll::{Viewport, scrollbar};
use crate::tui::shared::{Component, Effect, Panel, Shared};
use crate::tui::theme::Theme;

/// The markers of the colour classes, distinct without colour.
pub const MARKERS: [char; crate::inspect::MAX_COLOURS] = ['●', '▲', '■', '◆', '+', 'x', 'o', '*'];

/// The heatmap's shades, from the lowest similarity shown to the highest.
const SHADES: [char; 5] = ['·', '░', '▒', '▓', '█'];

/// Which similarity the heatmap shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Similarity {
    #[default]
    Core,
    Weights,
}

#[derive(Debug, Default)]
pub struct InspectState {
    /// The run folder inspected and its id.
    pub dir: Option<PathBuf>,
    pub id: String,
    /// The request whose answer is awaited (answers to older ones are dropped).
    pub request: u64,
    pub loading: bool,
    pub result: Option<Result<Inspection, String>>,
    /// The layer shown: an index into the inspection's layers.
    pub layer: usize,
    /// The field the projection is coloured by (None: the inspector's default).
    pub colour: Option<String>,
    pub similarity: Similarity,
    /// The heatmap's cursor: (row, column).
    pub cursor: (usize, usize),
    /// The heatmap's rows and columns on screen, and the groups' table's rows: with
    /// more groups than fit, they scroll to keep the cursor's row and column in view.
    pub heat_rows: Viewport,
    pub heat_columns: Viewport,
    pub groups_view: Viewport,
}

impl InspectState {
    /// Opens run `id` in folder `dir`: the computation to start.
    pub fn open(&mut self, dir: PathBuf, id: String) -> Effect {
        *self = InspectState { request: self.request, ..InspectState::default() };
        self.dir = Some(dir);
        self.id = id;
        self.compute()
    }

    /// The effect that computes the inspection with the current choices.
    fn compute(&mut self) -> Effect {
        self.request += 1;
        self.loading = true;
        let options = Options { colour_by: self.colour.clone(), ..Options::default() };
        Effect::Inspect { request: self.request, dir: self.dir.clone().unwrap_or_default(), options }
    }

    /// The worker's answer to request `request`.
    pub fn finished(&mut self, request: u64, result: Result<Inspection, String>) {
        if request != self.request {
            return;
        }
        self.loading = false;
        if let Ok(inspection) = &result {
            self.colour = Some(inspection.colour_by.clone());
            self.layer = self.layer.min(inspection.layers.len().saturating_sub(1));
        }
        self.result = Some(result);
    }

    fn inspection(&self) -> Option<&Inspection> {
        self.result.as_ref()?.as_ref().ok()
    }

    fn shown_layer(&self) -> Option<&LayerInspection> {
        self.inspection()?.layers.get(self.layer)
    }

    fn groups(&self) -> usize {
        self.shown_layer().and_then(|l| l.groups.as_ref()).map_or(0, |g| g.rows.len())
    }
}

impl Component for InspectState {
    fn bindings(&self) -> Vec<Binding> {
        keys::bindings(Panel::Inspect)
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        let groups = self.groups();
        let last = groups.saturating_sub(1);
        match action {
            Action::Up => self.cursor.0 = self.cursor.0.saturating_sub(1),
            Action::Down => self.cursor.0 = (self.cursor.0 + 1).min(last),
            Action::Left => self.cursor.1 = self.cursor.1.saturating_sub(1),
            Action::Right => self.cursor.1 = (self.cursor.1 + 1).min(last),
            Action::NextLayer => {
                let layers: Vec<usize> =
                    self.inspection().map_or(Vec::new(), |i| i.layers.iter().map(|l| l.layer).collect());
                if !layers.is_empty() {
                    self.layer = (self.layer + 1) % layers.len();
                    self.cursor = (0, 0);
                    shared.say(format!("layer {}", layers[self.layer]));
                }
            }
            Action::NextColour => {
                let Some(inspection) = self.inspection() else { return Vec::new() };
                let fields = &inspection.fields;
                let at = fields.iter().position(|f| *f == inspection.colour_by).map_or(0, |i| (i + 1) % fields.len());
                self.colour = fields.get(at).cloned();
                return vec![self.compute()];
            }
            Action::ToggleSimilarity => {
                self.similarity = match self.similarity {
                    Similarity::Core => Similarity::Weights,
                    Similarity::Weights => Similarity::Core,
                };
            }
            Action::Refresh if self.dir.is_some() => return vec![self.compute()],
            _ => {}
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(self, frame, area, &shared.theme);
    }
}

fn draw(state: &InspectState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let message = |text: String, style: Style| Paragraph::new(Line::styled(text, style)).wrap(Wrap { trim: true });
    let block = Block::default().borders(Borders::ALL).title(Span::styled(" Inspect ", theme.title()));
    let inner = block.inner(area);
    match (&state.result, state.loading) {
        (_, true) => {
            frame.render_widget(block, area);
            let text = format!("Inspecting {}: loading its model and data, generating its weights…", state.id);
            frame.render_widget(message(text, theme.dim()), inner);
        }
        (None, false) => {
            frame.render_widget(block, area);
            let text = "No run inspected. In the Runs panel (4), select a run and press i: its APG layers' \
                        generated weights show here."
                .to_string();
            frame.render_widget(message(text, theme.dim()), inner);
        }
        (Some(Err(error)), false) => {
            frame.render_widget(block, area);
            frame.render_widget(message(format!("Cannot inspect {}: {error}", state.id), theme.bad()), inner);
        }
        (Some(Ok(inspection)), false) => draw_inspection(state, inspection, frame, area, theme),
    }
}

fn draw_inspection(state: &InspectState, inspection: &Inspection, frame: &mut Frame, area: Rect, theme: &Theme) {
    let Some(layer) = inspection.layers.get(state.layer) else { return };
    let s = &layer.generated;
    let [header_area, middle, bottom] =
        Layout::vertical([Constraint::Length(2), Constraint::Percentage(55), Constraint::Min(4)]).areas(area);
    let condition = match inspection.mode.as_str() {
        "self" => "self-wise".to_string(),
        mode => format!("{mode}-wise on {}", inspection.condition_fields.join(", ")),
    };
    let q = &layer.deviation.quantiles;
    let header = vec![
        Line::from(vec![
            Span::styled(inspection.run.clone(), theme.title()),
            Span::raw(format!(
                " · APG {} {condition} · {} {} rows",
                inspection.variant,
                thousands(inspection.sample_rows as u64),
                inspection.split
            )),
        ]),
        Line::styled(
            format!(
                "layer {} ({} of {}: {} → {}, K {}) · ‖{s}ᵢ − mean {s}‖ median {:.3}, 90% {:.3}, max {:.3}",
                layer.layer,
                state.layer + 1,
                inspection.layers.len(),
                layer.n_in,
                layer.n_out,
                layer.rank,
                q[3],
                q[5],
                q[6]
            ),
            theme.dim(),
        ),
    ];
    frame.render_widget(Paragraph::new(header), header_area);
    let [left, right] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(middle);
    match &layer.groups {
        Some(_) => draw_heatmap(state, layer, frame, left, theme),
        None => draw_shares(layer, frame, left, theme),
    }
    draw_scatter(layer, &inspection.colour_by, frame, right, theme);
    match &layer.groups {
        Some(_) => draw_groups(state, layer, &inspection.split, frame, bottom, theme),
        None => draw_distinct(layer, frame, bottom, theme),
    }
}

/// The groups' similarity matrix: a shade per cell, scaled from the lowest value off
/// the diagonal to the highest; the cursor's pair spelled out below.
fn draw_heatmap(state: &InspectState, layer: &LayerInspection, frame: &mut Frame, area: Rect, theme: &Theme) {
    let groups = layer.groups.as_ref().expect("drawn for group-wise runs");
    let s = &layer.generated;
    let (matrix, what) = match (state.similarity, &groups.weight_cosine) {
        (Similarity::Weights, Some(w)) => (w, "cos W (W = U S V)".to_string()),
        (Similarity::Weights, None) => (&groups.core_cosine, format!("cos {s} (W too large)")),
        (Similarity::Core, _) => (&groups.core_cosine, format!("cos {s}")),
    };
    let block =
        Block::default().borders(Borders::ALL).title(Span::styled(format!(" {what} · w switches "), theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let names: Vec<&str> = groups.rows.iter().map(|r| r.value.as_str()).collect();
    let off: Vec<f64> = matrix
        .iter()
        .enumerate()
        .flat_map(|(a, row)| row.iter().enumerate().filter(move |(b, _)| *b != a).filter_map(|(_, v)| *v))
        .collect();
    let (low, high) = off.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
    let label_width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).min(8);
    let n = names.len().max(1);
    let room = (inner.width as usize).saturating_sub(label_width + 1);
    let cell = (room / n).clamp(2, 4);
    let (row, column) = (state.cursor.0.min(n - 1), state.cursor.1.min(n - 1));
    // Under the heads: the rows, then the cursor's value and the scale.
    let shown_rows = state.heat_rows.window(row, names.len(), (inner.height as usize).saturating_sub(3));
    let shown_columns = state.heat_columns.window(column, names.len(), (room / cell).max(1));
    let mut lines: Vec<Line> = Vec::new();
    let short = |name: &str, width: usize| -> String { name.chars().take(width).collect() };
    // Column heads: each value's first characters.
    let mut head = vec![Span::raw(" ".repeat(label_width + 1))];
    head.extend(
        names[shown_columns.clone()]
            .iter()
            .map(|name| Span::styled(format!("{:<cell$}", short(name, cell.saturating_sub(1).max(1))), theme.dim())),
    );
    lines.push(Line::from(head));
    for (a, values) in matrix.iter().enumerate().take(shown_rows.end).skip(shown_rows.start) {
        let mut spans = vec![Span::styled(format!("{:<label_width$} ", short(names[a], label_width)), theme.dim())];
        for (b, value) in values.iter().enumerate().take(shown_columns.end).skip(shown_columns.start) {
            let level = match value {
                Some(v) if high > low => ((v - low) / (high - low)).clamp(0.0, 1.0),
                Some(_) => 1.0,
                None => 0.0,
            };
            let shade = SHADES[((level * (SHADES.len() - 1) as f64).round() as usize).min(SHADES.len() - 1)];
            let mut style = theme.heat(level);
            if (a, b) == (row, column) {
                style = style.add_modifier(Modifier::REVERSED);
            }
            spans.push(Span::styled(shade.to_string().repeat(cell.saturating_sub(1).max(1)), style));
            if cell > 1 {
                spans.push(Span::raw(" "));
            }
        }
        lines.push(Line::from(spans));
    }
    let value = matrix.get(row).and_then(|r| r.get(column)).copied().flatten();
    lines.push(Line::raw(format!(
        "{} × {}: {}",
        names.get(row).unwrap_or(&""),
        names.get(column).unwrap_or(&""),
        value.map_or("-".into(), |v| format!("{v:.4}"))
    )));
    if low.is_finite() {
        let mut scale = format!("{} {low:.4} … {} {high:.4}", SHADES[0], SHADES[4]);
        if shown_rows.len() < names.len() || shown_columns.len() < names.len() {
            scale += &format!(
                " · rows {}-{}, columns {}-{} of {}",
                shown_rows.start + 1,
                shown_rows.end,
                shown_columns.start + 1,
                shown_columns.end,
                names.len()
            );
        }
        lines.push(Line::styled(scale, theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Mix- and self-wise runs: each field's share of S's variance, as bars.
fn draw_shares(layer: &LayerInspection, frame: &mut Frame, area: Rect, theme: &Theme) {
    let s = &layer.generated;
    let title = format!(" Share of {s}'s variance (beyond chance) ");
    let block = Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let name_width = layer.separation.iter().map(|f| f.field.chars().count()).max().unwrap_or(0).min(14);
    let bar_width = (inner.width as usize).saturating_sub(name_width + 8);
    let lines: Vec<Line> = layer
        .separation
        .iter()
        .map(|f| {
            let share = f.share.and_then(|s| s.beyond_chance).unwrap_or(0.0);
            Line::from(vec![
                Span::raw(format!(
                    "{:<name_width$} {:>6} ",
                    f.field.chars().take(name_width).collect::<String>(),
                    percent(share)
                )),
                Span::styled(crate::tui::panels::bar(share, bar_width), theme.accent()),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The sampled rows' S on the first two principal components, one marker per colour.
fn draw_scatter(layer: &LayerInspection, colour_by: &str, frame: &mut Frame, area: Rect, theme: &Theme) {
    let p = &layer.projection;
    let s = &layer.generated;
    let explains = p.colour_share.map_or(String::new(), |share| format!(" · {colour_by} {}", percent(share.eta2)));
    let title = format!(" PCA of {s} {:.1}+{}{explains} ", p.explained[0] * 100.0, percent(p.explained[1]));
    let legend: Vec<Span> = p
        .legend
        .iter()
        .enumerate()
        .flat_map(|(i, value)| {
            [Span::styled(format!(" {}", MARKERS[i % MARKERS.len()]), theme.series(i)), Span::raw(format!(" {value}"))]
        })
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()))
        .title_bottom(Line::from(legend));
    let bounds = |axis: usize| {
        let (low, high) = p
            .points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), point| (l.min(point[axis]), h.max(point[axis])));
        if low.is_finite() && high > low {
            let margin = (high - low) * 0.05;
            [low - margin, high + margin]
        } else {
            [-1.0, 1.0]
        }
    };
    let (x_bounds, y_bounds) = (bounds(0), bounds(1));
    let canvas = Canvas::default().block(block).x_bounds(x_bounds).y_bounds(y_bounds).paint(|ctx| {
        for (point, &colour) in p.points.iter().zip(&p.colours) {
            let marker = MARKERS[colour % MARKERS.len()].to_string();
            ctx.print(point[0], point[1], Span::styled(marker, theme.series(colour)));
        }
    });
    frame.render_widget(canvas, area);
}

/// The groups: rows, AUC, distance from the mean S, bias norm.
fn draw_groups(
    state: &InspectState,
    layer: &LayerInspection,
    split: &str,
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
) {
    let groups = layer.groups.as_ref().expect("drawn for group-wise runs");
    let s = &layer.generated;
    let largest = groups.rows.iter().map(|r| r.deviation).fold(0.0, f64::max);
    // Borders and the header take three lines; the table keeps the cursor's row in view.
    let cursor = state.cursor.0.min(groups.rows.len().saturating_sub(1));
    let shown = state.groups_view.window(cursor, groups.rows.len(), area.height.saturating_sub(3) as usize);
    let rows: Vec<Row> = groups
        .rows
        .iter()
        .enumerate()
        .take(shown.end)
        .skip(shown.start)
        .map(|(i, g)| {
            let share = if largest > 0.0 { g.deviation / largest } else { 0.0 };
            let style =
                if i == state.cursor.0.min(groups.rows.len() - 1) { theme.selected() } else { Style::default() };
            Row::new(vec![
                g.value.clone(),
                thousands(g.rows as u64),
                Format::Metric.maybe(g.auc),
                format!("{:.3}", g.deviation),
                g.bias_norm.map_or("-".into(), |b| format!("{b:.3}")),
                crate::tui::panels::bar(share, 12),
            ])
            .style(style)
        })
        .collect();
    let header = Row::new(vec![
        "value".to_string(),
        "rows".into(),
        "AUC".into(),
        format!("‖{s}−mean‖"),
        "‖bias‖".into(),
        String::new(),
    ])
    .style(theme.dim());
    let title = format!(" Groups ({}), {split} split ", groups.field);
    let table = Table::new(
        rows,
        [
            Constraint::Length(12),
            Constraint::Length(7),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Length(7),
            Constraint::Min(4),
        ],
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title())));
    frame.render_widget(table, area);
    scrollbar(frame, area, groups.rows.len(), &shown);
}

/// Mix- and self-wise runs: the condition values whose S lies farthest from the mean.
fn draw_distinct(layer: &LayerInspection, frame: &mut Frame, area: Rect, theme: &Theme) {
    let s = &layer.generated;
    let largest = layer.distinct.iter().map(|d| d.distance).fold(0.0, f64::max);
    let rows: Vec<Row> = layer
        .distinct
        .iter()
        .map(|d| {
            let share = if largest > 0.0 { d.distance / largest } else { 0.0 };
            Row::new(vec![
                d.field.clone(),
                d.value.clone(),
                thousands(d.rows as u64),
                format!("{:.3}", d.distance),
                crate::tui::panels::bar(share, 12),
            ])
        })
        .collect();
    let header = Row::new(vec!["field", "value", "rows", "distance", ""]).style(theme.dim());
    let title = format!(" Most distinct {s}: ‖mean {s} of the value's rows − mean {s}‖ ");
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Length(12),
            Constraint::Length(7),
            Constraint::Length(9),
            Constraint::Min(4),
        ],
    )
    .header(header)
    .block(Block::default().borders(Borders::ALL).title(Span::styled(title, theme.title())));
    frame.render_widget(table, area);
}
