//! The Train panel: pick an experiment and start / pause / resume / stop it, choose the
//! device of the next run; live curves of the training loss and the validation AUC and
//! logloss, per-group AUC bars (scrolled a page at a time), progress with samples/s and ETA, the queue and the log tail.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Borders, Chart, Dataset, Gauge, GraphType, LegendPosition, List, ListItem, Paragraph,
};

use std::collections::VecDeque;

use crate::config::Device;
use crate::config::experiment::LoadedExperiment;
use crate::train::{EvalMetrics, Event, GroupMetrics, MetricsRecord, Phase, RunEnd, RunSummary};
use crate::tui::keys::{self, Action, Binding};
use crate::tui::mouse::{Mouse, WHEEL_ROWS, select_in};
use crate::tui::panels::bar;
use crate::tui::panels::studies::{self, StudiesList};
use crate::tui::panels::{rows_area, search_prompt};
use crate::tui::scroll::{Motion, Viewport, scrollbar};
use crate::tui::search::{Search, SearchReply};
use crate::tui::shared::{Component, Effect, Panel, Queued, Shared};
use crate::tui::theme::Theme;

/// The live view of the run in progress (or the last one), the queue and the choices
/// for the next run.
#[derive(Debug, Clone, Default)]
pub struct TrainState {
    pub experiment: Option<String>,
    pub run_id: Option<String>,
    pub phase: Option<Phase>,
    pub step: usize,
    pub total_steps: usize,
    pub samples_per_s: f64,
    pub elapsed_s: f64,
    pub loss: Vec<(f64, f64)>,
    pub valid_auc: Vec<(f64, f64)>,
    pub valid_logloss: Vec<(f64, f64)>,
    pub groups: Vec<GroupMetrics>,
    pub last_eval: Option<EvalMetrics>,
    pub summary: Option<RunSummary>,
    pub log: VecDeque<String>,
    pub queue: VecDeque<Queued>,
    /// The queued run asked to start last, until it ends (so a study's `s` does not queue
    /// it again before the history shows it running).
    pub starting: Option<Queued>,
    /// The studies below the experiments, and the cursor when it is on one of them.
    pub studies: StudiesList,
    /// The device of the run shown.
    pub device: Device,
    /// The device of the runs started from now on (`d`).
    pub next_device: DeviceChoice,
    /// The part of the experiment list on screen.
    pub experiments_view: Viewport,
    /// `/` over the experiment names.
    pub search: Search,
    /// How many lines the log is scrolled back from its newest (0: it follows new lines).
    pub log_back: usize,
    pub log_view: Viewport,
    /// The first row of the per-group AUC shown (`{` and `}` scroll by a page).
    pub groups_from: usize,
    pub groups_view: Viewport,
    /// Training seconds so far without the time spent paused, for the ETA.
    pub active_s: f64,
    /// The step and elapsed seconds of the last training record.
    pub last_record: (usize, f64),
    /// A pause came after the last training record: the time to the next one holds it.
    pub paused_since_record: bool,
}

const LOG_LINES: usize = 200;

impl TrainState {
    pub fn active(&self) -> bool {
        matches!(
            self.phase,
            Some(
                Phase::LoadingData
                    | Phase::Building
                    | Phase::Training
                    | Phase::Paused
                    | Phase::Evaluating
                    | Phase::Testing
            )
        )
    }

    fn log(&mut self, line: String) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line);
        // Scrolled back, the view stays on the lines being read.
        if self.log_back > 0 {
            self.log_back = (self.log_back + 1).min(self.log.len());
        }
    }

    /// Seconds left at the pace of the training so far (paused time not counted); none
    /// unless the run is training or evaluating.
    pub fn eta_s(&self) -> Option<f64> {
        let running = matches!(self.phase, Some(Phase::Training | Phase::Evaluating)) && self.summary.is_none();
        (running && self.step > 0 && self.total_steps > self.step)
            .then(|| self.active_s / self.step as f64 * (self.total_steps - self.step) as f64)
    }

    /// Counts the time to a training record at `step`, `elapsed_s` into the run.
    fn count_active(&mut self, step: usize, elapsed_s: f64) {
        let (last_step, last_elapsed) = self.last_record;
        if self.paused_since_record {
            // The pause lies somewhere in between: count these steps at the pace so far.
            let pace = if last_step > 0 { self.active_s / last_step as f64 } else { 0.0 };
            self.active_s += pace * step.saturating_sub(last_step) as f64;
        } else {
            self.active_s += (elapsed_s - last_elapsed).max(0.0);
        }
        self.paused_since_record = false;
        self.last_record = (step, elapsed_s);
    }

    /// The device a run of `experiment` started now trains on.
    pub fn run_device(&self, experiment: &LoadedExperiment) -> Device {
        self.next_device.device(experiment.experiment.device)
    }

    /// A new run started (the event loop spawned it).
    pub fn run_started(&mut self, experiment: String, run_id: String, device: Device, shared: &mut Shared) {
        *self = TrainState {
            queue: std::mem::take(&mut self.queue),
            studies: std::mem::take(&mut self.studies),
            starting: self.starting.take(),
            next_device: self.next_device,
            experiments_view: std::mem::take(&mut self.experiments_view),
            search: std::mem::take(&mut self.search),
            device,
            ..Default::default()
        };
        self.log(format!("run {run_id} of {experiment}"));
        // A new run replaces the last one's news (a failure, say) in the status bar.
        shared.say(format!("{experiment} started on {}", self.device));
        self.experiment = Some(experiment);
        self.run_id = Some(run_id);
        self.phase = Some(Phase::LoadingData);
    }

    /// A training event of the run in progress.
    pub fn on_event(&mut self, event: Event, shared: &mut Shared) {
        match event {
            Event::Phase { phase } => {
                self.paused_since_record |= phase == Phase::Paused;
                self.phase = Some(phase);
            }
            Event::Log { line } => self.log(line),
            Event::Plan { total_steps, .. } => self.total_steps = total_steps,
            Event::Metrics { record: MetricsRecord::Train { step, loss, samples_per_s, elapsed_s, .. } } => {
                self.count_active(step, elapsed_s);
                self.step = step;
                self.samples_per_s = samples_per_s;
                self.elapsed_s = elapsed_s;
                self.loss.push((step as f64, loss));
            }
            Event::Metrics { record: MetricsRecord::Eval { step, metrics, .. } } => {
                if metrics.split == "valid" {
                    if let Some(auc) = metrics.auc {
                        self.valid_auc.push((step as f64, auc));
                    }
                    self.valid_logloss.push((step as f64, metrics.logloss));
                }
                self.log(format!("{} at step {step}: {}", metrics.split, crate::runs::eval_headline(&metrics)));
                self.groups = metrics.groups.clone();
                self.last_eval = Some(metrics);
            }
            Event::Checkpoint { step, .. } => self.log(format!("best model so far saved at step {step}")),
            Event::Finished { summary } => {
                if let Some(reason) = &summary.reason {
                    shared.say(format!("run {}: {reason}", summary.status.name()));
                }
                self.log(format!(
                    "run {}: {}",
                    summary.status.name(),
                    summary
                        .test
                        .as_ref()
                        .and_then(|m| m.auc)
                        .map_or("no test AUC".into(), |a| format!("test AUC {a:.4}"))
                ));
                self.summary = Some(*summary);
            }
            Event::Failed { error } => {
                self.log(format!("failed: {error}"));
                self.phase = Some(Phase::Failed);
                shared.fail(format!("training failed: {error}"));
                // The CLI's advice (--device cpu) has a key here; put it first, where
                // a long error cannot push it off the screen.
                if self.device.is_cuda() {
                    let advice = format!("{} failed: choose cpu with d, then s", self.device);
                    self.log(advice.clone());
                    shared.fail(format!("{advice} · {error}"));
                }
            }
        }
    }

    /// The run's folder is complete: reload the history, start the next queued run.
    pub fn run_ended(&mut self) -> Vec<Effect> {
        let mut effects = vec![Effect::LoadRuns];
        self.starting = self.queue.pop_front();
        effects.extend(self.starting.clone().map(Effect::StartTraining));
        effects
    }

    fn start_or_queue(&mut self, queue: bool, shared: &mut Shared) -> Vec<Effect> {
        if let Some(study) = self.studies.selected(shared) {
            let (name, total) = (study.name.clone(), study.slots.len());
            let runs = match studies::runs_to_queue(study, &self.queue, self.starting.as_ref()) {
                Ok(runs) => runs,
                Err(error) => {
                    shared.fail(error);
                    return Vec::new();
                }
            };
            if runs.is_empty() {
                shared.say(format!("every run of {name} is done, running or queued: c opens its report"));
                return Vec::new();
            }
            shared.say(format!("queued {} of the {total} runs of study {name}", runs.len()));
            self.queue.extend(runs);
            if !self.active() {
                self.starting = self.queue.pop_front();
                return self.starting.clone().map(Effect::StartTraining).into_iter().collect();
            }
            return Vec::new();
        }
        let Some(entry) = shared.selected_experiment() else {
            shared.say(if shared.experiments.is_empty() {
                "no experiment in this workspace"
            } else {
                "no experiment selected: choose one with ↑/↓ or e"
            });
            return Vec::new();
        };
        // A file with an error is refused even when a last good version exists: the user
        // means the file as it is now.
        if let Some(error) = &entry.error {
            let message = format!("{} has an error: fix it first: {error}", entry.name());
            shared.fail(message);
            return Vec::new();
        }
        if entry.good.is_none() {
            let message = format!("{} has not loaded", entry.name());
            shared.fail(message);
            return Vec::new();
        }
        let (run, name) = (Queued::Experiment(entry.path.clone()), entry.name());
        if self.active() || queue {
            shared.say(format!("queued {name}"));
            self.queue.push_back(run);
            return Vec::new();
        }
        // Started by hand, it leaves the queue, which would otherwise train it again.
        if let Some(at) = self.queue.iter().position(|q| *q == run) {
            self.queue.remove(at);
        }
        self.starting = Some(run.clone());
        vec![Effect::StartTraining(run)]
    }

    /// `u`: the selected experiment's last place in the queue goes; on a study, all of
    /// its runs waiting there.
    fn unqueue(&mut self, shared: &mut Shared) {
        if let Some(study) = self.studies.selected(shared) {
            let before = self.queue.len();
            self.queue.retain(|q| !matches!(q, Queued::Study { study: s, .. } if *s == study.name));
            let message = match before - self.queue.len() {
                0 => format!("no run of {} is queued", study.name),
                n => format!("took the {n} queued runs of {} out of the queue", study.name),
            };
            shared.say(message);
            return;
        }
        let Some(entry) = shared.selected_experiment() else { return };
        let run = Queued::Experiment(entry.path.clone());
        match self.queue.iter().rposition(|q| *q == run) {
            Some(at) => {
                self.queue.remove(at);
                shared.say(format!("took {} out of the queue", entry.name()));
            }
            None => shared.say(format!("{} is not queued", entry.name())),
        }
    }
}

impl TrainState {
    /// The studies were reloaded: the cursor stays in the list (or leaves it if empty).
    pub fn studies_changed(&mut self, shared: &Shared) {
        self.studies.present = !shared.studies.is_empty();
        self.studies.cursor =
            self.studies.cursor.filter(|_| self.studies.present).map(|c| c.min(shared.studies.len() - 1));
    }

    /// Moves the cursor through the experiments and then the studies below them, as one
    /// list: ↓ on the last experiment goes to the first study, ↑ on it back up; a page or
    /// Home/End stays in the list the cursor is in.
    fn move_cursor(&mut self, motion: Motion, shared: &mut Shared) -> Vec<Effect> {
        let (experiments, studies) = (shared.experiments.len(), shared.studies.len());
        if let Some(at) = self.studies.cursor.filter(|_| studies > 0) {
            if motion == Motion::Up && at == 0 && experiments > 0 {
                self.studies.cursor = None;
                shared.selected = Some(experiments - 1);
                return vec![Effect::SelectionChanged];
            }
            self.studies.cursor = Some(self.studies.view.moved(at.min(studies - 1), studies, motion));
            return Vec::new();
        }
        self.studies.cursor = None;
        let on_last = shared.selected.is_some_and(|i| i + 1 >= experiments);
        if studies > 0 && motion == Motion::Down && (experiments == 0 || on_last) {
            self.studies.cursor = Some(0);
            return Vec::new();
        }
        if experiments == 0 {
            return Vec::new();
        }
        // With nothing selected (the selected file was removed), a move selects the
        // first row the view shows.
        shared.selected = Some(match shared.selected {
            Some(from) => self.experiments_view.moved(from, experiments, motion),
            None => 0,
        });
        vec![Effect::SelectionChanged]
    }
}

impl Component for TrainState {
    fn bindings(&self) -> Vec<Binding> {
        let mut bindings = keys::bindings(Panel::Train);
        // `c` opens a study's report: only a workspace with studies has one, and there
        // the keys say what they do on a study.
        if !self.studies.present {
            bindings.retain(|b| b.action != Action::Compare);
        }
        for binding in bindings.iter_mut().filter(|_| self.studies.present) {
            binding.help = match binding.action {
                Action::StartTraining => "start training (on a study: queue its runs not done)",
                Action::QueueRun => "add to the queue (a study: its runs not done)",
                Action::Unqueue => "take the selected experiment or study out of the queue",
                _ => continue,
            };
        }
        bindings
    }

    fn on_action(&mut self, action: Action, shared: &mut Shared) -> Vec<Effect> {
        if let Some(motion) = Motion::of(action) {
            return self.move_cursor(motion, shared);
        }
        match action {
            Action::Search => self.search.open(shared.selected.unwrap_or(0)),
            Action::NextExperiment => {
                self.studies.cursor = None;
                shared.next_experiment();
                return vec![Effect::SelectionChanged];
            }
            Action::LogBack => {
                let most = self.log.len().saturating_sub(self.log_view.page());
                self.log_back = (self.log_back + self.log_view.page()).min(most);
            }
            Action::LogForward => self.log_back = self.log_back.saturating_sub(self.log_view.page()),
            Action::GroupsBack => self.groups_from = self.groups_from.saturating_sub(self.groups_view.page()),
            Action::GroupsForward => {
                let last_page = self.groups.len().saturating_sub(self.groups_view.page());
                self.groups_from = (self.groups_from + self.groups_view.page()).min(last_page);
            }
            Action::StartTraining => return self.start_or_queue(false, shared),
            Action::Compare => match self.studies.selected(shared).map(studies::report_runs) {
                Some(Ok(runs)) => return vec![Effect::Compare(runs)],
                Some(Err(error)) => shared.say(error),
                None => shared.say("select a study (below the experiments) to open its report"),
            },
            Action::QueueRun => return self.start_or_queue(true, shared),
            Action::Unqueue => self.unqueue(shared),
            Action::ClearQueue => {
                shared.say(format!("emptied the queue ({} runs)", self.queue.len()));
                self.queue.clear();
            }
            Action::PauseResume => match self.phase {
                Some(Phase::Paused) => return vec![Effect::Resume],
                _ if self.active() => return vec![Effect::Pause],
                _ => shared.say("nothing is training"),
            },
            Action::StopTraining if self.active() => return vec![Effect::Stop],
            Action::CycleDevice => self.next_device = self.next_device.next(),
            _ => {}
        }
        Vec::new()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, shared: &Shared) {
        draw(self, frame, area, shared)
    }

    fn takes_text(&self) -> bool {
        self.search.active
    }

    fn on_text(&mut self, key: KeyEvent, shared: &mut Shared) -> Vec<Effect> {
        let names: Vec<String> = shared.experiments.iter().map(|e| e.name()).collect();
        match self.search.on_key(key, &names, shared.selected.unwrap_or(0)) {
            SearchReply::MoveTo(row) if !names.is_empty() => {
                self.studies.cursor = None;
                shared.selected = Some(row);
                vec![Effect::SelectionChanged]
            }
            _ => Vec::new(),
        }
    }

    /// A click selects an experiment; the wheel scrolls the experiment list or the log.
    fn on_mouse(&mut self, mouse: Mouse, shared: &mut Shared) -> Vec<Effect> {
        let selected = shared.selected.unwrap_or(0);
        if let Some(row) = select_in(&self.experiments_view, mouse, selected, shared.experiments.len()) {
            self.studies.cursor = None;
            shared.selected = Some(row);
            return vec![Effect::SelectionChanged];
        }
        let at = self.studies.cursor.unwrap_or(0);
        if let Some(row) = select_in(&self.studies.view, mouse, at, shared.studies.len()) {
            self.studies.cursor = Some(row);
            return Vec::new();
        }
        if let Mouse::Wheel { column, row, down } = mouse
            && self.groups_view.contains(column, row)
        {
            let last_page = self.groups.len().saturating_sub(self.groups_view.page());
            self.groups_from = if down {
                (self.groups_from + WHEEL_ROWS).min(last_page)
            } else {
                self.groups_from.saturating_sub(WHEEL_ROWS)
            };
        }
        if let Mouse::Wheel { column, row, down } = mouse
            && self.log_view.contains(column, row)
        {
            let most = self.log.len().saturating_sub(self.log_view.page());
            self.log_back =
                if down { self.log_back.saturating_sub(WHEEL_ROWS) } else { (self.log_back + WHEEL_ROWS).min(most) };
        }
        Vec::new()
    }
}

/// The device of the runs started from the panel, cycled with `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The experiment file's `device`.
    #[default]
    Experiment,
    Cpu,
    /// The first GPU: offered by builds with the `cuda` feature only.
    Cuda,
}

impl DeviceChoice {
    /// The choices this build offers, in the order `d` goes through them.
    pub fn offered() -> &'static [DeviceChoice] {
        if cfg!(feature = "cuda") {
            &[DeviceChoice::Experiment, DeviceChoice::Cpu, DeviceChoice::Cuda]
        } else {
            &[DeviceChoice::Experiment, DeviceChoice::Cpu]
        }
    }

    pub fn next(self) -> DeviceChoice {
        let offered = Self::offered();
        let at = offered.iter().position(|c| *c == self).unwrap_or(0);
        offered[(at + 1) % offered.len()]
    }

    /// The device of a run of an experiment whose file says `own`.
    pub fn device(self, own: Device) -> Device {
        match self {
            DeviceChoice::Experiment => own,
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Cuda => Device::Cuda(0),
        }
    }
}

fn draw(t: &TrainState, frame: &mut Frame, area: Rect, shared: &Shared) {
    let theme = &shared.theme;
    let block =
        |title: String| Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title()));
    let [left, right] = Layout::horizontal([Constraint::Length(30), Constraint::Min(40)]).areas(area);
    // The studies take up to 4 rows under the experiments when the workspace has any.
    let studies_height = if shared.studies.is_empty() { 0 } else { shared.studies.len().min(4) as u16 + 2 };
    let [list_area, studies_area, queue_area] =
        Layout::vertical([Constraint::Min(5), Constraint::Length(studies_height), Constraint::Length(6)]).areas(left);

    let shown = experiments_window(t, shared, list_area);
    let items: Vec<ListItem> = shared.experiments[shown.clone()]
        .iter()
        .zip(shown.clone())
        .map(|(e, i)| {
            let marker = if e.error.is_some() { "! " } else { "  " };
            let item = ListItem::new(format!("{marker}{}", e.name()));
            let on_it = Some(i) == shared.selected && t.studies.cursor.is_none();
            if on_it { item.style(theme.selected()) } else { item }
        })
        .collect();
    let title = format!("Experiments ({})", shared.experiments.len());
    frame.render_widget(List::new(items).block(block(title)), list_area);
    scrollbar(frame, list_area, shared.experiments.len(), &shown);
    t.experiments_view.place(rows_area(list_area, 0));
    if t.search.active {
        search_prompt(frame, list_area, &t.search, theme);
    }
    if studies_height > 0 {
        studies::draw(&t.studies, frame, studies_area, shared, &t.queue);
    }
    let queue: Vec<Line> = if t.queue.is_empty() {
        let add = keys::hints(&t.bindings(), &[Action::QueueRun]).join("");
        let add = add.split(':').next().unwrap_or_default();
        vec![Line::styled(format!("empty ({add} adds)"), theme.dim())]
    } else {
        t.queue.iter().map(|q| Line::raw(q.label())).collect()
    };
    let title = if t.queue.is_empty() {
        "Queue".to_string()
    } else {
        let keys = keys::hints(&t.bindings(), &[Action::Unqueue, Action::ClearQueue]);
        format!(
            "Queue ({}) {}",
            t.queue.len(),
            keys.iter().map(|k| k.split(':').next().unwrap_or("")).collect::<Vec<_>>().join("/")
        )
    };
    frame.render_widget(Paragraph::new(queue).block(block(title)), queue_area);

    let [status, charts, bottom] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(8), Constraint::Length(8)]).areas(right);
    draw_status(t, frame, shared, status);
    let [loss_area, auc_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
    // Two scales, two charts: the losses (training and validation logloss are the same
    // quantity, so they share an axis) and the validation AUC on its own. A falling loss
    // leaves the bottom left empty: the legend goes there.
    let losses = chart("logloss", &[("train", &t.loss), ("valid", &t.valid_logloss)], theme)
        .legend_position(Some(LegendPosition::BottomLeft))
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)));
    frame.render_widget(losses, loss_area);
    frame.render_widget(chart("valid AUC", &[("AUC", &t.valid_auc)], theme).legend_position(None), auc_area);
    let [groups_area, log_area] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    draw_groups(t, frame, groups_area, theme);
    let height = log_area.height.saturating_sub(2) as usize;
    let shown = t.log_view.tail(t.log_back, t.log.len(), height);
    let log: Vec<Line> = t.log.range(shown.clone()).map(|l| Line::raw(l.clone())).collect();
    // Newest lines at the bottom, one screen line each (long lines are cut, not wrapped,
    // so the newest never scroll out of view); [ and ] scroll back and forth.
    let title = if t.log_back > 0 {
        format!("Log: {} lines back (] to return)", t.log.len() - shown.end)
    } else {
        "Log ([ scrolls back)".to_string()
    };
    frame.render_widget(Paragraph::new(log).block(block(title)), log_area);
    scrollbar(frame, log_area, t.log.len(), &shown);
    t.log_view.place(rows_area(log_area, 0));
}

/// The per-group AUC of the last evaluation, a page at a time when the groups do not fit,
/// with which of them show on the bottom border.
fn draw_groups(t: &TrainState, frame: &mut Frame, area: Rect, theme: &Theme) {
    let title = Span::styled(" AUC per group (positives/rows) ", theme.title());
    let block = Block::default().borders(Borders::ALL).title(title);
    if t.groups.is_empty() {
        let line = Line::styled("per-group AUC appears after the first validation", theme.dim());
        frame.render_widget(Paragraph::new(line).block(block), area);
        return;
    }
    let shown = t.groups_view.from_top(t.groups_from, t.groups.len(), area.height.saturating_sub(2) as usize);
    t.groups_view.place(rows_area(area, 0));
    let lines: Vec<Line> = t.groups[shown.clone()]
        .iter()
        .map(|g| {
            // Bars over [0.5, 1]: the range where AUCs differ. A one-class group has none.
            let (bar, auc) = match g.auc {
                Some(auc) => (bar((auc - 0.5) * 2.0, 10), format!("{auc:.4}")),
                None => (String::new(), "n/a   ".into()),
            };
            // How many positives and rows the AUC rests on.
            let support = g.positives.map_or(String::new(), |p| format!(" {p}/{}", g.rows));
            Line::raw(format!("{:>14} {bar:<10} {auc}{support}", truncate(&g.value, 14)))
        })
        .collect();
    let block = if shown.len() < t.groups.len() {
        let keys = keys::hints(&t.bindings(), &[Action::GroupsBack, Action::GroupsForward]);
        let keys: Vec<&str> = keys.iter().map(|k| k.split(':').next().unwrap_or("")).collect();
        let count = format!("groups {}-{} of {} {}", shown.start + 1, shown.end, t.groups.len(), keys.join("/"));
        block.title_bottom(Span::styled(count, theme.accent()))
    } else {
        block
    };
    frame.render_widget(Paragraph::new(lines).block(block), area);
    scrollbar(frame, area, t.groups.len(), &shown);
}

/// The experiments on screen in `area`, the selected one among them.
fn experiments_window(t: &TrainState, shared: &Shared, area: Rect) -> std::ops::Range<usize> {
    let height = area.height.saturating_sub(2) as usize;
    t.experiments_view.window(shared.selected.unwrap_or(0), shared.experiments.len(), height)
}

fn truncate(text: &str, width: usize) -> String {
    text.chars().take(width).collect()
}

fn draw_status(t: &TrainState, frame: &mut Frame, shared: &Shared, area: Rect) {
    let theme = &shared.theme;
    let [line_area, gauge_area] = Layout::vertical([Constraint::Length(3), Constraint::Length(1)]).areas(area);
    let selected = shared.selected_experiment();
    let phase = match t.phase {
        None => "idle".to_string(),
        Some(p) => format!("{p:?}").to_lowercase(),
    };
    let mut spans = vec![
        Span::styled(
            t.experiment.clone().unwrap_or_else(|| match t.studies.selected(shared) {
                Some(study) => study.name.clone(),
                None => selected.map(|e| e.name()).unwrap_or_default(),
            }),
            theme.accent(),
        ),
        Span::raw(format!("  {phase}  ")),
    ];
    if let Some(run) = &t.run_id {
        spans.push(Span::raw(format!("on {}  ", t.device)));
        spans.push(Span::styled(run.clone(), theme.dim()));
    }
    let mut lines = vec![Line::from(spans), next_device_line(t, shared)];
    if let Some(study) = t.studies.selected(shared) {
        let here = studies::queued_of(&t.queue, &study.name);
        let style = if study.study.is_err() { theme.bad() } else { theme.accent() };
        lines.push(Line::styled(studies::progress_line(study, here), style));
    } else if let Some(entry) = selected.filter(|e| e.error.is_some()) {
        lines.push(Line::styled(format!("{}", entry.error.as_ref().expect("filtered")), theme.bad()));
    } else if let Some(summary) = t.summary.as_ref().filter(|s| s.status == RunEnd::Diverged) {
        let reason = summary.reason.as_deref().unwrap_or_default();
        lines.push(Line::styled(format!("diverged: {reason}"), theme.bad()));
    } else if let Some(summary) = &t.summary {
        let test = summary.test.as_ref().and_then(|m| m.auc).map_or("n/a".into(), |a| format!("{a:.4}"));
        lines.push(Line::raw(format!(
            "{}: test AUC {test}, {:.0} samples/s ({})",
            summary.status.name(),
            summary.samples_per_s,
            keys::hints(&t.bindings(), &[Action::StartTraining, Action::QueueRun]).join(", ")
        )));
    } else {
        let actions = [
            Action::StartTraining,
            Action::PauseResume,
            Action::StopTraining,
            Action::QueueRun,
            Action::CycleDevice,
            Action::NextExperiment,
        ];
        let hints = keys::fit_hints(&keys::hints(&t.bindings(), &actions), line_area.width as usize);
        lines.push(Line::styled(hints, theme.dim()));
    }
    frame.render_widget(Paragraph::new(lines), line_area);
    let ratio = if t.total_steps > 0 { (t.step as f64 / t.total_steps as f64).min(1.0) } else { 0.0 };
    let eta = t.eta_s().map_or(String::new(), |s| format!(", ETA {s:.0}s"));
    let label = match t.phase {
        Some(Phase::Paused) => format!("paused at {}/{}", t.step, t.total_steps),
        _ => format!("{}/{} steps, {:.1}k samples/s{eta}", t.step, t.total_steps, t.samples_per_s / 1e3),
    };
    frame.render_widget(Gauge::default().gauge_style(theme.good()).ratio(ratio).label(label), gauge_area);
}

/// Where the next run will train: the selected experiment's own device or the one `d` chose.
fn next_device_line(t: &TrainState, shared: &Shared) -> Line<'static> {
    let choice = t.next_device;
    let own = shared.selected_experiment().and_then(|e| e.good.as_ref()).map(|e| e.experiment.device);
    let (device, how) = match (choice, own) {
        (DeviceChoice::Experiment, None) => ("the experiment's device".to_string(), String::new()),
        (DeviceChoice::Experiment, Some(own)) => (own.to_string(), " (the experiment's)".into()),
        (chosen, _) => (chosen.device(Device::Cpu).to_string(), " (chosen with d)".into()),
    };
    Line::from(vec![
        Span::raw("next run on "),
        Span::styled(device, shared.theme.accent()),
        Span::raw(how),
        Span::styled("  d: change", shared.theme.dim()),
    ])
}

/// A line chart of one or more series against steps, axes fitted to the data.
pub fn chart<'a>(title: &'a str, series: &[(&'a str, &'a [(f64, f64)])], theme: &Theme) -> Chart<'a> {
    let points = series.iter().flat_map(|(_, s)| s.iter());
    let (mut x_max, mut y_min, mut y_max) = (1.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points {
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    if !y_min.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    let pad = ((y_max - y_min) * 0.05).max(1e-3);
    let (y_min, y_max) = (y_min - pad, y_max + pad);
    let datasets = series
        .iter()
        .enumerate()
        .map(|(i, (name, data))| {
            Dataset::default()
                .name(*name)
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.series(i))
                .data(data)
        })
        .collect();
    Chart::new(datasets)
        .block(Block::default().borders(Borders::ALL).title(Span::styled(format!(" {title} "), theme.title())))
        .x_axis(Axis::default().bounds([0.0, x_max]).labels([Span::raw("0"), Span::raw(format!("{x_max:.0}"))]))
        .y_axis(
            Axis::default()
                .bounds([y_min, y_max])
                .labels([Span::raw(format!("{y_min:.3}")), Span::raw(format!("{y_max:.3}"))]),
        )
}
