//! What an import did: counts per kind, the records it skipped and why, and the users
//! whose password hash chatstore cannot verify.

use std::collections::BTreeMap;

use serde::Serialize;

/// How many records of one kind were imported, found already imported, or skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Written by this run.
    pub imported: u64,
    /// Already in the target (an earlier run imported them).
    pub present: u64,
    /// Not imported: see [`ImportReport::skipped`].
    pub skipped: u64,
}

/// A source record that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The source table it is in.
    pub table: String,
    /// Its id there.
    pub original_id: String,
    /// Why it was skipped.
    pub reason: String,
}

/// A user imported with a password hash of no scheme chatstore verifies: they cannot
/// log in until their password is reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MustReset {
    /// Their id in the source.
    pub original_id: String,
    /// Their login name here.
    pub username: String,
    /// Their email address.
    pub email: String,
}

/// The outcome of [`crate::import`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The source's name (`seed000`, `chatgpt`, `claude`).
    pub source: String,
    /// Counts per kind of record (`user`, `conversation`, `message`, ...).
    pub kinds: BTreeMap<String, Counts>,
    /// Every record not imported, with its source table, id and reason.
    pub skipped: Vec<Skipped>,
    /// Users who must reset their password (their hash's format is unknown).
    pub must_reset: Vec<MustReset>,
    /// What was left out or changed on purpose, with counts (`3 tool messages not
    /// imported`, `2 non-text parts kept as a placeholder (image_asset_pointer)`).
    pub notes: Vec<String>,
}

impl ImportReport {
    /// The counts of `kind` (zero when none was seen).
    pub fn counts(&self, kind: &str) -> Counts {
        self.kinds.get(kind).copied().unwrap_or_default()
    }

    /// Records written by this run, all kinds together.
    pub fn imported(&self) -> u64 {
        self.kinds.values().map(|c| c.imported).sum()
    }

    pub(crate) fn skip(&mut self, kind: &str, table: &str, original_id: &str, reason: String) {
        self.kinds.entry(kind.to_owned()).or_default().skipped += 1;
        self.skipped.push(Skipped {
            table: table.to_owned(),
            original_id: original_id.to_owned(),
            reason,
        });
    }

    pub(crate) fn written(&mut self, kind: &str, imported: u64, present: u64) {
        let counts = self.kinds.entry(kind.to_owned()).or_default();
        counts.imported += imported;
        counts.present += present;
    }
}
