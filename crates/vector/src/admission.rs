//! Which vectors a search may return, resolved from the document metadata before any
//! vector is scored: by owner when the filter names no documents (the common case,
//! answered from per-owner counts without touching each document), else by the
//! selected documents.

use chatstore::{DocumentScope, UserId, VectorFilter};

use crate::state::State;

/// How the admitted vectors are recognised.
enum Rule {
    /// Every live vector.
    All,
    /// Vectors of documents with one of these owners (`None`: global).
    Owners(Vec<Option<UserId>>),
    /// Vectors of these documents, as a flag per document slot, and the slots.
    Documents(Vec<bool>, Vec<u32>),
}

/// A filter resolved against one collection's state.
pub(crate) struct Admission {
    rule: Rule,
    /// How many live vectors pass.
    pub(crate) count: usize,
}

impl Admission {
    pub(crate) fn resolve(state: &State, filter: &VectorFilter) -> Admission {
        let owners: Vec<Option<UserId>> = match filter.scope {
            None => vec![Some(filter.user), None],
            Some(DocumentScope::User) => vec![Some(filter.user)],
            Some(DocumentScope::Global) => vec![None],
        };
        match &filter.documents {
            None => {
                let count = owners
                    .iter()
                    .map(|o| state.owner_counts.get(o).copied().unwrap_or(0))
                    .sum();
                let rule = if count == state.live_count() {
                    Rule::All
                } else {
                    Rule::Owners(owners)
                };
                Admission { rule, count }
            }
            Some(selected) => {
                let mut flags = vec![false; state.documents.len()];
                let mut slots = Vec::new();
                let mut count = 0;
                for id in selected {
                    let Some(&doc) = state.doc_index.get(id) else {
                        continue;
                    };
                    if !flags[doc as usize] && owners.contains(&state.documents[doc as usize].owner)
                    {
                        flags[doc as usize] = true;
                        slots.push(doc);
                        count += state.member_count(doc);
                    }
                }
                Admission {
                    rule: Rule::Documents(flags, slots),
                    count,
                }
            }
        }
    }

    /// True when the vectors of document slot `doc` pass.
    pub(crate) fn admits(&self, state: &State, doc: u32) -> bool {
        match &self.rule {
            Rule::All => true,
            Rule::Owners(owners) => owners.contains(&state.documents[doc as usize].owner),
            Rule::Documents(flags, _) => flags[doc as usize],
        }
    }

    /// The document slots whose vectors pass.
    pub(crate) fn documents(&self, state: &State) -> Vec<u32> {
        match &self.rule {
            Rule::All => (0..state.documents.len() as u32).collect(),
            Rule::Owners(owners) => owners
                .iter()
                .flat_map(|o| state.by_owner.get(o).into_iter().flatten().copied())
                .collect(),
            Rule::Documents(_, slots) => slots.clone(),
        }
    }
}
