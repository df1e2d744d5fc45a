//! How many of the words jieba's full dictionary finds in a text (search
//! mode, two characters or more) the search index's own dictionary finds
//! too, and how many of its words the full one also finds, for the
//! dictionary as kept and for other frequency cut-offs.
//!
//! Usage: `words-eval TEXT DICT`: TEXT one document per line, DICT
//! jieba's `dict.txt` (`word freq tag` lines).

use std::collections::HashSet;

use jieba_rs::{Jieba, TokenizeMode};

fn spans(jieba: &Jieba, line: &str) -> HashSet<(usize, usize)> {
    jieba
        .tokenize(line, TokenizeMode::Search, true)
        .iter()
        .filter(|t| t.word.chars().count() >= 2)
        .map(|t| (t.start, t.end))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, text, dict] = &args[..] else {
        eprintln!("usage: words-eval TEXT DICT");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(text).expect("read TEXT");
    let dict = std::fs::read_to_string(dict).expect("read DICT");
    let full = Jieba::new();
    let chars: usize = text.lines().map(|l| l.chars().count()).sum();
    println!("{chars} characters of text");
    println!(
        "frequency >=\twords\tfound of the full dictionary's\tof its words, also the full one's"
    );
    for min in [2usize, 3, 5, 6, 10, 20] {
        let kept: String = dict
            .lines()
            .filter(|l| {
                let count = l.split(' ').nth(1).and_then(|c| c.parse::<usize>().ok());
                count.is_some_and(|c| c >= min)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let words = kept.lines().count();
        let small = Jieba::with_dict(&mut kept.as_bytes()).expect("dictionary");
        let (mut both, mut of_full, mut of_small) = (0, 0, 0);
        for line in text.lines() {
            let (a, b) = (spans(&full, line), spans(&small, line));
            both += a.intersection(&b).count();
            of_full += a.len();
            of_small += b.len();
        }
        println!(
            "{min}\t{words}\t{:.1} %\t{:.1} %",
            100.0 * both as f64 / of_full as f64,
            100.0 * both as f64 / of_small as f64
        );
    }
}
