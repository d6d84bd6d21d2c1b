//! Vector index snapshot files: whatever bytes lie at `<dir>/docs.csvx`,
//! `VectorIndex::sync` succeeds without a panic, and the index then holds exactly the
//! source's chunks, each once (searches find each at most once, and nothing else). A file that fails its checksum is never used: the collection is
//! rebuilt from the source (its vectors equal the source's), and the snapshot saved in
//! its place loads on the next sync.
//!
//! The first input byte picks how the rest is written: even, as it is (so mutations
//! meet the checksum); odd, followed by its correct blake3 checksum (so mutations reach
//! the parser behind it). The seeds are real snapshots saved by the index, in both
//! forms; with `CHATSTORE_FUZZ_SEED_DIR` set, the target writes them there first.
#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chatstore::{ChunkId, CollectionInfo, VectorFilter, VectorIndex};
use chatstore_fuzz::{
    index_config, real_snapshots, scratch_dir, snapshot_path, source, spec, CHUNKS,
};
use chatstore_vector::HnswIndex;
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(seeds) = std::env::var_os("CHATSTORE_FUZZ_SEED_DIR") {
            let seeds = std::path::PathBuf::from(seeds);
            std::fs::create_dir_all(&seeds).expect("a seed directory");
            for (snapshot, name) in real_snapshots().into_iter().zip(["graph", "delta"]) {
                let raw = [&[0u8][..], &snapshot].concat();
                let body = [&[1u8][..], &snapshot[..snapshot.len() - 32]].concat();
                std::fs::write(seeds.join(format!("seed-{name}-raw")), raw).expect("a seed");
                std::fs::write(seeds.join(format!("seed-{name}-rehash")), body).expect("a seed");
            }
        }
        scratch_dir("chatstore-fuzz-snapshot-")
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = dir().path();
    let (mode, bytes) = data.split_first().map_or((0, &[][..]), |(m, b)| (*m, b));
    let mut file = bytes.to_vec();
    if mode & 1 == 1 {
        file.extend_from_slice(blake3::hash(bytes).as_bytes());
    }
    let intact = file.len() >= 32 && {
        let (body, trailer) = file.split_at(file.len() - 32);
        blake3::hash(body).as_bytes() == trailer
    };
    std::fs::write(snapshot_path(dir), &file).expect("writing the snapshot");

    let source = source();
    let chunks: Vec<ChunkId> = source.records.keys().copied().collect();
    let index = HnswIndex::new(index_config(dir)).expect("an index");
    let report = index
        .sync(&spec(), source)
        .expect("sync must rebuild from a damaged snapshot");
    assert!(report.added <= CHUNKS as u64);

    let expected = vec![CollectionInfo {
        spec: spec(),
        count: CHUNKS as u64,
    }];
    assert_eq!(
        index.collections().expect("collections"),
        expected,
        "{report:?}"
    );
    let held = index.get("docs", &chunks).expect("get");
    let held_chunks: BTreeSet<ChunkId> = held.iter().map(|r| r.chunk).collect();
    assert_eq!(held_chunks.len(), CHUNKS, "{report:?}");
    if !intact {
        assert!(
            !report.from_snapshot,
            "a file failing its checksum was used"
        );
        assert_eq!(report.added, CHUNKS as u64);
        let wanted: Vec<_> = source.records.values().map(|(_, r)| r.clone()).collect();
        assert_eq!(
            held, wanted,
            "rebuilt from the source, the index differs from it"
        );
    }

    let owner = source
        .records
        .values()
        .find_map(|(_, r)| r.owner)
        .expect("an owned chunk");
    // Every vector the user may see (and a few nearest), so that a vector left over
    // from the file is among the hits.
    for k in [CHUNKS * 2, 3] {
        let hits = index
            .search(
                "docs",
                &[0.1, -0.2, 0.3, 0.5],
                k,
                &VectorFilter::user(owner),
            )
            .expect("search");
        assert!(hits.len() <= k);
        assert!(
            hits.iter().all(|h| held_chunks.contains(&h.chunk)),
            "{hits:?}"
        );
        let distinct: BTreeSet<ChunkId> = hits.iter().map(|h| h.chunk).collect();
        assert_eq!(distinct.len(), hits.len(), "a chunk found twice: {hits:?}");
    }

    if !report.from_snapshot {
        // Rebuilt: the snapshot saved in place of the damaged one loads as it is.
        let again = HnswIndex::new(index_config(dir)).expect("an index");
        let report = again.sync(&spec(), source).expect("sync");
        assert!(
            report.from_snapshot && report.added == 0 && report.removed == 0,
            "{report:?}"
        );
        assert_eq!(again.collections().expect("collections"), expected);
    }
});
