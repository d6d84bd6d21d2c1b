//! [`CliError`]: what went wrong, as one line an operator can act on.

use chatstore::Error;
use chatstore_sqlite::FileError;

/// A command's failure: the message printed and the process's exit code.
#[derive(Debug)]
pub struct CliError {
    /// What went wrong and what to do about it.
    pub message: String,
    /// The exit code (1 unless said otherwise).
    pub code: u8,
    /// The store was found damaged ([`chatstore::Error::Corrupt`]).
    pub damaged: bool,
}

impl CliError {
    /// A failure with exit code 1.
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 1,
            damaged: false,
        }
    }

    /// A mistake in how the command was called (exit code 2, as for clap's errors).
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 2,
            damaged: false,
        }
    }

    /// The exit code.
    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<Error> for CliError {
    fn from(error: Error) -> CliError {
        match FileError::of(&error) {
            Some(FileError::ForeignDatabase { path, tables }) => CliError::new(format!(
                "{} is another application's database (tables {}), not a chatstore store; it was left untouched: use `chatstore import` to bring its data over",
                path.display(),
                tables.join(", ")
            )),
            _ => CliError {
                damaged: matches!(error, Error::Corrupt { .. }),
                ..CliError::new(error.to_string())
            },
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(error: std::io::Error) -> CliError {
        CliError::new(error.to_string())
    }
}

/// A command's result.
pub type Result<T, E = CliError> = std::result::Result<T, E>;
