//! Cursors handed back by clients, on a real store: any text passed as the cursor of
//! `list_conversations`, `messages`, `list_users` and `list_documents` gives Ok or
//! `Error::Validation` on the `cursor` field, never another error or a panic; a page
//! it gives is a run of consecutive items of the full listing, at most `limit` long.
#![no_main]

use chatstore::{
    ConversationQuery, ConversationStore, Cursor, DocumentQuery, DocumentStore, Error,
    MessageQuery, MessageStore, Order, UserQuery, UserStore, Visibility,
};
use chatstore_fuzz::{assert_contiguous, assert_validation, chat};
use libfuzzer_sys::fuzz_target;

fn check_field<T>(result: &chatstore::Result<T>) {
    if let Err(Error::Validation { field, .. }) = result {
        assert_eq!(*field, "cursor");
    }
}

fuzz_target!(|data: &[u8]| {
    let chat = chat();
    // The first byte picks the page size and order, the rest is the cursor.
    let (flags, text) = data.split_first().map_or((0, &[][..]), |(f, t)| (*f, t));
    let cursor = Some(Cursor::new(String::from_utf8_lossy(text)));
    let limit = u32::from(flags & 0x3) + 1;
    let order = if flags & 0x4 == 0 {
        Order::Asc
    } else {
        Order::Desc
    };

    let conversations = chat.store.list_conversations(
        chat.user,
        &ConversationQuery {
            visibility: Visibility::All,
            limit,
            cursor: cursor.clone(),
            ..ConversationQuery::default()
        },
    );
    assert_validation(&conversations, "list_conversations");
    check_field(&conversations);
    if let Ok(page) = conversations {
        let ids: Vec<_> = page.items.iter().map(|c| c.id).collect();
        assert_contiguous(&ids, &chat.all_conversations, limit);
    }

    let messages = chat.store.messages(
        chat.user,
        chat.conversation,
        &MessageQuery {
            order,
            limit,
            cursor: cursor.clone(),
        },
    );
    assert_validation(&messages, "messages");
    check_field(&messages);
    if let Ok(page) = messages {
        let ids: Vec<_> = page.items.iter().map(|m| m.id).collect();
        assert_contiguous(&ids, &chat.messages_in(order), limit);
    }

    let users = chat.store.list_users(&UserQuery {
        active: None,
        limit,
        cursor: cursor.clone(),
    });
    assert_validation(&users, "list_users");
    check_field(&users);
    if let Ok(page) = users {
        let ids: Vec<_> = page.items.iter().map(|u| u.id).collect();
        assert_contiguous(&ids, &chat.all_users, limit);
    }

    let documents = chat.store.list_documents(
        chat.user,
        &DocumentQuery {
            limit,
            cursor,
            ..DocumentQuery::default()
        },
    );
    assert_validation(&documents, "list_documents");
    check_field(&documents);
    if let Ok(page) = documents {
        let ids: Vec<_> = page.items.iter().map(|d| d.id).collect();
        assert_contiguous(&ids, &chat.all_documents, limit);
    }
});
