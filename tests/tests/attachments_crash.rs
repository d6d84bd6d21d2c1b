//! Crash safety of attachments: a process appending messages with files is killed
//! (SIGKILL) at random moments, many times. Afterwards every acknowledged file reads
//! back with its hash, no message names a missing blob, and the orphan sweep leaves
//! only blobs that a message names.

use std::collections::HashMap;
use std::time::Duration;

use chatstore_tests::run_and_kill;

use chatstore::{
    BlobKey, BlobStore, ChatStore, Config, MessageId, NoVectorIndex, PasswordParams, SystemStore,
    Timestamp,
};
use chatstore_blob::{BlobConfig, SqliteBlobStore};
use chatstore_sqlite::SqliteStore;

const RUNS: u64 = 20;

#[test]
fn killed_writers_never_leave_a_message_without_its_files() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut acknowledged: HashMap<(MessageId, u32), String> = HashMap::new();
    for run in 0..RUNS {
        let lines = run_and_kill(
            env!("CARGO_BIN_EXE_crash_attacher"),
            dir.path(),
            run + 1,
            Duration::from_millis(240),
        );
        for line in lines {
            match line.split(' ').collect::<Vec<_>>().as_slice() {
                ["file", message, index, hash] => {
                    let message: MessageId = message.parse().expect("message id");
                    acknowledged.insert((message, index.parse().expect("index")), hash.to_string());
                }
                _ => panic!("unexpected line {line:?}"),
            }
        }
        verify(dir.path(), &acknowledged, false);
    }
    assert!(
        acknowledged.len() > 50,
        "the writer made progress ({} files)",
        acknowledged.len()
    );
    verify(dir.path(), &acknowledged, true);
}

fn verify(dir: &std::path::Path, acknowledged: &HashMap<(MessageId, u32), String>, sweep: bool) {
    let config = Config::new(dir.join("chatstore.db").to_string_lossy())
        .password_params(PasswordParams::fast_for_tests());
    let store = SqliteStore::open(config).expect("main store opens after the crash");
    let blobs =
        SqliteBlobStore::open(BlobConfig::new(dir.join("files.db"))).expect("blob store opens");
    blobs.check_integrity().expect("the blob file is intact");
    for ((message, index), hash) in acknowledged {
        let info = blobs
            .info(&BlobKey::file(*message, *index))
            .expect("info")
            .unwrap_or_else(|| panic!("acknowledged file {message}/{index} lost"));
        assert_eq!(&info.hash, hash);
        blobs
            .get(&BlobKey::file(*message, *index))
            .expect("reads back, hash checked");
    }
    // No message names a missing blob.
    let mut named = 0;
    let mut after = None;
    loop {
        let page = store
            .messages_with_files(after, 100)
            .expect("messages with files");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for message in &page {
            for (index, file) in message.files.iter().enumerate() {
                let key = BlobKey::file(message.id, index as u32);
                let info = blobs
                    .info(&key)
                    .expect("info")
                    .unwrap_or_else(|| panic!("{key} is missing"));
                assert_eq!(
                    Some(&info.hash),
                    file.hash.as_ref(),
                    "{key} holds other bytes"
                );
                assert_eq!(info.size, file.size);
                let thumb = BlobKey::thumbnail(message.id, index as u32);
                assert_eq!(
                    blobs.exists(&thumb).expect("exists"),
                    file.has_thumbnail,
                    "{thumb}"
                );
                named += 1 + usize::from(file.has_thumbnail);
            }
        }
    }
    if sweep {
        let chat = ChatStore::new(store, blobs, NoVectorIndex).expect("ties together");
        let swept = chat.sweep_orphan_blobs(Timestamp::MAX).expect("sweep");
        eprintln!(
            "files acknowledged: {}, blobs named: {named}, orphans swept: {swept}",
            acknowledged.len()
        );
        assert_eq!(
            chat.blobs().stats().expect("stats").keys,
            named as u64,
            "only named blobs remain"
        );
    }
}
