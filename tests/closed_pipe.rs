//! Output into a pipe whose reader has gone (`apg-bench ... | head -1`) ends the program
//! quietly: by SIGPIPE, as `cat` ends, or successfully, never with a panic.
//!
//! The pipe's read end is closed before the program starts, so its first write to
//! stdout always meets the closed pipe, however fast or slow it is.

#![cfg(unix)]

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

fn into_closed_pipe(args: &[&str]) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_apg-bench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("APG_BENCH_CACHE")
        .args(args)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_ne!(output.status.code(), Some(101), "{args:?}: {stderr}");
    assert!(
        output.status.success() || output.status.signal() == Some(libc::SIGPIPE),
        "{args:?} ended with {:?}: {stderr}",
        output.status
    );
}

#[test]
fn data_inspect_into_a_closed_pipe() {
    into_closed_pipe(&["data", "inspect", "synthetic-multidomain", "--no-cache"]);
}

#[test]
fn runs_list_into_a_closed_pipe() {
    into_closed_pipe(&["--workspace", "tests/fixtures/tui/workspace", "runs", "list", "--json"]);
    into_closed_pipe(&["--workspace", "tests/fixtures/tui/workspace", "runs", "list"]);
}
