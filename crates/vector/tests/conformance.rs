//! The vector index conformance suite, run against `HnswIndex`: every check of
//! `chatstore::conformance`'s vector suite, with snapshots in a temporary directory,
//! twice: with the default configuration (collections this small are scanned) and
//! with one that builds a graph from a handful of vectors and always walks it.

use chatstore::conformance::VectorBackend;
use chatstore::{Result, VectorIndex};
use chatstore_vector::{HnswIndex, IndexConfig};

/// A snapshot directory, removed when dropped, and the configuration to open with.
struct TempIndex {
    dir: tempfile::TempDir,
    config: IndexConfig,
}

impl TempIndex {
    fn new(config: IndexConfig) -> TempIndex {
        TempIndex {
            dir: tempfile::tempdir().expect("temporary directory"),
            config,
        }
    }
}

impl VectorBackend for TempIndex {
    fn open(&self) -> Result<Box<dyn VectorIndex>> {
        let config = IndexConfig {
            directory: Some(self.dir.path().to_path_buf()),
            ..self.config.clone()
        };
        Ok(Box::new(HnswIndex::new(config)?))
    }
}

/// The default configuration: the suite's collections are under `graph_min`, so
/// every search scans them.
mod scanned {
    use super::*;

    chatstore::vector_conformance_suite!(TempIndex::new(IndexConfig::in_memory()));
}

/// A graph from 8 vectors on, built in the writing call, and every filtered search
/// walks it rather than scanning the admitted vectors.
mod graph {
    use super::*;

    chatstore::vector_conformance_suite!(TempIndex::new(IndexConfig {
        graph_min: 8,
        exact_below: 0,
        background_rebuild: false,
        ..IndexConfig::in_memory()
    }));
}
