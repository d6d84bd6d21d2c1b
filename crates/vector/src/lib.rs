//! Semantic search for chatstore: the [`chatstore::VectorIndex`] implementation on an
//! in-process HNSW graph. Built in its own issue; this crate currently provides nothing but
//! its place in the workspace.
#![deny(missing_docs)]
