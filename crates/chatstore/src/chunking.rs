//! Splitting a document's text into overlapping chunks for retrieval (seed 002: 1000
//! characters with 200 of overlap, breaking where the text breaks).
//!
//! Each chunk ends at the strongest boundary in the second half of its window: a
//! paragraph break, else a line break, else the end of a sentence, else a space, and
//! only when there is none of these inside a character. The next chunk starts about
//! `overlap` characters before, at the start of a sentence or word. Lengths count
//! Unicode scalar values (`char`s), so a chunk never splits one.
//!
//! ```
//! use chatstore::chunking::{ChunkingOptions, TextPart, chunk_text};
//!
//! let part = TextPart::page("Sentence one. Sentence two. Sentence three.", 3);
//! let options = ChunkingOptions { size: 30, overlap: 14 };
//! let chunks = chunk_text(&[part], &options)?;
//! assert_eq!(chunks[0].content, "Sentence one. Sentence two.");
//! assert_eq!(chunks[1].content, "Sentence two. Sentence three.");
//! assert_eq!(chunks[1].page_number, Some(3));
//! # Ok::<(), chatstore::Error>(())
//! ```

use crate::{Error, NewChunk, Result};

/// Chunk size and overlap, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkingOptions {
    /// Longest chunk, in characters (at least 2).
    pub size: usize,
    /// Characters repeated from the end of one chunk at the start of the next (less
    /// than half of `size`).
    pub overlap: usize,
}

impl Default for ChunkingOptions {
    /// 1000 characters with 200 of overlap.
    fn default() -> Self {
        ChunkingOptions {
            size: 1000,
            overlap: 200,
        }
    }
}

/// A run of a document's text with where it came from: a page of a PDF, a section of
/// a web page, or the whole text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextPart {
    /// The text.
    pub text: String,
    /// The page it is on.
    pub page_number: Option<u32>,
    /// The section it belongs to. When `None`, Markdown headings (`# Title`) in the
    /// text name the sections of the chunks after them.
    pub section: Option<String>,
}

impl TextPart {
    /// A whole text, with no page.
    pub fn text(text: impl Into<String>) -> TextPart {
        TextPart {
            text: text.into(),
            ..TextPart::default()
        }
    }

    /// One page's text.
    pub fn page(text: impl Into<String>, page_number: u32) -> TextPart {
        TextPart {
            text: text.into(),
            page_number: Some(page_number),
            section: None,
        }
    }
}

/// Splits the parts into chunks, numbered from 0 across all parts; a chunk never spans
/// two parts. Blank stretches make no chunk.
pub fn chunk_text(parts: &[TextPart], options: &ChunkingOptions) -> Result<Vec<NewChunk>> {
    if options.size < 2 || options.overlap * 2 >= options.size {
        return Err(Error::validation(
            "chunking",
            format!(
                "size {} and overlap {}: size must be at least 2 and overlap under half of it",
                options.size, options.overlap
            ),
        ));
    }
    let mut chunks = Vec::new();
    for part in parts {
        let text = Text::new(&part.text);
        for (start, end) in text.windows(options) {
            let content = text.slice(start, end).trim();
            if content.is_empty() {
                continue;
            }
            chunks.push(NewChunk {
                chunk_index: chunks.len() as u32,
                content: content.to_owned(),
                num_tokens: None,
                page_number: part.page_number,
                section: part.section.clone().or_else(|| text.heading_before(start)),
            });
        }
    }
    Ok(chunks)
}

/// A text with its character boundaries, addressed by character index.
struct Text<'a> {
    text: &'a str,
    /// Byte offset of each character, and the text's length last.
    bounds: Vec<usize>,
}

/// Where a chunk may end, strongest first; the break falls after the match.
const BREAKS: [fn(&str) -> Option<usize>; 4] = [
    |s| s.rfind("\n\n").map(|at| at + 2),
    |s| s.rfind('\n').map(|at| at + 1),
    last_sentence_end,
    |s| s.rfind(char::is_whitespace).map(|at| at + 1),
];

/// The byte offsets just after each sentence end in `s`: `.`, `!` or `?` followed by
/// whitespace, or a CJK full stop, exclamation or question mark.
fn sentence_ends(s: &str) -> impl Iterator<Item = usize> + '_ {
    let mut chars = s.char_indices().peekable();
    std::iter::from_fn(move || {
        while let Some((at, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            let ends = match c {
                '.' | '!' | '?' => next.is_some_and(char::is_whitespace),
                '。' | '！' | '？' => true,
                _ => false,
            };
            if ends {
                return Some(at + c.len_utf8());
            }
        }
        None
    })
}

fn last_sentence_end(s: &str) -> Option<usize> {
    sentence_ends(s).last()
}

impl<'a> Text<'a> {
    fn new(text: &'a str) -> Text<'a> {
        let mut bounds: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
        bounds.push(text.len());
        Text { text, bounds }
    }

    fn len(&self) -> usize {
        self.bounds.len() - 1
    }

    fn slice(&self, start: usize, end: usize) -> &'a str {
        &self.text[self.bounds[start]..self.bounds[end]]
    }

    /// The character index of a byte offset that falls on a boundary.
    fn char_at(&self, byte: usize) -> usize {
        self.bounds.partition_point(|&b| b < byte)
    }

    /// The chunk windows as (start, end) character indices.
    fn windows(&self, options: &ChunkingOptions) -> Vec<(usize, usize)> {
        let mut windows = Vec::new();
        let mut start = self.skip_space(0);
        while start < self.len() {
            let end = self.end_of_chunk(start, options.size);
            windows.push((start, end));
            if end == self.len() {
                break;
            }
            start = self.next_start(start, end, options.overlap);
        }
        windows
    }

    /// Where a chunk starting at `start` ends: at most `size` characters on, at the
    /// strongest break in the second half of that window.
    fn end_of_chunk(&self, start: usize, size: usize) -> usize {
        let limit = (start + size).min(self.len());
        if limit == self.len() {
            return limit;
        }
        let floor = start + size / 2;
        let window = self.slice(floor, limit);
        BREAKS
            .iter()
            .find_map(|find| find(window).filter(|&at| at > 0))
            .map_or(limit, |at| self.char_at(self.bounds[floor] + at))
    }

    /// Where the chunk after `[start, end)` starts: `overlap` characters before `end`,
    /// moved forward to the start of a sentence or a word when one is near, and always
    /// past `start`.
    fn next_start(&self, start: usize, end: usize, overlap: usize) -> usize {
        let from = end.saturating_sub(overlap).max(start + 1);
        if overlap == 0 || from >= end {
            return self.skip_space(end);
        }
        let window = self.slice(from, end);
        let sentence = sentence_ends(window).next();
        let word = window.find(char::is_whitespace);
        let at = sentence.or(word).unwrap_or(0);
        self.skip_space(self.char_at(self.bounds[from] + at))
    }

    fn skip_space(&self, mut at: usize) -> usize {
        while at < self.len() && self.slice(at, at + 1).chars().all(char::is_whitespace) {
            at += 1;
        }
        at
    }

    /// The title of the last Markdown heading on or before the line holding `at`.
    fn heading_before(&self, at: usize) -> Option<String> {
        let from = self.bounds[at];
        let line_end = self.text[from..]
            .find('\n')
            .map_or(self.text.len(), |i| from + i);
        let before = &self.text[..line_end];
        before.lines().rev().find_map(|line| {
            let title = line.strip_prefix('#')?.trim_start_matches('#');
            let hashes = line.len() - title.len();
            let title = title.strip_prefix(' ')?.trim();
            (hashes <= 6 && !title.is_empty()).then(|| title.to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &str, size: usize, overlap: usize) -> Vec<String> {
        let options = ChunkingOptions { size, overlap };
        chunk_text(&[TextPart::text(text)], &options)
            .unwrap()
            .into_iter()
            .map(|c| c.content)
            .collect()
    }

    #[test]
    fn short_text_is_one_chunk_and_blank_text_none() {
        assert_eq!(chunks("  Hello there.  ", 1000, 200), ["Hello there."]);
        assert!(chunks(" \n\t ", 1000, 200).is_empty());
        assert!(chunks("", 1000, 200).is_empty());
    }

    #[test]
    fn chunks_prefer_paragraphs_then_sentences_then_words() {
        let text = "First paragraph is here.\n\nSecond one, a bit longer than that.";
        assert_eq!(chunks(text, 40, 0)[0], "First paragraph is here.");
        let text = "A sentence of some length. Then more words follow on";
        assert_eq!(chunks(text, 40, 0)[0], "A sentence of some length.");
        let text = "words without any sentence end keep going on";
        assert_eq!(
            chunks(text, 20, 0),
            ["words without any", "sentence end keep", "going on"]
        );
        assert_eq!(chunks("abcdefghij", 4, 1), ["abcd", "defg", "ghij"]);
    }

    #[test]
    fn consecutive_chunks_overlap() {
        let sentence = "The quick brown fox jumps over the lazy dog. ";
        let text = sentence.repeat(60);
        let got = chunks(&text, 1000, 200);
        assert!(got.len() > 2);
        for pair in got.windows(2) {
            assert!(pair[0].chars().count() <= 1000);
            // The next chunk starts with text the previous one ended with.
            let head: String = pair[1].chars().take(40).collect();
            assert!(pair[0].contains(&head), "{head:?} not carried over");
            assert!(
                pair[1].starts_with("The quick"),
                "starts mid-sentence: {}",
                &pair[1][..20]
            );
        }
    }

    #[test]
    fn multibyte_text_is_never_split_inside_a_character() {
        let text = "日本語のテキスト。".repeat(300) + &"ü🦀é".repeat(500);
        let got = chunks(&text, 100, 20);
        assert!(got.iter().all(|c| c.chars().count() <= 100));
        let joined: String = got.concat();
        assert!(joined.contains("🦀"));
        assert!(
            chunks("🦀🦀🦀🦀🦀", 2, 0)
                .iter()
                .all(|c| c == "🦀🦀" || c == "🦀")
        );
    }

    #[test]
    fn pages_and_sections_are_carried() {
        let parts = [
            TextPart::page("Page one text.", 1),
            TextPart::page(
                "# Intro\nOpening words.\n\n## Details\nThe details follow here.",
                2,
            ),
            TextPart {
                section: Some("Appendix".to_owned()),
                ..TextPart::page("# Ignored\nAppendix text.", 3)
            },
        ];
        let got = chunk_text(
            &parts,
            &ChunkingOptions {
                size: 40,
                overlap: 5,
            },
        )
        .unwrap();
        let summary: Vec<(u32, Option<u32>, Option<&str>)> = got
            .iter()
            .map(|c| (c.chunk_index, c.page_number, c.section.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (0, Some(1), None),
                (1, Some(2), Some("Intro")),
                (2, Some(2), Some("Details")),
                (3, Some(3), Some("Appendix")),
            ]
        );
    }

    #[test]
    fn bad_options_are_rejected() {
        for (size, overlap) in [(0, 0), (1, 0), (100, 50), (100, 80)] {
            let options = ChunkingOptions { size, overlap };
            assert!(matches!(
                chunk_text(&[TextPart::text("x")], &options),
                Err(Error::Validation { .. })
            ));
        }
    }
}
