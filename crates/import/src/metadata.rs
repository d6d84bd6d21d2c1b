//! The old app's message metadata (a JSON object, or RAG columns) as ours: the fields
//! chatstore knows by name are taken when they have our shape, and everything else is
//! kept, under `extra`, so nothing the old app recorded is lost.

use chatstore::MessageMetadata;
use serde_json::{Map, Value};

/// `object` as message metadata. Known fields of another shape than ours (seed 000's
/// `sources` entries are `{source, page, score}`) stay in `extra` under their name.
pub(crate) fn message_metadata(object: Map<String, Value>) -> MessageMetadata {
    let mut metadata = MessageMetadata::default();
    let mut extra = Map::new();
    for (key, value) in object {
        if value.is_null() {
            continue;
        }
        let taken = match key.as_str() {
            "request_id" => take(&value, &mut metadata.request_id),
            "source" => take(&value, &mut metadata.source),
            "tokens" => take(&value, &mut metadata.tokens),
            "model_name" => take(&value, &mut metadata.model_name),
            "latency_ms" => take(&value, &mut metadata.latency_ms),
            "confidence_score" => take(&value, &mut metadata.confidence_score),
            "low_confidence_warning" => take(&value, &mut metadata.low_confidence_warning),
            "retrieved_documents" => take(&value, &mut metadata.retrieved_documents),
            "sources" => take(&value, &mut metadata.sources),
            "reasoning_chain" => take(&value, &mut metadata.reasoning_chain),
            "grounding_evidence" => take(&value, &mut metadata.grounding_evidence),
            "agents_involved" => take(&value, &mut metadata.agents_involved),
            "extra" => match &value {
                Value::Object(fields) => {
                    extra.extend(fields.clone());
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !taken {
            extra.insert(key, value);
        }
    }
    metadata.extra = extra;
    metadata
}

/// Sets `slot` from `value` when it has the slot's shape; false otherwise.
fn take<T: serde::de::DeserializeOwned>(value: &Value, slot: &mut T) -> bool {
    match serde_json::from_value(value.clone()) {
        Ok(parsed) => {
            *slot = parsed;
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_fields_are_taken_and_the_rest_kept() {
        let object = serde_json::json!({
            "request_id": "req-550e8400",
            "source": "llm_generation",
            "tokens": 245,
            "model_name": "llama3.2:3b",
            "latency_ms": 1234,
            "sources": [{"source": "document.pdf", "page": 5, "score": 0.87}],
            "temperature": 0.2
        });
        let Value::Object(object) = object else {
            unreachable!()
        };
        let metadata = message_metadata(object);
        assert_eq!(metadata.request_id.as_deref(), Some("req-550e8400"));
        assert_eq!(metadata.tokens, Some(245));
        assert_eq!(metadata.latency_ms, Some(1234));
        assert!(metadata.sources.is_empty());
        assert_eq!(metadata.extra["sources"][0]["page"], 5);
        assert_eq!(metadata.extra["temperature"], 0.2);
    }
}
