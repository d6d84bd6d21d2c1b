//! Opens a chatstore database and prints how it went, as one word: `ok` or the name of
//! the startup error. The startup tests run it as an unprivileged user, since root
//! ignores file permissions.
//!
//! ```text
//! open_probe PATH
//! ```

use chatstore::{Config, Error, PasswordParams, StartupError};
use chatstore_sqlite::SqliteStore;
use std::time::Duration;

fn main() {
    let path = std::env::args().nth(1).expect("usage: open_probe PATH");
    let config = Config::new(path)
        .password_params(PasswordParams::fast_for_tests())
        .startup_timeout(Duration::from_millis(200));
    let outcome = match SqliteStore::open(config) {
        Ok(_) => "ok".to_owned(),
        Err(Error::Startup(error)) => {
            eprintln!("{error}");
            match error {
                StartupError::MissingDirectory { .. } => "MissingDirectory",
                StartupError::UnwritableDirectory { .. } => "UnwritableDirectory",
                StartupError::UnreadableFile { .. } => "UnreadableFile",
                StartupError::NotADatabase { .. } => "NotADatabase",
                StartupError::Locked { .. } => "Locked",
                StartupError::DiskIo { .. } => "DiskIo",
                _ => "OtherStartupError",
            }
            .to_owned()
        }
        Err(other) => format!("other: {other}"),
    };
    println!("{outcome}");
}
