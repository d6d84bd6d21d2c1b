//! Agent logs: recording runs on messages and reading them back per message and per
//! conversation.

use serde_json::json;

use super::support::{answer, conversation, fixture_with, say, secs, user};
use super::{Backend, fixture};
use crate::{
    AgentLog, AgentStatus, Clock, ConversationId, Error, MessageId, NewAgentLog, Store, UserId,
};

fn full_log() -> NewAgentLog {
    NewAgentLog {
        agent_name: "ResearchAgent".into(),
        agent_type: Some("research".into()),
        action: Some("retrieve".into()),
        input_data: Some(json!({"query": "joint accounts", "k": 5})),
        output_data: Some(json!([{"chunk": "c1", "score": 0.87}, null, "text"])),
        execution_time: Some(1.25),
        tokens_used: Some(512),
        status: Some(AgentStatus::Success),
        error_message: None,
        reasoning: Some("The policy document covers this.".into()),
        confidence: Some(0.82),
    }
}

fn logs(store: &dyn Store, user: UserId, message: MessageId) -> Vec<AgentLog> {
    store.agent_logs(user, message).expect("agent logs")
}

/// A recorded run keeps every field, its message and the clock's time, and reads back the same.
pub fn agent_logs_record_and_read_back(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    say(s, ada.id, chat.id, "Who can open a joint account?");
    let a = answer(s, ada.id, chat.id, "Two adults.");
    f.clock.advance(secs(3));
    let new = full_log();
    let log = s.record_agent_log(ada.id, a.id, &new).expect("record");
    assert_eq!(log.message_id, a.id);
    assert_eq!(log.agent_name, new.agent_name);
    assert_eq!(log.agent_type, new.agent_type);
    assert_eq!(log.action, new.action);
    assert_eq!(log.input_data, new.input_data);
    assert_eq!(log.output_data, new.output_data);
    assert_eq!(log.execution_time, new.execution_time);
    assert_eq!(log.tokens_used, new.tokens_used);
    assert_eq!(log.status, new.status);
    assert_eq!(log.reasoning, new.reasoning);
    assert_eq!(log.confidence, new.confidence);
    assert_eq!(log.created_at, f.clock.now());
    assert_eq!(logs(s, ada.id, a.id), vec![log.clone()]);

    let failed = s
        .record_agent_log(
            ada.id,
            a.id,
            &NewAgentLog {
                status: Some(AgentStatus::Failed),
                error_message: Some("vector index unavailable".into()),
                ..NewAgentLog::new("GroundingAgent")
            },
        )
        .expect("record a failure");
    assert_eq!(failed.agent_type, None);
    assert_eq!(failed.input_data, None);
    assert_eq!(
        failed.error_message.as_deref(),
        Some("vector index unavailable")
    );
    assert_eq!(logs(s, ada.id, a.id), vec![log, failed]);
}

/// Runs read back oldest first, per message and for the whole conversation.
pub fn agent_logs_oldest_first(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let other = conversation(s, ada.id, "other");
    let q = say(s, ada.id, chat.id, "question");
    let a = answer(s, ada.id, chat.id, "answer");
    let elsewhere = say(s, ada.id, other.id, "elsewhere");
    let record = |message, name: &str| {
        f.clock.advance(secs(1));
        s.record_agent_log(ada.id, message, &NewAgentLog::new(name))
            .expect("record")
    };
    let first = record(a.id, "ResearchAgent");
    let second = record(a.id, "AnalyzerAgent");
    let third = record(q.id, "ExplainabilityAgent");
    let fourth = record(a.id, "GroundingAgent");
    record(elsewhere.id, "OtherAgent");
    assert_eq!(
        logs(s, ada.id, a.id),
        vec![first.clone(), second.clone(), fourth.clone()]
    );
    assert_eq!(logs(s, ada.id, q.id), vec![third.clone()]);
    assert_eq!(
        s.conversation_agent_logs(ada.id, chat.id)
            .expect("conversation logs"),
        vec![first, second, third, fourth],
        "every run of the conversation, oldest first"
    );
    let fresh = conversation(s, ada.id, "fresh");
    assert!(
        s.conversation_agent_logs(ada.id, fresh.id)
            .expect("none")
            .is_empty()
    );
}

/// Bad confidence, execution time or agent name is a validation error on its field; nothing kept.
pub fn agent_logs_reject_invalid_values(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let m = say(s, ada.id, chat.id, "question");
    let kept = s
        .record_agent_log(ada.id, m.id, &NewAgentLog::new("Kept"))
        .expect("record");
    for confidence in [1.5, -0.01, f64::NAN, f64::INFINITY] {
        assert_err!(
            s.record_agent_log(
                ada.id,
                m.id,
                &NewAgentLog {
                    confidence: Some(confidence),
                    ..full_log()
                }
            ),
            Error::Validation {
                field: "confidence",
                ..
            },
            "confidence {confidence}"
        );
    }
    for seconds in [-1.0, -0.001, f64::NAN, f64::INFINITY] {
        assert_err!(
            s.record_agent_log(
                ada.id,
                m.id,
                &NewAgentLog {
                    execution_time: Some(seconds),
                    ..full_log()
                }
            ),
            Error::Validation {
                field: "execution_time",
                ..
            },
            "execution time {seconds}"
        );
    }
    for name in ["", "   "] {
        assert_err!(
            s.record_agent_log(ada.id, m.id, &NewAgentLog::new(name)),
            Error::Validation {
                field: "agent_name",
                ..
            },
            "{name:?}"
        );
    }
    assert_eq!(logs(s, ada.id, m.id), vec![kept.clone()]);
    assert_eq!(
        s.conversation_agent_logs(ada.id, chat.id).expect("logs"),
        vec![kept]
    );
}

/// Input or output JSON over the configured size is a validation error; nothing is recorded.
pub fn agent_logs_reject_oversized_data(backend: &dyn Backend) {
    let f = fixture_with(backend, |mut c| {
        c.max_metadata_bytes = 256;
        c
    });
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let m = say(s, ada.id, chat.id, "question");
    let big = json!({"text": "z".repeat(300)});
    assert_err!(
        s.record_agent_log(
            ada.id,
            m.id,
            &NewAgentLog {
                input_data: Some(big.clone()),
                ..NewAgentLog::new("A")
            }
        ),
        Error::Validation {
            field: "input_data",
            ..
        }
    );
    assert_err!(
        s.record_agent_log(
            ada.id,
            m.id,
            &NewAgentLog {
                output_data: Some(big),
                ..NewAgentLog::new("A")
            }
        ),
        Error::Validation {
            field: "output_data",
            ..
        }
    );
    assert!(logs(s, ada.id, m.id).is_empty(), "nothing recorded");
    s.record_agent_log(
        ada.id,
        m.id,
        &NewAgentLog {
            input_data: Some(json!({"k": 5})),
            ..NewAgentLog::new("A")
        },
    )
    .expect("small data fits");
}

/// Recording on or reading an unknown message or conversation is not found.
pub fn agent_logs_unknown_message_is_not_found(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    assert_err!(
        s.record_agent_log(ada.id, MessageId::new(), &NewAgentLog::new("A")),
        Error::NotFound { .. }
    );
    assert_err!(
        s.agent_logs(ada.id, MessageId::new()),
        Error::NotFound { .. }
    );
    assert_err!(
        s.conversation_agent_logs(ada.id, ConversationId::new()),
        Error::NotFound { .. }
    );
}

/// Purging a conversation removes its messages' agent logs with it.
pub fn agent_logs_go_with_their_conversation(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let m = say(s, ada.id, chat.id, "question");
    s.record_agent_log(ada.id, m.id, &NewAgentLog::new("A"))
        .expect("record");
    s.delete_conversation(ada.id, chat.id).expect("delete");
    s.purge_conversation(ada.id, chat.id).expect("purge");
    assert_err!(s.agent_logs(ada.id, m.id), Error::NotFound { .. });
    assert_err!(
        s.conversation_agent_logs(ada.id, chat.id),
        Error::NotFound { .. }
    );
    s.check_integrity().expect("nothing dangles");
}

/// Input and output data nested deeper than [`crate::json::MAX_DEPTH`] are refused and
/// leave the message's logs readable; the deepest accepted data reads back. (Deep data
/// was once stored and then made every read of the message's logs fail.)
pub fn agent_logs_reject_deeply_nested_data(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let chat = conversation(s, ada.id, "c");
    let m = say(s, ada.id, chat.id, "question");
    let kept = s
        .record_agent_log(ada.id, m.id, &full_log())
        .expect("a plain log");
    let nested = |levels: usize| (0..levels).fold(json!("bottom"), |inner, _| json!([inner]));
    for levels in [crate::json::MAX_DEPTH + 1, 128, 129, 1000] {
        for input in [true, false] {
            let log = NewAgentLog {
                input_data: input.then(|| nested(levels)),
                output_data: (!input).then(|| nested(levels)),
                ..NewAgentLog::new("A")
            };
            let result = s.record_agent_log(ada.id, m.id, &log);
            assert_err!(
                result,
                Error::Validation { field, .. } if field == if input { "input_data" } else { "output_data" },
                "data nested {levels} deep"
            );
        }
    }
    assert_eq!(
        s.agent_logs(ada.id, m.id).expect("logs"),
        vec![kept.clone()]
    );
    let deepest = NewAgentLog {
        input_data: Some(nested(crate::json::MAX_DEPTH)),
        output_data: Some(nested(crate::json::MAX_DEPTH)),
        ..NewAgentLog::new("A")
    };
    let stored = s
        .record_agent_log(ada.id, m.id, &deepest)
        .expect("the deepest accepted data is stored");
    assert_eq!(
        s.agent_logs(ada.id, m.id).expect("logs"),
        vec![kept.clone(), stored.clone()]
    );
    assert_eq!(
        s.conversation_agent_logs(ada.id, chat.id).expect("logs"),
        vec![kept, stored]
    );
}
