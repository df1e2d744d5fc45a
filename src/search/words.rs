//! Chinese words for the index's `words` field: jieba's segmenter (search
//! mode, with its HMM for words it does not know) over a dictionary of our
//! own, `words.txt`.
//!
//! The dictionary is jieba's (MIT licence, as shipped in jieba-rs 0.11,
//! `src/data/dict.txt`), keeping the 127,630 words it counts at least 6
//! times (`awk '$2 >= 6 {print $1, $2}'`) and dropping the part-of-speech
//! tags. Why not the crate's own copy: it holds all 349,045 words, and
//! keeps its decompressed text for the life of the process beside them,
//! 32.9 MB in all, the largest single thing the daemon held while it built
//! its index. This one is 7.8 MB. On the text of 34 government pages and
//! the test fixtures, search mode with it finds 94.5 % of the words of two
//! or more characters the full dictionary finds, and 99.3 % of what it
//! finds are among them (`bench/words_eval.sh`); the words field only
//! lifts the score of a hit (the character pairs find it), so that is what
//! a missing word costs.
//!
//! The segmenter is loaded once, on the first text it cuts, and shared by
//! every clone of the tokenizer (tantivy clones it for each segment it
//! writes and each query).

use std::sync::OnceLock;

use jieba_rs::{Jieba, TokenizeMode};
use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// `word frequency` lines, one per word.
const DICTIONARY: &str = include_str!("words.txt");

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(|| {
        // The dictionary is part of the binary, and the unit tests load it.
        Jieba::with_dict(&mut DICTIONARY.as_bytes()).expect("the embedded dictionary parses")
    })
}

/// jieba's search mode as a tantivy tokenizer. A token's position is the
/// character it starts at, so the words inside a longer word stand where
/// they are in the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct WordsTokenizer;

impl Tokenizer for WordsTokenizer {
    type TokenStream<'a> = Words<'a>;

    fn token_stream<'a>(&mut self, text: &'a str) -> Words<'a> {
        Words {
            text,
            words: jieba().tokenize(text, TokenizeMode::Search, true),
            next: 0,
            token: Token::default(),
        }
    }
}

pub struct Words<'a> {
    text: &'a str,
    words: Vec<jieba_rs::Token<'a>>,
    next: usize,
    token: Token,
}

impl TokenStream for Words<'_> {
    fn advance(&mut self) -> bool {
        let Some(word) = self.words.get(self.next) else {
            return false;
        };
        self.next += 1;
        // jieba's words are slices of the text it was given.
        let from = word.word.as_ptr() as usize - self.text.as_ptr() as usize;
        self.token.offset_from = from;
        self.token.offset_to = from + word.word.len();
        self.token.position = word.start;
        self.token.position_length = word.end - word.start;
        self.token.text.clear();
        self.token.text.push_str(word.word);
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<(String, usize, usize, usize)> {
        let mut tokenizer = WordsTokenizer;
        let mut stream = tokenizer.token_stream(text);
        let mut out = Vec::new();
        while let Some(t) = stream.next() {
            out.push((t.text.clone(), t.offset_from, t.offset_to, t.position));
        }
        out
    }

    #[test]
    fn every_line_of_the_dictionary_is_a_word_and_a_count() {
        let mut lines = 0;
        for (n, line) in DICTIONARY.lines().enumerate() {
            let mut parts = line.split(' ');
            let (word, count) = (parts.next().unwrap(), parts.next());
            assert!(!word.is_empty(), "line {}", n + 1);
            let count: usize = count.and_then(|c| c.parse().ok()).unwrap();
            assert!(count >= 6 && parts.next().is_none(), "line {}", n + 1);
            lines += 1;
        }
        assert_eq!(lines, 127_630);
    }

    #[test]
    fn search_mode_yields_the_words_inside_a_longer_word() {
        let text = "防范自然灾害三年行动";
        let got = words(text);
        let texts: Vec<&str> = got.iter().map(|w| w.0.as_str()).collect();
        for w in ["自然", "灾害", "自然灾害", "三年", "行动"] {
            assert!(texts.contains(&w), "{w} not in {texts:?}");
        }
        // Offsets are bytes into the text, positions characters.
        for (word, from, to, position) in &got {
            assert_eq!(&text[*from..*to], word);
            assert_eq!(text[..*from].chars().count(), *position);
        }
    }
}
