//! Metadata JSON as a host receives it, and the stored-JSON helpers, on any text.
//!
//! `json::depth` never fails; `check_depth` refuses exactly what nests deeper than
//! `MAX_DEPTH`, with `Error::Validation`. `decode_stored` gives what serde_json gives
//! whenever serde_json can read the text, and otherwise succeeds only by folding what
//! lies below `MAX_DEPTH`. `MessageMetadata::from_json` refuses with
//! `Error::Validation` only; what it accepts round-trips through serde_json to an equal
//! value, floats exactly, and `validate` gives Ok or `Error::Validation`.
#![no_main]

use chatstore::json::{self, MAX_DEPTH};
use chatstore::{Error, MessageMetadata};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let text: &str = &text;

    let depth = json::depth(text);
    match json::check_depth("extra", text) {
        Ok(()) => assert!(depth <= MAX_DEPTH),
        Err(Error::Validation { field, .. }) => {
            assert!(depth > MAX_DEPTH);
            assert_eq!(field, "extra");
        }
        Err(other) => panic!("check_depth: {other:?}"),
    }

    let direct = serde_json::from_str::<Value>(text);
    let stored = json::decode_stored::<Value>(text);
    match (&direct, &stored) {
        (Ok(direct), stored) => assert_eq!(stored.as_ref().ok(), Some(direct)),
        (Err(_), Ok(folded)) => {
            assert!(
                depth > MAX_DEPTH,
                "decode_stored read what serde_json cannot: {text:?}"
            );
            assert!(json::depth(&folded.to_string()) <= MAX_DEPTH);
        }
        (Err(_), Err(_)) => {}
    }

    match MessageMetadata::from_json(text) {
        Ok(metadata) => {
            assert!(depth <= MAX_DEPTH);
            let again = serde_json::to_string(&metadata).expect("metadata serialises");
            let back = MessageMetadata::from_json(&again).expect("serialised metadata parses");
            assert_eq!(back, metadata, "{text:?} → {again:?}");
            let value = serde_json::to_value(&metadata).expect("metadata serialises");
            let back: MessageMetadata = serde_json::from_value(value).expect("parses");
            assert_eq!(back, metadata);
            match metadata.validate(256 * 1024) {
                Ok(()) | Err(Error::Validation { .. }) => {}
                Err(other) => panic!("validate: {other:?}"),
            }
        }
        Err(Error::Validation { field, .. }) => assert_eq!(field, "metadata"),
        Err(other) => panic!("from_json: {other:?}"),
    }
});
