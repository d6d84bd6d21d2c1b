//! Rows that chatstore would refuse today but that an older version or a hand edit left
//! in the file: they still read, nothing of them is lost, and their neighbours read too.

use chatstore::{
    AgentLogStore, ConversationStore, MessageQuery, MessageStore, NewAgentLog, NewConversation,
    NewMessage, NewUsage, NewUser, OperationType, TimeRange, UsageStore, User, UserStore, json,
};
use chatstore_sqlite::SqliteStore;
use chatstore_tests::TempSqlite;
use rusqlite::Connection;

/// A fresh store with one user, and where its file is (for a second connection to edit).
fn store_with_ada() -> (TempSqlite, SqliteStore, User) {
    let db = TempSqlite::new();
    let store = db
        .open_sqlite(chatstore::conformance::test_config().0)
        .expect("opens");
    let ada = store
        .create_user(&NewUser::new("ada", "ada@example.com", "password1"))
        .expect("user");
    (db, store, ada)
}

fn nested(levels: usize) -> String {
    format!("{}\"bottom\"{}", "[".repeat(levels), "]".repeat(levels))
}

#[test]
fn rows_with_json_deeper_than_the_parser_takes_stay_readable() {
    let (db, store, ada) = store_with_ada();
    let chat = store
        .create_conversation(ada.id, &NewConversation::titled("deep"))
        .expect("chat");
    let said: Vec<_> = ["one", "two", "three"]
        .into_iter()
        .map(|text| {
            store
                .append_message(ada.id, chat.id, &NewMessage::user(text))
                .expect("append")
        })
        .collect();
    let log = store
        .record_agent_log(ada.id, said[1].id, &NewAgentLog::new("ResearchAgent"))
        .expect("log");

    let edit = Connection::open(db.path()).expect("second connection");
    let deep = nested(500);
    edit.execute(
        "UPDATE messages SET rag_metadata = ?1 WHERE id = ?2",
        [
            format!(r#"{{"extra":{{"deep":{deep}}}}}"#),
            said[1].id.to_string(),
        ],
    )
    .expect("hand edit");
    edit.execute(
        "UPDATE agent_logs SET input_data = ?1 WHERE id = ?2",
        [&deep, &log.id.to_string()],
    )
    .expect("hand edit");

    let page = store
        .messages(ada.id, chat.id, &MessageQuery::default())
        .expect("the conversation still reads");
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.items[0], said[0]);
    assert_eq!(page.items[2], said[2]);
    let edited = store
        .message(ada.id, said[1].id)
        .expect("the edited row reads");
    assert_eq!(edited, page.items[1]);
    let (mut part, mut level) = (&edited.metadata.extra["deep"], 3);
    while let Some(inner) = part.get(0).filter(|v| v.is_array()) {
        (part, level) = (inner, level + 1);
    }
    assert_eq!(level, json::MAX_DEPTH, "arrays kept down to the limit");
    let folded = part[0].as_str().expect("the part below the limit is text");
    assert_eq!(level + json::depth(folded), 2 + 500, "nothing was cut off");

    let logs = store
        .agent_logs(ada.id, said[1].id)
        .expect("the logs still read");
    let input = logs[0].input_data.as_ref().expect("input kept");
    assert_eq!(json::depth(&input.to_string()), json::MAX_DEPTH);
    assert_eq!(
        store
            .last_messages(ada.id, chat.id, 20)
            .expect("last messages")
            .len(),
        3
    );
}

#[test]
fn token_sums_past_64_bits_saturate_instead_of_failing() {
    let (db, store, ada) = store_with_ada();
    let call = NewUsage::new("custom", "deepseek-chat", OperationType::Chat, 1, 1);
    let records: Vec<_> = (0..3)
        .map(|_| store.record_usage(ada.id, &call).expect("usage"))
        .collect();
    let edit = Connection::open(db.path()).expect("second connection");
    for record in &records {
        edit.execute(
            "UPDATE token_usage SET prompt_tokens = ?1, total_tokens = ?1 WHERE id = ?2",
            rusqlite::params![i64::MAX, record.id.to_string()],
        )
        .expect("hand edit");
    }
    let totals = store
        .usage_totals(ada.id, TimeRange::ALL)
        .expect("the sums still read");
    assert_eq!(totals.requests, 3);
    assert_eq!(totals.prompt_tokens, u64::MAX, "saturated");
    assert_eq!(totals.completion_tokens, 3, "the other sums stay exact");
    for breakdown in store.system_usage(TimeRange::ALL).expect("system usage") {
        assert_eq!(breakdown.totals.prompt_tokens, u64::MAX);
    }
    assert_eq!(
        store.daily_usage(ada.id, TimeRange::ALL).expect("daily")[0]
            .totals
            .prompt_tokens,
        u64::MAX
    );
}
