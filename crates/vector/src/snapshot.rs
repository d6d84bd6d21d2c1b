//! Snapshots: a collection's state in one file, verified before it is read.
//!
//! Layout (little-endian): the magic `CSVX`, a format version, a JSON header (the
//! collection's spec and the store version it is synced with), the graph, the
//! documents, the graph's chunk list with live flags, the vectors added since the
//! build, and last a blake3 hash of everything before it. The file is written under a
//! temporary name, flushed to disk and renamed into place, so a crash leaves either
//! the old snapshot or the new one; a damaged file fails its hash check and is never
//! parsed (the index is then rebuilt from the store).

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chatstore::{ChunkId, CollectionSpec, DocumentId, Error, Result, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::graph::{Graph, Reader};
use crate::state::{DocInfo, Meta, State};

const MAGIC: &[u8; 4] = b"CSVX";
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Header {
    spec: CollectionSpec,
    synced_version: u64,
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Writes the collection's state to `path`, atomically.
pub(crate) fn save(path: &Path, spec: &CollectionSpec, state: &State) -> Result<()> {
    let mut out = Vec::with_capacity(state.graph.vectors.len() * 4 + 1024);
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, FORMAT);
    let header = serde_json::to_vec(&Header {
        spec: spec.clone(),
        synced_version: state.synced_version,
    })
    .map_err(|e| Error::Backend {
        detail: format!("cannot encode a snapshot header: {e}"),
    })?;
    put_u32(&mut out, header.len() as u32);
    out.extend_from_slice(&header);
    state.graph.encode(&mut out);
    put_u32(&mut out, state.documents.len() as u32);
    for doc in &state.documents {
        out.extend_from_slice(doc.id.as_uuid().as_bytes());
        match doc.owner {
            Some(owner) => {
                out.push(1);
                out.extend_from_slice(owner.as_uuid().as_bytes());
            }
            None => out.extend_from_slice(&[0; 17]),
        }
    }
    for (meta, live) in state.graph_items.iter().zip(&state.live) {
        out.extend_from_slice(meta.chunk.as_uuid().as_bytes());
        put_u32(&mut out, meta.doc);
        out.push(u8::from(*live));
    }
    put_u32(&mut out, state.delta.len() as u32);
    for (meta, vector) in &state.delta {
        out.extend_from_slice(meta.chunk.as_uuid().as_bytes());
        put_u32(&mut out, meta.doc);
        vector
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
    }
    let hash = blake3::hash(&out);
    out.extend_from_slice(hash.as_bytes());

    // A temporary name of this writer's own: several processes (or indexes) sharing
    // the directory never write into one another's file; the last rename wins, and
    // every snapshot renamed into place is whole.
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let partial = path.with_extension(format!(
        "{}-{}.partial",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let written = File::create(&partial)
        .and_then(|mut file| {
            file.write_all(&out)?;
            file.sync_all()
        })
        .map_err(Error::io(&partial))
        .and_then(|()| std::fs::rename(&partial, path).map_err(Error::io(path)));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Reads the snapshot at `path` for `spec`. A missing file is `Ok(None)`; a damaged one,
/// or one made for another spec or format, is an error (and nothing of it is used).
pub(crate) fn load(path: &Path, spec: &CollectionSpec) -> Result<Option<State>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path)(e)),
    };
    let corrupt = |why: &str| Error::Corrupt {
        detail: format!("vector snapshot {}: {why}", path.display()),
    };
    if bytes.len() < 4 + 4 + 32 || &bytes[..4] != MAGIC {
        return Err(corrupt("not a snapshot"));
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 32);
    if blake3::hash(body).as_bytes() != trailer {
        return Err(corrupt("its checksum does not match its contents"));
    }
    let what = format!("vector snapshot {}", path.display());
    let mut input = Reader::new(&body[4..], &what);
    if input.u32()? != FORMAT {
        return Err(corrupt("written in another format"));
    }
    let header_len = input.u32()? as usize;
    let header: Header = serde_json::from_slice(input.bytes(header_len)?)
        .map_err(|_| corrupt("its header does not parse"))?;
    if &header.spec != spec {
        return Err(corrupt("made for a collection with another spec"));
    }
    let graph = Graph::decode(&mut input, spec.distance, spec.dimension as usize)?;
    let uuid = |input: &mut Reader<'_>| -> Result<Uuid> {
        let raw = input.bytes(16)?;
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(raw);
        Ok(Uuid::from_bytes(bytes))
    };
    let documents_len = input.u32()? as usize;
    let mut documents = Vec::with_capacity(documents_len.min(1 << 20));
    for _ in 0..documents_len {
        let id = DocumentId::from_uuid(uuid(&mut input)?)?;
        let owned = input.bytes(1)?[0] == 1;
        let owner = uuid(&mut input)?;
        documents.push(DocInfo {
            id,
            owner: if owned {
                Some(UserId::from_uuid(owner)?)
            } else {
                None
            },
        });
    }
    // Each document once: a second entry would keep chunks of a removed document
    // searchable.
    let mut ids = HashSet::with_capacity(documents.len());
    if !documents.iter().all(|doc| ids.insert(doc.id)) {
        return Err(corrupt("it lists a document twice"));
    }
    let meta = |input: &mut Reader<'_>, seq: u64| -> Result<Meta> {
        let chunk = ChunkId::from_uuid(uuid(input)?)?;
        let doc = input.u32()?;
        if doc as usize >= documents.len() {
            return Err(input.damaged("a document reference"));
        }
        Ok(Meta { chunk, doc, seq })
    };
    let mut graph_items = Vec::with_capacity(graph.len());
    let mut live = Vec::with_capacity(graph.len());
    for _ in 0..graph.len() {
        graph_items.push(meta(&mut input, 0)?);
        live.push(input.bytes(1)?[0] == 1);
    }
    let delta_len = input.u32()? as usize;
    let mut delta = Vec::with_capacity(delta_len.min(1 << 20));
    for _ in 0..delta_len {
        let meta = meta(&mut input, 0)?;
        delta.push((meta, input.f32s(spec.dimension as usize)?));
    }
    if !input.is_done() {
        return Err(corrupt("it has trailing bytes"));
    }
    // Each chunk live once (replaced vectors stay in the graph, dead): a second live
    // copy would outlive the chunk's deletion and be found by searches with no entry
    // to report it by.
    let mut chunks = HashSet::with_capacity(graph_items.len() + delta.len());
    let mut live_chunks = graph_items
        .iter()
        .zip(&live)
        .filter(|(_, live)| **live)
        .map(|(meta, _)| meta.chunk)
        .chain(delta.iter().map(|(meta, _)| meta.chunk));
    if !live_chunks.all(|chunk| chunks.insert(chunk)) {
        return Err(corrupt("it holds a chunk twice"));
    }
    Ok(Some(State::assemble(
        Arc::new(graph),
        graph_items,
        live,
        delta,
        documents,
        header.synced_version,
    )))
}
