//! Waking up when another server changed embeddings: `LISTEN` on the channel the schema's
//! trigger notifies (migration 9), on a connection of the listener's own.

use std::time::{Duration, Instant};

use chatstore::{Error, Result};
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use crate::errors::PgResultExt;

/// The channel the embeddings trigger notifies, with the schema as payload.
const CHANNEL: &str = "chatstore_embeddings";

/// A connection listening for changes of the embeddings of one schema (made by
/// [`crate::PgStore::listen_for_embedding_changes`]). A server's loop:
///
/// ```no_run
/// # fn serve(chat: &chatstore::ChatStore<chatstore_postgres::PgStore>) -> chatstore::Result<()> {
/// let mut listener = chat.store().listen_for_embedding_changes()?;
/// loop {
///     // Wakes at once when another server ingests or deletes, and every 5 s anyway.
///     listener.wait(std::time::Duration::from_secs(5))?;
///     chat.catch_up()?;
/// }
/// # }
/// ```
pub struct EmbeddingListener {
    config: postgres::Config,
    schema: String,
    client: Client,
}

impl std::fmt::Debug for EmbeddingListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingListener")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl EmbeddingListener {
    /// Connects and starts listening.
    pub(crate) fn start(config: postgres::Config, schema: &str) -> Result<EmbeddingListener> {
        let client = listening(&config)?;
        Ok(EmbeddingListener {
            config,
            schema: schema.to_owned(),
            client,
        })
    }

    /// Waits until another transaction that changed this schema's embeddings commits,
    /// or `timeout` passes; returns whether a change was announced. A lost connection
    /// is opened again, and counts as a change (what happened meanwhile was not heard):
    /// the caller catches up either way. Notifications that queued up are taken
    /// together.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let next = self.client.notifications().timeout_iter(left).next();
            match next {
                Ok(Some(note)) if note.payload() == self.schema => {
                    self.drain()?;
                    return Ok(true);
                }
                // Another schema's change, on the same server.
                Ok(Some(_)) if !left.is_zero() => {}
                Ok(_) => return Ok(false),
                Err(_) => {
                    self.client = listening(&self.config)?;
                    return Ok(true);
                }
            }
        }
    }

    /// Takes the notifications already delivered, without waiting.
    fn drain(&mut self) -> Result<()> {
        let mut pending = self.client.notifications();
        let mut iter = pending.iter();
        while iter.next().db()?.is_some() {}
        Ok(())
    }
}

/// A connection that listens on [`CHANNEL`].
fn listening(config: &postgres::Config) -> Result<Client> {
    let mut client = config.connect(NoTls).map_err(|e| Error::Unavailable {
        detail: format!("cannot open the listening connection: {e}"),
    })?;
    client.batch_execute(&format!("LISTEN {CHANNEL}")).db()?;
    Ok(client)
}
