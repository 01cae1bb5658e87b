//! The Conditions panel, the condition designer: choose self / group / mix and the
//! condition fields with their pre-flight numbers, the aggregation, the APG variant, K
//! and the bias; a live preview of parameters and FLOPs per sample, APG vs static.
//! Saving rewrites only the `[apg]` keys of the experiment file (toml_edit keeps the
//! user's comments and layout); the file watcher then reloads it like any other edit.

use std::path::{Path, PathBuf};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};
use toml_edit::{Array, DocumentMut, Item, Table as TomlTable, value};

use crate::config::experiment::{
    Aggregation, ApgSpec, ConditionMode, InputAggregator, LoadedExperiment, OutputAggregator, Variant,
};
use crate::format::thousands;
use crate::tui::app::{App, Effect};
use crate::tui::keys::Action;

#[derive(Debug, Clone, Default)]
pub struct ConditionsState {
    pub path: Option<PathBuf>,
    pub experiment: Option<LoadedExperiment>,
    /// The APG settings being designed; written by Save.
    pub apg: ApgSpec,
    pub cursor: usize,
    pub dirty: bool,
}

impl ConditionsState {
    /// Shows `experiment`, unless unsaved edits of the same file would be lost.
    pub fn load(&mut self, experiment: Option<LoadedExperiment>) {
        let same = experiment.as_ref().map(|e| &e.file) == self.path.as_ref();
        if same && self.dirty {
            return;
        }
        self.path = experiment.as_ref().map(|e| e.file.clone());
        self.apg = experiment.as_ref().map(|e| e.experiment.apg.clone()).unwrap_or_default();
        self.experiment = experiment;
        self.dirty = false;
    }
}

/// Candidate condition fields: the dataset's categorical fields, most useful first when
/// the statistics are loaded.
fn candidates(app: &App) -> Vec<String> {
    if let Some(stats) = &app.data.stats {
        return stats.conditions.iter().map(|c| c.field.clone()).collect();
    }
    let Some(experiment) = &app.conditions.experiment else { return Vec::new() };
    let d = &experiment.dataset.descriptor;
    d.fields.iter().map(|f| f.name.clone()).chain(d.derived.iter().map(|f| f.name.clone())).collect()
}

const VARIANTS: [Variant; 6] = [Variant::Static, Variant::V1, Variant::V2, Variant::V3, Variant::V4, Variant::V5];

pub fn apply(app: &mut App, action: Action) -> Vec<Effect> {
    let fields = candidates(app);
    let state = &mut app.conditions;
    if state.experiment.is_none() {
        app.status = "no valid experiment selected (e: next)".into();
        return Vec::new();
    }
    let apg = &mut state.apg;
    let condition = &mut apg.condition;
    match action {
        Action::Up => state.cursor = state.cursor.saturating_sub(1),
        Action::Down => state.cursor = (state.cursor + 1).min(fields.len().saturating_sub(1)),
        Action::CycleMode => {
            condition.mode = match condition.mode {
                ConditionMode::Group => ConditionMode::Mix,
                ConditionMode::Mix => ConditionMode::SelfWise,
                ConditionMode::SelfWise => ConditionMode::Group,
            };
            match condition.mode {
                ConditionMode::SelfWise => condition.fields.clear(),
                ConditionMode::Group => condition.fields.truncate(1),
                ConditionMode::Mix => {}
            }
            if apg.variant == Variant::Static {
                apg.variant = Variant::V5;
            }
        }
        Action::ToggleField => {
            let Some(field) = fields.get(state.cursor) else { return Vec::new() };
            match condition.mode {
                ConditionMode::SelfWise => {
                    app.status = "self-wise conditions take no fields: press m for group or mix".into();
                    return Vec::new();
                }
                ConditionMode::Group => condition.fields = vec![field.clone()],
                ConditionMode::Mix => {
                    if let Some(i) = condition.fields.iter().position(|f| f == field) {
                        condition.fields.remove(i);
                    } else {
                        condition.fields.push(field.clone());
                    }
                }
            }
            if apg.variant == Variant::Static {
                apg.variant = Variant::V5;
            }
        }
        Action::CycleVariant => {
            let i = VARIANTS.iter().position(|v| *v == apg.variant).unwrap_or(0);
            apg.variant = VARIANTS[(i + 1) % VARIANTS.len()];
        }
        Action::CycleAggregation => {
            (condition.aggregation, condition.input_agg, condition.output_agg) =
                match (condition.aggregation, condition.input_agg, condition.output_agg) {
                    (Aggregation::Input, InputAggregator::Concat, o) => (Aggregation::Input, InputAggregator::Mean, o),
                    (Aggregation::Input, InputAggregator::Mean, o) => {
                        (Aggregation::Input, InputAggregator::Attention, o)
                    }
                    (Aggregation::Input, InputAggregator::Attention, _) => {
                        (Aggregation::Output, InputAggregator::Concat, OutputAggregator::Mean)
                    }
                    (Aggregation::Output, i, OutputAggregator::Mean) => {
                        (Aggregation::Output, i, OutputAggregator::Attention)
                    }
                    (Aggregation::Output, _, OutputAggregator::Attention) => {
                        (Aggregation::Input, InputAggregator::Concat, OutputAggregator::Mean)
                    }
                };
        }
        Action::RankUp => apg.rank.iter_mut().for_each(|k| *k *= 2),
        Action::RankDown => apg.rank.iter_mut().for_each(|k| *k = (*k / 2).max(1)),
        Action::OverparamUp | Action::OverparamDown => {
            // P defaults to 2 K per layer: make it explicit before changing it.
            if apg.overparam.is_empty() {
                apg.overparam = apg.rank.iter().map(|k| 2 * k).collect();
            }
            let up = action == Action::OverparamUp;
            for (p, k) in apg.overparam.iter_mut().zip(apg.rank.iter().chain(std::iter::repeat(&1))) {
                *p = if up { *p * 2 } else { (*p / 2).max(*k) };
            }
        }
        Action::CycleGenerator => {
            apg.generator_hidden = match apg.generator_hidden.as_slice() {
                [] => vec![16],
                [16] => vec![32],
                [32] => vec![64],
                _ => Vec::new(),
            };
        }
        Action::ToggleBias => apg.generate_bias = !apg.generate_bias,
        Action::Save => {
            return match state.path.clone() {
                Some(path) => vec![Effect::SaveExperiment(path)],
                None => Vec::new(),
            };
        }
        _ => return Vec::new(),
    }
    state.dirty = true;
    Vec::new()
}

/// Writes the `[apg]` settings into the experiment file in place, keeping everything
/// else (comments, order, other tables) as the user wrote it. Atomic: temp + rename.
pub fn save(path: &Path, apg: &ApgSpec) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("{}: {e}", path.display()))?;
    let array = |values: &[usize]| Item::Value(values.iter().map(|v| *v as i64).collect::<Array>().into());
    if !doc.contains_table("apg") {
        doc["apg"] = Item::Table(TomlTable::new());
    }
    let table = doc["apg"].as_table_mut().ok_or_else(|| format!("{}: `apg` is not a table", path.display()))?;
    table["variant"] = value(spelled(&apg.variant));
    table["rank"] = array(&apg.rank);
    if !apg.overparam.is_empty() {
        table["overparam"] = array(&apg.overparam);
    }
    table["generator_hidden"] = array(&apg.generator_hidden);
    table["generate_bias"] = value(apg.generate_bias);
    if !table.contains_table("condition") {
        table["condition"] = Item::Table(TomlTable::new());
    }
    let condition = table["condition"]
        .as_table_mut()
        .ok_or_else(|| format!("{}: `apg.condition` is not a table", path.display()))?;
    let c = &apg.condition;
    condition["mode"] = value(spelled(&c.mode));
    condition["fields"] = Item::Value(c.fields.iter().map(String::as_str).collect::<Array>().into());
    if c.mode == ConditionMode::Mix {
        condition["aggregation"] = value(spelled(&c.aggregation));
        condition["input_agg"] = value(spelled(&c.input_agg));
        condition["output_agg"] = value(spelled(&c.output_agg));
    }
    let temporary = path.with_extension("toml.apg-bench-save");
    std::fs::write(&temporary, doc.to_string()).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Dense parameters and multiply-adds x 2 per sample of the deep tower, static vs APG
/// (inference: v5 merged, generators run once per distinct condition for group/mix).
pub struct Preview {
    pub static_params: usize,
    pub static_flops: usize,
    pub apg_params: usize,
    pub apg_flops: usize,
    pub generator_per_sample: bool,
}

pub fn preview(experiment: &LoadedExperiment, apg: &ApgSpec) -> Preview {
    let hidden = &experiment.experiment.model.hidden;
    let mut widths = vec![experiment.input_width()];
    widths.extend(hidden);
    let condition_width = |n_in: usize| match apg.condition.mode {
        ConditionMode::SelfWise => n_in,
        _ => {
            let w: Vec<usize> = apg.condition.fields.iter().map(|f| experiment.condition_width(f)).collect();
            match (apg.condition.aggregation, apg.condition.input_agg) {
                (Aggregation::Input, InputAggregator::Concat) => w.iter().sum(),
                _ => w.first().copied().unwrap_or(0),
            }
        }
    };
    let generators = match (apg.condition.mode, apg.condition.aggregation) {
        (ConditionMode::Mix, Aggregation::Output) => apg.condition.fields.len().max(1),
        _ => 1,
    };
    let per_layer = |values: &[usize], layer: usize, default: usize| match values {
        [] => default,
        [one] => *one,
        many => many.get(layer).copied().unwrap_or(default),
    };
    let mut p = Preview {
        static_params: 0,
        static_flops: 0,
        apg_params: 0,
        apg_flops: 0,
        generator_per_sample: apg.condition.mode == ConditionMode::SelfWise,
    };
    for (layer, pair) in widths.windows(2).enumerate() {
        let (n, m) = (pair[0], pair[1]);
        p.static_params += n * m + m;
        p.static_flops += 2 * n * m;
        let apg_layer = apg.variant != Variant::Static && apg.layers.get(layer).copied().unwrap_or(true);
        if !apg_layer {
            p.apg_params += n * m + m;
            p.apg_flops += 2 * n * m;
            continue;
        }
        let k = per_layer(&apg.rank, layer, 8).min(n).min(m).max(1);
        let big_p = per_layer(&apg.overparam, layer, 2 * k);
        let bias = if apg.generate_bias { m } else { 0 };
        let (shared, generated, forward) = match apg.variant {
            Variant::V1 => (0, n * m, 2 * n * m),
            Variant::V2 => (0, n * k + k * k + k * m, 2 * (n * k * k + n * k * m) + 2 * n * m),
            Variant::V3 => (0, n * k + k * k + k * m, 2 * (n * k + k * k + k * m)),
            Variant::V4 => (n * k + k * m, k * k, 2 * (n * k + k * k + k * m)),
            Variant::V5 => (n * big_p + big_p * k + k * big_p + big_p * m, k * k, 2 * (n * k + k * k + k * m)),
            Variant::Static => unreachable!("handled above"),
        };
        let d = condition_width(n);
        let outputs = generated + bias;
        p.apg_params += shared + generators * (d + 1) * outputs + if apg.generate_bias { 0 } else { m };
        p.apg_flops += generators * forward;
        if p.generator_per_sample {
            p.apg_flops += 2 * d * outputs;
        }
    }
    p
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect) {
    let theme = &app.theme;
    let block =
        |title: &str| Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title()));
    let state = &app.conditions;
    let Some(experiment) = &state.experiment else {
        let message = match app.selected_experiment() {
            Some(entry) => match &entry.error {
                Some(error) => format!("{} is invalid: {error}", entry.name()),
                None => format!("{} has not loaded", entry.name()),
            },
            None => "this workspace has no experiments".into(),
        };
        frame.render_widget(Paragraph::new(message).wrap(Wrap { trim: false }).block(block("Conditions")), area);
        return;
    };
    let [left, right] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
    let apg = &state.apg;
    let c = &apg.condition;
    // Candidate fields with their pre-flight numbers.
    let fields = candidates(app);
    let rows: Vec<Row> = fields
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let ticked = if c.fields.contains(name) { "[x]" } else { "[ ]" };
            let numbers = app.data.stats.as_ref().and_then(|s| s.conditions.iter().find(|x| &x.field == name));
            let cells = match numbers {
                Some(n) => vec![
                    format!("{ticked} {name}"),
                    n.values.to_string(),
                    format!("{}/{}", thousands(n.rows_min), thousands(n.rows_median)),
                    format!("{:.4}", n.label_rate_spread),
                    format!("{:.4}", n.mean_field_divergence),
                ],
                None => vec![format!("{ticked} {name}"), "-".into(), "-".into(), "-".into(), "-".into()],
            };
            let row = Row::new(cells);
            if i == state.cursor { row.style(theme.selected()) } else { row }
        })
        .collect();
    let widths = [
        Constraint::Min(18),
        Constraint::Length(6),
        Constraint::Length(15),
        Constraint::Length(8),
        Constraint::Length(8),
    ];
    let header = Row::new(["field", "values", "rows min/med", "rate sd", "feat JS"]).style(theme.title());
    let title = format!("Condition fields of {}", experiment.experiment.name);
    frame.render_widget(Table::new(rows, widths).header(header).block(block(&title)), left);

    let aggregation = match c.aggregation {
        Aggregation::Input => format!("input ({})", spelled(&c.input_agg)),
        Aggregation::Output => format!("output ({})", spelled(&c.output_agg)),
    };
    let p = preview(experiment, apg);
    let ratio = |a: usize, b: usize| if b == 0 { "-".to_string() } else { format!("{:.2}x", a as f64 / b as f64) };
    let mut lines = vec![
        Line::from(vec![
            Span::styled("mode ", theme.dim()),
            Span::raw(spelled(&c.mode)),
            Span::styled("  (m)", theme.dim()),
        ]),
        Line::from(vec![
            Span::styled("fields ", theme.dim()),
            Span::raw(format!("[{}]", c.fields.join(", "))),
            Span::styled("  (space)", theme.dim()),
        ]),
        Line::from(vec![
            Span::styled("aggregation ", theme.dim()),
            Span::raw(aggregation),
            Span::styled("  (a)", theme.dim()),
        ]),
        Line::from(vec![
            Span::styled("variant ", theme.dim()),
            Span::raw(spelled(&apg.variant)),
            Span::styled("  (v)", theme.dim()),
        ]),
        Line::from(vec![
            Span::styled("K per layer ", theme.dim()),
            Span::raw(format!("{:?}", apg.rank)),
            Span::styled("  (+/-)", theme.dim()),
        ]),
        Line::from(vec![
            Span::styled("generated bias ", theme.dim()),
            Span::raw(apg.generate_bias.to_string()),
            Span::styled("  (b)", theme.dim()),
        ]),
        Line::from(vec![
            Span::styled("P per layer ", theme.dim()),
            Span::raw(if apg.overparam.is_empty() { "2 K".to_string() } else { format!("{:?}", apg.overparam) }),
            Span::styled("  (</>)", theme.dim()),
        ]),
        Line::from(vec![
            Span::styled("generator hidden ", theme.dim()),
            Span::raw(format!("{:?}", apg.generator_hidden)),
            Span::styled("  (g)", theme.dim()),
        ]),
        Line::raw(""),
        Line::styled("Tower preview (per sample, inference)", theme.title()),
        Line::raw(format!(
            "static: {} params, {} FLOPs",
            thousands(p.static_params as u64),
            thousands(p.static_flops as u64)
        )),
        Line::raw(format!(
            "APG:    {} params ({}), {} FLOPs ({})",
            thousands(p.apg_params as u64),
            ratio(p.apg_params, p.static_params),
            thousands(p.apg_flops as u64),
            ratio(p.apg_flops, p.static_flops)
        )),
        Line::styled(
            if p.generator_per_sample {
                "the generator runs for every sample (self-wise)"
            } else {
                "generators run once per distinct condition in a batch"
            },
            theme.dim(),
        ),
        Line::raw(""),
    ];
    lines.push(if state.dirty {
        Line::styled("unsaved changes: w writes the experiment file", theme.accent())
    } else {
        Line::styled("saved: matches the experiment file", theme.dim())
    });
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block("Design")), right);
}

/// A settings enum as the experiment file spells it (`v5`, `self`, `concat`).
fn spelled<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
