//! Diagnostic: streaming a large attachment (`BlobStore::open`, read in 64 KiB pieces as
//! a copy to a file or socket would) against reading it whole (`BlobStore::get`), for
//! sizes of 4, 16 and 64 MiB. A stream should cost about what `get` does, whatever the
//! size. Prints one JSON line per size.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin blob_stream
//! ```

use std::io::Read;
use std::time::Instant;

use chatstore::{BlobKey, BlobStore, MessageId};
use chatstore_blob::{BlobConfig, SqliteBlobStore};

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = BlobConfig::new(dir.path().join("files.db")).max_blob_bytes(128 << 20);
    let store = SqliteBlobStore::open(config).expect("blob store opens");
    for mib in [4usize, 16, 64] {
        let bytes: Vec<u8> = (0..mib << 20).map(|i| (i * 31 % 251) as u8).collect();
        let key = BlobKey::file(MessageId::new(), 0);
        store
            .put_stream(&key, bytes.len() as u64, &mut bytes.as_slice())
            .expect("stored");
        let started = Instant::now();
        let whole = store.get(&key).expect("get");
        let get_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(whole.len(), bytes.len());
        let started = Instant::now();
        let mut reader = store.open(&key).expect("open");
        let mut piece = vec![0u8; 64 << 10];
        let mut total = 0;
        loop {
            let n = reader.read(&mut piece).expect("read");
            if n == 0 {
                break;
            }
            total += n;
        }
        let stream_ms = started.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(total, bytes.len());
        println!(r#"{{"mib": {mib}, "get_ms": {get_ms:.1}, "stream_ms": {stream_ms:.1}}}"#);
    }
}
