//! Search quality against brute force, at every filter selectivity, for every distance.

mod common;

use chatstore::{ChunkId, Distance, DocumentId, DocumentScope, UserId};
use chatstore::{VectorFilter, VectorIndex, VectorRecord};
use chatstore_vector::{HnswIndex, IndexConfig};
use common::{Rng, brute_force, config, recall, records, spec};

const DIMENSION: usize = 24;

/// An index over 4000 one-chunk documents, half Ada's, half global, built into a graph.
fn populated(distance: Distance, config: IndexConfig) -> (HnswIndex, Vec<VectorRecord>, UserId) {
    let index = HnswIndex::new(config).unwrap();
    index
        .create_collection(&spec(DIMENSION as u32, distance))
        .unwrap();
    let ada = UserId::new();
    let all = records(&mut Rng::new(7), DIMENSION, 4000, 1, &[Some(ada), None]);
    index.upsert("docs", &all).unwrap();
    index.compact("docs").unwrap();
    (index, all, ada)
}

/// Mean recall@10 over 40 queries for a filter selecting `fraction` of the documents.
fn mean_recall(
    index: &HnswIndex,
    all: &[VectorRecord],
    distance: Distance,
    filter: &VectorFilter,
) -> f64 {
    let mut rng = Rng::new(8);
    let mut total = 0.0;
    for _ in 0..40 {
        let query = rng.vector(DIMENSION);
        let hits = index
            .search_with_ef("docs", &query, 10, 96, filter)
            .unwrap();
        assert!(hits.iter().all(|h| {
            let record = all.iter().find(|r| r.chunk == h.chunk).unwrap();
            filter.admits(record.document, record.owner)
        }));
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let truth = brute_force(distance, all, &query, 10, filter);
        assert_eq!(hits.len(), truth.len());
        total += recall(
            &truth,
            &hits.iter().map(|h| h.chunk).collect::<Vec<ChunkId>>(),
        );
    }
    total / 40.0
}

fn selecting(all: &[VectorRecord], user: UserId, count: usize) -> VectorFilter {
    VectorFilter {
        documents: Some(
            all.iter()
                .step_by(all.len() / count)
                .map(|r| r.document)
                .collect(),
        ),
        ..VectorFilter::user(user)
    }
}

/// Recall at 100%, 10%, 1% and 0.1% selectivity, through the graph (`exact_below` 0)
/// and with the exact-scan cut-off.
fn recall_holds_at_every_selectivity(distance: Distance) {
    for exact_below in [0, 64] {
        let (index, all, ada) = populated(
            distance,
            IndexConfig {
                exact_below,
                ..config()
            },
        );
        let filters = [
            VectorFilter::user(ada),
            selecting(&all, ada, 400),
            selecting(&all, ada, 40),
            selecting(&all, ada, 4),
        ];
        for (filter, floor) in filters.iter().zip([0.9, 0.9, 0.97, 1.0]) {
            let got = mean_recall(&index, &all, distance, filter);
            assert!(
                got >= floor,
                "{distance:?} exact_below {exact_below}: recall {got} < {floor}"
            );
        }
    }
}

/// Below the cut-off every admitted vector is scored (on its quantised codes, the best
/// re-ranked exactly): the answer is the exact one, at every selectivity.
#[test]
fn the_scan_below_the_cut_off_finds_the_exact_answer() {
    for distance in [Distance::Cosine, Distance::Dot, Distance::L2] {
        let scan_everything = IndexConfig {
            exact_below: usize::MAX,
            ..config()
        };
        let (index, all, ada) = populated(distance, scan_everything);
        for documents in [None, Some(400), Some(40), Some(4)] {
            let filter = match documents {
                None => VectorFilter::user(ada),
                Some(count) => selecting(&all, ada, count),
            };
            let got = mean_recall(&index, &all, distance, &filter);
            assert_eq!(got, 1.0, "{distance:?}, {documents:?} documents");
        }
    }
}

#[test]
fn cosine_recall_holds_at_every_selectivity() {
    recall_holds_at_every_selectivity(Distance::Cosine);
}

#[test]
fn dot_recall_holds_at_every_selectivity() {
    recall_holds_at_every_selectivity(Distance::Dot);
}

#[test]
fn l2_recall_holds_at_every_selectivity() {
    recall_holds_at_every_selectivity(Distance::L2);
}

#[test]
fn a_user_never_sees_another_users_private_chunks() {
    let index = HnswIndex::new(IndexConfig {
        exact_below: 0,
        ..config()
    })
    .unwrap();
    index
        .create_collection(&spec(DIMENSION as u32, Distance::Cosine))
        .unwrap();
    let (ada, eve, bob) = (UserId::new(), UserId::new(), UserId::new());
    let all = records(
        &mut Rng::new(9),
        DIMENSION,
        600,
        3,
        &[Some(ada), Some(eve), Some(bob), None],
    );
    index.upsert("docs", &all).unwrap();
    index.compact("docs").unwrap();
    let eves: Vec<&VectorRecord> = all.iter().filter(|r| r.owner == Some(eve)).collect();
    let eve_documents: Vec<DocumentId> = eves.iter().map(|r| r.document).collect();
    let owner_of = |chunk: ChunkId| all.iter().find(|r| r.chunk == chunk).unwrap().owner;

    for (i, target) in eves.iter().enumerate().step_by(7) {
        // Eve's own vector as the query, and even her documents named in the
        // selection: Ada still gets none of them.
        let filters = [
            VectorFilter::user(ada),
            VectorFilter {
                documents: Some(eve_documents.clone()),
                ..VectorFilter::user(ada)
            },
            VectorFilter {
                scope: Some(DocumentScope::User),
                ..VectorFilter::user(ada)
            },
        ];
        for filter in &filters {
            let hits = index.search("docs", &target.vector, 10, filter).unwrap();
            assert!(
                hits.iter().all(|h| owner_of(h.chunk) != Some(eve)),
                "query {i}"
            );
            assert!(
                hits.iter().all(|h| owner_of(h.chunk) != Some(bob)),
                "query {i}"
            );
        }
        let globals = VectorFilter {
            scope: Some(DocumentScope::Global),
            ..VectorFilter::user(ada)
        };
        let hits = index.search("docs", &target.vector, 10, &globals).unwrap();
        assert!(hits.len() == 10 && hits.iter().all(|h| owner_of(h.chunk).is_none()));
        let own = index
            .search("docs", &target.vector, 1, &VectorFilter::user(eve))
            .unwrap();
        assert_eq!(own[0].chunk, target.chunk);
    }
}
