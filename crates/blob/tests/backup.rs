//! Backups of the attachment file: a file or a stream copy that opens on its own as an
//! attachment store holding every blob.

use chatstore::{BackupDestination, BlobKey, BlobStore, MessageId};
use chatstore_blob::{BlobConfig, SqliteBlobStore};

#[test]
fn file_and_stream_backups_open_with_every_blob() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteBlobStore::open(BlobConfig::new(dir.path().join("files.db"))).expect("opens");
    let keys: Vec<BlobKey> = (0..3).map(|_| BlobKey::file(MessageId::new(), 0)).collect();
    for (i, key) in keys.iter().enumerate() {
        store.put(key, &vec![i as u8; 70_000]).expect("put");
    }

    let file_copy = dir.path().join("files-backup.db");
    store
        .backup(BackupDestination::File(&file_copy))
        .expect("backup to a file");
    let mut stream_copy = Vec::new();
    store
        .backup(BackupDestination::Stream(&mut stream_copy))
        .expect("backup to a stream");
    let from_stream = dir.path().join("files-from-stream.db");
    std::fs::write(&from_stream, &stream_copy).expect("write the stream copy");

    for copy in [file_copy, from_stream] {
        let restored = SqliteBlobStore::open(BlobConfig::new(&copy)).expect("the copy opens");
        restored.check_integrity().expect("the copy is sound");
        assert!(restored.verify_contents().expect("verify").is_empty());
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(restored.get(key).expect("blob"), vec![i as u8; 70_000]);
        }
    }
}
