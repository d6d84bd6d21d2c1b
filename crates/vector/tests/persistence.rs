//! Snapshots: saved, loaded, caught up with the store, and rebuilt from it when damaged.

mod common;

use std::path::{Path, PathBuf};

use chatstore::{ChunkId, CollectionSpec, Distance, SyncReport, UserId};
use chatstore::{VectorFilter, VectorIndex, VectorRecord};
use chatstore_vector::{HnswIndex, IndexConfig};
use common::{MemorySource, Rng, config, records, spec};

const DIMENSION: usize = 16;

fn open(dir: &Path) -> HnswIndex {
    HnswIndex::new(IndexConfig {
        directory: Some(dir.to_path_buf()),
        ..config()
    })
    .unwrap()
}

fn snapshot(dir: &Path) -> PathBuf {
    dir.join("docs.csvx")
}

/// A store with 1500 embeddings, half Ada's, and the index built from it and saved.
fn saved(dir: &Path) -> (MemorySource, UserId) {
    let ada = UserId::new();
    let source = MemorySource::default();
    source.put(&records(
        &mut Rng::new(10),
        DIMENSION,
        500,
        3,
        &[Some(ada), None],
    ));
    let report = open(dir)
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            from_snapshot: false,
            added: 1500,
            removed: 0
        }
    );
    assert!(snapshot(dir).exists());
    (source, ada)
}

/// The top 5 for 20 fixed queries.
fn answers(index: &HnswIndex, user: UserId) -> Vec<Vec<ChunkId>> {
    let mut rng = Rng::new(11);
    (0..20)
        .map(|_| {
            let hits = index.search("docs", &rng.vector(DIMENSION), 5, &VectorFilter::user(user));
            hits.unwrap().into_iter().map(|h| h.chunk).collect()
        })
        .collect()
}

fn count(index: &HnswIndex) -> u64 {
    index.collections().unwrap()[0].count
}

#[test]
fn a_snapshot_round_trips_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let (source, ada) = saved(dir.path());
    let first = open(dir.path());
    first
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    let expected = answers(&first, ada);

    let reopened = open(dir.path());
    let report = reopened
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            from_snapshot: true,
            added: 0,
            removed: 0
        }
    );
    assert_eq!(count(&reopened), 1500);
    assert_eq!(answers(&reopened, ada), expected);
    let all: Vec<ChunkId> = source.records().iter().map(|r| r.chunk).collect();
    let mut got = reopened.get("docs", &all).unwrap();
    let mut want = first.get("docs", &all).unwrap();
    got.sort_by_key(|r| r.chunk);
    want.sort_by_key(|r| r.chunk);
    assert_eq!(got, want);

    // Syncing an open collection again changes nothing.
    let again = reopened
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    assert_eq!(
        again,
        SyncReport {
            from_snapshot: false,
            added: 0,
            removed: 0
        }
    );
}

#[test]
fn opening_catches_up_with_what_the_store_changed_since_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (source, ada) = saved(dir.path());
    let existing = source.records();
    let added = records(&mut Rng::new(12), DIMENSION, 40, 2, &[Some(ada)]);
    source.put(&added);
    let removed: Vec<ChunkId> = existing.iter().take(30).map(|r| r.chunk).collect();
    source.remove(&removed);
    let mut changed = existing[100].clone();
    changed.vector = Rng::new(13).vector(DIMENSION);
    source.put(std::slice::from_ref(&changed));

    let index = open(dir.path());
    let report = index
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    assert_eq!(
        report,
        SyncReport {
            from_snapshot: true,
            added: 81,
            removed: 30
        }
    );
    assert_eq!(count(&index), 1500 + 80 - 30);
    assert!(index.get("docs", &removed).unwrap().is_empty());
    let stored = &index.get("docs", &[changed.chunk]).unwrap()[0].vector;
    let hit = index
        .search("docs", &changed.vector, 1, &VectorFilter::user(ada))
        .unwrap();
    assert_eq!(hit[0].chunk, changed.chunk);
    assert!((hit[0].score - 1.0).abs() < 1e-4, "{stored:?}");
    for record in &added {
        let hit = index
            .search("docs", &record.vector, 1, &VectorFilter::user(ada))
            .unwrap();
        assert_eq!(hit[0].chunk, record.chunk);
    }

    // The catch-up was saved: the next open has nothing to add.
    let next = open(dir.path())
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    assert_eq!(
        next,
        SyncReport {
            from_snapshot: true,
            added: 0,
            removed: 0
        }
    );
}

/// Replaces the trailing checksum, so a damaged body passes the hash check and reaches
/// the structural checks.
fn reseal(bytes: &mut Vec<u8>) {
    let body = bytes.len() - 32;
    let hash = blake3::hash(&bytes[..body]);
    bytes.truncate(body);
    bytes.extend_from_slice(hash.as_bytes());
}

/// A way to damage a snapshot's bytes.
type Damage = Box<dyn Fn(&mut Vec<u8>)>;

fn word(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn a_damaged_snapshot_is_rebuilt_from_the_store_and_the_process_survives() {
    let dir = tempfile::tempdir().unwrap();
    let (source, ada) = saved(dir.path());
    let good = std::fs::read(snapshot(dir.path())).unwrap();
    let expected = {
        let index = open(dir.path());
        index
            .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
            .unwrap();
        answers(&index, ada)
    };
    // Where the graph starts: magic, format, header length, header.
    let graph = 12 + u32::from_le_bytes(good[8..12].try_into().unwrap()) as usize;
    let n = 1500;
    let damages: Vec<(&str, Damage)> = vec![
        (
            "a flipped byte",
            Box::new(|b| {
                let middle = b.len() / 2;
                b[middle] ^= 0x40;
            }),
        ),
        ("a cut-off end", Box::new(|b| b.truncate(b.len() * 2 / 3))),
        ("an empty file", Box::new(|b| b.clear())),
        (
            "garbage",
            Box::new(|b| b.iter_mut().for_each(|x| *x = 0xA5)),
        ),
        (
            "a foreign file",
            Box::new(|b| *b = b"SQLite format 3\0 and more".to_vec()),
        ),
        (
            "a neighbour out of range",
            Box::new(move |b| {
                word(b, graph + 20 + n + 4, 0xFFFF_FFF0);
                reseal(b);
            }),
        ),
        (
            "an entry point out of range",
            Box::new(move |b| {
                word(b, graph + 12, n as u32 + 7);
                reseal(b);
            }),
        ),
        (
            "a huge vector count",
            Box::new(move |b| {
                word(b, graph + 4, u32::MAX);
                reseal(b);
            }),
        ),
        (
            "a cut-off body",
            Box::new(|b| {
                b.truncate(b.len() - 500);
                reseal(b);
            }),
        ),
        (
            "trailing bytes",
            Box::new(|b| {
                b.extend_from_slice(&[0; 8]);
                reseal(b);
            }),
        ),
    ];
    for (what, damage) in damages {
        let mut bytes = good.clone();
        damage(&mut bytes);
        std::fs::write(snapshot(dir.path()), &bytes).unwrap();
        let index = open(dir.path());
        let report = index
            .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
            .unwrap();
        assert_eq!(
            report,
            SyncReport {
                from_snapshot: false,
                added: 1500,
                removed: 0
            },
            "{what}"
        );
        assert_eq!(count(&index), 1500, "{what}");
        let got = answers(&index, ada);
        let same = got.iter().zip(&expected).filter(|(a, b)| a == b).count();
        assert!(same >= 18, "{what}: only {same} of 20 answers match");
        // The rebuilt collection was saved again, intact.
        let next = open(dir.path())
            .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
            .unwrap();
        assert!(next.from_snapshot, "{what}");
    }
}

#[test]
fn dropping_a_collection_deletes_its_snapshot_file() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = saved(dir.path());
    let index = open(dir.path());
    index
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    assert!(index.drop_collection("docs").unwrap());
    assert!(!snapshot(dir.path()).exists());
}

#[test]
fn save_writes_what_was_upserted_since_the_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (source, ada) = saved(dir.path());
    let index = open(dir.path());
    index
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    let fresh: Vec<VectorRecord> = records(&mut Rng::new(14), DIMENSION, 5, 2, &[Some(ada)]);
    source.put(&fresh);
    index.upsert("docs", &fresh).unwrap();
    index.save().unwrap();
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")),
        "no temporary file is left behind"
    );
    let reopened = open(dir.path());
    let report = reopened
        .sync(&spec(DIMENSION as u32, Distance::Cosine), &source)
        .unwrap();
    assert!(report.from_snapshot);
    assert_eq!(count(&reopened), 1510);
    // The new vectors were linked into the graph, and the snapshot kept them there.
    let layout = reopened.layout("docs").unwrap();
    assert_eq!((layout.in_graph, layout.pending), (1510, 0));
    for record in &fresh {
        let hits = reopened
            .search("docs", &record.vector, 1, &VectorFilter::user(ada))
            .unwrap();
        assert_eq!(hits[0].chunk, record.chunk);
    }
}

/// Collection names become file names, so a name that could leave the snapshot
/// directory is refused wherever it comes in, and no file outside is touched. (Once
/// `drop_collection("../x")` deleted `x.csvx` beside the directory, and a hand-built
/// spec named `../escaped` was saved there.)
#[test]
fn names_that_would_leave_the_directory_touch_no_file() {
    let outer = tempfile::tempdir().unwrap();
    let dir = outer.path().join("vectors");
    let index = open(&dir);
    let victims = [
        outer.path().join("rel-victim.csvx"),
        outer.path().join("abs-victim.csvx"),
        outer.path().join("escaped.csvx"),
    ];
    for victim in &victims {
        std::fs::write(victim, b"not ours").unwrap();
    }
    let absolute = outer
        .path()
        .join("abs-victim")
        .to_string_lossy()
        .into_owned();
    for name in [
        "../rel-victim",
        absolute.as_str(),
        "",
        "a/b",
        "..",
        "Docs",
        "x.y",
    ] {
        let refused = |result: chatstore::Result<bool>| {
            assert!(
                matches!(
                    result,
                    Err(chatstore::Error::Validation {
                        field: "collection",
                        ..
                    })
                ),
                "drop_collection({name:?}) gave {result:?}"
            );
        };
        refused(index.drop_collection(name));
        let spec = CollectionSpec {
            name: name.to_owned(),
            dimension: DIMENSION as u32,
            distance: Distance::Cosine,
        };
        assert!(index.create_collection(&spec).is_err(), "{name:?} created");
        assert!(
            index.sync(&spec, &MemorySource::default()).is_err(),
            "{name:?} synced"
        );
        assert!(index.upsert(name, &[]).is_err(), "{name:?} upserted");
    }
    let escaped = CollectionSpec {
        name: "../escaped".into(),
        dimension: DIMENSION as u32,
        distance: Distance::Cosine,
    };
    assert!(index.create_collection(&escaped).is_err());
    index.save().unwrap();
    for victim in &victims {
        assert_eq!(std::fs::read(victim).unwrap(), b"not ours", "{victim:?}");
    }
    assert!(index.collections().unwrap().is_empty());
}

#[test]
fn indexes_sharing_a_directory_never_leave_a_torn_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (source, _) = saved(dir.path());
    let spec = spec(DIMENSION as u32, Distance::Cosine);
    // Two indexes (two processes, say) on one directory, saving the same collection
    // over and over at the same time.
    let indexes: Vec<_> = (0..2)
        .map(|_| {
            let index = open(dir.path());
            index.sync(&spec, &source).unwrap();
            index
        })
        .collect();
    std::thread::scope(|scope| {
        for index in &indexes {
            scope.spawn(|| {
                for _ in 0..20 {
                    index.save().unwrap();
                }
            });
        }
    });
    let reopened = open(dir.path());
    let report = reopened.sync(&spec, &source).unwrap();
    assert!(report.from_snapshot, "the snapshot left in place is whole");
    assert_eq!(count(&reopened), count(&indexes[0]));
}
