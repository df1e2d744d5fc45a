//! An inline diff as HTML: equal text, `<ins>` for insertions, `<del>` for
//! deletions and a mark for unchanged text left out — for both sides at
//! once or for one side of a side-by-side view. Every output renders diffs
//! here; they differ only in their [`Marks`] (class-styled pages use plain
//! tags, e-mail needs inline styles).

use crate::model::Span;
use crate::text::escape_html;

/// The markup an output wraps the pieces of a diff in.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    /// Opening tag of an insertion, e.g. `<ins>`; closed with `</ins>`.
    pub ins: &'static str,
    /// Opening tag of a deletion, e.g. `<del>`; closed with `</del>`.
    pub del: &'static str,
    /// What stands for unchanged text left out.
    pub gap: &'static str,
}

/// Pages with a style sheet (web view, reports).
pub const CLASS_MARKS: Marks = Marks {
    ins: "<ins>",
    del: "<del>",
    gap: "<span class=\"muted\"> … </span>",
};

/// Which side of the change to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Deletions and insertions in one text.
    Both,
    /// The older text: equal and deleted pieces.
    Old,
    /// The newer text: equal and inserted pieces.
    New,
}

/// `text` as an insertion.
pub fn ins(text: &str, marks: &Marks) -> String {
    format!("{}{}</ins>", marks.ins, escape_html(text))
}

/// `text` as a deletion.
pub fn del(text: &str, marks: &Marks) -> String {
    format!("{}{}</del>", marks.del, escape_html(text))
}

/// The spans of one change as HTML, page text escaped.
pub fn spans_html(spans: &[Span], side: Side, marks: &Marks) -> String {
    let mut s = String::new();
    for sp in spans {
        match sp {
            Span::Equal(t) => s.push_str(&escape_html(t)),
            Span::Insert(t) if side != Side::Old => s.push_str(&ins(t, marks)),
            Span::Delete(t) if side != Side::New => s.push_str(&del(t, marks)),
            Span::Gap => s.push_str(marks.gap),
            Span::Insert(_) | Span::Delete(_) => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_keep_their_own_edits() {
        let spans = vec![
            Span::Equal("排查".into()),
            Span::Delete("三".into()),
            Span::Insert("<五>".into()),
            Span::Gap,
        ];
        let m = Marks {
            ins: "<ins>",
            del: "<del>",
            gap: "…",
        };
        assert_eq!(
            spans_html(&spans, Side::Both, &m),
            "排查<del>三</del><ins>&lt;五&gt;</ins>…"
        );
        assert_eq!(spans_html(&spans, Side::Old, &m), "排查<del>三</del>…");
        assert_eq!(
            spans_html(&spans, Side::New, &m),
            "排查<ins>&lt;五&gt;</ins>…"
        );
    }
}
