//! The `apg-bench` binary: parse the arguments and hand over to a front end.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
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
