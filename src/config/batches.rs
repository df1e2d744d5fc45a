//! Reading a large sources file a slice at a time, so that memory does not
//! peak at the whole file's TOML tree.
//!
//! `toml::from_str` builds a tree of every key, value and span of the file,
//! and the raw tables beside it, before a single source is checked: for
//! 100,000 sources that is some 300 MB held at once, for a file of 15 MB.
//! A file whose sources are plain `[[source]]` tables after everything else
//! is read as its head (settings, mail, hosts, channels) and then batches
//! of whole `[[source]]` tables, each parsed, checked and dropped in turn.
//! Anything that could make a cut in the wrong place (multi-line strings,
//! any other table header after the first source) reads the file whole,
//! as before.

use std::ops::Range;

/// Below this size the file is read whole: batches only pay off large.
const MIN_BATCHED_BYTES: usize = 1 << 20;

/// Sources per batch.
const PER_BATCH: usize = 2_000;

/// Where to cut `text`: the end of its head, and the byte ranges of the
/// batches of `[[source]]` tables after it; `None` to read it whole.
pub(super) fn source_batches(text: &str) -> Option<(usize, Vec<Range<usize>>)> {
    if text.len() < MIN_BATCHED_BYTES || text.contains("\"\"\"") || text.contains("'''") {
        return None;
    }
    let mut starts = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            let header = t.split('#').next().unwrap_or_default().trim_end();
            if header == "[[source]]" {
                starts.push(at);
            } else if !starts.is_empty() {
                // Another table (or a line that only looks like one) among
                // the sources: no safe place to cut.
                return None;
            }
        }
        at += line.len();
    }
    let head = *starts.first()?;
    let mut batches = Vec::new();
    for chunk in starts.chunks(PER_BATCH) {
        batches.push(chunk[0]..text.len());
        if let Some(prev) = batches.len().checked_sub(2) {
            batches[prev].end = chunk[0];
        }
    }
    Some((head, batches))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize) -> String {
        let mut s = String::from("[settings]\nstore = \"s\"\n");
        for i in 0..n {
            s.push_str(&format!(
                "\n[[source]]\nid = \"p{i}\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1/{i}.html\"\nkind = \"article\"\n"
            ));
        }
        s
    }

    #[test]
    fn a_large_file_is_cut_between_whole_source_tables() {
        let text = file(12_000);
        let (head, batches) = source_batches(&text).unwrap();
        assert!(text[..head].starts_with("[settings]"));
        assert_eq!(batches.first().unwrap().start, head);
        assert_eq!(batches.last().unwrap().end, text.len());
        for w in batches.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        for b in &batches {
            assert!(text[b.clone()].starts_with("[[source]]"));
            assert_eq!(text[b.clone()].matches("[[source]]").count(), {
                let n = text[b.clone()].matches("[[source]]").count();
                assert!(n <= PER_BATCH);
                n
            });
        }
        let total: usize = batches
            .iter()
            .map(|b| text[b.clone()].matches("[[source]]").count())
            .sum();
        assert_eq!(total, 12_000);
    }

    #[test]
    fn anything_that_could_cut_wrongly_reads_the_file_whole() {
        assert!(source_batches(&file(10)).is_none(), "small files");
        let mut late = file(12_000);
        late.push_str("\n[settings.extra]\n");
        assert!(source_batches(&late).is_none(), "a table after the sources");
        let mut multi = file(12_000);
        multi.insert_str(0, "# '''\n");
        assert!(source_batches(&multi).is_none(), "multi-line strings");
    }

    #[test]
    fn a_batched_file_reads_as_a_whole_one_and_places_its_errors() {
        let path = std::path::Path::new("/tmp/sources.toml");
        let text = file(12_000);
        assert!(source_batches(&text).is_some());
        let c = super::super::parse(&text, path).unwrap();
        assert_eq!(c.sources.len(), 12_000);
        assert!(c
            .sources
            .iter()
            .enumerate()
            .all(|(i, s)| s.id == format!("p{i}")));
        assert_eq!(
            c.sources[11_999].url.as_str(),
            "http://127.0.0.1/11999.html"
        );

        // A bad value in a late batch: named and placed in the whole file.
        let bad = text.replacen(
            "id = \"p11500\"\nprovince = \"上海市\"\nregion = \"华东\"",
            "id = \"p11500\"\nprovince = \"上海市\"\nregion = \"火星\"",
            1,
        );
        let line = bad.lines().position(|l| l.contains("火星")).unwrap() + 1;
        let err = super::super::parse(&bad, path).unwrap_err().to_string();
        assert!(err.contains(&format!("sources.toml:{line}:")), "{err}");
        assert!(err.contains("source[11500].region"), "{err}");

        // A syntax error there: the error alone, at its line.
        let broken = text.replacen("id = \"p11700\"", "id = = \"p11700\"", 1);
        let line = broken.lines().position(|l| l.contains("id = = ")).unwrap() + 1;
        let err = super::super::parse(&broken, path).unwrap_err().to_string();
        assert!(err.contains(&format!("sources.toml:{line}:")), "{err}");
        assert_eq!(err.matches("sources.toml:").count(), 1, "{err}");
    }
}
