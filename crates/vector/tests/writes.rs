//! Writes to the HNSW index beyond the vector conformance suite (tests/conformance.rs):
//! where vectors wait, search and configuration limits, tombstones and compaction,
//! graph reachability, concurrent use, and linking writes into the graph.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use chatstore::{ChunkId, Distance, DocumentId, Error, UserId};
use chatstore::{VectorFilter, VectorIndex, VectorRecord};
use chatstore_vector::{HnswIndex, IndexConfig};
use common::{Rng, config, records, spec};

/// A collection under `graph_min` keeps its vectors outside a graph; `layout` of a
/// collection that does not exist is not found.
#[test]
fn a_small_collection_waits_outside_the_graph() {
    let index = HnswIndex::new(config()).unwrap();
    index.create_collection(&spec(8, Distance::Cosine)).unwrap();
    let user = UserId::new();
    index
        .upsert("docs", &records(&mut Rng::new(1), 8, 3, 5, &[Some(user)]))
        .unwrap();
    // 15 vectors is under graph_min: all of them wait outside a graph.
    let layout = index.layout("docs").unwrap();
    assert_eq!(
        (layout.in_graph, layout.pending, layout.tombstones),
        (0, 15, 0)
    );
    assert!(index.drop_collection("docs").unwrap());
    assert!(matches!(index.layout("docs"), Err(Error::NotFound { .. })));
}

/// The limits of this index's searches: at most 10,000 results, and `ef` between 1 and
/// 10,000.
#[test]
fn search_limits_are_checked() {
    let index = HnswIndex::new(config()).unwrap();
    index.create_collection(&spec(4, Distance::Cosine)).unwrap();
    let user = UserId::new();
    index
        .upsert("docs", &records(&mut Rng::new(2), 4, 1, 3, &[Some(user)]))
        .unwrap();
    let filter = VectorFilter::user(user);
    assert!(matches!(
        index.search("docs", &[1.0; 4], 10_001, &filter),
        Err(Error::Validation { .. })
    ));
    assert_eq!(
        index
            .search("docs", &[1.0; 4], 10_000, &filter)
            .unwrap()
            .len(),
        3
    );
    for ef in [0, 10_001] {
        assert!(matches!(
            index.search_with_ef("docs", &[1.0; 4], 5, ef, &filter),
            Err(Error::Validation { .. })
        ));
    }
}

#[test]
fn configurations_out_of_range_are_rejected() {
    let mut bad = IndexConfig::in_memory();
    bad.build.m = 300;
    assert!(matches!(HnswIndex::new(bad), Err(Error::Validation { .. })));
    let bad = IndexConfig {
        tombstone_fraction: 1.5,
        ..IndexConfig::in_memory()
    };
    assert!(matches!(HnswIndex::new(bad), Err(Error::Validation { .. })));
    let bad = IndexConfig {
        ef_search: 0,
        ..IndexConfig::in_memory()
    };
    assert!(matches!(HnswIndex::new(bad), Err(Error::Validation { .. })));
}

/// Searches for each deleted vector itself: it must never come back.
fn assert_never_found(index: &HnswIndex, deleted: &[VectorRecord], user: UserId) {
    let filter = VectorFilter::user(user);
    for record in deleted {
        let hits = index
            .search_with_ef("docs", &record.vector, 20, 100, &filter)
            .unwrap();
        assert!(
            hits.iter().all(|h| h.chunk != record.chunk),
            "a deleted chunk came back"
        );
        assert_eq!(hits.len(), 20);
    }
    let chunks: Vec<ChunkId> = deleted.iter().map(|r| r.chunk).collect();
    assert!(index.get("docs", &chunks).unwrap().is_empty());
}

#[test]
fn deleted_chunks_never_come_back_before_or_after_compaction() {
    // Rebuilds are switched off by thresholds, so the tombstones stay in the graph
    // until the explicit compaction.
    let index = HnswIndex::new(IndexConfig {
        tombstone_fraction: 1.0,
        delta_max: 100_000,
        ..config()
    })
    .unwrap();
    index
        .create_collection(&spec(16, Distance::Cosine))
        .unwrap();
    let user = UserId::new();
    let all = records(&mut Rng::new(4), 16, 100, 20, &[Some(user), None]);
    index.upsert("docs", &all).unwrap();
    index.compact("docs").unwrap();

    // Delete by chunk (every third) and by document (the first ten documents).
    let by_chunk: Vec<ChunkId> = all.iter().step_by(3).map(|r| r.chunk).collect();
    assert_eq!(
        index.delete("docs", &by_chunk).unwrap(),
        by_chunk.len() as u64
    );
    assert_eq!(index.delete("docs", &by_chunk).unwrap(), 0);
    let documents: Vec<DocumentId> = all.iter().map(|r| r.document).take(200).collect();
    let documents: Vec<DocumentId> = documents
        .into_iter()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let removed = index.remove_documents(&documents).unwrap();
    let gone: Vec<VectorRecord> = all
        .iter()
        .enumerate()
        .filter(|(i, r)| i % 3 == 0 || documents.contains(&r.document))
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(removed as usize + by_chunk.len(), gone.len());
    assert_eq!(
        index.collections().unwrap()[0].count as usize,
        all.len() - gone.len()
    );

    assert_never_found(&index, &gone, user);
    index.compact("docs").unwrap();
    assert_never_found(&index, &gone, user);

    // Replacing a vector moves the chunk: a search for the old vector no longer
    // scores it as an exact match.
    let mut moved = all[202].clone();
    let old = moved.vector.clone();
    moved.vector = old.iter().map(|x| -x).collect();
    index.upsert("docs", std::slice::from_ref(&moved)).unwrap();
    let stored = &index.get("docs", &[moved.chunk]).unwrap()[0];
    let norm = moved.vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(
        stored
            .vector
            .iter()
            .zip(&moved.vector)
            .all(|(a, b)| (a - b / norm).abs() < 1e-5)
    );
    let hits = index
        .search("docs", &old, 5, &VectorFilter::user(user))
        .unwrap();
    assert!(hits.iter().all(|h| h.chunk != moved.chunk));
    assert_eq!(
        index.collections().unwrap()[0].count as usize,
        all.len() - gone.len()
    );
}

#[test]
fn every_inserted_vector_is_found_by_its_own_query() {
    let index = HnswIndex::new(config()).unwrap();
    index.create_collection(&spec(24, Distance::L2)).unwrap();
    let user = UserId::new();
    let all = records(&mut Rng::new(5), 24, 300, 10, &[Some(user)]);
    for batch in all.chunks(250) {
        index.upsert("docs", batch).unwrap();
    }
    index.compact("docs").unwrap();
    let filter = VectorFilter::user(user);
    for record in &all {
        let hits = index
            .search_with_ef("docs", &record.vector, 1, 64, &filter)
            .unwrap();
        assert_eq!(
            hits[0].chunk, record.chunk,
            "a vector is unreachable in the graph"
        );
        assert!(hits[0].score.abs() < 1e-4, "an exact match scores 0 in L2");
    }
}

#[test]
fn searches_run_on_many_threads_while_inserts_and_rebuilds_go_on() {
    let index = Arc::new(
        HnswIndex::new(IndexConfig {
            background_rebuild: true,
            ..config()
        })
        .unwrap(),
    );
    index.create_collection(&spec(16, Distance::Dot)).unwrap();
    let (ada, eve) = (UserId::new(), UserId::new());
    let all = records(&mut Rng::new(6), 16, 400, 10, &[Some(ada), Some(eve), None]);
    index.upsert("docs", &all[..500]).unwrap();
    let owners: std::collections::HashMap<ChunkId, Option<UserId>> =
        all.iter().map(|r| (r.chunk, r.owner)).collect();
    // A third of the first 500 are deleted midway: past 20% of the graph, a rebuild.
    let doomed: Vec<ChunkId> = all[..500].iter().step_by(3).map(|r| r.chunk).collect();
    let gone: HashSet<ChunkId> = doomed.iter().copied().collect();
    let deleted = std::sync::atomic::AtomicBool::new(false);
    let written = std::sync::atomic::AtomicBool::new(false);
    let searched_after_delete = std::sync::atomic::AtomicUsize::new(0);
    let ordering = std::sync::atomic::Ordering::SeqCst;

    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            // Batches of 50 are linked in as written, batches of 200 after the write.
            for (i, batch) in all[500..].chunks(250).enumerate() {
                let (small, large) = batch.split_at(batch.len().min(50));
                index.upsert("docs", small).unwrap();
                index.upsert("docs", large).unwrap();
                if i == 5 {
                    assert_eq!(index.delete("docs", &doomed).unwrap(), doomed.len() as u64);
                    deleted.store(true, ordering);
                }
            }
            written.store(true, ordering);
        });
        for seed in 0..3 {
            let (index, owners, gone) = (&index, &owners, &gone);
            let (deleted, written, counter) = (&deleted, &written, &searched_after_delete);
            scope.spawn(move || {
                let mut rng = Rng::new(100 + seed);
                let filter = VectorFilter::user(ada);
                // Searching until the writer is done, and at least 300 times.
                for round in 0.. {
                    if round >= 300 && written.load(ordering) {
                        break;
                    }
                    let after_delete = deleted.load(ordering);
                    if after_delete {
                        counter.fetch_add(1, ordering);
                    }
                    let hits = index.search("docs", &rng.vector(16), 10, &filter).unwrap();
                    assert_eq!(hits.len(), 10);
                    // Once deleted, never found again, through rebuilds and absorbing.
                    assert!(!after_delete || hits.iter().all(|h| !gone.contains(&h.chunk)));
                    assert!(hits.iter().all(|h| owners[&h.chunk] != Some(eve)));
                    assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
                }
            });
        }
        writer.join().unwrap();
    });

    assert!(searched_after_delete.load(ordering) > 0);
    index.compact("docs").unwrap();
    let alive = all.len() - doomed.len();
    assert_eq!(index.collections().unwrap()[0].count as usize, alive);
    let layout = index.layout("docs").unwrap();
    assert_eq!(
        (layout.in_graph, layout.pending, layout.tombstones),
        (alive, 0, 0)
    );
    let found = index
        .get("docs", &all.iter().map(|r| r.chunk).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(found.len(), alive);
    assert!(found.iter().all(|r| !doomed.contains(&r.chunk)));
}

/// Vectors written since the last build are scanned on their quantised codes, kept
/// slot for slot beside them: after any mix of inserts, rewrites and deletions, a
/// search still returns exactly what brute force over the live vectors does.
#[test]
fn unbuilt_vectors_stay_exactly_searchable_through_rewrites_and_deletions() {
    let no_graph = IndexConfig {
        graph_min: 1_000_000,
        ..config()
    };
    for distance in [Distance::Cosine, Distance::Dot, Distance::L2] {
        let index = HnswIndex::new(no_graph.clone()).unwrap();
        index.create_collection(&spec(16, distance)).unwrap();
        let ada = UserId::new();
        let mut rng = Rng::new(11);
        let mut live = records(&mut rng, 16, 60, 5, &[Some(ada), None]);
        index.upsert("docs", &live).unwrap();
        for round in 0..20 {
            // Delete a few (from the middle, so the last slot moves into the gap)...
            let gone: Vec<VectorRecord> = live.drain(round..round + 4).collect();
            let ids: Vec<ChunkId> = gone.iter().map(|r| r.chunk).collect();
            assert_eq!(index.delete("docs", &ids).unwrap(), 4);
            // ...rewrite one in place and add new ones.
            let at = rng.below(live.len());
            live[at].vector = rng.vector(16);
            let fresh = records(&mut rng, 16, 1, 3, &[Some(ada)]);
            index.upsert("docs", &[live[at].clone()]).unwrap();
            index.upsert("docs", &fresh).unwrap();
            live.extend(fresh);
            let query = rng.vector(16);
            let filter = VectorFilter::user(ada);
            let hits = index.search("docs", &query, 10, &filter).unwrap();
            let found: Vec<ChunkId> = hits.iter().map(|h| h.chunk).collect();
            let truth = common::brute_force(distance, &live, &query, 10, &filter);
            assert_eq!(found, truth, "{distance:?}, round {round}");
        }
    }
}

/// Once a collection has a graph, small writes are linked into it at once (nothing
/// waits outside it to be scanned), a large batch a few at a time after the write, and
/// every vector written so is found by its own query.
#[test]
fn writes_join_the_graph_without_a_rebuild() {
    let index = HnswIndex::new(IndexConfig {
        delta_max: 100_000,
        ..config()
    })
    .unwrap();
    index.create_collection(&spec(24, Distance::L2)).unwrap();
    let user = UserId::new();
    let mut all = records(&mut Rng::new(9), 24, 300, 10, &[Some(user)]);
    index.upsert("docs", &all[..300]).unwrap();
    index.compact("docs").unwrap();
    for batch in all[300..2400].chunks(30) {
        index.upsert("docs", batch).unwrap();
    }
    // Rewrites, too, are linked in; their old versions become tombstones.
    let mut rng = Rng::new(10);
    for record in &mut all[..100] {
        record.vector = rng.vector(24);
    }
    index.upsert("docs", &all[..100]).unwrap();
    let layout = index.layout("docs").unwrap();
    assert_eq!((layout.in_graph, layout.pending), (2400, 0));
    assert_eq!(layout.tombstones, 100);

    // Without background work, the large batch is linked in before `upsert` returns.
    index.upsert("docs", &all[2400..]).unwrap();
    let layout = index.layout("docs").unwrap();
    assert_eq!((layout.in_graph, layout.pending), (3000, 0));

    let filter = VectorFilter::user(user);
    let lost: Vec<usize> = (0..all.len())
        .filter(|&i| {
            let hits = index
                .search_with_ef("docs", &all[i].vector, 1, 64, &filter)
                .unwrap();
            hits[0].chunk != all[i].chunk
        })
        .collect();
    assert!(lost.is_empty(), "not found by their own vector: {lost:?}");

    index.compact("docs").unwrap();
    let layout = index.layout("docs").unwrap();
    assert_eq!(
        (layout.in_graph, layout.pending, layout.tombstones),
        (3000, 0, 0)
    );
}

/// With background upkeep, a large batch is searchable at once (scanned outside the
/// graph) and then linked into the graph behind the caller's back.
#[test]
fn a_large_batch_is_linked_into_the_graph_in_the_background() {
    let index = HnswIndex::new(IndexConfig {
        delta_max: 100_000,
        background_rebuild: true,
        ..config()
    })
    .unwrap();
    index.create_collection(&spec(24, Distance::L2)).unwrap();
    let user = UserId::new();
    let all = records(&mut Rng::new(12), 24, 200, 10, &[Some(user)]);
    index.upsert("docs", &all[..300]).unwrap();
    index.compact("docs").unwrap();
    index.upsert("docs", &all[300..]).unwrap();
    let filter = VectorFilter::user(user);
    let found_by_own_vector = |record: &VectorRecord| {
        let hits = index
            .search_with_ef("docs", &record.vector, 1, 64, &filter)
            .unwrap();
        hits[0].chunk == record.chunk
    };
    assert!(all[300..].iter().all(found_by_own_vector));
    let started = std::time::Instant::now();
    while index.layout("docs").unwrap().pending > 0 {
        assert!(
            started.elapsed().as_secs() < 60,
            "the batch was never linked in"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(index.layout("docs").unwrap().in_graph, 2000);
    assert!(all.iter().all(found_by_own_vector));
}
