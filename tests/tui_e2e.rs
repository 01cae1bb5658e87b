//! Runs tests/tui_e2e.sh: the real binary driven in tmux (launch, every panel, a short
//! training with moving curves, an outside edit seen by hot reload, a design change
//! that conflicts with an outside edit answered both ways, a comparison, quit with the
//! terminal restored; then two groups of three seeds compared at 80x24, with a noise
//! verdict on screen, a history of 50 runs scrolled to its end and back, and a study
//! queued, trained and opened as a comparison from the Train panel). Skipped, saying so, where tmux is not installed; a
//! failure instead under APG_BENCH_REQUIRE_ALL (CI, where tmux is promised).

mod common;

use std::process::Command;

#[test]
fn the_tui_works_in_a_real_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        common::skip("tmux is not installed", "install it (e.g. `apt-get install tmux`) to run this test");
        return;
    }
    let output =
        Command::new("bash").arg("tests/tui_e2e.sh").arg(env!("CARGO_BIN_EXE_apg-bench")).output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("Quit ok, terminal restored"), "{stdout}");
    assert!(stdout.contains("Conflict answered t: the file is theirs"), "{stdout}");
    assert!(stdout.contains("Conflict answered o: mine written over theirs"), "{stdout}");
    assert!(stdout.contains("Compare groups at 80x24 ok"), "{stdout}");
    assert!(stdout.contains("History of 50 runs scrolls"), "{stdout}");
    assert!(stdout.contains("Study at 80x24: s trained its 4 runs, c opened its report"), "{stdout}");
}

/// Without tmux the test above says it was skipped, and fails where every test must run.
#[test]
fn without_tmux_the_test_says_it_was_skipped_and_fails_under_require_all() {
    let test = "the_tui_works_in_a_real_terminal";
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let skipped = common::rerun(test, &[("PATH", Some(path)), (common::REQUIRE_ALL, None)]);
    let printed = common::printed(&skipped);
    assert!(skipped.status.success(), "{printed}");
    assert!(printed.contains(&format!("skipped: {test}: tmux is not installed: install it")), "{printed}");
    let failed = common::rerun(test, &[("PATH", Some(path)), (common::REQUIRE_ALL, Some("1"))]);
    let printed = common::printed(&failed);
    assert!(!failed.status.success(), "{printed}");
    assert!(printed.contains("may not be skipped, but tmux is not installed"), "{printed}");
}
