//! The studies under the Train panel's experiments: each with its progress (runs done of
//! all, and how many are running, failed or waiting in this queue). On a study, `s` and
//! `a` queue its runs that are not done, `u` takes them out of the queue again, and `c`
//! opens its report in the Runs panel's comparison. The Train panel owns the cursor and
//! the queue; this module only reads a study's standing and draws the list.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem};

use crate::format::duration;
use crate::study::status::{Overview, State};
use crate::tui::panels::rows_area;
use crate::tui::scroll::{Viewport, scrollbar};
use crate::tui::shared::{Queued, Shared};

/// The cursor on the studies (when it is there rather than on the experiments) and the
/// part of their list on screen.
#[derive(Debug, Clone, Default)]
pub struct StudiesList {
    pub cursor: Option<usize>,
    pub view: Viewport,
    /// Whether the workspace has studies (the study keys are offered then).
    pub present: bool,
}

impl StudiesList {
    /// The study under the cursor.
    pub fn selected<'a>(&self, shared: &'a Shared) -> Option<&'a Overview> {
        shared.studies.get(self.cursor?)
    }
}

/// The runs of `study` a press of `s` or `a` queues: those not done, not running (here or
/// elsewhere), not waiting on Slurm, not in `queue` and not `starting`; failed ones run
/// again.
pub fn runs_to_queue(
    study: &Overview,
    queue: &VecDeque<Queued>,
    starting: Option<&Queued>,
) -> Result<Vec<Queued>, String> {
    let expanded = study.study.as_ref().map_err(|e| format!("{} has an error: fix it first: {e}", study.name))?;
    Ok(study
        .slots
        .iter()
        .filter(|slot| matches!(slot.state, State::Pending | State::Failed))
        .map(|slot| Queued::Study {
            study: study.name.clone(),
            variant: expanded.variants[slot.variant].name.clone(),
            seed: slot.seed,
        })
        .filter(|run| !queue.contains(run) && Some(run) != starting)
        .collect())
}

/// One finished run of each variant that has one, the baseline's first: the runs whose
/// configurations the report compares (each stands for its variant's group of seeds).
pub fn report_runs(study: &Overview) -> Result<Vec<String>, String> {
    let expanded = study.study.as_ref().map_err(|e| format!("{} has an error: {e}", study.name))?;
    let done_run = |variant: usize| {
        study.slots.iter().find(|s| s.variant == variant && s.state == State::Done).and_then(|s| s.run.clone())
    };
    let Some(baseline) = done_run(expanded.baseline) else {
        let name = &expanded.variants[expanded.baseline].name;
        return Err(format!("the baseline {name} of {} has no finished run yet: nothing to compare with", study.name));
    };
    let mut runs = vec![baseline];
    runs.extend((0..expanded.variants.len()).filter(|&v| v != expanded.baseline).filter_map(done_run));
    if runs.len() < 2 {
        return Err(format!("only the baseline of {} has finished runs: nothing to compare yet", study.name));
    }
    Ok(runs)
}

/// How many runs of study `name` wait in `queue`.
pub fn queued_of(queue: &VecDeque<Queued>, name: &str) -> usize {
    queue.iter().filter(|q| matches!(q, Queued::Study { study, .. } if study == name)).count()
}

/// What the status lines say of the selected study, the progress first.
pub fn progress_line(study: &Overview, queued_here: usize) -> String {
    let Ok(expanded) = &study.study else { return format!("study {}: its file has an error", study.name) };
    let c = study.counts();
    let mut parts = vec![format!("study {}: {}/{} done", study.name, c.done, c.total())];
    for (n, what) in
        [(c.running, "running"), (c.failed, "failed"), (c.queued, "on Slurm"), (queued_here, "queued here")]
    {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if let Some(eta) = study.eta_s() {
        parts.push(format!("~{} left", duration(eta)));
    }
    parts.push(format!("{} variants x {} seeds", expanded.variants.len(), expanded.seeds.len()));
    parts.join(", ")
}

/// The studies' list, its title counting them; the cursor shows only when it is on them.
pub fn draw(list: &StudiesList, frame: &mut Frame, area: Rect, shared: &Shared, queue: &VecDeque<Queued>) {
    let theme = &shared.theme;
    let height = area.height.saturating_sub(2) as usize;
    let shown = list.view.window(list.cursor.unwrap_or(0), shared.studies.len(), height);
    let width = area.width.saturating_sub(2) as usize;
    let items: Vec<ListItem> = shared.studies[shown.clone()]
        .iter()
        .zip(shown.clone())
        .map(|(study, i)| {
            let waiting = queued_of(queue, &study.name);
            let (marker, progress) = match &study.study {
                Err(_) => ("! ", String::new()),
                Ok(_) => {
                    let c = study.counts();
                    let marker = if c.done == c.total() {
                        "✓ "
                    } else if c.running > 0 || waiting > 0 {
                        "▸ "
                    } else {
                        "  "
                    };
                    (marker, format!("{}/{}", c.done, c.total()))
                }
            };
            let room = width.saturating_sub(2 + progress.chars().count() + 1);
            let name: String = study.name.chars().take(room).collect();
            let gap = width.saturating_sub(2 + name.chars().count() + progress.chars().count()).max(1);
            let line = Line::from(vec![
                Span::raw(format!("{marker}{name}{}", " ".repeat(gap))),
                Span::styled(progress, theme.dim()),
            ]);
            let item = ListItem::new(line);
            if Some(i) == list.cursor { item.style(theme.selected()) } else { item }
        })
        .collect();
    let title = Span::styled(format!(" Studies ({}) ", shared.studies.len()), theme.title());
    frame.render_widget(List::new(items).block(Block::default().borders(Borders::ALL).title(title)), area);
    scrollbar(frame, area, shared.studies.len(), &shown);
    list.view.place(rows_area(area, 0));
}
