//! Whether other processes used the CPUs while a measurement ran: this VM has 2 vCPUs,
//! and one busy foreign core slows a 2-thread measurement by far more than its drift.
//! The PyTorch reference's bench keeps only repetitions during which other processes
//! used under 0.15 cores, waiting for a quiet machine first; the model section does the
//! same, so that the side-by-side ratios compare like with like (Linux only: elsewhere
//! every repetition counts as quiet).

use std::time::{Duration, Instant};

/// Cores other processes may use during a repetition that still counts.
pub const MAX_FOREIGN_CORES: f64 = 0.15;

/// CPU time counters at one instant.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    at: Instant,
    /// CPU-seconds every process on the machine has run (user, nice, system, irq,
    /// softirq, steal).
    machine_busy: f64,
    /// CPU-seconds this process has run, all threads.
    own: f64,
}

/// The counters now, or None where /proc/stat is not readable.
pub fn counters() -> Option<Counters> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> =
        stat.lines().next()?.split_whitespace().skip(1).take(8).map(|v| v.parse().unwrap_or(0.0)).collect();
    if fields.len() < 8 {
        return None;
    }
    // user nice system idle iowait irq softirq steal: everything but idle and iowait.
    let busy_ticks = fields.iter().sum::<f64>() - fields[3] - fields[4];
    // SAFETY: sysconf and getrusage only write into the struct passed to them.
    let (ticks_per_second, own) = unsafe {
        let ticks = libc::sysconf(libc::_SC_CLK_TCK) as f64;
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 || ticks <= 0.0 {
            return None;
        }
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        (ticks, seconds(usage.ru_utime) + seconds(usage.ru_stime))
    };
    Some(Counters { at: Instant::now(), machine_busy: busy_ticks / ticks_per_second, own })
}

/// Average cores used by other processes between two readings.
pub fn foreign_cores(before: &Counters, after: &Counters) -> f64 {
    let wall = after.at.duration_since(before.at).as_secs_f64().max(1e-9);
    (((after.machine_busy - before.machine_busy) - (after.own - before.own)) / wall).max(0.0)
}

/// Blocks until other processes use under [`MAX_FOREIGN_CORES`] over a 1 s probe, or
/// `max_wait` has passed; returns the time waited.
pub fn wait_quiet(max_wait: Duration) -> Duration {
    let start = Instant::now();
    while start.elapsed() < max_wait {
        let Some(before) = counters() else { break };
        std::thread::sleep(Duration::from_secs(1));
        let Some(after) = counters() else { break };
        if foreign_cores(&before, &after) < MAX_FOREIGN_CORES {
            break;
        }
    }
    start.elapsed()
}

/// The repetitions of one measurement, split by whether the machine was quiet.
#[derive(Debug, Clone, Default)]
pub struct Repetitions {
    pub quiet: Vec<f64>,
    /// (value, foreign cores) of each repetition taken while other processes ran.
    pub busy: Vec<(f64, f64)>,
    pub waited: Duration,
    /// Busy repetitions count like quiet ones (a quick run: no retries).
    pub keep_busy: bool,
}

impl Repetitions {
    /// The values to report: the quiet repetitions, or every one when none was quiet or
    /// busy ones are kept.
    pub fn values(&self) -> Vec<f64> {
        let busy = self.busy.iter().map(|(v, _)| *v);
        if self.keep_busy || self.quiet.is_empty() {
            self.quiet.iter().copied().chain(busy).collect()
        } else {
            self.quiet.clone()
        }
    }

    /// A note for the figure when any repetition was taken on a busy machine.
    pub fn note(&self) -> Option<String> {
        if self.busy.is_empty() {
            return None;
        }
        let most = self.busy.iter().map(|(_, f)| *f).fold(0.0, f64::max);
        Some(if self.keep_busy {
            format!(
                "{} repetition(s) ran while other processes used up to {most:.2} cores (kept: a quick run does not retry)",
                self.busy.len()
            )
        } else if self.quiet.is_empty() {
            format!(
                "machine busy: other processes used up to {most:.2} cores in every repetition (waited {:.0} s)",
                self.waited.as_secs_f64()
            )
        } else {
            format!("{} busy repetition(s) left out (other processes used up to {most:.2} cores)", self.busy.len())
        })
    }
}

/// Runs `measure` (one repetition, returning its value) until `reps` repetitions were
/// quiet or 3 x `reps` were tried, waiting up to `max_wait` for a quiet machine before
/// the first and after each busy one (a quiet repetition already says the machine is
/// quiet). With a zero `max_wait` it runs exactly `reps` repetitions and keeps them all,
/// noting the busy ones.
pub fn repeat_quietly(reps: usize, max_wait: Duration, mut measure: impl FnMut() -> f64) -> Repetitions {
    let mut result = Repetitions { keep_busy: max_wait.is_zero(), ..Default::default() };
    let tries = if result.keep_busy { reps } else { 3 * reps };
    // Probe before the first repetition and after each busy one.
    let mut probe = true;
    for _ in 0..tries {
        if result.quiet.len() >= reps {
            break;
        }
        if !max_wait.is_zero() && probe {
            result.waited += wait_quiet(max_wait);
        }
        let before = counters();
        let value = measure();
        match (before, counters()) {
            (Some(before), Some(after)) if foreign_cores(&before, &after) >= MAX_FOREIGN_CORES => {
                result.busy.push((value, foreign_cores(&before, &after)));
                probe = true;
            }
            _ => {
                result.quiet.push(value);
                probe = false;
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_without_waiting_makes_exactly_its_repetitions() {
        let mut calls = 0;
        let result = repeat_quietly(3, Duration::ZERO, || {
            calls += 1;
            calls as f64
        });
        assert_eq!(calls, 3);
        assert_eq!(result.values().len(), 3);
    }

    #[test]
    fn busy_repetitions_are_left_out_unless_none_was_quiet() {
        let mixed = Repetitions { quiet: vec![2.0, 4.0], busy: vec![(1.0, 0.9)], ..Default::default() };
        assert_eq!(mixed.values(), vec![2.0, 4.0]);
        assert!(mixed.note().expect("a note").starts_with("1 busy repetition(s) left out"));
        let busy = Repetitions { quiet: vec![], busy: vec![(1.0, 0.5), (3.0, 0.7)], ..Default::default() };
        assert_eq!(busy.values(), vec![1.0, 3.0]);
        assert!(busy.note().expect("a note").contains("up to 0.70 cores"));
        let quick = Repetitions { quiet: vec![2.0], busy: vec![(1.0, 0.5)], keep_busy: true, ..Default::default() };
        assert_eq!(quick.values(), vec![2.0, 1.0], "a quick run keeps every repetition");
        assert!(quick.note().expect("a note").contains("kept"));
        assert_eq!(Repetitions { quiet: vec![1.0], ..Default::default() }.note(), None);
    }

    #[test]
    fn another_process_spinning_is_foreign_load_and_our_own_spinning_is_not() {
        let Some(before) = counters() else { return };
        // Our own thread spins for 300 ms: this process's time, not foreign.
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = counters().expect("readable twice");
        assert!(after.own - before.own > 0.15, "the spin's CPU time is this process's");
        // A child process spinning for 600 ms is foreign.
        let Ok(mut child) = std::process::Command::new("sh").args(["-c", "while :; do :; done"]).spawn() else {
            return;
        };
        let before = counters().expect("readable");
        std::thread::sleep(Duration::from_millis(600));
        let after = counters().expect("readable");
        let _ = child.kill();
        let _ = child.wait();
        let foreign = foreign_cores(&before, &after);
        assert!(foreign > 0.25, "a spinning child used {foreign:.2} cores");
    }
}
