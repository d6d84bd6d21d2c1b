//! Conversations as Markdown, for people: the title, the facts about it, then each
//! message under its role and time, with its sources and attachments.

use std::fmt::Write;
use std::path::Path;

use super::{UserExport, conversation_file, write_file};
use crate::{Message, Result};

/// Writes `conversations/<nnn>-<id>.md` for every conversation of `export`.
pub(super) fn write_conversations(export: &UserExport, dir: &Path) -> Result<()> {
    for (position, item) in export.conversations.iter().enumerate() {
        let mut text = String::new();
        let c = &item.conversation;
        let title = c.title.as_deref().unwrap_or("Untitled conversation");
        let _ = writeln!(text, "# {title}\n");
        let _ = writeln!(text, "- Status: {}", c.status);
        let _ = writeln!(text, "- Started: {}", c.created_at);
        if let Some(last) = c.last_message_at {
            let _ = writeln!(text, "- Last message: {last}");
        }
        if let Some(model) = &c.llm_model {
            let _ = writeln!(text, "- Model: {model}");
        }
        let _ = writeln!(text, "- Messages: {}", item.messages.len());
        for message in &item.messages {
            write_message(&mut text, message, &item.messages);
        }
        write_file(
            &dir.join(conversation_file(position, c.id)),
            text.as_bytes(),
        )?;
    }
    Ok(())
}

fn write_message(text: &mut String, message: &Message, all: &[Message]) {
    let _ = writeln!(text, "\n## {} · {}\n", message.role, message.created_at);
    let previous = all.iter().find(|m| m.seq + 1 == message.seq).map(|m| m.id);
    if let Some(parent) = message.parent_id.filter(|p| Some(*p) != previous) {
        let seq = all.iter().find(|m| m.id == parent).map(|m| m.seq);
        let _ = writeln!(
            text,
            "*(a branch: replies to message {})*\n",
            seq.map_or_else(|| parent.to_string(), |s| s.to_string())
        );
    }
    let _ = writeln!(text, "{}", message.content.trim_end());
    let meta = &message.metadata;
    if !meta.sources.is_empty() || !meta.retrieved_documents.is_empty() {
        let _ = writeln!(text, "\nSources:");
        for source in &meta.sources {
            let _ = writeln!(
                text,
                "- {}",
                serde_json::to_string(source).unwrap_or_default()
            );
        }
        for document in &meta.retrieved_documents {
            let _ = writeln!(
                text,
                "- {}",
                serde_json::to_string(document).unwrap_or_default()
            );
        }
    }
    for (index, file) in message.files.iter().enumerate() {
        let _ = writeln!(
            text,
            "\nAttachment: [{}](../attachments/{}/{index}) ({}, {} bytes)",
            file.name, message.id, file.mime_type, file.size
        );
    }
}
