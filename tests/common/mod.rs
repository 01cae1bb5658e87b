//! What the integration tests share: how a test that cannot run says so, and running
//! one test of the current test binary again in a child process, to check that.

// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Output};

pub mod studies;

/// The variable that turns every skip into a failure. `.ci/run` sets it, because in CI
/// the real datasets and tmux are promised: a test skipped there would pass unchecked.
pub const REQUIRE_ALL: &str = "APG_BENCH_REQUIRE_ALL";

/// Whether every test must run: `APG_BENCH_REQUIRE_ALL` is set and not empty or `0`.
pub fn require_all() -> bool {
    std::env::var(REQUIRE_ALL).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Called by a test that cannot run for want of `missing`: fails under
/// `APG_BENCH_REQUIRE_ALL`; otherwise says on the real stderr (which the harness does not
/// capture) which test was skipped, what is missing and how to provide it, and returns
/// so that the test can return.
pub fn skip(missing: &str, provide: &str) {
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    if require_all() {
        panic!("{REQUIRE_ALL} is set, so {test} may not be skipped, but {missing}: {provide}");
    }
    let _ = writeln!(std::io::stderr(), "skipped: {test}: {missing}: {provide}");
}

/// Runs the test `name` of the current test binary again in a child process, with
/// `env` set (`Some`) or removed (`None`) on top of this process's environment.
pub fn rerun(name: &str, env: &[(&str, Option<&str>)]) -> Output {
    let mut command = Command::new(std::env::current_exe().expect("the test binary knows its path"));
    command.args([name, "--exact", "--test-threads=1"]);
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.output().expect("the test binary runs")
}

/// Everything a child test run printed, stdout then stderr.
pub fn printed(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}
