//! Runs tests/tui_e2e.sh: the real binary driven in tmux (launch, every panel, a short
//! training with moving curves, an outside edit seen by hot reload, a comparison, quit
//! with the terminal restored). Skipped, saying so, where tmux is not installed.

use std::io::Write;
use std::process::Command;

#[test]
fn the_tui_works_in_a_real_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        let _ = writeln!(std::io::stderr(), "skipped: tmux is not installed, so the TUI end-to-end test did not run");
        return;
    }
    let output =
        Command::new("bash").arg("tests/tui_e2e.sh").arg(env!("CARGO_BIN_EXE_apg-bench")).output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Quit ok, terminal restored"), "{stdout}");
}
