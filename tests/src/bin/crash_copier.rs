//! A copier for the copy crash test: copies the store in `DIR/source` into `DIR/target`
//! (both `chatstore.db` and `files.db`) in small batches, printing a line after every
//! batch and `done` at the end. Killed and run again, it resumes.
//!
//! ```text
//! progress <table or "attachments"> <done>
//! done
//! ```

use std::io::Write;

use chatstore::transfer::{CopyOptions, Endpoint, Step, copy_store};

fn main() {
    let (dir, _random) = chatstore_tests::child_args("crash_copier DIR SEED");
    let source = chatstore_tests::open_chat(&dir.join("source"));
    let target = chatstore_tests::open_chat(&dir.join("target"));
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{}", chatstore_tests::READY).expect("stdout");
    out.flush().expect("flush");
    let options = CopyOptions {
        batch_rows: 20,
        verify: true,
    };
    copy_store(
        Endpoint {
            rows: source.store(),
            blobs: source.blobs(),
        },
        Endpoint {
            rows: target.store(),
            blobs: target.blobs(),
        },
        &options,
        &mut |progress| {
            if progress.step == Step::Copy {
                writeln!(out, "progress {} {}", progress.item, progress.done).expect("stdout");
                out.flush().expect("flush");
            }
        },
    )
    .expect("the copy succeeds");
    writeln!(out, "done").expect("stdout");
}
