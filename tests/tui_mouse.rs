//! The mouse on the TUI without a terminal: clicks on the tabs and on list rows, the
//! wheel over lists. Where a click lands is found in the drawn screen (TestBackend), not
//! computed with the layout code under test.

use std::path::{Path, PathBuf};

use apg_bench::config::experiment::LoadedExperiment;
use apg_bench::config::workspace::Workspace;
use apg_bench::data::{self, LoadOptions, LoadedDescriptor};
use apg_bench::tui::app::{App, ExperimentEntry, Panel};
use apg_bench::tui::mouse::Mouse;
use apg_bench::tui::theme::Theme;
use apg_bench::tui::view::{self, Timing};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const WORKSPACE: &str = "tests/fixtures/tui/workspace";

fn app() -> App {
    let workspace = Workspace::open(Path::new(WORKSPACE)).unwrap();
    let experiments = ["apg-group", "broken"]
        .iter()
        .map(|name| {
            let path = PathBuf::from(format!("{WORKSPACE}/experiments/{name}.toml"));
            match LoadedExperiment::from_file(&path) {
                Ok(e) => ExperimentEntry { path, good: Some(e), error: None },
                Err(e) => ExperimentEntry { path, good: None, error: Some(e) },
            }
        })
        .collect();
    let mut app = App::new(workspace, experiments, Theme { color: false });
    let descriptor = LoadedDescriptor::open(&app.shared.workspace.dataset_reference()).unwrap();
    let (dataset, _) = data::load(&descriptor, &LoadOptions { no_cache: true, ..Default::default() }).unwrap();
    app.shared.stats = Some(data::stats::dataset_stats(&dataset));
    app.sync_conditions();
    app
}

/// The screen as lines of text.
fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view::draw(frame, app, Timing::default())).unwrap();
    let buffer = terminal.backend().buffer().clone();
    (0..height).map(|y| (0..width).map(|x| buffer[(x, y)].symbol().to_string()).collect::<String>()).collect()
}

/// The screen cell where `text` first appears at or below line `from`.
fn find(lines: &[String], text: &str, from: usize) -> (u16, u16) {
    for (y, line) in lines.iter().enumerate().skip(from) {
        if let Some(byte) = line.find(text) {
            return (line[..byte].chars().count() as u16, y as u16);
        }
    }
    panic!("{text:?} is not on the screen:\n{}", lines.join("\n"));
}

#[test]
fn a_click_on_a_tab_shows_its_panel() {
    let mut app = app();
    for (panel, title) in [(Panel::Runs, "4 Runs"), (Panel::Train, "3 Train"), (Panel::Conditions, "2 Conditions")] {
        let lines = screen(&app, 80, 24);
        let (column, row) = find(&lines, title, 0);
        assert_eq!(row, 0);
        // The last letter of the title, not only its first.
        let last = column + title.chars().count() as u16 - 1;
        app.on_mouse(Mouse::Click { column: last, row });
        assert_eq!(app.panel, panel);
    }
    // The workspace name on the right of the tab bar is not a tab.
    let lines = screen(&app, 80, 24);
    let (column, _) = find(&lines, "workspace", 0);
    app.on_mouse(Mouse::Click { column, row: 0 });
    assert_eq!(app.panel, Panel::Conditions);
}

#[test]
fn a_click_closes_the_help_before_anything_else() {
    let mut app = app();
    app.help = true;
    app.on_mouse(Mouse::Click { column: 40, row: 0 });
    assert!(!app.help);
    assert_eq!(app.panel, Panel::Data, "the click that closed the help did nothing else");
}

fn key(c: char) -> ratatui::crossterm::event::KeyEvent {
    ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Char(c))
}

fn special(code: ratatui::crossterm::event::KeyCode) -> ratatui::crossterm::event::KeyEvent {
    ratatui::crossterm::event::KeyEvent::from(code)
}

/// The name of the selected field of the Data panel.
fn data_field(app: &App) -> String {
    app.shared.stats.as_ref().unwrap().fields[app.data.field].name.clone()
}

#[test]
fn a_click_on_a_field_selects_it_and_the_wheel_moves_through_the_list() {
    let mut app = app();
    let fields: Vec<String> = app.shared.stats.as_ref().unwrap().fields.iter().map(|f| f.name.clone()).collect();
    let last = fields.last().unwrap().clone();
    let lines = screen(&app, 140, 40);
    // The row of the last field in the schema table (below the dataset summary).
    let (column, row) = find(&lines, &format!("│{last} "), 5);
    app.on_mouse(Mouse::Click { column: column + 1, row });
    assert_eq!(data_field(&app), last);
    app.on_mouse(Mouse::Wheel { column: column + 1, row, down: false });
    assert_eq!(data_field(&app), fields[fields.len() - 4], "a notch up is three rows");
    // A click on the border or the header selects nothing.
    let (column, header) = find(&lines, "field", 5);
    app.on_mouse(Mouse::Click { column, row: header });
    assert_eq!(data_field(&app), fields[fields.len() - 4]);
}

#[test]
fn slash_searches_the_fields_and_esc_goes_back() {
    let mut app = app();
    let fields: Vec<String> = app.shared.stats.as_ref().unwrap().fields.iter().map(|f| f.name.clone()).collect();
    let target = fields.iter().position(|f| f == "user_activity").expect("the fixture has user_activity");
    app.on_key(key('/'));
    for c in "activ".chars() {
        app.on_key(key(c));
    }
    assert_eq!(app.data.field, target);
    // While searching, keys are text: `d` and `r` (next dataset, reload) did nothing.
    assert!(app.data.search.active);
    app.on_key(special(ratatui::crossterm::event::KeyCode::Esc));
    assert_eq!(app.data.field, 0, "Esc goes back to where the search started");
    app.on_key(key('/'));
    for c in "ACTIV".chars() {
        app.on_key(key(c));
    }
    app.on_key(special(ratatui::crossterm::event::KeyCode::Enter));
    assert_eq!(app.data.field, target, "Enter stays on the match (case ignored)");
    assert!(!app.data.search.active);
}

#[test]
fn in_the_train_panel_a_search_selects_an_experiment_and_never_starts_one() {
    let mut app = app();
    app.on_key(key('3'));
    assert_eq!(app.panel, Panel::Train);
    app.on_key(key('/'));
    // `s` would start training, `x` stop: here they are letters of the search.
    for c in "brokens".chars() {
        app.on_key(key(c));
    }
    assert!(app.train.phase.is_none(), "no run was started by the typed text");
    app.on_key(special(ratatui::crossterm::event::KeyCode::Backspace));
    app.on_key(special(ratatui::crossterm::event::KeyCode::Enter));
    assert_eq!(app.selected_experiment().unwrap().name(), "broken");
    // The Conditions panel follows the selection (broken has no good version).
    assert!(app.conditions.experiment.is_none());
    // Clicks select rows of the experiment list, found on screen.
    let lines = screen(&app, 80, 24);
    let (column, row) = find(&lines, "apg-group", 1);
    let effects = app.on_mouse(Mouse::Click { column, row });
    assert_eq!(app.selected_experiment().unwrap().name(), "apg-group");
    assert!(effects.is_empty(), "selection effects are routed inside the app: {effects:?}");
    assert!(app.conditions.experiment.is_some(), "the Conditions panel follows a click too");
}

#[test]
fn the_conditions_field_list_takes_clicks_and_searches() {
    let mut app = app();
    app.on_key(key('2'));
    let lines = screen(&app, 120, 30);
    let (column, row) = find(&lines, "[ ] ", 2);
    let expected = lines[row as usize][lines[row as usize].find("[ ] ").unwrap() + 4..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    app.on_mouse(Mouse::Click { column, row });
    let fields = apg_bench::tui::panels::conditions::candidates(&app.conditions, &app.shared);
    assert_eq!(fields[app.conditions.cursor], expected);
    let experiment = app.conditions.path.clone();
    app.on_key(key('/'));
    // `e` (next experiment) and `v` (variant) are letters of the search here.
    for c in "devi".chars() {
        app.on_key(key(c));
    }
    app.on_key(special(ratatui::crossterm::event::KeyCode::Enter));
    let fields = apg_bench::tui::panels::conditions::candidates(&app.conditions, &app.shared);
    assert_eq!(fields[app.conditions.cursor], "device");
    assert!(!app.conditions.dirty, "the typed `v` did not change the variant");
    assert_eq!(app.conditions.path, experiment, "the typed `e` did not change the experiment");
}
