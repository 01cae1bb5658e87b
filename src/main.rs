//! The `apg-bench` binary: parse the arguments and hand over to a front end.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    end_quietly_on_closed_pipe();
    keep_freed_memory();
    let args = apg_bench::cli::Cli::parse();
    match apg_bench::cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Output read by a program that stops early (`| head -1`, `| true`) must end
/// apg-bench as it ends `cat`: quietly. Rust ignores SIGPIPE, so a write into the closed
/// pipe fails with EPIPE and `println!` panics on it. Restoring the default action ends
/// the process by the signal at the first such write, wherever it is printed from (an
/// exit status of 141 in a shell), which a writer that returns errors could only do by
/// replacing every `println!`. Sockets are unaffected: std writes to them with
/// MSG_NOSIGNAL, so a dropped download still comes back as an error.
fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: sets the disposition of one signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A training step allocates and frees the same few-MB temporaries (B x width
/// activations and their gradients) hundreds of times a second. glibc serves blocks that
/// large with fresh mmaps and gives freed heap tops back to the kernel, so each step
/// paid page faults and page zeroing (~8 % of a static MLP step, measured with perf).
/// Keeping them in the heap makes the next step reuse them.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes glibc's allocator; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
