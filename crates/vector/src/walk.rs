//! What every walk over the graph shares: candidates ordered by distance, and
//! per-thread visited marks that are reset without clearing memory.

use std::cell::RefCell;
use std::cmp::Ordering;

/// A candidate during search: a distance (smaller is closer) and a slot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Near(pub(crate) f32, pub(crate) u32);

impl Eq for Near {}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Per-thread walk scratch: a visited tag per slot, reset by bumping the generation.
#[derive(Default)]
pub(crate) struct Scratch {
    tags: Vec<u32>,
    generation: u32,
}

impl Scratch {
    /// Starts a walk over `n` slots: nothing is visited yet.
    pub(crate) fn begin(&mut self, n: usize) {
        if self.tags.len() < n {
            self.tags.resize(n, 0);
        }
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.tags.iter_mut().for_each(|t| *t = 0);
            self.generation = 1;
        }
    }

    /// Marks `slot` visited; true if it was not yet.
    pub(crate) fn visit(&mut self, slot: u32) -> bool {
        let tag = &mut self.tags[slot as usize];
        let fresh = *tag != self.generation;
        *tag = self.generation;
        fresh
    }
}

thread_local! {
    pub(crate) static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}
