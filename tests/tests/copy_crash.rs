//! A store copy killed (SIGKILL) at random points, again and again: each run resumes
//! where the last one was cut off, the target stays a consistent database throughout
//! (integrity and foreign keys hold, no row twice), and the final run verifies equal
//! to the source having written only what was still missing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use chatstore::transfer::{CopyOptions, Endpoint, copy_store};
use chatstore::{ConversationStore, MessageStore, NewAttachment, NewConversation, NewMessage};
use chatstore_tests::{open_chat, writer};
use rusqlite::Connection;

const KILLS: u64 = 8;

#[test]
fn a_killed_copy_resumes_and_ends_equal_to_its_source() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for side in ["source", "target"] {
        std::fs::create_dir_all(dir.path().join(side)).expect("directory");
    }
    let source = open_chat(&dir.path().join("source"));
    fill(&source);
    drop(source);
    std::fs::create_dir_all(dir.path().join("target")).expect("target directory");

    let mut seen_mid_copy = 0;
    for run in 1..=KILLS {
        // Kill after a number of batches that grows with each run, offset at random.
        let batches = run * 9 + (run * 7919) % 11;
        let finished = run_and_kill_after(dir.path(), run, batches);
        let copied = check_consistent(&dir.path().join("target").join("chatstore.db"));
        if !finished && copied > 0 {
            seen_mid_copy += 1;
        }
    }
    assert!(
        seen_mid_copy >= 3,
        "the copier was killed mid-copy ({seen_mid_copy} times)"
    );

    let source = open_chat(&dir.path().join("source"));
    let target = open_chat(&dir.path().join("target"));
    let report = copy_store(
        Endpoint {
            rows: source.store(),
            blobs: source.blobs(),
        },
        Endpoint {
            rows: target.store(),
            blobs: target.blobs(),
        },
        &CopyOptions::default(),
        &mut |_| {},
    )
    .expect("the last run finishes the copy");
    assert!(
        report.checks.iter().all(|check| check.matches()),
        "{:?}",
        report.checks
    );
    let total: u64 = report.tables.iter().map(|t| t.source_rows).sum();
    assert!(
        report.rows_written() < total,
        "the last run resumed ({} of {total} rows written)",
        report.rows_written()
    );
}

/// Conversations with many messages and some attachments, so that a copy in batches of
/// 20 takes a few hundred batches.
fn fill(chat: &chatstore_tests::Chat) {
    let store = chat.store();
    let user = writer(store);
    for c in 0..12 {
        let talk = store
            .create_conversation(user.id, &NewConversation::titled(&format!("talk {c}")))
            .expect("conversation");
        for m in 0..150 {
            let text = format!("message {m} of talk {c}: the keeper trims the wick at dusk");
            if m % 40 == 0 {
                let bytes = vec![(c * 31 + m) as u8; 20_000 + m as usize];
                chat.append_with_attachments(
                    user.id,
                    talk.id,
                    &NewMessage::user(&text),
                    vec![NewAttachment::new(
                        "log.bin",
                        "application/octet-stream",
                        bytes,
                    )],
                )
                .expect("attachment");
            } else {
                store
                    .append_message(user.id, talk.id, &NewMessage::user(&text))
                    .expect("append");
            }
        }
    }
}

/// Runs the copier until it has reported `batches` batches (or finished), then kills
/// it; returns whether it finished first.
fn run_and_kill_after(dir: &Path, seed: u64, batches: u64) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crash_copier"))
        .arg(dir)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("copier starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut seen = 0;
    let mut finished = false;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        if line == "done" {
            finished = true;
            break;
        }
        if line.starts_with("progress ") {
            seen += 1;
            if seen >= batches {
                break;
            }
        }
    }
    child.kill().ok();
    child.wait().expect("reaped");
    finished
}

/// The target as a killed copier left it: a sound database whose foreign keys hold and
/// whose keys are unique; returns how many messages it holds.
fn check_consistent(path: &Path) -> u64 {
    let conn = Connection::open(path).expect("open the target");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(ok, "ok");
    let dangling: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .expect("foreign keys");
    assert_eq!(dangling, 0, "dangling references");
    conn.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))
        .expect("count") as u64
}
