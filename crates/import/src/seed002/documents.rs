//! Seed 002's `documents` and `document_chunks`: each document belongs to the user who
//! uploaded it, each chunk to its document.

use chatstore::transfer::Value;
use chatstore::{ChunkId, DocumentId, DocumentScope, ProcessingStatus, Result, validate};

use super::{Keys, SOURCE, public_id};
use crate::Plan;
use crate::linked::Linked;
use crate::source::{SourceDb, SourceRow, flag, json, opt_time, time};
use crate::writer::{Record, row, target_table};

type Outcome<T> = std::result::Result<T, String>;

/// Plans every document and chunk (when the tables are there).
pub(super) fn plan(plan: &mut Plan, db: &SourceDb, keys: &mut Keys) -> Result<()> {
    if !db.has_table("documents")? {
        return Ok(());
    }
    for r in db.records("documents", &["uploaded_at", "id"])? {
        let original = public_id(&r);
        match document(plan, &r) {
            Ok((linked, uploaded_at)) => {
                let new = linked.record.new_id;
                keys.documents
                    .insert(r.text("id"), (original.clone(), new, uploaded_at));
                keys.document_ids.insert(original, new.to_string());
                plan.linked.push(linked);
            }
            Err(why) => plan.skip("document", "documents", &original, why),
        }
    }
    if !db.has_table("document_chunks")? {
        return Ok(());
    }
    let mut without_embeddings = 0;
    for r in db.records("document_chunks", &["document_id", "chunk_index", "id"])? {
        let original = public_id(&r);
        match chunk(keys, &r) {
            Ok(linked) => {
                keys.chunk_ids
                    .insert(original, linked.record.new_id.to_string());
                without_embeddings += 1;
                plan.linked.push(linked);
            }
            Err(why) => plan.skip("chunk", "document_chunks", &original, why),
        }
    }
    if without_embeddings > 0 {
        plan.report.notes.push(format!(
            "{without_embeddings} chunks came over without embeddings (they were in ChromaDB): embed them again to search them"
        ));
    }
    Ok(())
}

fn list(r: &SourceRow, field: &'static str) -> Outcome<Value> {
    match json(field, r.get(field)).map_err(|e| e.to_string())? {
        None | Some(serde_json::Value::Null) => Ok(Value::Json(serde_json::json!([]))),
        Some(array @ serde_json::Value::Array(_)) => Ok(Value::Json(array)),
        Some(_) => Err(format!("{field} is not a JSON array")),
    }
}

fn document(plan: &Plan, r: &SourceRow) -> Outcome<(Linked, chatstore::Timestamp)> {
    let original = public_id(r);
    let owner = r.text("uploaded_by_id");
    let user = plan
        .user_ids
        .get(&owner)
        .ok_or_else(|| format!("its user {owner} is not imported"))?;
    let filename =
        validate::required_text("filename", &r.text("filename")).map_err(|e| e.to_string())?;
    let file_path = r.get("file_path").unwrap_or(&filename).to_owned();
    let title = r
        .get("title")
        .filter(|t| !t.trim().is_empty())
        .unwrap_or(&filename)
        .to_owned();
    let scope: DocumentScope = r
        .get("scope")
        .unwrap_or("user")
        .trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|e: chatstore::Error| e.to_string())?;
    let status: ProcessingStatus = r
        .get("processing_status")
        .unwrap_or("pending")
        .trim()
        .to_ascii_lowercase()
        .parse()
        .map_err(|e: chatstore::Error| e.to_string())?;
    let when = |field: &'static str| -> Outcome<Value> {
        Ok(opt_time(r.get(field))
            .map_err(|e| e.to_string())?
            .map_or(Value::Null, Value::Time))
    };
    let uploaded_at = time(&r.text("uploaded_at")).map_err(|e| e.to_string())?;
    let processed_at = opt_time(r.get("processed_at")).map_err(|e| e.to_string())?;
    let id = DocumentId::derived(
        uploaded_at,
        format!("{SOURCE}\0document\0{original}").as_bytes(),
    );
    let row = row(
        target_table("documents").map_err(|e| e.to_string())?,
        vec![
            ("id", Value::Id(id.as_uuid())),
            ("owner_id", Value::Id(user.as_uuid())),
            ("filename", Value::Text(filename.clone())),
            ("file_path", Value::Text(file_path)),
            ("file_type", r.text_value("file_type")?),
            ("file_size", r.count_value("file_size")?),
            ("title", Value::Text(title)),
            ("description", r.text_value("description")?),
            ("category", r.text_value("category")?),
            ("tags", list(r, "tags")?),
            ("scope", Value::Text(scope.as_str().to_owned())),
            ("auto_summary", r.text_value("auto_summary")?),
            ("auto_keywords", list(r, "auto_keywords")?),
            ("auto_topics", list(r, "auto_topics")?),
            ("content_type", r.text_value("content_type")?),
            ("summarization_model", r.text_value("summarization_model")?),
            (
                "summarization_tokens",
                r.count_value("summarization_tokens")?,
            ),
            ("summarized_at", when("summarized_at")?),
            (
                "is_processed",
                Value::Bool(flag(r.get("is_processed"), false)),
            ),
            ("processing_status", Value::Text(status.as_str().to_owned())),
            ("error_message", r.text_value("error_message")?),
            (
                "num_chunks",
                Value::Integer(
                    r.integer("num_chunks")
                        .map_err(|e| e.to_string())?
                        .unwrap_or(0),
                ),
            ),
            (
                "num_tokens",
                Value::Integer(
                    r.integer("num_tokens")
                        .map_err(|e| e.to_string())?
                        .unwrap_or(0),
                ),
            ),
            ("uploaded_at", Value::Time(uploaded_at)),
            (
                "processed_at",
                processed_at.map_or(Value::Null, Value::Time),
            ),
            (
                "updated_at",
                Value::Time(processed_at.unwrap_or(uploaded_at)),
            ),
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok((
        Linked {
            kind: "document",
            source_table: "documents",
            table: "documents",
            record: Record {
                original_id: original,
                new_id: id.as_uuid(),
                row,
            },
            needs: vec![("user", owner)],
        },
        uploaded_at,
    ))
}

fn chunk(keys: &Keys, r: &SourceRow) -> Outcome<Linked> {
    let original = public_id(r);
    let document_key = r.text("document_id");
    let (document_original, document, uploaded_at) = keys
        .documents
        .get(&document_key)
        .ok_or_else(|| format!("its document {document_key} is not imported"))?;
    let index = r
        .integer("chunk_index")
        .map_err(|e| e.to_string())?
        .ok_or("chunk_index is missing")?;
    if index < 0 {
        return Err("chunk_index is negative".to_owned());
    }
    let content = r.text("content");
    validate::no_nul("content", &content).map_err(|e| e.to_string())?;
    let id = ChunkId::derived(
        *uploaded_at,
        format!("{SOURCE}\0chunk\0{original}").as_bytes(),
    );
    let row = row(
        target_table("document_chunks").map_err(|e| e.to_string())?,
        vec![
            ("id", Value::Id(id.as_uuid())),
            ("document_id", Value::Id(*document)),
            ("chunk_index", Value::Integer(index)),
            ("content", Value::Text(content)),
            ("num_tokens", r.count_value("num_tokens")?),
            ("page_number", r.count_value("page_number")?),
            ("section", r.text_value("section")?),
            ("embedding_id", r.text_value("embedding_id")?),
        ],
    )
    .map_err(|e| e.to_string())?;
    Ok(Linked {
        kind: "chunk",
        source_table: "document_chunks",
        table: "document_chunks",
        record: Record {
            original_id: original,
            new_id: id.as_uuid(),
            row,
        },
        needs: vec![("document", document_original.clone())],
    })
}
