//! An importer for the import crash test: imports seed 001's `chatbot.db` (with the
//! `files.db` beside it) from `DIR/source` into the store in `DIR/target`, printing a
//! line at every step of its progress and `done` at the end. Killed and run again, it
//! finishes the import.
//!
//! ```text
//! progress <kind> <done>
//! done
//! ```

use std::io::Write;

use chatstore::transfer::Endpoint;
use chatstore_import::{ImportOptions, Source, import};

fn main() {
    let (dir, _random) = chatstore_tests::child_args("crash_importer DIR SEED");
    let target = chatstore_tests::open_chat(&dir.join("target"));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{}", chatstore_tests::READY).expect("stdout");
    out.flush().expect("flush");
    import(
        Source::Seed001,
        &dir.join("source").join("chatbot.db"),
        Endpoint {
            rows: target.store(),
            blobs: target.blobs(),
        },
        &ImportOptions::default(),
        &mut |progress| {
            writeln!(out, "progress {} {}", progress.kind, progress.done).expect("stdout");
            out.flush().expect("flush");
        },
    )
    .expect("the import succeeds");
    writeln!(out, "done").expect("stdout");
}
