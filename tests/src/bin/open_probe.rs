//! Opens a chatstore database and prints how it went, as one word: `ok` or the name of
//! the startup error. The startup tests run it as an unprivileged user, since root
//! ignores file permissions.
//!
//! ```text
//! open_probe PATH
//! ```

use chatstore::{Config, Error, PasswordParams};
use chatstore_sqlite::{FileError, SqliteStore};
use std::time::Duration;

fn main() {
    let path = std::env::args().nth(1).expect("usage: open_probe PATH");
    let config = Config::new(path)
        .password_params(PasswordParams::fast_for_tests())
        .startup_timeout(Duration::from_millis(200));
    let outcome = match SqliteStore::open(config) {
        Ok(_) => "ok".to_owned(),
        Err(error @ Error::Startup(_)) => {
            eprintln!("{error}");
            match FileError::of(&error) {
                Some(FileError::MissingDirectory { .. }) => "MissingDirectory",
                Some(FileError::UnwritableDirectory { .. }) => "UnwritableDirectory",
                Some(FileError::UnreadableFile { .. }) => "UnreadableFile",
                Some(FileError::NotADatabase { .. }) => "NotADatabase",
                Some(FileError::ForeignDatabase { .. }) => "ForeignDatabase",
                Some(FileError::Locked { .. }) => "Locked",
                Some(FileError::DiskIo { .. }) => "DiskIo",
                _ => "OtherStartupError",
            }
            .to_owned()
        }
        Err(other) => format!("other: {other}"),
    };
    println!("{outcome}");
}
