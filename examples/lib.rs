//! Runnable examples of chatstore; see `quickstart.rs`.
