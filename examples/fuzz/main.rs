//! The fuzz driver (docs/fuzzing.md). Its long run executes cases out of process, in
//! chunks, so that an abort (failed allocation, stack overflow) or a hang ends one child
//! process, not the run: the case that was running is isolated, saved under
//! `target/fuzz-crashes/` and counted, and the chunk goes on after it.
//!
//! ```text
//! fuzz long [--inputs N] [--targets a,b] [--chunk N] [--timeout SECONDS] [--first SEED]
//! fuzz cases TARGET FIRST COUNT     (a child: runs seeds FIRST.., one line per case)
//! fuzz isolate TARGET SEED          (saves the input of one seed, then runs it)
//! fuzz replay TARGET FILE...        (runs saved inputs, printing what each did)
//! fuzz input TARGET SEED            (writes the input of one seed to stdout)
//! fuzz show TARGET FIRST COUNT      (what each seed does, rejection messages included)
//! ```

mod mutate;
mod targets;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use targets::{Env, Outcome, TARGETS, Target};

/// Address space a child may take: a case that asks for more aborts on a failed
/// allocation instead of swapping the machine.
const MEMORY_LIMIT_BYTES: u64 = 4 << 30;

fn crash_dir() -> PathBuf {
    std::env::var_os("FUZZ_CRASH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/target/fuzz-crashes")))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let target_named = |name: &str| {
        targets::target(name).unwrap_or_else(|| {
            let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
            eprintln!("no target {name:?} (targets: {})", names.join(", "));
            std::process::exit(2)
        })
    };
    let number = |text: &str| -> u64 {
        text.parse().unwrap_or_else(|_| {
            eprintln!("not a number: {text:?}");
            std::process::exit(2)
        })
    };
    match args.as_slice() {
        ["cases", target, first, count] => child(target_named(target), number(first), number(count)),
        ["isolate", target, seed] => isolate(target_named(target), number(seed)),
        ["replay", target, files @ ..] => replay(target_named(target), files),
        ["input", target, seed] => {
            let env = Env::create();
            let input = target_named(target).input(&env, number(seed));
            std::io::stdout().write_all(&input).expect("write to stdout");
            ExitCode::SUCCESS
        }
        ["long", options @ ..] => long(options),
        ["show", target, first, count] => {
            let (target, env) = (target_named(target), Env::create());
            targets::install_panic_hook(true);
            for seed in number(first)..number(first) + number(count) {
                let (input, start) = (target.input(&env, seed), Instant::now());
                let what = one_line(&target.explain(&env, &input));
                println!("{seed} ({} bytes, {:.0} ms): {what}", input.len(), start.elapsed().as_secs_f64() * 1e3);
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{}", include_str!("main.rs").lines().skip(5).take(8).collect::<Vec<_>>().join("\n"));
            ExitCode::from(2)
        }
    }
}

/// Peak resident memory past which a case counts as a crash: no input of these targets
/// needs more than a few hundred MiB, so a case that took this much made an allocation
/// sized by its input (reading `/dev/zero`, a length field trusted), which on a machine
/// without the address-space limit would take all memory.
const PEAK_LIMIT_BYTES: u64 = 1 << 30;

/// This process's peak resident memory so far.
fn peak_bytes() -> u64 {
    // SAFETY: getrusage only writes into the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage struct.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    usage.ru_maxrss as u64 * 1024
}

/// Ends the process with status 3 when the case just run took more memory than any
/// should: the parent counts it as an abort of that case.
fn check_peak(seed: u64) {
    let peak = peak_bytes();
    if peak > PEAK_LIMIT_BYTES {
        eprintln!("seed {seed}: peak memory {} MiB, more than any case should need", peak >> 20);
        std::process::exit(3);
    }
}

/// Bounds this process's address space (children of the long run).
fn limit_memory() {
    let bytes = std::env::var("FUZZ_MEMORY_LIMIT_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(MEMORY_LIMIT_BYTES, |mb| mb << 20);
    let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    // SAFETY: setrlimit reads the struct it is given.
    unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
}

/// Runs seeds `first..first + count` of `target`, printing `start SEED` before a case and
/// `OUTCOME SEED [message]` after it, flushed, so that the parent knows which case was
/// running if this process dies. A panicking case's input is saved here.
fn child(target: &Target, first: u64, count: u64) -> ExitCode {
    limit_memory();
    targets::install_panic_hook(true);
    let env = Env::create();
    let mut out = std::io::stdout().lock();
    for seed in first..first + count {
        writeln!(out, "start {seed}").and_then(|()| out.flush()).expect("write to the parent");
        let input = target.input(&env, seed);
        let line = match target.run(&env, &input) {
            Outcome::Rejected => format!("rejected {seed}"),
            Outcome::Accepted => format!("accepted {seed}"),
            Outcome::Panic(message) => {
                let path = save(target, seed, "panic", &input);
                format!("panic {seed} {} -> {}", one_line(&message), path.display())
            }
        };
        check_peak(seed);
        writeln!(out, "{line}").and_then(|()| out.flush()).expect("write to the parent");
    }
    ExitCode::SUCCESS
}

fn one_line(text: &str) -> String {
    text.replace('\n', " | ")
}

/// Saves a crashing input as `target/fuzz-crashes/TARGET-SEED.KIND`.
fn save(target: &Target, seed: u64, kind: &str, input: &[u8]) -> PathBuf {
    let dir = crash_dir();
    std::fs::create_dir_all(&dir).expect("create the crash folder");
    let path = dir.join(format!("{}-{seed}.{kind}", target.name));
    std::fs::write(&path, input).expect("save the input");
    path
}

/// Saves the input of `seed` (as `.case`), then runs it in this process: the parent
/// watches whether it aborts or hangs, and renames the file accordingly.
fn isolate(target: &Target, seed: u64) -> ExitCode {
    limit_memory();
    let env = Env::create();
    let input = target.input(&env, seed);
    save(target, seed, "case", &input);
    targets::install_panic_hook(false);
    println!("{}", target.explain(&env, &input));
    check_peak(seed);
    ExitCode::SUCCESS
}

fn replay(target: &Target, files: &[&str]) -> ExitCode {
    // Read before the environment moves the process into its scratch folder.
    let inputs: Vec<Vec<u8>> =
        files.iter().map(|file| std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"))).collect();
    let env = Env::create();
    targets::install_panic_hook(false);
    let mut panicked = false;
    for (file, input) in files.iter().zip(inputs) {
        let what = target.explain(&env, &input);
        panicked |= what.starts_with("panicked");
        println!("{file}: {what}");
    }
    if panicked { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

#[derive(Default, Clone)]
struct Counts {
    inputs: u64,
    rejected: u64,
    accepted: u64,
    panics: u64,
    aborts: u64,
    hangs: u64,
}

struct Options {
    inputs: u64,
    targets: Vec<&'static Target>,
    chunk: u64,
    timeout: Duration,
    first: u64,
}

fn parse_options(args: &[&str]) -> Options {
    let mut options = Options {
        inputs: 100_000,
        targets: TARGETS.iter().collect(),
        chunk: 500,
        timeout: Duration::from_secs(30),
        first: 0,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| {
            eprintln!("{flag} needs a value");
            std::process::exit(2)
        });
        let number = || value.parse::<u64>().unwrap_or_else(|_| panic!("{flag}: not a number: {value}"));
        match *flag {
            "--inputs" => options.inputs = number(),
            "--chunk" => options.chunk = number().max(1),
            "--timeout" => options.timeout = Duration::from_secs(number()),
            "--first" => options.first = number(),
            "--targets" => {
                options.targets = value
                    .split(',')
                    .map(|name| targets::target(name).unwrap_or_else(|| panic!("no target {name:?}")))
                    .collect()
            }
            other => panic!("unknown option {other}"),
        }
    }
    options
}

/// How a child ended, for the case it was running.
enum Ending {
    /// Every case of the chunk reported.
    Done,
    /// Died (a signal or an exit without finishing) while running this seed.
    Died(u64, String),
    /// No line for longer than the timeout while running this seed.
    Hung(u64),
}

/// A target's share of a long run's inputs: more for the inputs with the most keys and
/// the most code behind them.
fn weight(target: &Target) -> u64 {
    match target.name {
        "experiment" | "descriptor" | "filter" => 2,
        _ => 1,
    }
}

/// The long run: `inputs` cases shared among the targets by weight, each target's seeds
/// in chunks run by child processes. Prints the counts per target; fails when any case
/// panicked, aborted or hung.
fn long(args: &[&str]) -> ExitCode {
    let options = parse_options(args);
    let exe = std::env::current_exe().expect("the driver's path");
    let total_weight: u64 = options.targets.iter().map(|t| weight(t)).sum();
    let started = Instant::now();
    let mut table = Vec::new();
    for target in &options.targets {
        let share = options.inputs * weight(target) / total_weight;
        let mut counts = Counts::default();
        let mut next = options.first;
        let end = options.first + share;
        while next < end {
            let count = options.chunk.min(end - next);
            let ending = run_chunk(&exe, target, next, count, options.timeout, &mut counts);
            next = match ending {
                Ending::Done => next + count,
                Ending::Died(seed, why) => {
                    let kind = confirm(&exe, target, seed, options.timeout);
                    report_crash(target, seed, &kind, &why);
                    count_crash(&mut counts, &kind);
                    seed + 1
                }
                Ending::Hung(seed) => {
                    let kind = confirm(&exe, target, seed, options.timeout);
                    report_crash(target, seed, &kind, "no progress");
                    count_crash(&mut counts, &kind);
                    seed + 1
                }
            };
            eprintln!(
                "[{:>6.0}s] {}: {} inputs ({} rejected, {} accepted, {} panics, {} aborts, {} hangs)",
                started.elapsed().as_secs_f64(),
                target.name,
                counts.inputs,
                counts.rejected,
                counts.accepted,
                counts.panics,
                counts.aborts,
                counts.hangs
            );
        }
        table.push((target.name, counts));
    }
    print_table(&table, started.elapsed());
    let bad = table.iter().any(|(_, c)| c.panics + c.aborts + c.hangs > 0);
    if bad { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn count_crash(counts: &mut Counts, kind: &str) {
    counts.inputs += 1;
    if kind == "hang" {
        counts.hangs += 1;
    } else {
        counts.aborts += 1;
    }
}

fn report_crash(target: &Target, seed: u64, kind: &str, why: &str) {
    let path = crash_dir().join(format!("{}-{seed}.{kind}", target.name));
    eprintln!("{kind}: {} seed {seed} ({why}), input saved as {}", target.name, path.display());
}

/// Runs one chunk in a child, counting each reported case; returns how it ended.
fn run_chunk(exe: &PathBuf, target: &Target, first: u64, count: u64, timeout: Duration, counts: &mut Counts) -> Ending {
    let mut child = Command::new(exe)
        .args(["cases", target.name, &first.to_string(), &count.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a child");
    let (sender, lines) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut text);
        text
    });
    // The first case also builds the environment (a short training run).
    let mut running: Option<u64> = None;
    let mut done = 0;
    let ending = loop {
        let wait = if done == 0 { timeout * 2 } else { timeout };
        match lines.recv_timeout(wait) {
            Ok(line) => {
                let mut words = line.splitn(3, ' ');
                let (word, seed) = (words.next().unwrap_or(""), words.next().and_then(|s| s.parse().ok()));
                match (word, seed) {
                    ("start", Some(seed)) => running = Some(seed),
                    (outcome, Some(_)) => {
                        running = None;
                        done += 1;
                        counts.inputs += 1;
                        match outcome {
                            "rejected" => counts.rejected += 1,
                            "accepted" => counts.accepted += 1,
                            _ => {
                                counts.panics += 1;
                                eprintln!("panic: {} {line}", target.name);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                break Ending::Hung(running.unwrap_or(first + done));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().expect("wait for the child");
                if done == count && status.success() {
                    break Ending::Done;
                }
                let seed = running.unwrap_or(first + done);
                break Ending::Died(seed, format!("{status}"));
            }
        }
    };
    let _ = child.wait();
    let _ = reader.join();
    let stderr = errors.join().unwrap_or_default();
    if !matches!(ending, Ending::Done) {
        let tail: String = stderr.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        if !tail.is_empty() {
            eprintln!("child stderr (last lines): {tail}");
        }
    }
    ending
}

/// Reruns one seed alone (`isolate`, which saves its input), and names the crash by how
/// that run ends: `abort` (killed by a signal or a failed exit), `hang` (past the
/// timeout) or `flaky` (it passed alone); the saved input is renamed to match.
fn confirm(exe: &PathBuf, target: &Target, seed: u64, timeout: Duration) -> String {
    let mut child = Command::new(exe)
        .args(["isolate", target.name, &seed.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a child");
    let deadline = Instant::now() + timeout * 2;
    let kind = loop {
        match child.try_wait().expect("wait for the child") {
            Some(status) if status.success() => break "flaky",
            Some(_) => break "abort",
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break "hang";
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let saved = crash_dir().join(format!("{}-{seed}.case", target.name));
    let _ = std::fs::rename(&saved, crash_dir().join(format!("{}-{seed}.{kind}", target.name)));
    kind.to_string()
}

fn print_table(table: &[(&str, Counts)], elapsed: Duration) {
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>7} {:>7} {:>6}",
        "target", "inputs", "rejected", "accepted", "panics", "aborts", "hangs"
    );
    let mut total = Counts::default();
    for (name, c) in table {
        println!(
            "{name:<12} {:>9} {:>9} {:>9} {:>7} {:>7} {:>6}",
            c.inputs, c.rejected, c.accepted, c.panics, c.aborts, c.hangs
        );
        total.inputs += c.inputs;
        total.rejected += c.rejected;
        total.accepted += c.accepted;
        total.panics += c.panics;
        total.aborts += c.aborts;
        total.hangs += c.hangs;
    }
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>7} {:>7} {:>6}",
        "total", total.inputs, total.rejected, total.accepted, total.panics, total.aborts, total.hangs
    );
    println!("in {:.0} s; crashing inputs are saved in {}", elapsed.as_secs_f64(), crash_dir().display());
}
