//! Workload W3 (see ../shared/anchors/README.md) through chatstore-vector's public API:
//! the vectors from `run.sh vectors N D Q DIR` indexed in a cosine collection (M = 16,
//! ef_construction = 200, built on all cores), then the queries one at a time on one
//! thread for ef in 16, 32, 64, 128, 256. Prints one JSON line per ef.
//!
//! Then filtered search: the vectors belong to documents of ten chunks; a filter
//! selecting 10%, 1% and 0.1% of the documents (plus the unfiltered 100%) is searched at
//! ef 64 and scored against the exact answer over the admitted vectors. Then the
//! collection is saved and opened again from its snapshot. One JSON line each.
//!
//! ```text
//! cargo run --release -p chatstore-benches --bin w3_vector -- D DIR
//! ```

use std::collections::HashMap;
use std::time::Instant;

use chatstore::{
    ChunkId, CollectionSpec, Distance, DocumentId, EmbeddingSource, UserId, VectorFilter,
    VectorIndex, VectorRecord,
};
use chatstore_vector::{BuildParams, HnswIndex, IndexConfig};

/// Chunks per document.
const PER_DOCUMENT: usize = 10;

fn read_f32(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The vectors as records, chunk `i` of document `i / 10`, all owned by `user`.
struct Corpus {
    records: Vec<VectorRecord>,
    slot: HashMap<ChunkId, usize>,
}

impl EmbeddingSource for Corpus {
    fn embedding_versions(&self, _collection: &str) -> chatstore::Result<Vec<(ChunkId, u64)>> {
        Ok(self.records.iter().map(|r| (r.chunk, 1)).collect())
    }

    fn load_embeddings(
        &self,
        _collection: &str,
        chunks: &[ChunkId],
    ) -> chatstore::Result<Vec<VectorRecord>> {
        Ok(chunks
            .iter()
            .map(|c| self.records[self.slot[c]].clone())
            .collect())
    }
}

/// The user, document and chunk ids for `n` vectors: read from `path` when an earlier
/// run left them there, minted and written otherwise.
fn ids(path: &std::path::Path, n: usize) -> (UserId, Vec<DocumentId>, Vec<ChunkId>) {
    if let Ok(text) = std::fs::read_to_string(path) {
        let mut lines = text.lines();
        let user = lines.next().and_then(|l| l.parse().ok());
        let documents: Vec<DocumentId> = lines
            .by_ref()
            .take(n.div_ceil(PER_DOCUMENT))
            .filter_map(|l| l.parse().ok())
            .collect();
        let chunks: Vec<ChunkId> = lines.filter_map(|l| l.parse().ok()).collect();
        if let Some(user) = user.filter(|_| chunks.len() == n) {
            return (user, documents, chunks);
        }
    }
    let user = UserId::new();
    let documents: Vec<DocumentId> = (0..n.div_ceil(PER_DOCUMENT))
        .map(|_| DocumentId::new())
        .collect();
    let chunks: Vec<ChunkId> = (0..n).map(|_| ChunkId::new()).collect();
    let mut text = format!("{user}\n");
    documents.iter().for_each(|id| text += &format!("{id}\n"));
    chunks.iter().for_each(|id| text += &format!("{id}\n"));
    std::fs::write(path, text).expect("write ids");
    (user, documents, chunks)
}

/// Filtered searches over the workload's vectors.
struct Filtered<'a> {
    base: &'a [f32],
    queries: &'a [f32],
    d: usize,
    user: UserId,
    documents: &'a [DocumentId],
    slot: &'a HashMap<ChunkId, usize>,
}

impl Filtered<'_> {
    /// Every query at ef 64 under a filter selecting every `every`-th document:
    /// (admitted vectors, recall@10 against the exact answer over them, QPS).
    fn measure(&self, index: &HnswIndex, every: usize) -> (usize, f64, u64) {
        let (d, q) = (self.d, self.queries.len() / self.d);
        let query = |i: usize| &self.queries[i * d..(i + 1) * d];
        let selected: Vec<DocumentId> = self.documents.iter().step_by(every).copied().collect();
        let filter = VectorFilter {
            documents: (every > 1).then_some(selected),
            ..VectorFilter::user(self.user)
        };
        let admitted: Vec<usize> = (0..self.base.len() / d)
            .filter(|i| (i / PER_DOCUMENT).is_multiple_of(every))
            .collect();
        let started = Instant::now();
        let answers: Vec<Vec<usize>> = (0..q)
            .map(|i| {
                let hits = index
                    .search_with_ef("w3", query(i), 10, 64, &filter)
                    .expect("search");
                hits.iter().map(|h| self.slot[&h.chunk]).collect()
            })
            .collect();
        let seconds = started.elapsed().as_secs_f64();
        let mut found = 0;
        for (i, answer) in answers.iter().enumerate() {
            let mut exact: Vec<(f32, usize)> = admitted
                .iter()
                .map(|&j| {
                    let v = &self.base[j * d..(j + 1) * d];
                    (-v.iter().zip(query(i)).map(|(a, b)| a * b).sum::<f32>(), j)
                })
                .collect();
            exact.sort_by(|a, b| a.0.total_cmp(&b.0));
            found += exact
                .iter()
                .take(10)
                .filter(|(_, j)| answer.contains(j))
                .count();
        }
        let recall = found as f64 / (q * 10.min(admitted.len())) as f64;
        (admitted.len(), recall, (q as f64 / seconds) as u64)
    }
}

fn config(directory: Option<std::path::PathBuf>) -> IndexConfig {
    IndexConfig {
        directory,
        build: BuildParams {
            m: 16,
            ef_construction: 200,
        },
        background_rebuild: false,
        ..IndexConfig::in_memory()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [d, dir] = &args[..] else {
        panic!("usage: w3_vector D DIR");
    };
    let d: usize = d.parse().expect("D is a whole number");
    let base = read_f32(&format!("{dir}/base.f32"));
    let queries = read_f32(&format!("{dir}/queries.f32"));
    let truth: Vec<i32> = std::fs::read(format!("{dir}/gt.i32"))
        .expect("gt.i32")
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let (n, q) = (base.len() / d, queries.len() / d);
    // W3_SNAPSHOT_DIR keeps the snapshot (and the ids it names) between runs, so the
    // "build" is then an open: for trying search changes without a build each time.
    let temporary = tempfile::tempdir().expect("temporary directory");
    let snapshots = std::env::var_os("W3_SNAPSHOT_DIR")
        .map_or_else(|| temporary.path().to_path_buf(), std::path::PathBuf::from);
    let (user, documents, chunks) = ids(&snapshots.join("ids.txt"), n);
    let records: Vec<VectorRecord> = base
        .chunks_exact(d)
        .zip(chunks)
        .enumerate()
        .map(|(i, (v, chunk))| VectorRecord {
            chunk,
            document: documents[i / PER_DOCUMENT],
            owner: Some(user),
            vector: v.to_vec(),
        })
        .collect();
    let slot: HashMap<ChunkId, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.chunk, i))
        .collect();
    let corpus = Corpus { records, slot };
    let spec = CollectionSpec::new("w3", d as u32, Distance::Cosine).expect("spec");

    // Built as a host opens it the first time: everything read from the store (here,
    // memory), the graph built on all cores, the snapshot saved.
    let index = HnswIndex::new(config(Some(snapshots.clone()))).expect("index");
    let started = Instant::now();
    index.sync(&spec, &corpus).expect("build");
    let build = started.elapsed().as_secs_f64();

    let query = |i: usize| &queries[i * d..(i + 1) * d];
    let everything = VectorFilter::user(user);
    // Recall@10 against the ground truth, and queries per second, at `ef`.
    let unfiltered = |index: &HnswIndex, ef: usize| {
        let started = Instant::now();
        let mut found = 0;
        for i in 0..q {
            let hits = index
                .search_with_ef("w3", query(i), 10, ef, &everything)
                .expect("search");
            let expected = &truth[i * 100..i * 100 + 10];
            found += hits
                .iter()
                .filter(|h| expected.contains(&(corpus.slot[&h.chunk] as i32)))
                .count();
        }
        let seconds = started.elapsed().as_secs_f64();
        (found as f64 / (q * 10) as f64, (q as f64 / seconds) as u64)
    };
    for ef in [16, 32, 64, 128, 256] {
        let (recall, qps) = unfiltered(&index, ef);
        println!(
            r#"{{"impl": "chatstore-vector", "n": {n}, "d": {d}, "ef": {ef}, "recall10": {recall:.4}, "qps_1t": {qps}, "build_s_2t": {build:.1}}}"#
        );
    }

    // The same queries from as many threads as there are cores, at ef 64: searches
    // share the collection's read lock and nothing else.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (index, everything) = (&index, &everything);
            scope.spawn(move || {
                for i in (t..q).step_by(threads) {
                    index
                        .search_with_ef("w3", query(i), 10, 64, everything)
                        .expect("search");
                }
            });
        }
    });
    let qps = (q as f64 / started.elapsed().as_secs_f64()) as u64;
    println!(r#"{{"impl": "chatstore-vector", "ef": 64, "threads": {threads}, "qps": {qps}}}"#);

    let run = Filtered {
        base: &base,
        queries: &queries,
        d,
        user,
        documents: &documents,
        slot: &corpus.slot,
    };
    for (label, every) in [("100%", 1), ("10%", 10), ("1%", 100), ("0.1%", 1000)] {
        let (admitted, recall, qps) = run.measure(&index, every);
        println!(
            r#"{{"impl": "chatstore-vector", "filter": "{label}", "admitted": {admitted}, "ef": 64, "recall10": {recall:.4}, "qps_1t": {qps}}}"#
        );
    }

    // W3_SWEEP=1: each filtered path at a range of admitted counts, to place the
    // cut-off between them (IndexConfig::exact_below).
    if std::env::var_os("W3_SWEEP").is_some() {
        for (path, exact_below) in [("exact", usize::MAX), ("graph", 0)] {
            let forced = HnswIndex::new(IndexConfig {
                exact_below,
                ..config(Some(snapshots.clone()))
            })
            .expect("index");
            forced.sync(&spec, &corpus).expect("open");
            for every in [100, 50, 25, 12, 6, 3] {
                let (admitted, recall, qps) = run.measure(&forced, every);
                println!(
                    r#"{{"impl": "chatstore-vector", "sweep": "{path}", "admitted": {admitted}, "ef": 64, "recall10": {recall:.4}, "qps_1t": {qps}}}"#
                );
            }
        }
    }

    // Searches after writes: 4,500 vectors rewritten in batches of 50 (as documents
    // are ingested) are linked into the graph as they are written; 4,500 more in one
    // batch are linked in 64 at a time after the write (in the writer's thread here,
    // as this index does no background work).
    for (label, range, batch) in [
        ("batches of 50", 0..4500, 50),
        ("one batch", 4500..9000, 4500),
    ] {
        let started = Instant::now();
        for records in corpus.records[range.clone()].chunks(batch) {
            index.upsert("w3", records).expect("upsert");
        }
        let write_per_s = (range.len() as f64 / started.elapsed().as_secs_f64()) as u64;
        let layout = index.layout("w3").expect("layout");
        let (recall, qps) = unfiltered(&index, 64);
        println!(
            r#"{{"impl": "chatstore-vector", "rewritten": {}, "in": "{label}", "write_per_s": {write_per_s}, "pending": {}, "ef": 64, "recall10": {recall:.4}, "qps_1t": {qps}}}"#,
            range.len(),
            layout.pending
        );
    }

    let started = Instant::now();
    let reopened = HnswIndex::new(config(Some(snapshots))).expect("index");
    let report = reopened.sync(&spec, &corpus).expect("open");
    let open = started.elapsed().as_secs_f64();
    assert!(report.from_snapshot && report.added == 0);
    println!(
        r#"{{"impl": "chatstore-vector", "open_from_snapshot_s": {open:.2}, "build_s_2t": {build:.1}}}"#
    );
}
