//! Criterion benches of the W1 operations: append, last 20 messages, listing.

use chatstore::{ConversationQuery, ConversationStore, MessageStore};
use chatstore_benches::{BenchStore, w1_message};
use criterion::{Criterion, criterion_group, criterion_main};

fn chat(c: &mut Criterion) {
    let bench = BenchStore::open();
    let (users, conversations) = bench.populate(20, 200);
    for round in 0..50 {
        for &(user, conversation) in &conversations {
            bench
                .store
                .append_message(user, conversation, &w1_message(round, 300))
                .expect("append");
        }
    }
    let (user, conversation) = conversations[0];
    let message = w1_message(1, 300);
    c.bench_function("append_message", |b| {
        b.iter(|| {
            bench
                .store
                .append_message(user, conversation, &message)
                .expect("append")
        })
    });
    c.bench_function("last_messages_20", |b| {
        b.iter(|| {
            bench
                .store
                .last_messages(user, conversation, 20)
                .expect("last 20")
        })
    });
    let query = ConversationQuery::default();
    c.bench_function("list_conversations", |b| {
        b.iter(|| {
            bench
                .store
                .list_conversations(users[1], &query)
                .expect("listing")
        })
    });
}

criterion_group!(benches, chat);
criterion_main!(benches);
