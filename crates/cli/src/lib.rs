//! # chatstore-cli
//!
//! The `chatstore` command an operator runs against a store: create it, move its schema
//! version, check it, show its figures, back it up and restore it, reclaim space, clean
//! up what has expired, manage users, and read usage and messages.
//!
//! ```text
//! chatstore --store /var/lib/chat init
//! chatstore --store /var/lib/chat backup --dir /var/backups/chat --keep 14
//! chatstore --url postgresql://app@db/chat --schema chat check --json
//! ```
//!
//! Every command is a call (or a few) into the chatstore libraries; this crate parses
//! arguments ([`cli`]), opens the store ([`open`]), runs one module of [`commands`], and
//! prints the result as a table or as JSON ([`output`]). A new command is a module under
//! `commands/`, a variant of [`cli::Command`] and one line in [`commands::run`].
#![deny(missing_docs)]

pub mod cli;
pub mod commands;
pub mod error;
pub mod open;
pub mod output;
pub mod progress;

use std::process::ExitCode;

use clap::Parser;

pub use error::CliError;

/// Parses the process's arguments, runs the command and prints its result; the exit
/// code is 0 on success, 1 on an error, 2 for a usage error or an unhealthy `check`.
pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CHATSTORE_LOG")
                .unwrap_or_else(|_| "error".into()),
        )
        .init();
    let cli = cli::Cli::parse();
    let json = cli.global.json;
    match commands::run(cli) {
        Ok(output) => {
            output::print(&output, json);
            ExitCode::from(output.exit_code)
        }
        Err(error) => {
            output::print_error(&error, json);
            ExitCode::from(error.exit_code())
        }
    }
}
