#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cli;
mod cloud;
mod commands;
mod config;
mod exit;
mod input;
mod notify;
mod output;
mod pin;
mod prompt;
mod usage;

use std::process::ExitCode;

use clap::Parser;

/// Runs the `share-backup` command line with the process's arguments and
/// returns its exit code (see the README's table).
///
/// A binary that links more providers calls this from its own `main`,
/// after naming the provider crates so rustc links them:
///
/// ```no_run
/// // use my_vault_provider as _;
/// fn main() -> std::process::ExitCode {
///     share_backup_cli::main()
/// }
/// ```
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(c) => c,
        // --help and --version exit 0; a usage error is one line, exit 2.
        Err(e) => return ExitCode::from(usage::report(&e, &args)),
    };
    init_tracing(cli.global.verbose);
    ExitCode::from(commands::run(cli))
}

fn init_tracing(verbose: u8) {
    use tracing_subscriber::filter::LevelFilter;
    let level = match verbose {
        0 => return,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(verbose > 2)
        .try_init();
}
