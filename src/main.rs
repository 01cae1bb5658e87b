//! The `apg-bench` binary: parse the arguments and hand over to a front end.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = apg_bench::cli::Cli::parse();
    match apg_bench::cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
