//! Token usage: pricing on insert, totals, breakdowns by provider and operation, per
//! conversation and per day, and what happens to usage when its links go away.

use super::support::{
    answer, conversation, days, fixture_with, same_amount, say, secs, start, user,
};
use super::{Backend, fixture};
use crate::{
    Clock, ConversationId, Error, MessageId, NewAgentLog, NewUsage, OperationType, Price,
    PriceTable, Store, TimeRange, UsageBreakdown, UsageTotals, UserId,
};

fn totals(store: &dyn Store, user: UserId) -> UsageTotals {
    store
        .usage_totals(user, TimeRange::ALL)
        .expect("usage totals")
}

fn chat(prompt: u64, completion: u64) -> NewUsage {
    NewUsage::new(
        "custom",
        "deepseek-chat",
        OperationType::Chat,
        prompt,
        completion,
    )
}

fn assert_totals(got: UsageTotals, requests: u64, prompt: u64, completion: u64, cost: f64) {
    assert_eq!(got.requests, requests, "requests in {got:?}");
    assert_eq!(got.prompt_tokens, prompt, "prompt tokens in {got:?}");
    assert_eq!(
        got.completion_tokens, completion,
        "completion tokens in {got:?}"
    );
    assert_eq!(
        got.total_tokens,
        prompt + completion,
        "total tokens in {got:?}"
    );
    assert!(
        same_amount(got.cost, cost),
        "cost {} instead of {cost}",
        got.cost
    );
}

/// Records are priced from the default table (custom $0.14/$0.28 per M, ollama free).
pub fn usage_priced_with_the_default_table(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let c = conversation(s, ada.id, "c");
    let m = say(s, ada.id, c.id, "question");
    f.clock.advance(secs(9));
    let custom = s
        .record_usage(
            ada.id,
            &NewUsage {
                conversation_id: Some(c.id),
                message_id: Some(m.id),
                ..chat(1_000_000, 500_000)
            },
        )
        .expect("record");
    assert!(
        same_amount(custom.estimated_cost, 0.28),
        "{}",
        custom.estimated_cost
    );
    assert_eq!(custom.currency, "USD");
    assert_eq!(custom.total_tokens, 1_500_000);
    assert_eq!(custom.user_id, ada.id);
    assert_eq!(custom.conversation_id, Some(c.id));
    assert_eq!(custom.message_id, Some(m.id));
    assert_eq!(custom.agent_log_id, None);
    assert_eq!(custom.provider, "custom");
    assert_eq!(custom.model, "deepseek-chat");
    assert_eq!(custom.operation_type, OperationType::Chat);
    assert_eq!(custom.created_at, f.clock.now());

    let small = s.record_usage(ada.id, &chat(1000, 2000)).expect("record");
    assert!(same_amount(small.estimated_cost, 0.00014 + 0.00056));

    let ollama = s
        .record_usage(
            ada.id,
            &NewUsage::new("ollama", "llama3.2:3b", OperationType::Chat, 9_999, 9_999),
        )
        .expect("record");
    assert_eq!(ollama.estimated_cost, 0.0);
    let unknown = s
        .record_usage(
            ada.id,
            &NewUsage::new("acme", "big-model", OperationType::Analysis, 5_000_000, 1),
        )
        .expect("record");
    assert_eq!(unknown.estimated_cost, 0.0);
    assert_eq!(unknown.currency, "USD");
    assert_totals(
        totals(s, ada.id),
        4,
        1_000_000 + 1000 + 9_999 + 5_000_000,
        500_000 + 2000 + 9_999 + 1,
        0.28 + 0.0007,
    );
}

/// The configured price table prices records: model before provider, embeddings included.
pub fn usage_priced_with_the_configured_table(backend: &dyn Backend) {
    let prices = PriceTable::empty()
        .with(Price::per_million("openai", 2.5, 10.0).embedding(0.02))
        .with(Price::per_million("openai", 0.15, 0.6).for_model("gpt-4o-mini"));
    let f = fixture_with(backend, |c| c.pricing(prices));
    let s = &*f.store;
    let ada = user(s, "ada");
    let big = s
        .record_usage(
            ada.id,
            &NewUsage::new("openai", "gpt-4o", OperationType::Chat, 1_000_000, 100_000),
        )
        .expect("record");
    assert!(same_amount(big.estimated_cost, 2.5 + 1.0));
    let mini = s
        .record_usage(
            ada.id,
            &NewUsage::new("openai", "gpt-4o-mini", OperationType::Chat, 1_000_000, 0),
        )
        .expect("record");
    assert!(same_amount(mini.estimated_cost, 0.15));
    let embed = s
        .record_usage(
            ada.id,
            &NewUsage {
                embedding_tokens: 2_000_000,
                ..NewUsage::new("openai", "text-embedding-3", OperationType::Embedding, 0, 0)
            },
        )
        .expect("record");
    assert!(same_amount(embed.estimated_cost, 0.04));
    assert_eq!(embed.embedding_tokens, 2_000_000);
    assert_eq!(embed.total_tokens, 0);
    let custom = s.record_usage(ada.id, &chat(1_000_000, 0)).expect("record");
    assert_eq!(custom.estimated_cost, 0.0, "not in this table");
    let sum = totals(s, ada.id);
    assert_eq!(sum.embedding_tokens, 2_000_000);
    assert!(same_amount(sum.cost, 3.5 + 0.15 + 0.04));
}

/// Usage groups by provider and operation with the right sums, per user and system-wide.
pub fn usage_breakdown_by_provider_and_operation(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    s.record_usage(ada.id, &chat(1_000_000, 0)).expect("1");
    s.record_usage(ada.id, &chat(0, 1_000_000)).expect("2");
    s.record_usage(
        ada.id,
        &NewUsage::new("custom", "deepseek-chat", OperationType::Grounding, 10, 20),
    )
    .expect("3");
    s.record_usage(
        ada.id,
        &NewUsage {
            embedding_tokens: 300,
            ..NewUsage::new("ollama", "nomic", OperationType::Embedding, 0, 0)
        },
    )
    .expect("4");
    s.record_usage(bob.id, &chat(1_000_000, 1_000_000))
        .expect("bob");

    let mut mine = s
        .usage_by_provider(ada.id, TimeRange::ALL)
        .expect("breakdown");
    let key = |b: &UsageBreakdown| (b.provider.clone(), b.operation_type);
    mine.sort_by_key(key);
    let keys: Vec<_> = mine.iter().map(key).collect();
    assert_eq!(
        keys,
        vec![
            ("custom".to_owned(), OperationType::Chat),
            ("custom".to_owned(), OperationType::Grounding),
            ("ollama".to_owned(), OperationType::Embedding),
        ]
    );
    assert_totals(mine[0].totals, 2, 1_000_000, 1_000_000, 0.42);
    assert_totals(mine[1].totals, 1, 10, 20, (10.0 * 0.14 + 20.0 * 0.28) / 1e6);
    assert_totals(mine[2].totals, 1, 0, 0, 0.0);
    assert_eq!(mine[2].totals.embedding_tokens, 300);

    let sum = totals(s, ada.id);
    assert_eq!(sum.requests, 4);
    assert_eq!(sum.embedding_tokens, 300);
    assert!(same_amount(
        sum.cost,
        mine.iter().map(|b| b.totals.cost).sum()
    ));

    let mut system = s.system_usage(TimeRange::ALL).expect("system");
    system.sort_by_key(key);
    assert_eq!(system.len(), 3);
    assert_totals(system[0].totals, 3, 2_000_000, 2_000_000, 0.84);
    assert_eq!(system[1], mine[1]);
}

/// Time ranges include their start and exclude their end; an inverted range is a validation error.
pub fn usage_time_ranges_are_half_open(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    for _ in 0..3 {
        s.record_usage(ada.id, &chat(100, 0)).expect("record");
        f.clock.advance(secs(3600));
    }
    let hour = |h: u64| start() + secs(h * 3600);
    let range = |from, to| TimeRange::new(hour(from), hour(to)).expect("range");
    assert_eq!(s.usage_totals(ada.id, range(1, 2)).expect("t").requests, 1);
    assert_eq!(s.usage_totals(ada.id, range(0, 2)).expect("t").requests, 2);
    assert_eq!(s.usage_totals(ada.id, range(0, 3)).expect("t").requests, 3);
    assert_eq!(s.usage_totals(ada.id, range(1, 1)).expect("t").requests, 0);
    assert_eq!(
        s.usage_totals(ada.id, range(3, 9)).expect("t"),
        UsageTotals::default()
    );
    let by_provider = s.usage_by_provider(ada.id, range(2, 3)).expect("b");
    assert_eq!(by_provider.len(), 1);
    assert_eq!(by_provider[0].totals.requests, 1);
    assert!(
        s.usage_by_provider(ada.id, range(5, 6))
            .expect("b")
            .is_empty()
    );
    assert_eq!(
        s.system_usage(range(0, 1)).expect("s")[0].totals.requests,
        1
    );
    assert_err!(
        TimeRange::new(hour(2), hour(1)),
        Error::Validation {
            field: "time range",
            ..
        }
    );
}

/// Daily usage sums each UTC day in the range, oldest first, leaving out days without usage.
pub fn usage_daily_series(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    f.clock.advance(secs(3600));
    s.record_usage(ada.id, &chat(1_000_000, 0)).expect("day 1");
    f.clock.advance(secs(20 * 3600));
    s.record_usage(ada.id, &chat(0, 1_000_000))
        .expect("day 1, late");
    s.record_usage(bob.id, &chat(5, 5)).expect("bob, day 1");
    f.clock.set(start() + days(2) + secs(60));
    s.record_usage(ada.id, &chat(10, 10)).expect("day 3");
    f.clock.set(start() + days(4) - secs(1));
    s.record_usage(ada.id, &chat(1, 1))
        .expect("day 4, last second");

    let series = s.daily_usage(ada.id, TimeRange::ALL).expect("daily");
    let days_listed: Vec<&str> = series.iter().map(|d| d.day.as_str()).collect();
    assert_eq!(days_listed, vec!["2026-01-01", "2026-01-03", "2026-01-04"]);
    assert_totals(series[0].totals, 2, 1_000_000, 1_000_000, 0.42);
    assert_totals(series[1].totals, 1, 10, 10, 10.0 * 0.42 / 1e6);
    assert_totals(series[2].totals, 1, 1, 1, 0.42 / 1e6);

    let later = TimeRange::new(start() + days(1), start() + days(3)).expect("range");
    let series = s.daily_usage(ada.id, later).expect("daily");
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].day, "2026-01-03");
    assert!(
        s.daily_usage(bob.id, later).expect("bob").is_empty(),
        "bob has no usage then"
    );
}

/// `conversation_usage` sums the records linked to that conversation only.
pub fn usage_per_conversation(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let one = conversation(s, ada.id, "one");
    let two = conversation(s, ada.id, "two");
    let empty = conversation(s, ada.id, "empty");
    let linked = |c: ConversationId, p, q| NewUsage {
        conversation_id: Some(c),
        ..chat(p, q)
    };
    s.record_usage(ada.id, &linked(one.id, 1_000_000, 0))
        .expect("1");
    s.record_usage(ada.id, &linked(one.id, 0, 1_000_000))
        .expect("2");
    s.record_usage(ada.id, &linked(two.id, 7, 0)).expect("3");
    s.record_usage(ada.id, &chat(100, 100)).expect("unlinked");
    assert_totals(
        s.conversation_usage(ada.id, one.id).expect("one"),
        2,
        1_000_000,
        1_000_000,
        0.42,
    );
    assert_totals(
        s.conversation_usage(ada.id, two.id).expect("two"),
        1,
        7,
        0,
        7.0 * 0.14 / 1e6,
    );
    assert_eq!(
        s.conversation_usage(ada.id, empty.id).expect("empty"),
        UsageTotals::default()
    );
    assert_err!(
        s.conversation_usage(ada.id, ConversationId::new()),
        Error::NotFound { .. }
    );
}

/// Bad names, mismatched links and unknown users or links are rejected, recording nothing.
pub fn usage_rejects_bad_records(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let one = conversation(s, ada.id, "one");
    let two = conversation(s, ada.id, "two");
    let in_two = say(s, ada.id, two.id, "in two");
    s.record_usage(ada.id, &chat(1, 1)).expect("baseline");
    let before = totals(s, ada.id);

    assert_err!(
        s.record_usage(ada.id, &NewUsage::new(" ", "m", OperationType::Chat, 1, 1)),
        Error::Validation {
            field: "provider",
            ..
        }
    );
    assert_err!(
        s.record_usage(
            ada.id,
            &NewUsage::new("custom", "", OperationType::Chat, 1, 1)
        ),
        Error::Validation { field: "model", .. }
    );
    assert_err!(
        s.record_usage(
            ada.id,
            &NewUsage {
                conversation_id: Some(one.id),
                message_id: Some(in_two.id),
                ..chat(1, 1)
            }
        ),
        Error::Validation {
            field: "message_id",
            ..
        }
    );
    for bad in [
        NewUsage {
            conversation_id: Some(ConversationId::new()),
            ..chat(1, 1)
        },
        NewUsage {
            message_id: Some(MessageId::new()),
            ..chat(1, 1)
        },
        NewUsage {
            agent_log_id: Some(crate::AgentLogId::new()),
            ..chat(1, 1)
        },
    ] {
        assert_err!(s.record_usage(ada.id, &bad), Error::NotFound { .. });
    }
    assert_eq!(totals(s, ada.id), before, "nothing was recorded");
    assert_eq!(
        s.conversation_usage(ada.id, one.id).expect("one"),
        UsageTotals::default()
    );
    let nobody = UserId::new();
    assert_err!(s.record_usage(nobody, &chat(1, 1)), Error::NotFound { .. });
    assert_err!(
        s.usage_totals(nobody, TimeRange::ALL),
        Error::NotFound { .. }
    );
    assert_err!(
        s.daily_usage(nobody, TimeRange::ALL),
        Error::NotFound { .. }
    );
    assert_err!(
        s.usage_by_provider(nobody, TimeRange::ALL),
        Error::NotFound { .. }
    );
    let system = s.system_usage(TimeRange::ALL).expect("system");
    assert_eq!(system.iter().map(|b| b.totals.requests).sum::<u64>(), 1);
}

/// Usage outlives the purge of its conversation, message and agent run: totals are unchanged.
pub fn usage_survives_conversation_purge(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let c = conversation(s, ada.id, "c");
    say(s, ada.id, c.id, "question");
    let a = answer(s, ada.id, c.id, "answer");
    let log = s
        .record_agent_log(ada.id, a.id, &NewAgentLog::new("ResearchAgent"))
        .expect("agent log");
    let linked = s
        .record_usage(
            ada.id,
            &NewUsage {
                conversation_id: Some(c.id),
                message_id: Some(a.id),
                agent_log_id: Some(log.id),
                ..chat(1_000_000, 1_000_000)
            },
        )
        .expect("linked usage");
    assert_eq!(linked.agent_log_id, Some(log.id));
    let other = conversation(s, ada.id, "other");
    s.record_usage(
        ada.id,
        &NewUsage {
            conversation_id: Some(other.id),
            ..chat(1, 0)
        },
    )
    .expect("other");
    let before = totals(s, ada.id);

    s.delete_conversation(ada.id, c.id).expect("delete");
    f.clock.advance(days(1));
    let purged = s.purge_deleted_conversations(f.clock.now()).expect("purge");
    assert_eq!(purged.deleted, 1);
    assert_eq!(totals(s, ada.id), before, "billing records are kept");
    assert_err!(s.conversation_usage(ada.id, c.id), Error::NotFound { .. });
    assert_totals(
        s.conversation_usage(ada.id, other.id).expect("other"),
        1,
        1,
        0,
        0.14 / 1e6,
    );
    let system = s.system_usage(TimeRange::ALL).expect("system");
    assert_eq!(system.iter().map(|b| b.totals.requests).sum::<u64>(), 2);
    s.check_integrity().expect("no dangling links");
}

/// Token counts beyond what one call can use are refused and record nothing; the
/// largest accepted counts add up exactly, for the user and in the system totals.
/// (Two records of `i64::MAX` tokens once broke every aggregate, for every user.)
pub fn usage_token_counts_are_bounded_and_sums_exact(backend: &dyn Backend) {
    use crate::usage::MAX_TOKENS_PER_CALL as MAX;
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    s.record_usage(bob.id, &chat(10, 20)).expect("bob's call");
    for (field, usage) in [
        ("prompt_tokens", chat(MAX + 1, 0)),
        ("completion_tokens", chat(0, MAX + 1)),
        (
            "embedding_tokens",
            NewUsage {
                embedding_tokens: MAX + 1,
                ..chat(0, 0)
            },
        ),
        ("prompt_tokens", chat(i64::MAX as u64, 0)),
        ("prompt_tokens", chat(u64::MAX, u64::MAX)),
    ] {
        assert_err!(
            s.record_usage(ada.id, &usage),
            Error::Validation { field: f, .. } if f == field
        );
    }
    assert_eq!(
        totals(s, ada.id),
        UsageTotals::default(),
        "nothing recorded"
    );
    let most = NewUsage {
        embedding_tokens: MAX,
        ..chat(MAX, MAX)
    };
    for _ in 0..3 {
        s.record_usage(ada.id, &most).expect("the largest call");
    }
    let sums = totals(s, ada.id);
    assert_eq!(sums.requests, 3);
    assert_eq!(sums.prompt_tokens, 3 * MAX);
    assert_eq!(sums.completion_tokens, 3 * MAX);
    assert_eq!(sums.total_tokens, 6 * MAX);
    assert_eq!(sums.embedding_tokens, 3 * MAX);
    assert!(sums.cost.is_finite() && sums.cost > 0.0);
    let days = s.daily_usage(ada.id, TimeRange::ALL).expect("daily");
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].totals, sums);
    let by_provider = s
        .usage_by_provider(ada.id, TimeRange::ALL)
        .expect("by provider");
    assert_eq!(by_provider[0].totals, sums);
    let system: u64 = s
        .system_usage(TimeRange::ALL)
        .expect("system")
        .iter()
        .map(|b| b.totals.prompt_tokens)
        .sum();
    assert_eq!(system, 3 * MAX + 10, "bob's and ada's calls");
}

/// A user's records come back whole, oldest first, within the half-open range, and
/// never another user's; an unknown user is not-found.
pub fn usage_records_list_a_users_calls_in_order(backend: &dyn Backend) {
    let f = fixture(backend);
    let s = &*f.store;
    let ada = user(s, "ada");
    let bob = user(s, "bob");
    let talk = conversation(s, ada.id, "costs");
    let first = s.record_usage(ada.id, &chat(10, 5)).expect("record");
    f.clock.advance(days(1));
    let mut linked = chat(100, 50);
    linked.conversation_id = Some(talk.id);
    let second = s.record_usage(ada.id, &linked).expect("record");
    s.record_usage(bob.id, &chat(1, 1)).expect("bob's");
    f.clock.advance(days(1));
    let third = s.record_usage(ada.id, &chat(7, 7)).expect("record");
    assert_eq!(
        s.usage_records(ada.id, TimeRange::ALL).expect("records"),
        vec![first.clone(), second.clone(), third]
    );
    let range = TimeRange::new(start(), start() + days(2)).expect("range");
    assert_eq!(
        s.usage_records(ada.id, range).expect("records"),
        vec![first, second]
    );
    assert_err!(
        s.usage_records(UserId::new(), TimeRange::ALL),
        Error::NotFound { .. }
    );
}
