//! What one index entry is, and how its text is cut into terms.
//!
//! An entry is one part of one stored version: its title (`_title`), its
//! preamble (`_preamble`) or one section (its path). Each carries the
//! source, province, region, year, version, fetch time, origin and whether
//! it is the source's latest version. Its text is indexed twice, both
//! times in [`fold`](super::fold)ed form:
//! * `words`: Chinese words, cut by jieba ([`words`](super::words); search
//!   mode, so a long word also yields the shorter words inside it);
//! * `grams`: every character and every pair of adjacent characters, so
//!   that what the dictionary does not know — place names, document
//!   numbers such as 应急〔2025〕12号 — is still found.

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST,
    INDEXED, STORED, STRING,
};
use tantivy::tokenizer::{NgramTokenizer, TextAnalyzer};
use tantivy::Index;

/// Bumped when entries change shape: an index of another format is rebuilt.
pub const FORMAT: &str = "bulletin-watch-search-2";

pub const WORDS: &str = "jieba";
pub const GRAMS: &str = "grams12";

/// Entry kinds, as stored in `kind`.
pub const KIND_TITLE: &str = "title";
pub const KIND_PREAMBLE: &str = "preamble";
pub const KIND_SECTION: &str = "section";

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub source: Field,
    /// `source` and version, joined by [`sv`]: one version's entries.
    pub sv: Field,
    pub province: Field,
    pub region: Field,
    pub origin: Field,
    pub kind: Field,
    pub path: Field,
    pub title: Field,
    pub url: Field,
    pub fetched_at: Field,
    pub version: Field,
    pub year: Field,
    pub latest: Field,
    /// The entry's text as shown (not indexed).
    pub text: Field,
    pub words: Field,
    pub grams: Field,
}

/// The term that names every entry of one version.
pub fn sv(source: &str, version: u32) -> String {
    format!("{source}\u{1f}{version}")
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let num = NumericOptions::default() | INDEXED | STORED | FAST;
    let words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(WORDS)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let grams = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(GRAMS)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fields = Fields {
        source: b.add_text_field("source", STRING | STORED),
        sv: b.add_text_field("sv", STRING),
        province: b.add_text_field("province", STRING | STORED),
        region: b.add_text_field("region", STRING | STORED),
        origin: b.add_text_field("origin", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED),
        path: b.add_text_field("path", STRING | STORED),
        title: b.add_text_field("title", STORED),
        url: b.add_text_field("url", STORED),
        fetched_at: b.add_text_field("fetched_at", STORED),
        version: b.add_u64_field("version", num.clone()),
        year: b.add_u64_field("year", num.clone()),
        latest: b.add_u64_field("latest", num),
        text: b.add_text_field("text", STORED),
        words: b.add_text_field("words", words),
        grams: b.add_text_field("grams", grams),
    };
    (b.build(), fields)
}

/// Registers the two analysers on `index`.
pub fn register_tokenizers(index: &Index) -> tantivy::Result<()> {
    index
        .tokenizers()
        .register(WORDS, TextAnalyzer::from(super::words::WordsTokenizer));
    index
        .tokenizers()
        .register(GRAMS, TextAnalyzer::from(NgramTokenizer::new(1, 2, false)?));
    Ok(())
}

/// The terms of the `grams` field a folded term must all have: its pairs
/// of characters (its one character, if it has one).
pub fn grams_of(term: &str) -> Vec<String> {
    let chars: Vec<char> = term.chars().collect();
    if chars.len() == 1 {
        return vec![term.to_string()];
    }
    let mut out: Vec<String> = chars.windows(2).map(|w| w.iter().collect()).collect();
    out.sort();
    out.dedup();
    out
}

/// The jieba words of a folded term (search mode, as indexed).
pub fn words_of(index: &Index, term: &str) -> Vec<String> {
    let Some(mut analyzer) = index.tokenizers().get(WORDS) else {
        return Vec::new();
    };
    let mut stream = analyzer.token_stream(term);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        if !t.text.trim().is_empty() {
            out.push(t.text.clone());
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_cover_every_pair() {
        assert_eq!(grams_of("安"), ["安"]);
        assert_eq!(grams_of("安全"), ["安全"]);
        assert_eq!(grams_of("治本攻坚"), ["攻坚", "本攻", "治本"]);
    }
}
