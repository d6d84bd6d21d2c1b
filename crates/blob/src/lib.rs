//! Attachment and thumbnail storage for chatstore: the [`chatstore::BlobStore`] implementation,
//! keeping file bytes in a second SQLite file beside the main database. Built in its own
//! issue; this crate currently provides nothing but its place in the workspace.
#![deny(missing_docs)]
