//! The Conditions panel, the condition designer: choose self / group / mix and the
//! condition fields of the experiment's own dataset with their pre-flight numbers, the
//! aggregation, the APG variant, K and the bias; a live preview of the model's dense
//! parameters and FLOPs per sample, APG vs static (`model::cost`).
//!
//! Work is never lost: `w` writes only the `[apg]` keys that changed
//! (`config::edit::set_apg`), and only when the result passes the checks an experiment
//! file gets on load; a file changed on disk since the design was loaded is not written
//! over without an explicit choice; `e` asks before it drops unsaved changes; and a design
//! with unsaved changes stays on screen whatever else is selected or reloaded.

use std::path::{Path, PathBuf};

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table, Wrap};

use crate::config::edit::{self, KeyChange};
use crate::config::experiment::{
    Aggregation, ApgSpec, ConditionMode, InputAggregator, LoadedExperiment, OutputAggregator, Variant,
};
use crate::data::descriptor::{FieldKind, NumericTransform};
use crate::data::stats::DatasetStats;
use crate::format::thousands;
use crate::model::cost::{Cost, cost};
use crate::tui::keys::{self, Action, Binding};
use crate::tui::mouse::{Mouse, select_in};
use crate::tui::panels::{rows_area, search_prompt};
use crate::tui::scroll::{Motion, Viewport, scrollbar};
use crate::tui::search::{Search, SearchReply};
use crate::tui::shared::{Component, Effect, Panel, Shared};

#[derive(Debug, Clone, Default)]
pub struct ConditionsState {
    pub path: Option<PathBuf>,
    /// The experiment as loaded: the design's starting point, and in `text` what the file
    /// held then, to notice a change made on disk meanwhile.
    pub experiment: Option<LoadedExperiment>,
    /// The APG settings being designed; written by Save.
    pub apg: ApgSpec,
    pub cursor: usize,
    /// The part of the field list on screen.
    pub fields_view: Viewport,
    /// `/` over the field names.
    pub search: Search,
    /// The design differs from the experiment as loaded.
    pub dirty: bool,
    /// The fields last ticked in group and in mix mode, given back when the mode returns
    /// (`self` takes none).
    pub group_fields: Vec<String>,
    pub mix_fields: Vec<String>,
    /// A question waiting for its answer; every key goes to it first.
    pub prompt: Option<Prompt>,
    /// `w` changed the design of an experiment with a description, which the user should
    /// check (until the description itself changes or another experiment is shown).
    pub check_description: bool,
    /// The changed file the user chose to overwrite (`o` in a conflict): the next save may
    /// write over exactly this text.
    overwrite: Option<String>,
}

/// A question the panel asks before it drops or overwrites anything.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// `e` with unsaved changes: `y` drops them, any other key keeps them.
    Discard,
    /// `w` found the file changed on disk since the design was loaded.
    Conflict(Conflict),
}

/// The experiment file as it is on disk now ("theirs") against the design ("mine").
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub theirs: String,
    /// The `[apg]` keys where theirs (`old`) and mine (`new`) differ, or why theirs cannot
    /// be read.
    pub differences: Result<Vec<KeyChange>, String>,
}

impl ConditionsState {
    /// Shows `experiment`, unless the design has unsaved changes: those stay, whether
    /// another experiment was selected (Conditions' `e` asks first; the Train panel's
    /// selection does not reach here while they exist) or the same file changed on disk
    /// (the next `w` notices and asks).
    pub fn load(&mut self, experiment: Option<LoadedExperiment>) {
        if self.dirty {
            return;
        }
        let path = experiment.as_ref().map(|e| e.file.clone());
        let apg = experiment.as_ref().map(|e| e.experiment.apg.clone()).unwrap_or_default();
        let description = |e: &Option<LoadedExperiment>| e.as_ref().map(|e| e.experiment.description.clone());
        if path != self.path || description(&experiment) != description(&self.experiment) {
            self.check_description = false;
        }
        if path != self.path {
            self.group_fields = Vec::new();
            self.mix_fields = Vec::new();
            self.cursor = 0;
        }
        match apg.condition.mode {
            ConditionMode::Group => self.group_fields = apg.condition.fields.clone(),
            ConditionMode::Mix => self.mix_fields = apg.condition.fields.clone(),
            ConditionMode::SelfWise => {}
        }
        self.path = path;
        self.apg = apg;
        self.experiment = experiment;
        self.prompt = None;
        self.overwrite = None;
    }

    /// The loaded experiment with the design in place of its `[apg]` settings.
    fn designed(&self) -> Option<LoadedExperiment> {
        let mut experiment = self.experiment.clone()?;
        experiment.experiment.apg = self.apg.clone();
        Some(experiment)
    }

    fn name(&self) -> String {
        self.experiment.as_ref().map(|e| e.experiment.name.clone()).unwrap_or_default()
    }
}

/// Widths along the deep tower: its input, then each hidden layer.
fn tower(experiment: &LoadedExperiment) -> Vec<usize> {
    std::iter::once(experiment.input_width()).chain(experiment.experiment.model.hidden.iter().copied()).collect()
}

/// One value per layer, or one for all (`rank`, `overparam`), as the experiment reads them.
fn per_layer(values: &[usize], layer: usize) -> Option<usize> {
    match values {
        [] => None,
        [one] => Some(*one),
        many => many.get(layer).copied(),
    }
}

/// K of `layer` as the model reads it (default 8).
fn rank(apg: &ApgSpec, layer: usize) -> usize {
    per_layer(&apg.rank, layer).unwrap_or(8)
}

/// P of `layer` as the model reads it (default 2 K).
fn overparam(apg: &ApgSpec, layer: usize) -> usize {
    per_layer(&apg.overparam, layer).unwrap_or_else(|| rank(apg, layer).saturating_mul(2))
}

/// The largest K of hidden layer `layer` (docs/model.md: 1 <= K <= min(N_in, N_out)).
fn max_rank(tower: &[usize], layer: usize) -> usize {
    tower[layer].min(tower[layer + 1]).max(1)
}

/// The largest P the `>` key goes to: the wider side of the layer (P >= K always).
fn max_overparam(tower: &[usize], layer: usize, k: usize) -> usize {
    tower[layer].max(tower[layer + 1]).max(k)
}

/// Makes K and P fit the tower: one K per hidden layer between 1 and min(N_in, N_out),
/// and P >= K for v5. Lists that fit already (one value, or one per layer, in range) stay
/// as they are, so that a file's `rank = [8]` is not rewritten for nothing.
fn fit_to_tower(apg: &mut ApgSpec, tower: &[usize]) {
    if apg.variant == Variant::Static {
        return;
    }
    let layers = tower.len() - 1;
    let fits_layers = |n: usize| n == 1 || n == layers;
    let ranks_fit =
        fits_layers(apg.rank.len()) && (0..layers).all(|l| (1..=max_rank(tower, l)).contains(&rank(apg, l)));
    if !ranks_fit {
        apg.rank = (0..layers).map(|l| rank(apg, l).clamp(1, max_rank(tower, l))).collect();
    }
    if apg.variant == Variant::V5 {
        let fits = (apg.overparam.is_empty() || fits_layers(apg.overparam.len()))
            && (0..layers).all(|l| overparam(apg, l) >= rank(apg, l));
        if !fits {
            apg.overparam = (0..layers).map(|l| overparam(apg, l).max(rank(apg, l))).collect();
        }
    }
}

/// The statistics the Data panel holds, when they are of the experiment's own dataset
/// (the Data panel may show another dataset of the workspace).
pub fn own_stats<'a>(shared: &'a Shared, experiment: &LoadedExperiment) -> Option<&'a DatasetStats> {
    let stats = shared.stats.as_ref()?;
    let dataset = &experiment.dataset;
    if stats.name != dataset.descriptor.name {
        return None;
    }
    let reference = &shared.dataset;
    let same = match dataset.file.strip_prefix("<built-in>") {
        Ok(file) => !Path::new(reference).exists() && file.with_extension("") == Path::new(reference),
        Err(_) => {
            let real = |p: &Path| std::fs::canonicalize(p).ok();
            real(Path::new(reference)).is_some_and(|r| Some(r) == real(&dataset.file))
        }
    };
    same.then_some(stats)
}

/// Candidate condition fields of the experiment's own dataset: from its statistics (most
/// useful first) when the Data panel has them, else every field a condition may use
/// (categorical, bucketised numeric, derived); ticked fields always.
pub fn candidates(state: &ConditionsState, shared: &Shared) -> Vec<String> {
    let Some(experiment) = &state.experiment else { return Vec::new() };
    let mut names: Vec<String> = match own_stats(shared, experiment) {
        Some(stats) => stats.conditions.iter().map(|c| c.field.clone()).collect(),
        None => {
            let d = &experiment.dataset.descriptor;
            let usable = |f: &&crate::data::descriptor::FieldSpec| match f.kind {
                FieldKind::Categorical => true,
                FieldKind::Numeric => f.transform != Some(NumericTransform::Scale),
                FieldKind::MultiCategorical => false,
            };
            d.fields
                .iter()
                .filter(usable)
                .map(|f| f.name.clone())
                .chain(d.derived.iter().map(|f| f.name.clone()))
                .collect()
        }
    };
    for field in &state.apg.condition.fields {
        if !names.contains(field) {
            names.push(field.clone());
        }
    }
    names
}

const VARIANTS: [Variant; 6] = [Variant::Static, Variant::V1, Variant::V2, Variant::V3, Variant::V4, Variant::V5];

impl Component for ConditionsState {
    fn bindings(&self) -> Vec<Binding> {
        keys::bindings(Panel::Conditions)
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        self.apply(action, shared)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(self, frame, area, shared)
    }

    fn takes_text(&self) -> bool {
        self.search.active
    }

    fn on_text(&mut self, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
        let fields = candidates(self, shared);
        if let SearchReply::MoveTo(row) = self.search.on_key(key, &fields, self.cursor) {
            self.cursor = row;
        }
        Vec::new()
    }

    fn on_mouse(&mut self, mouse: Mouse, shared: &mut Shared) -> Vec<Effect> {
        let fields = candidates(self, shared).len();
        if self.prompt.is_none()
            && let Some(row) = select_in(&self.fields_view, mouse, self.cursor, fields)
        {
            self.cursor = row;
        }
        Vec::new()
    }
}

impl ConditionsState {
    fn apply(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        if action == Action::NextExperiment {
            if self.dirty {
                self.prompt = Some(Prompt::Discard);
                shared.say(format!(
                    "{} has unsaved changes: y discards them, any other key keeps them (w writes them)",
                    self.name()
                ));
                return Vec::new();
            }
            shared.next_experiment();
            self.load(shared.selected_good());
            return Vec::new();
        }
        if matches!(action, Action::Confirm | Action::KeepMine | Action::TakeTheirs) {
            shared.say("nothing to answer: that key answers a question of this panel");
            return Vec::new();
        }
        let Some(tower) = self.experiment.as_ref().map(tower) else {
            shared.say("no valid experiment selected (e: next)");
            return Vec::new();
        };
        let fields = candidates(self, shared);
        let state = self;
        let layers = tower.len() - 1;
        let apg = &mut state.apg;
        let condition = &mut apg.condition;
        match action {
            Action::Up | Action::Down => {
                if let Some(motion) = Motion::of(action) {
                    state.cursor = state.fields_view.moved(state.cursor, fields.len(), motion);
                }
            }
            Action::Search => state.search.open(state.cursor),
            Action::CycleMode => {
                match condition.mode {
                    ConditionMode::Group => state.group_fields = condition.fields.clone(),
                    ConditionMode::Mix => state.mix_fields = condition.fields.clone(),
                    ConditionMode::SelfWise => {}
                }
                let (mode, fields) = match condition.mode {
                    ConditionMode::Group => {
                        let fields = if state.mix_fields.is_empty() {
                            condition.fields.clone()
                        } else {
                            state.mix_fields.clone()
                        };
                        (ConditionMode::Mix, fields)
                    }
                    ConditionMode::Mix => (ConditionMode::SelfWise, Vec::new()),
                    ConditionMode::SelfWise => {
                        let fields = if state.group_fields.is_empty() {
                            state.mix_fields.iter().take(1).cloned().collect()
                        } else {
                            state.group_fields.clone()
                        };
                        (ConditionMode::Group, fields)
                    }
                };
                condition.mode = mode;
                condition.fields = fields;
                if apg.variant == Variant::Static {
                    apg.variant = Variant::V5;
                }
            }
            Action::ToggleField => {
                let Some(field) = fields.get(state.cursor) else { return Vec::new() };
                match condition.mode {
                    ConditionMode::SelfWise => {
                        shared.say("self-wise conditions take no fields: press m for group or mix");
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
                        (Aggregation::Input, InputAggregator::Concat, o) => {
                            (Aggregation::Input, InputAggregator::Mean, o)
                        }
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
            Action::RankUp | Action::RankDown => {
                let up = action == Action::RankUp;
                let ranks: Vec<usize> = (0..layers)
                    .map(|l| {
                        let k = rank(apg, l);
                        let k = if up { k.saturating_mul(2) } else { k / 2 };
                        k.clamp(1, max_rank(&tower, l))
                    })
                    .collect();
                if (0..layers).all(|l| ranks[l] == rank(apg, l)) {
                    shared.say(if up {
                        "K is at its largest: min(N_in, N_out) of each layer"
                    } else {
                        "K is at its smallest: 1"
                    });
                    return Vec::new();
                }
                apg.rank = ranks;
            }
            Action::OverparamUp | Action::OverparamDown => {
                let up = action == Action::OverparamUp;
                apg.overparam = (0..layers)
                    .map(|l| {
                        let (k, p) = (rank(apg, l), overparam(apg, l));
                        if up { p.max(p.saturating_mul(2).min(max_overparam(&tower, l, k))) } else { (p / 2).max(k) }
                    })
                    .collect();
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
        fit_to_tower(apg, &tower);
        state.dirty = state.experiment.as_ref().is_some_and(|e| e.experiment.apg != state.apg);
        Vec::new()
    }
}

impl ConditionsState {
    /// A key while a question is open: its answer, or (any other key) "no, keep
    /// everything". (Ctrl-C never reaches here: the router quits first.)
    pub fn answer(&mut self, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
        let Some(prompt) = self.prompt.take() else { return Vec::new() };
        let name = self.name();
        match (prompt, keys::action_for(Panel::Conditions, key)) {
            (Prompt::Discard, Some(Action::Confirm)) => {
                // The selection may have moved on (Train panel) while the design stayed here.
                let shown = shared.selected_experiment().is_some_and(|e| Some(&e.path) == self.path.as_ref());
                self.dirty = false;
                if shown {
                    shared.next_experiment();
                }
                self.load(shared.selected_good());
                shared.say(format!("discarded the unsaved changes to {name}"));
            }
            (Prompt::Conflict(conflict), Some(Action::KeepMine)) => {
                self.overwrite = Some(conflict.theirs);
                if let Some(path) = self.path.clone() {
                    return vec![Effect::SaveExperiment(path)];
                }
            }
            (Prompt::Conflict(conflict), Some(Action::TakeTheirs)) => self.take_theirs(&conflict.theirs, shared),
            (Prompt::Discard, _) => shared.say(format!("kept the unsaved changes to {name}")),
            (Prompt::Conflict(_), _) => {
                shared.say(format!("nothing written: the design and the changed {name} both stay (w asks again)"))
            }
        }
        Vec::new()
    }

    /// Drops the design for the file as it is on disk (`theirs`), or for its last good
    /// version when that text is invalid.
    fn take_theirs(&mut self, theirs: &str, shared: &mut Shared) {
        let Some(path) = self.path.clone() else { return };
        self.dirty = false;
        match LoadedExperiment::from_text(&path, theirs) {
            Ok(loaded) => {
                self.load(Some(loaded));
                shared.say(format!("took the version on disk of {}", path.display()));
            }
            Err(error) => {
                let good = shared.experiments.iter().find(|e| e.path == path).and_then(|e| e.good.clone());
                self.load(good);
                shared.say(format!(
                    "took the version on disk, which is invalid ({error}): showing its last good version"
                ));
            }
        }
    }

    /// `w`, carried out (the event loop calls this for [`Effect::SaveExperiment`]): writes the
    /// `[apg]` keys that changed into `path` in place, if the result is a valid experiment and
    /// the file still holds what the design was loaded from (or the user chose to overwrite
    /// exactly what it holds now). Says what happened in the status bar.
    pub fn save(&mut self, path: &Path, shared: &mut Shared) {
        let state = self;
        let Some((base_text, base_apg)) = state.experiment.as_ref().map(|e| (e.text.clone(), e.experiment.apg.clone()))
        else {
            return;
        };
        let disk = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                shared.fail(format!("nothing written: cannot read {}: {error}", path.display()));
                return;
            }
        };
        let confirmed = state.overwrite.take().is_some_and(|theirs| theirs == disk);
        if disk != base_text && !confirmed {
            let differences = edit::apg_of(path, &disk).map(|theirs| edit::apg_changes(&theirs, &state.apg));
            state.prompt =
                Some(Prompt::Conflict(Conflict { theirs: disk, differences: differences.map_err(|e| e.to_string()) }));
            shared.fail(format!(
                "nothing written: {} changed on disk since the design was loaded: o overwrites it with mine, \
             t takes it, any other key decides later",
                path.display()
            ));
            return;
        }
        let text = match edit::set_apg(path, &disk, &state.apg) {
            Ok(text) => text,
            Err(error) => {
                shared.fail(format!("nothing written: {error}"));
                return;
            }
        };
        // The checks the file gets when it is loaded, on the text as it would be written.
        let written = match LoadedExperiment::from_text(path, &text) {
            Ok(written) => written,
            Err(error) => {
                shared.fail(format!("nothing written: the design would make the file invalid: {error}"));
                return;
            }
        };
        if text != disk
            && let Err(error) = edit::write_atomically(path, &text)
        {
            shared.fail(format!("nothing written: {error}"));
            return;
        }
        let changed = edit::apg_changes(&base_apg, &written.experiment.apg).len();
        let description = written.experiment.description.clone();
        state.dirty = false;
        state.load(Some(written));
        state.check_description |= changed > 0 && !description.is_empty();
        shared.say(match () {
            _ if text == disk => format!("nothing to write: {} holds this design", path.display()),
            _ if description.is_empty() || changed == 0 => format!("wrote {}", path.display()),
            _ => format!(
                "wrote {}; its description still reads {description:?}: edit it if it no longer fits",
                path.display()
            ),
        });
    }
}

fn draw(state: &ConditionsState, frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let block =
        |title: &str| Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title()));
    let (Some(experiment), Some(designed)) = (&state.experiment, state.designed()) else {
        let message = match shared.selected_experiment() {
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
    let stats = own_stats(shared, experiment);
    let fields = candidates(state, shared);
    // Borders and the header take three rows.
    let shown = state.fields_view.window(state.cursor, fields.len(), left.height.saturating_sub(3) as usize);
    let rows: Vec<Row> = fields[shown.clone()]
        .iter()
        .zip(shown.clone())
        .map(|(name, i)| {
            let ticked = if c.fields.contains(name) { "[x]" } else { "[ ]" };
            let numbers = stats.and_then(|s| s.conditions.iter().find(|x| &x.field == name));
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
    let title = format!("Condition fields of {} ({})", experiment.experiment.name, experiment.dataset.descriptor.name);
    frame.render_widget(Table::new(rows, widths).header(header).block(block(&title)), left);
    scrollbar(frame, left, fields.len(), &shown);
    state.fields_view.place(rows_area(left, 1));
    if state.search.active {
        search_prompt(frame, left, &state.search, theme);
    }

    let aggregation = match c.aggregation {
        Aggregation::Input => format!("input ({})", spelled(&c.input_agg)),
        Aggregation::Output => format!("output ({})", spelled(&c.output_agg)),
    };
    // One value per hidden layer of the tower; `-` for a layer that stays static.
    let layers = experiment.experiment.model.hidden.len();
    let per_layer_text = |value: &dyn Fn(usize) -> usize| {
        let values: Vec<String> = (0..layers)
            .map(|l| if apg.layers.get(l).copied().unwrap_or(true) { value(l).to_string() } else { "-".into() })
            .collect();
        format!("[{}]", values.join(", "))
    };
    let ranks = per_layer_text(&|l| rank(apg, l));
    let overparams = per_layer_text(&|l| overparam(apg, l));
    let setting = |label: &str, value: String, key: &str| {
        Line::from(vec![
            Span::styled(format!("{label} "), theme.dim()),
            Span::raw(value),
            Span::styled(format!("  ({key})"), theme.dim()),
        ])
    };
    let apg_cost = cost(&designed);
    let mut static_design = designed.clone();
    static_design.experiment.apg.variant = Variant::Static;
    let static_cost = cost(&static_design);
    let ratio = |a: usize, b: usize| if b == 0 { "-".to_string() } else { format!("{:.2}x", a as f64 / b as f64) };
    let numbers = |c: &Cost| {
        format!("{} params, {} FLOPs", thousands(c.dense_params as u64), thousands(c.flops_per_sample as u64))
    };
    let mut lines = vec![
        setting("mode", spelled(&c.mode), "m"),
        setting("fields", format!("[{}]", c.fields.join(", ")), "space"),
        setting("aggregation", aggregation, "a"),
        setting("variant", spelled(&apg.variant), "v"),
        setting("K per layer", ranks, "+/-"),
        setting("generated bias", apg.generate_bias.to_string(), "b"),
        setting("P per layer", format!("{overparams}{}", if apg.overparam.is_empty() { " (2 K)" } else { "" }), "</>"),
        setting("generator hidden", format!("{:?}", apg.generator_hidden), "g"),
        Line::raw(""),
        Line::styled("Model preview (dense parameters, FLOPs/sample)", theme.title()),
        Line::raw(format!("static: {}", numbers(&static_cost))),
        Line::raw(format!(
            "APG:    {} params ({}), {} FLOPs ({})",
            thousands(apg_cost.dense_params as u64),
            ratio(apg_cost.dense_params, static_cost.dense_params),
            thousands(apg_cost.flops_per_sample as u64),
            ratio(apg_cost.flops_per_sample, static_cost.flops_per_sample)
        )),
        Line::styled(
            if apg_cost.generator_per_sample {
                "the generator runs for every sample (self-wise)"
            } else {
                "generators run once per distinct condition in a batch"
            },
            theme.dim(),
        ),
        Line::raw(""),
    ];
    lines.extend(file_lines(state, shared, experiment));
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(block("Design")), right);
}

/// How the design stands against the experiment file, and the open question if any.
fn file_lines<'a>(state: &ConditionsState, shared: &'a Shared, experiment: &LoadedExperiment) -> Vec<Line<'a>> {
    let theme = &shared.theme;
    let name = &experiment.experiment.name;
    let entry = shared.experiments.iter().find(|e| e.path == experiment.file);
    let mut lines = Vec::new();
    match &state.prompt {
        Some(Prompt::Discard) => {
            lines.push(Line::styled(
                format!("{name} has unsaved changes: y discards them, any other key keeps them"),
                theme.accent(),
            ));
            return lines;
        }
        Some(Prompt::Conflict(conflict)) => {
            lines.push(Line::styled(format!("{name} changed on disk since the design was loaded:"), theme.bad()));
            match &conflict.differences {
                Ok(changes) if changes.is_empty() => lines.push(Line::raw(
                    "  [apg] is the same in both; the file changed elsewhere, and stays so either way",
                )),
                Ok(changes) => {
                    for change in changes {
                        lines.push(Line::raw(format!("  {}: mine {}, theirs {}", change.key, change.new, change.old)));
                    }
                }
                Err(error) => lines.push(Line::raw(format!("  theirs cannot be read: {error}"))),
            }
            lines.push(Line::styled(
                "o: overwrite with mine (their other keys stay) · t: take theirs · any other key: decide later",
                theme.accent(),
            ));
            return lines;
        }
        None => {}
    }
    if state.dirty {
        lines.push(Line::styled("unsaved changes: w writes the experiment file", theme.accent()));
        let selected = shared.selected_experiment().map(|e| &e.path);
        if selected.is_some_and(|p| *p != experiment.file) {
            lines.push(Line::styled(
                "(another experiment is selected: e asks before it drops these changes)",
                theme.dim(),
            ));
        }
        if entry.and_then(|e| e.good.as_ref()).is_some_and(|good| good.text != experiment.text) {
            lines.push(Line::styled("the file changed on disk meanwhile: w will ask which to keep", theme.bad()));
        }
    }
    match entry.and_then(|e| e.error.as_ref()) {
        Some(error) => {
            lines.push(Line::styled(format!("the file on disk is invalid: {error}"), theme.bad()));
            lines.push(Line::styled("shown: its last good version", theme.dim()));
        }
        None if !state.dirty => lines.push(Line::styled("saved: matches the experiment file", theme.dim())),
        None => {}
    }
    let description = &experiment.experiment.description;
    if state.check_description {
        lines.push(Line::styled(
            format!("written; does the description still fit? {description:?} (edit it in the file)"),
            theme.accent(),
        ));
    } else if !description.is_empty() {
        lines.push(Line::styled(format!("description: {description:?}"), theme.dim()));
    }
    lines
}

/// A settings enum as the experiment file spells it (`v5`, `self`, `concat`).
fn spelled<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
