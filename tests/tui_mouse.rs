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
