//! One module per command; [`run`] sends a parsed command line to its module.
//!
//! A command module has a `run` taking the global options and its own arguments and
//! returning an [`Output`]; adding a command is a module here, a variant of
//! [`Command`] and an arm below.

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::output::Output;

pub mod backup;
pub mod check;
pub mod cleanup;
pub mod copy;
pub mod export;
pub mod import;
pub mod import_chatstore;
pub mod init;
pub mod migrate;
pub mod search;
pub mod stats;
pub mod usage;
pub mod users;
pub mod vacuum;

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> Result<Output> {
    let global = &cli.global;
    match cli.command {
        Command::Init => init::run(global),
        Command::Migrate(args) => migrate::run(global, args),
        Command::Check(args) => check::run(global, args),
        Command::Stats => stats::run(global),
        Command::Backup(args) => backup::run(global, args),
        Command::Restore(args) => backup::restore(global, args),
        Command::Vacuum => vacuum::run(global),
        Command::Cleanup(args) => cleanup::run(global, args),
        Command::Users(args) => users::run(global, args),
        Command::Usage(args) => usage::run(global, args),
        Command::Search(args) => search::run(global, args),
        Command::Copy(args) => copy::run(global, args),
        Command::Export(args) => export::run(global, args),
        Command::Import(args) => import::run(global, args),
    }
}
