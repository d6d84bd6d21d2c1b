//! A store copy killed (SIGKILL) at random points, again and again: each run resumes
//! where the last one was cut off, the target stays a consistent database throughout
//! (integrity and foreign keys hold, no row twice), and the final run verifies equal
//! to the source having written only what was still missing.

use chatstore::transfer::{CopyOptions, Endpoint, copy_store};
use chatstore::{ConversationStore, MessageStore, NewAttachment, NewConversation, NewMessage};
use chatstore_tests::{open_chat, run_until, sound_messages, writer};

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
        let mut seen = 0;
        let finished = run_until(
            env!("CARGO_BIN_EXE_crash_copier"),
            dir.path(),
            run,
            |line| {
                seen += u64::from(line.starts_with("progress "));
                seen >= batches
            },
        );
        let copied = sound_messages(&dir.path().join("target").join("chatstore.db"));
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
