//! The backend conformance suite (filled below).
