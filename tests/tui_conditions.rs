//! The Conditions panel never loses or corrupts work: keys -> state -> the experiment file,
//! on a temporary copy of the TUI test workspace (tests/fixtures/tui/workspace: a
//! 3,000-row synthetic dataset). `w` is carried out as the event loop does, by
//! `conditions::save`; outside edits arrive as the file watcher reports them.

use std::path::PathBuf;

use apg_bench::config::experiment::{ConditionMode, LoadedExperiment, Variant};
use apg_bench::config::workspace::Workspace;
use apg_bench::data::{self, LoadOptions, LoadedDescriptor};
use apg_bench::format::thousands;
use apg_bench::model::Model;
use apg_bench::tui::app::{App, Effect, ExperimentEntry, Panel};
use apg_bench::tui::keys::Action;
use apg_bench::tui::panels::conditions::{self, Prompt};
use apg_bench::tui::theme::Theme;
use apg_bench::tui::view::{self, Timing};
use dfdx::prelude::Cpu;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const FIXTURE: &str = "tests/fixtures/tui/workspace";

/// A commented experiment on a [128, 64] tower (input: 7 fields x 16 = 112 wide).
const COMMENTED: &str = "# The designer's test experiment.
description = \"APG v5, group-wise on the domain\"  # shown in run lists
dataset = \"../data.toml\"

[model]
hidden = [128, 64]   # two layers

# APG settings, tuned by hand.
[apg]
variant = \"v5\"      # the paper's best
rank = [16, 8]      # K per layer
generate_bias = true  # the default, written out

[apg.condition]
mode = \"group\"   # one field
fields = [\"domain\"]  # the user's domain

[train]
epochs = 1  # quick
";

struct Fixture {
    _dir: tempfile::TempDir,
    root: PathBuf,
    app: App,
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.root.join("experiments").join(format!("{name}.toml"))
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    /// Presses keys, carrying out their effects as the event loop would.
    fn press(&mut self, keys: &str) {
        for c in keys.chars() {
            let code = if c == ' ' { KeyCode::Char(' ') } else { KeyCode::Char(c) };
            let effects = self.app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
            self.carry_out(effects);
        }
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::SaveExperiment(path) => self.app.save_experiment(&path),
                other => panic!("unexpected effect {other:?}"),
            }
        }
    }

    /// Another program writes `text` into experiment `name`; the watcher reports it.
    fn edit_outside(&mut self, name: &str, text: &str) {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        self.app.experiment_changed(path.clone(), LoadedExperiment::from_file(&path));
    }

    fn screen(&self) -> String {
        let mut terminal = Terminal::new(TestBackend::new(140, 40)).unwrap();
        terminal.draw(|frame| view::draw(frame, &self.app, Timing::default())).unwrap();
        // Rows as plain text, without the borders' quoting.
        terminal.backend().to_string()
    }
}

/// A workspace with the fixture's dataset and `experiments` (name, text), the Data panel's
/// statistics loaded for the workspace's dataset, on the Conditions panel.
fn fixture(experiments: &[(&str, &str)]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    std::fs::copy(format!("{FIXTURE}/data.toml"), root.join("data.toml")).unwrap();
    std::fs::write(root.join("workspace.toml"), "name = \"designer-test\"\ndataset = \"data.toml\"\n").unwrap();
    std::fs::create_dir(root.join("experiments")).unwrap();
    let mut entries = Vec::new();
    for (name, text) in experiments {
        let path = root.join("experiments").join(format!("{name}.toml"));
        std::fs::write(&path, text).unwrap();
        let entry = match LoadedExperiment::from_file(&path) {
            Ok(e) => ExperimentEntry { path, good: Some(e), error: None },
            Err(e) => ExperimentEntry { path, good: None, error: Some(e) },
        };
        entries.push(entry);
    }
    let workspace = Workspace::open(&root).unwrap();
    let mut app = App::new(workspace, entries, Theme { color: false });
    app.shared.stats = Some(stats_of(&app.dataset_reference()));
    app.apply(Action::GoTo(Panel::Conditions));
    Fixture { _dir: dir, root, app }
}

fn stats_of(reference: &str) -> data::stats::DatasetStats {
    let descriptor = LoadedDescriptor::open(reference).unwrap();
    let (dataset, _) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() }).unwrap();
    data::stats::dataset_stats(&dataset)
}

/// The lines that differ between two texts of the same length in lines.
fn changed_lines(before: &str, after: &str) -> Vec<(String, String)> {
    assert_eq!(before.lines().count(), after.lines().count(), "lines were added or removed:\n{after}");
    before.lines().zip(after.lines()).filter(|(a, b)| a != b).map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn plus_and_minus_keep_k_between_1_and_the_layer_widths() {
    let mut f = fixture(&[("e", COMMENTED)]);
    f.press(&">".repeat(70));
    assert_eq!(f.app.conditions.apg.overparam, vec![128, 128], "P doubles up to the wider side of each layer");
    // K: layer 0 up to min(112, 128) = 112; layer 1 up to min(128, 64) = 64.
    f.press(&"+".repeat(70));
    assert_eq!(f.app.conditions.apg.rank, vec![112, 64]);
    assert!(f.screen().contains("K per layer [112, 64]"), "{}", f.screen());
    f.press("+");
    assert!(f.app.status().contains("K is at its largest"), "{}", f.app.status());
    f.press("w");
    let saved = LoadedExperiment::from_file(&f.path("e")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(saved.experiment.apg.rank, vec![112, 64], "{}", f.app.status());
    f.press(&"-".repeat(70));
    assert_eq!(f.app.conditions.apg.rank, vec![1, 1]);
    f.press(&"<".repeat(70));
    assert_eq!(f.app.conditions.apg.overparam, vec![1, 1], "P never falls below K");
}

#[test]
fn k_is_shown_and_kept_per_layer_of_the_actual_tower() {
    // No rank in the file: the default [32, 16, 8] is one value too many for two layers.
    let text = "dataset = \"../data.toml\"\n[model]\nhidden = [128, 64]\n";
    let mut f = fixture(&[("static", text)]);
    f.press("v"); // static -> v1
    assert_eq!(f.app.conditions.apg.variant, Variant::V1);
    assert_eq!(f.app.conditions.apg.rank, vec![32, 16], "one K per hidden layer");
    assert!(f.screen().contains("K per layer [32, 16]"), "{}", f.screen());
}

#[test]
fn w_refuses_an_invalid_design_and_says_why() {
    let mut f = fixture(&[("e", COMMENTED)]);
    f.press("m"); // group -> mix with one field: invalid
    assert_eq!(f.app.conditions.apg.condition.mode, ConditionMode::Mix);
    f.press("w");
    assert_eq!(f.read("e"), COMMENTED, "nothing written");
    assert!(f.app.status().contains("nothing written"), "{}", f.app.status());
    assert!(f.app.status().contains("a mix condition needs two or more fields"), "{}", f.app.status());
    assert!(f.app.conditions.dirty, "the design stays, unsaved");
    let screen = f.screen();
    assert!(!screen.contains("matches the experiment file"), "{screen}");
    assert!(screen.contains("unsaved changes"), "{screen}");
}

#[test]
fn an_invalid_file_on_disk_is_never_called_saved() {
    let mut f = fixture(&[("e", COMMENTED)]);
    assert!(f.screen().contains("saved: matches the experiment file"));
    f.edit_outside("e", &COMMENTED.replace("hidden = [128, 64]", "hidden = [128, 0]"));
    let screen = f.screen();
    assert!(!screen.contains("matches the experiment file"), "{screen}");
    assert!(screen.contains("the file on disk is invalid"), "{screen}");
}

#[test]
fn w_writes_only_the_changed_keys_and_keeps_every_comment() {
    let mut f = fixture(&[("e", COMMENTED)]);
    f.press("+b");
    f.press("w");
    let saved = f.read("e");
    assert_eq!(
        changed_lines(COMMENTED, &saved),
        vec![
            ("rank = [16, 8]      # K per layer".into(), "rank = [32, 16]      # K per layer".into()),
            (
                "generate_bias = true  # the default, written out".into(),
                "generate_bias = false  # the default, written out".into()
            ),
        ]
    );
    assert!(!f.app.conditions.dirty);
    // The description says what the experiment was: the user is told to look at it.
    assert!(f.app.status().contains("description still reads"), "{}", f.app.status());
    let screen = f.screen();
    assert!(screen.contains("saved: matches the experiment file"), "{screen}");
    assert!(screen.contains("does the description still fit?"), "{screen}");
    // The watcher reports the write; the reminder stays until the description changes.
    let path = f.path("e");
    f.app.experiment_changed(path.clone(), LoadedExperiment::from_file(&path));
    assert!(f.screen().contains("does the description still fit?"), "{}", f.screen());
    f.edit_outside("e", &saved.replace("APG v5, group-wise", "APG v5, K 32/16, static bias, group-wise"));
    assert!(!f.screen().contains("does the description still fit?"), "{}", f.screen());
}

#[test]
fn e_asks_before_it_drops_unsaved_changes() {
    let other = COMMENTED.replace("rank = [16, 8]", "rank = [4, 2]");
    let mut f = fixture(&[("a", COMMENTED), ("b", &other)]);
    assert_eq!(f.app.conditions.path.as_deref(), Some(f.path("a").as_path()));
    f.press("+");
    f.press("e");
    assert_eq!(f.app.conditions.prompt, Some(Prompt::Discard));
    assert!(f.screen().contains("y discards them"), "{}", f.screen());
    f.press("n"); // anything but y keeps them
    assert_eq!(f.app.conditions.prompt, None);
    assert_eq!(f.app.conditions.path.as_deref(), Some(f.path("a").as_path()));
    assert_eq!(f.app.conditions.apg.rank, vec![32, 16], "the design is kept");
    assert!(f.app.conditions.dirty);
    f.press("e");
    f.press("y");
    assert_eq!(f.app.conditions.path.as_deref(), Some(f.path("b").as_path()));
    assert_eq!(f.app.conditions.apg.rank, vec![4, 2]);
    assert!(!f.app.conditions.dirty);
    assert_eq!(f.read("a"), COMMENTED, "discarding writes nothing");
    // Without unsaved changes, e moves on at once.
    f.press("e");
    assert_eq!(f.app.conditions.path.as_deref(), Some(f.path("a").as_path()));
}

#[test]
fn another_selection_does_not_drop_unsaved_changes() {
    let mut f = fixture(&[("a", COMMENTED), ("b", COMMENTED)]);
    f.press("+");
    f.app.apply(Action::GoTo(Panel::Train));
    f.press("e"); // the Train panel selects b
    f.app.apply(Action::GoTo(Panel::Conditions));
    assert_eq!(f.app.conditions.path.as_deref(), Some(f.path("a").as_path()));
    assert_eq!(f.app.conditions.apg.rank, vec![32, 16]);
    f.press("w");
    assert_eq!(LoadedExperiment::from_file(&f.path("a")).unwrap().experiment.apg.rank, vec![32, 16]);
}

#[test]
fn an_outside_edit_is_not_written_over_without_a_choice() {
    let mut f = fixture(&[("e", COMMENTED)]);
    f.press("+"); // mine: K [32, 16]
    let theirs = COMMENTED.replace("rank = [16, 8]", "rank = [8, 4]").replace("epochs = 1", "epochs = 2");
    f.edit_outside("e", &theirs);
    assert_eq!(f.app.conditions.apg.rank, vec![32, 16], "the unsaved design stays");
    assert!(f.screen().contains("the file changed on disk meanwhile"), "{}", f.screen());
    f.press("w");
    assert_eq!(f.read("e"), theirs, "nothing written over theirs");
    let Some(Prompt::Conflict(conflict)) = &f.app.conditions.prompt else { panic!("no conflict: {}", f.app.status()) };
    assert_eq!(conflict.theirs, theirs);
    let screen = f.screen();
    assert!(screen.contains("apg.rank: mine [32, 16], theirs [8, 4]"), "{screen}");
    f.press("x"); // decide later: nothing happens
    assert_eq!(f.read("e"), theirs);
    assert!(f.app.conditions.dirty);

    // Keep mine: my [apg] keys over their file, their other edits kept.
    f.press("w");
    f.press("o");
    let saved = f.read("e");
    assert_eq!(
        changed_lines(&theirs, &saved),
        vec![("rank = [8, 4]      # K per layer".to_string(), "rank = [32, 16]      # K per layer".to_string())]
    );
    assert!(!f.app.conditions.dirty, "{}", f.app.status());
}

#[test]
fn take_theirs_drops_the_design_for_the_file_on_disk() {
    let mut f = fixture(&[("e", COMMENTED)]);
    f.press("+");
    let theirs = COMMENTED.replace("rank = [16, 8]", "rank = [8, 4]");
    f.edit_outside("e", &theirs);
    f.press("w");
    f.press("t");
    assert_eq!(f.read("e"), theirs);
    assert_eq!(f.app.conditions.apg.rank, vec![8, 4]);
    assert!(!f.app.conditions.dirty);
    // The next change is written against their version without a question.
    f.press("-w");
    assert_eq!(LoadedExperiment::from_file(&f.path("e")).unwrap().experiment.apg.rank, vec![4, 2]);
}

#[test]
fn fields_are_those_of_the_experiments_own_dataset() {
    // The Data panel shows another dataset of the workspace: no `device` field, other name.
    let mut f = fixture(&[("e", COMMENTED)]);
    let other = std::fs::read_to_string(f.root.join("data.toml"))
        .unwrap()
        .replace("name = \"synthetic-multidomain\"", "name = \"other-data\"")
        .replace("[[fields]]\nname = \"device\"\nkind = \"categorical\"\n", "");
    assert!(!other.contains("\"device\""));
    let other_path = f.root.join("other.toml");
    std::fs::write(&other_path, other).unwrap();
    f.app.shared.dataset = other_path.display().to_string();
    f.app.shared.stats = Some(stats_of(&other_path.display().to_string()));
    let fields = conditions::candidates(&f.app.conditions, &f.app.shared);
    assert!(fields.contains(&"device".to_string()), "{fields:?}");
    assert!(fields.contains(&"user_activity".to_string()), "derived fields too: {fields:?}");
    // Numbers are not shown for another dataset's fields.
    assert!(!has_numbers(&f.screen(), "[x] domain"), "{}", f.screen());

    // Back on the experiment's own dataset, its statistics are used.
    f.app.shared.dataset = f.app.shared.workspace.dataset_reference();
    f.app.shared.stats = Some(stats_of(&f.app.dataset_reference()));
    assert!(has_numbers(&f.screen(), "[x] domain"), "{}", f.screen());
}

/// Whether the field list's row starting `row` shows numbers.
fn has_numbers(screen: &str, row: &str) -> bool {
    let line = screen.lines().find(|l| l.contains(row)).unwrap_or_else(|| panic!("no row {row}:\n{screen}"));
    let cells = &line[line.find(row).unwrap() + row.len()..];
    let cells = &cells[..cells.find('│').unwrap_or(cells.len())];
    cells.chars().any(|c| c.is_ascii_digit())
}

#[test]
fn going_through_self_keeps_the_ticked_fields() {
    let mut f = fixture(&[("e", COMMENTED)]);
    f.press("m"); // mix
    let device = conditions::candidates(&f.app.conditions, &f.app.shared).iter().position(|c| c == "device").unwrap();
    f.app.conditions.cursor = device;
    f.press(" ");
    assert_eq!(f.app.conditions.apg.condition.fields, vec!["domain", "device"]);
    f.press("m"); // self
    assert!(f.app.conditions.apg.condition.fields.is_empty());
    f.press("m"); // group
    assert_eq!(f.app.conditions.apg.condition.fields, vec!["domain"]);
    f.press("m"); // mix
    assert_eq!(f.app.conditions.apg.condition.fields, vec!["domain", "device"]);
    f.press("w");
    let saved = LoadedExperiment::from_file(&f.path("e")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(saved.experiment.apg.condition.fields, vec!["domain", "device"]);
}

#[test]
fn the_preview_shows_the_parameters_of_the_model_that_gets_built() {
    let descriptor = LoadedDescriptor::open(&format!("{FIXTURE}/data.toml")).unwrap();
    let (dataset, _) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() }).unwrap();
    // Designs reached by keys: as loaded; mix of two fields with output attention and a
    // generator trunk; self-wise with a static bias; v3.
    for keys in ["", "m aaaag", "mmb", "vvvv"] {
        let mut f = fixture(&[("e", COMMENTED)]);
        f.app.conditions.cursor =
            conditions::candidates(&f.app.conditions, &f.app.shared).iter().position(|c| c == "device").unwrap();
        f.press(keys);
        f.press("w");
        // The model the saved file describes, as a run would build it.
        let saved = LoadedExperiment::from_file(&f.path("e")).unwrap_or_else(|e| panic!("{keys:?}: {e}"));
        assert_eq!(saved.experiment.apg, f.app.conditions.apg, "{keys:?}: {}", f.app.status());
        let model = Model::new(&saved, &dataset, Cpu::default(), 1).unwrap();
        let dense = model.param_counts().dense;
        let screen = f.screen();
        let shown = format!("APG:    {} params", thousands(dense as u64));
        assert!(screen.contains(&shown), "{keys:?}: the model has {dense} dense parameters:\n{screen}");
    }
}

#[test]
fn help_lists_the_answers_to_the_panels_questions() {
    let mut f = fixture(&[("e", COMMENTED)]);
    f.app.apply(Action::ToggleHelp);
    let mut terminal = Terminal::new(TestBackend::new(100, 50)).unwrap();
    terminal.draw(|frame| view::draw(frame, &f.app, Timing::default())).unwrap();
    let screen = terminal.backend().to_string();
    for words in ["asked: yes, discard unsaved changes", "asked: overwrite the file with mine", "asked: take the file"]
    {
        assert!(screen.contains(words), "{words}:\n{screen}");
    }
}
