//! Every fixture variant diffed against its baseline must report exactly the
//! manifest's changed/added/removed/renumbered paths, alert iff expected,
//! and show a one-sentence edit with only a little context.

use std::collections::HashMap;

use crate::common::{article_document as document, manifest, ArticleExp as Article};
use bulletin_watch::diff::diff;
use bulletin_watch::model::{ChangeKind, Span};
use bulletin_watch::text::comparable;

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The manifest lists renumberings either as `"from->to"` strings or as
/// `[from, to]` pairs; both read as `from->to`.
fn renumbering(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.replace(" -> ", "->").replace('→', "->"),
        toml::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().unwrap_or_default().to_string())
            .collect::<Vec<_>>()
            .join("->"),
        other => other.to_string(),
    }
}

/// The quoted old and new text from a note such as
/// `one sentence edited in (一): “A” -> “B”` (the quotes may nest).
fn note_edit(note: &str) -> Option<(String, String)> {
    let (_, edit) = note.split_once(": ")?;
    let (a, b) = edit.split_once("” -> “")?;
    Some((
        a.strip_prefix('“')?.to_string(),
        b.strip_suffix('”')?.to_string(),
    ))
}

fn variants(articles: &[Article]) -> Vec<&Article> {
    articles.iter().filter(|a| a.baseline.is_some()).collect()
}

#[test]
fn every_variant_reports_exactly_the_manifest_changes() {
    let manifest = manifest();
    let by_file: HashMap<&str, &Article> = manifest
        .articles
        .iter()
        .map(|a| (a.file.as_str(), a))
        .collect();
    let variants = variants(&manifest.articles);
    assert!(!variants.is_empty());
    let mut failures = Vec::new();
    for v in variants {
        let base_file = v.baseline.as_deref().unwrap_or_default();
        let Some(base) = by_file.get(base_file) else {
            failures.push(format!("{}: baseline {base_file} not in manifest", v.file));
            continue;
        };
        let d = diff(&document(base), &document(v));
        let file = &v.file;
        let checks = [
            ("changed", sorted(d.changed()), sorted(v.changed.clone())),
            ("added", sorted(d.added()), sorted(v.added.clone())),
            ("removed", sorted(d.removed()), sorted(v.removed.clone())),
            (
                "renumbered",
                sorted(
                    d.renumbered()
                        .into_iter()
                        .map(|(a, b)| format!("{a}->{b}"))
                        .collect(),
                ),
                sorted(v.renumbered.iter().map(renumbering).collect()),
            ),
        ];
        for (what, got, want) in checks {
            if got != want {
                failures.push(format!("{file}: {what} {got:?}, expected {want:?}"));
            }
        }
        let expect_none = v.expected_alert.as_deref() == Some("none");
        if d.is_empty() != expect_none {
            failures.push(format!(
                "{file}: is_empty {} but expected_alert {:?}: {:?}",
                d.is_empty(),
                v.expected_alert,
                d
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn edits_show_the_changed_characters_with_short_context() {
    let manifest = manifest();
    let by_file: HashMap<&str, &Article> = manifest
        .articles
        .iter()
        .map(|a| (a.file.as_str(), a))
        .collect();
    let mut checked = 0;
    let mut failures = Vec::new();
    for v in variants(&manifest.articles) {
        if !v.file.ends_with("v2-edit.html") {
            continue;
        }
        let (Some(base), Some((before, after))) = (
            v.baseline.as_deref().and_then(|b| by_file.get(b)),
            v.note.as_deref().and_then(note_edit),
        ) else {
            failures.push(format!("{}: no baseline or no quoted edit in note", v.file));
            continue;
        };
        checked += 1;
        let (before, after) = (comparable(&before), comparable(&after));
        let d = diff(&document(base), &document(v));
        let Some(change) = d
            .changes
            .iter()
            .find(|c| c.kind == ChangeKind::Modified && v.changed.contains(&c.path))
        else {
            failures.push(format!(
                "{}: no Modified change for {:?}",
                v.file, v.changed
            ));
            continue;
        };
        let inline = &change.inline;
        // Old and new side as the reader sees them, one piece per Gap.
        let side = |keep_delete: bool| -> Vec<String> {
            let mut pieces = vec![String::new()];
            for s in inline {
                match s {
                    Span::Gap => pieces.push(String::new()),
                    Span::Equal(t) => pieces.last_mut().unwrap().push_str(t),
                    Span::Delete(t) if keep_delete => pieces.last_mut().unwrap().push_str(t),
                    Span::Insert(t) if !keep_delete => pieces.last_mut().unwrap().push_str(t),
                    _ => {}
                }
            }
            pieces.iter().map(|p| comparable(p)).collect()
        };
        let (old_side, new_side) = (side(true), side(false));
        if !old_side.iter().any(|p| p.contains(&before)) {
            failures.push(format!(
                "{}: old side {old_side:?} lacks {before:?}",
                v.file
            ));
        }
        if !new_side.iter().any(|p| p.contains(&after)) {
            failures.push(format!("{}: new side {new_side:?} lacks {after:?}", v.file));
        }
        let mut edits = 0;
        for s in inline {
            match s {
                Span::Delete(t) if !before.contains(&comparable(t)) => {
                    failures.push(format!("{}: deletion {t:?} outside the edit", v.file))
                }
                Span::Insert(t) if !after.contains(&comparable(t)) => {
                    failures.push(format!("{}: insertion {t:?} outside the edit", v.file))
                }
                Span::Delete(_) | Span::Insert(_) => edits += 1,
                _ => {}
            }
        }
        if edits == 0 {
            failures.push(format!("{}: no insertion or deletion: {inline:?}", v.file));
        }
        let context: usize = inline
            .iter()
            .map(|s| match s {
                Span::Equal(t) => t.chars().count(),
                _ => 0,
            })
            .sum();
        if context > 40 {
            failures.push(format!(
                "{}: {context} chars of context: {inline:?}",
                v.file
            ));
        }
        if !inline.contains(&Span::Gap) {
            failures.push(format!("{}: long section shown without a Gap", v.file));
        }
    }
    assert!(checked > 0, "no v2-edit variants found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Real sections of one article resemble each other (“坚持以……为……”), which
/// is exactly where a renumbering could be mistaken for edits: delete the
/// second section of every baseline and renumber the rest.
#[test]
fn deleting_a_real_section_with_renumbering_is_one_removal() {
    use bulletin_watch::model::{Block, Document};
    use bulletin_watch::sections::parse;

    let manifest = manifest();
    let mut checked = 0;
    let mut failures = Vec::new();
    for a in manifest
        .articles
        .iter()
        .filter(|a| a.file.ends_with("article.v1.html"))
    {
        let expected = &a.sections;
        if expected.len() < 3 {
            continue;
        }
        let blocks = crate::common::article_blocks(a);
        let starts = |b: &Block, raw: &str| b.text.starts_with(raw);
        let mut edited: Vec<Block> = Vec::new();
        let mut skipping = false;
        for b in &blocks {
            if let Some(k) = expected.iter().position(|e| starts(b, &e.raw_label)) {
                skipping = k == 1;
                if k >= 2 {
                    let (from, to) = (&expected[k].raw_label, &expected[k - 1].raw_label);
                    let relabel = |t: &str| format!("{to}{}", &t[from.len()..]);
                    edited.push(Block {
                        text: relabel(&b.text),
                        emphasized_prefix: b
                            .emphasized_prefix
                            .as_deref()
                            .filter(|e| e.starts_with(from.as_str()))
                            .map(relabel),
                    });
                    continue;
                }
            }
            if !skipping {
                edited.push(b.clone());
            }
        }
        checked += 1;
        let old = document(a);
        let parsed = parse(&edited);
        let new = Document {
            preamble: parsed.preamble,
            sections: parsed.sections,
            ..old.clone()
        };
        let d = diff(&old, &new);
        let want_renumbered: Vec<(String, String)> = expected[2..]
            .iter()
            .zip(&expected[1..])
            .map(|(from, to)| (from.path.clone(), to.path.clone()))
            .collect();
        if d.removed() != vec![expected[1].path.clone()]
            || !d.added().is_empty()
            || !d.changed().is_empty()
            || d.renumbered() != want_renumbered
        {
            failures.push(format!("{}: {:?}", a.file, d.changes));
        }
    }
    assert!(checked > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
