//! # chatstore-blob
//!
//! Attachment and thumbnail storage for [chatstore]: [`SqliteBlobStore`]
//! implements [`chatstore::BlobStore`] on a second SQLite file (seed 001's `files.db`),
//! beside the main database, with the same connection handling, startup check,
//! migrations and errors as the main store.
//!
//! - **Keys** are `<message id>/<index>` and `<message id>/<index>.thumb`, checked when
//!   parsed ([`chatstore::BlobKey`]); anything else is refused.
//! - **Content-addressed**: every blob's blake3 hash is stored with it, checked when the
//!   blob is written and by [`SqliteBlobStore::verify_contents`]; identical bytes under
//!   several keys are kept once, and deleting one key never loses another's.
//! - **Checked reads**: every read checks the bytes against a fast checksum stored with
//!   them (xxh3-64 per 64 KiB chunk) and reports damage as [`chatstore::Error::Corrupt`]
//!   instead of returning bad bytes; a stream checks each chunk before handing it on.
//! - **Streaming**: [`chatstore::BlobStore::put_stream`] and
//!   [`chatstore::BlobStore::open`] move large attachments in 64 KiB chunks through
//!   SQLite's incremental blob I/O, never whole in memory; a maximum size is enforced.
//! - **A file gone underneath**: if `files.db` is deleted or replaced while the store
//!   has it open, calls fail with [`chatstore::Error::Io`] naming it, instead of
//!   acknowledging writes into a file that will not be there after a restart (the
//!   shared database layer's check, as for the main store).
//! - **Batched deletion**: all blobs of many messages go in one statement
//!   ([`chatstore::BlobStore::delete_by_prefixes`]).
#![deny(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod checks;
mod config;
mod get;
mod maintenance;
mod reader;
mod store;

pub use config::{BlobConfig, DEFAULT_FILE_NAME};
pub use store::{MIGRATIONS, SqliteBlobStore};
