//! A hidden hook for the fault tests (tests/faults.rs): with `APG_BENCH_PAUSE_AT=POINT`
//! or `POINT#N`, the process waits the N-th time (default: the first) it reaches POINT,
//! so that a test can kill it exactly there. It says `apg-bench: paused at POINT` on
//! stderr, then waits until the file named by `APG_BENCH_RESUME` exists (for good when
//! that is unset). Without the variable a point costs one environment lookup.
//!
//! Points: the trainer's phases (`loading_data`, `building`, `training`, `evaluating`,
//! `testing`), `checkpoint` (the new checkpoint written, not yet renamed into place) and
//! `cache` (the same for a dataset cache).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub const PAUSE_VAR: &str = "APG_BENCH_PAUSE_AT";
pub const RESUME_VAR: &str = "APG_BENCH_RESUME";

/// Called where `point` is reached; returns at once unless a test asked to pause here.
pub fn reached(point: &str) {
    let Some(wanted) = std::env::var_os(PAUSE_VAR) else { return };
    let wanted = wanted.to_string_lossy();
    let (name, nth) = match wanted.split_once('#') {
        Some((name, n)) => (name, n.parse::<usize>().unwrap_or(1)),
        None => (wanted.as_ref(), 1),
    };
    if name != point {
        return;
    }
    static SEEN: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
    let count = {
        let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = seen.get_or_insert_with(HashMap::new).entry(point.to_string()).or_default();
        *count += 1;
        *count
    };
    if count != nth {
        return;
    }
    eprintln!("apg-bench: paused at {point}");
    let resume = std::env::var_os(RESUME_VAR).map(std::path::PathBuf::from);
    while resume.as_ref().is_none_or(|file| !file.exists()) {
        std::thread::sleep(Duration::from_millis(20));
    }
}
