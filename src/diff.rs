//! Section-by-section comparison of two versions of a document.
//!
//! Sections are paired by an order-preserving alignment in which similar
//! content weighs more than an unchanged label, so deleting （三） reads as
//! one removal and the old （四）（五） as renumbered — not as three modified
//! sections — while an edit under the same label stays a modification. Inside a
//! modified section the inline diff works on characters within sentences,
//! because Chinese has no spaces between words.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::time::{Duration, Instant};

use similar::{capture_diff_slices_deadline, Algorithm, DiffTag};

use crate::model::{ChangeKind, DocDiff, Document, Section, SectionChange, Span, PREAMBLE};
use crate::text::{comparable, is_space, prefix_chars};

/// Characters of unchanged text kept on each side of a change; the rest is
/// replaced by [`Span::Gap`] so an alert shows the edit, not the article.
const CONTEXT_CHARS: usize = 18;
/// Character diffs of unrelated long texts can be very slow; past this the
/// diff falls back to a coarser (still correct) result.
const DIFF_TIMEOUT: Duration = Duration::from_millis(250);
/// Sections under different labels are only paired when their text is at
/// least this similar (character-bigram Jaccard).
const RENUMBER_MIN_SIMILARITY: f64 = 0.5;
/// Sections that moved out of order are paired only when nearly identical.
const MOVE_MIN_SIMILARITY: f64 = 0.8;
/// Staying under the same label is evidence, but weaker than content, so
/// that a deletion in the middle reads as renumbering rather than as every
/// later section being rewritten.
const SAME_PATH_BONUS: f64 = 0.25;
/// Above this many section pairs the alignment pairs by label only.
const MAX_ALIGN_CELLS: usize = 250_000;
/// Unchanged runs this short between two edits are folded into the edits;
/// single shared characters make a choppy, unreadable diff.
const MAX_ABSORBED_EQUAL: usize = 2;

/// A section reduced to what comparison needs.
struct Item<'a> {
    section: &'a Section,
    path: String,
    key: String,
    bigrams: HashSet<(char, char)>,
}

impl<'a> Item<'a> {
    fn new(section: &'a Section) -> Self {
        let key = comparable(&section.body());
        let chars: Vec<char> = key.chars().collect();
        let bigrams = if chars.len() == 1 {
            std::iter::once((chars[0], '\0')).collect()
        } else {
            chars.windows(2).map(|w| (w[0], w[1])).collect()
        };
        Item {
            section,
            path: section.path_str(),
            key,
            bigrams,
        }
    }

    fn similarity(&self, other: &Item) -> f64 {
        if self.key == other.key {
            return 1.0;
        }
        let inter = self.bigrams.intersection(&other.bigrams).count();
        let union = self.bigrams.len() + other.bigrams.len() - inter;
        if union == 0 {
            0.0
        } else {
            inter as f64 / union as f64
        }
    }

    /// How good a pairing of the two is, or `None` when they should not be
    /// paired at all.
    fn pair_score(&self, other: &Item) -> Option<f64> {
        let sim = self.similarity(other);
        if self.path == other.path {
            Some(SAME_PATH_BONUS + sim)
        } else if sim >= RENUMBER_MIN_SIMILARITY {
            Some(sim)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Pair(usize, usize),
    Old(usize),
    New(usize),
}

/// Order-preserving alignment of the two section lists maximising the total
/// pairing score, then a pass that pairs nearly identical sections that
/// moved out of order.
fn align(old: &[Item], new: &[Item]) -> Vec<Step> {
    let identical = |i: usize, j: usize| old[i].path == new[j].path && old[i].key == new[j].key;
    let mut head = 0;
    while head < old.len() && head < new.len() && identical(head, head) {
        head += 1;
    }
    let mut tail = 0;
    while tail < old.len() - head
        && tail < new.len() - head
        && identical(old.len() - 1 - tail, new.len() - 1 - tail)
    {
        tail += 1;
    }
    let (o_mid, n_mid) = (head..old.len() - tail, head..new.len() - tail);

    let mut steps: Vec<Step> = (0..head).map(|i| Step::Pair(i, i)).collect();
    if o_mid.len().saturating_mul(n_mid.len()) <= MAX_ALIGN_CELLS {
        steps.extend(align_scored(old, new, o_mid, n_mid));
    } else {
        steps.extend(align_by_path(old, new, o_mid, n_mid));
    }
    steps.extend((0..tail).map(|k| Step::Pair(old.len() - tail + k, new.len() - tail + k)));
    pair_moves(old, new, steps)
}

fn align_scored(old: &[Item], new: &[Item], o: Range<usize>, n: Range<usize>) -> Vec<Step> {
    let (rows, cols) = (o.len(), n.len());
    let score = |i: usize, j: usize| old[o.start + i].pair_score(&new[n.start + j]);
    let mut scores = vec![None; rows * cols];
    for i in 0..rows {
        for j in 0..cols {
            scores[i * cols + j] = score(i, j);
        }
    }
    // best[i][j]: best total for old[i..] against new[j..].
    let w = cols + 1;
    let mut best = vec![0.0f64; (rows + 1) * w];
    for i in (0..rows).rev() {
        for j in (0..cols).rev() {
            let mut b = best[(i + 1) * w + j].max(best[i * w + j + 1]);
            if let Some(s) = scores[i * cols + j] {
                b = b.max(s + best[(i + 1) * w + j + 1]);
            }
            best[i * w + j] = b;
        }
    }
    let mut steps = Vec::with_capacity(rows + cols);
    let (mut i, mut j) = (0, 0);
    while i < rows && j < cols {
        let here = best[i * w + j];
        if let Some(s) = scores[i * cols + j] {
            if (s + best[(i + 1) * w + j + 1] - here).abs() < 1e-9 {
                steps.push(Step::Pair(o.start + i, n.start + j));
                i += 1;
                j += 1;
                continue;
            }
        }
        // Removed sections are reported where they were, before what
        // replaced them.
        if (best[(i + 1) * w + j] - here).abs() < 1e-9 {
            steps.push(Step::Old(o.start + i));
            i += 1;
        } else {
            steps.push(Step::New(n.start + j));
            j += 1;
        }
    }
    steps.extend((i..rows).map(|i| Step::Old(o.start + i)));
    steps.extend((j..cols).map(|j| Step::New(n.start + j)));
    steps
}

/// Fallback for huge documents: pairs equal paths only.
fn align_by_path(old: &[Item], new: &[Item], o: Range<usize>, n: Range<usize>) -> Vec<Step> {
    let mut by_path: HashMap<&str, usize> = HashMap::new();
    for i in o.clone().rev() {
        by_path.insert(old[i].path.as_str(), i);
    }
    let mut used = vec![false; old.len()];
    let mut steps = Vec::new();
    let mut next_old = o.start;
    for j in n {
        match by_path.get(new[j].path.as_str()) {
            Some(&i) if !used[i] && i >= next_old => {
                steps.extend((next_old..i).filter(|k| !used[*k]).map(Step::Old));
                used[i] = true;
                next_old = i + 1;
                steps.push(Step::Pair(i, j));
            }
            _ => steps.push(Step::New(j)),
        }
    }
    steps.extend((next_old..o.end).filter(|k| !used[*k]).map(Step::Old));
    steps
}

fn pair_moves(old: &[Item], new: &[Item], mut steps: Vec<Step>) -> Vec<Step> {
    let olds: Vec<usize> = steps
        .iter()
        .filter_map(|s| if let Step::Old(i) = s { Some(*i) } else { None })
        .collect();
    let news: Vec<usize> = steps
        .iter()
        .filter_map(|s| if let Step::New(j) = s { Some(*j) } else { None })
        .collect();
    if olds.is_empty() || news.is_empty() || olds.len().saturating_mul(news.len()) > MAX_ALIGN_CELLS
    {
        return steps;
    }
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for &i in &olds {
        for &j in &news {
            let sim = old[i].similarity(&new[j]);
            if sim >= MOVE_MIN_SIMILARITY {
                candidates.push((sim, i, j));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut moved: HashMap<usize, usize> = HashMap::new();
    let mut taken_old = HashSet::new();
    for (_, i, j) in candidates {
        if !taken_old.contains(&i) && !moved.contains_key(&j) {
            taken_old.insert(i);
            moved.insert(j, i);
        }
    }
    steps.retain(|s| !matches!(s, Step::Old(i) if taken_old.contains(i)));
    for s in &mut steps {
        if let Step::New(j) = *s {
            if let Some(&i) = moved.get(&j) {
                *s = Step::Pair(i, j);
            }
        }
    }
    steps
}

/// What to show as the section's title: its heading line, or the opening
/// words of its text when it has none.
fn display_heading(s: &Section) -> String {
    if s.heading.is_empty() {
        prefix_chars(&s.text, 20).to_string()
    } else {
        s.heading.clone()
    }
}

fn whole(span: fn(String) -> Span, text: String) -> Vec<Span> {
    if comparable(&text).is_empty() {
        Vec::new()
    } else {
        vec![span(text)]
    }
}

/// Compares two documents section by section.
pub fn diff(old: &Document, new: &Document) -> DocDiff {
    let mut out = DocDiff::default();
    if comparable(&old.title) != comparable(&new.title) {
        out.title_changed = Some((old.title.clone(), new.title.clone()));
    }
    if old.published != new.published {
        out.date_changed = Some((old.published, new.published));
    }
    if comparable(&old.preamble) != comparable(&new.preamble) {
        out.changes.push(SectionChange {
            kind: ChangeKind::Modified,
            path: PREAMBLE.to_string(),
            old_path: None,
            heading: String::new(),
            inline: inline_diff(&old.preamble, &new.preamble),
        });
    }

    let olds: Vec<Item> = old.sections.iter().map(Item::new).collect();
    let news: Vec<Item> = new.sections.iter().map(Item::new).collect();
    for step in align(&olds, &news) {
        match step {
            Step::Old(i) => {
                let s = olds[i].section;
                out.changes.push(SectionChange {
                    kind: ChangeKind::Removed,
                    path: olds[i].path.clone(),
                    old_path: None,
                    heading: display_heading(s),
                    inline: whole(Span::Delete, s.body()),
                });
            }
            Step::New(j) => {
                let s = news[j].section;
                out.changes.push(SectionChange {
                    kind: ChangeKind::Added,
                    path: news[j].path.clone(),
                    old_path: None,
                    heading: display_heading(s),
                    inline: whole(Span::Insert, s.body()),
                });
            }
            Step::Pair(i, j) => {
                let (o, n) = (&olds[i], &news[j]);
                let edited = o.key != n.key;
                let renumbered = o.path != n.path;
                if !edited && !renumbered {
                    continue;
                }
                out.changes.push(SectionChange {
                    kind: if renumbered {
                        ChangeKind::Renumbered
                    } else {
                        ChangeKind::Modified
                    },
                    path: n.path.clone(),
                    old_path: renumbered.then(|| o.path.clone()),
                    heading: display_heading(n.section),
                    inline: if edited {
                        inline_diff(&o.section.body(), &n.section.body())
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }
    out
}

/// Splits after each sentence-ending mark (kept with its sentence) and at
/// line breaks; concatenating the pieces gives back the input.
fn sentences(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if matches!(c, '。' | '；' | '！' | '？' | ';' | '!' | '?' | '\n') {
            let end = i + c.len_utf8();
            out.push(&s[start..end]);
            start = end;
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// A character with its comparison key; layout characters (whose key is
/// empty) ride along with the preceding character so that the output still
/// shows them but they never count as a change.
struct Token {
    key: String,
    shown: String,
}

fn tokens(s: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut pending = String::new();
    for c in s.chars() {
        let key = comparable(c.encode_utf8(&mut [0u8; 4]));
        if key.is_empty() {
            match out.last_mut() {
                Some(t) => t.shown.push(c),
                None => pending.push(c),
            }
        } else {
            let mut shown = std::mem::take(&mut pending);
            shown.push(c);
            out.push(Token { key, shown });
        }
    }
    out
}

fn shown(tokens: &[Token]) -> String {
    tokens.iter().map(|t| t.shown.as_str()).collect()
}

fn push_span(spans: &mut Vec<Span>, span: Span) {
    match (spans.last_mut(), span) {
        (Some(Span::Equal(a)), Span::Equal(b))
        | (Some(Span::Insert(a)), Span::Insert(b))
        | (Some(Span::Delete(a)), Span::Delete(b)) => a.push_str(&b),
        (_, Span::Equal(b) | Span::Insert(b) | Span::Delete(b)) if b.is_empty() => {}
        (_, span) => spans.push(span),
    }
}

/// Character-level diff of two runs of changed sentences.
fn char_spans(old: &str, new: &str, deadline: Instant, spans: &mut Vec<Span>) {
    let (ot, nt) = (tokens(old), tokens(new));
    let ok: Vec<&str> = ot.iter().map(|t| t.key.as_str()).collect();
    let nk: Vec<&str> = nt.iter().map(|t| t.key.as_str()).collect();
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &ok, &nk, Some(deadline));
    let mut raw = Vec::new();
    for op in ops {
        let (tag, o, n) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => raw.push(Span::Equal(shown(&nt[n]))),
            DiffTag::Delete => raw.push(Span::Delete(shown(&ot[o]))),
            DiffTag::Insert => raw.push(Span::Insert(shown(&nt[n]))),
            DiffTag::Replace => {
                raw.push(Span::Delete(shown(&ot[o])));
                raw.push(Span::Insert(shown(&nt[n])));
            }
        }
    }
    for span in absorb_short_equals(raw) {
        push_span(spans, span);
    }
}

/// Folds tiny unchanged runs between two edits into the edits, so
/// `伤亡`→`死亡` style edits read as whole words rather than as a
/// patchwork of single characters.
fn absorb_short_equals(spans: Vec<Span>) -> Vec<Span> {
    let is_change = |s: &Span| matches!(s, Span::Insert(_) | Span::Delete(_));
    let mut out: Vec<Span> = Vec::new();
    let (mut del, mut ins) = (String::new(), String::new());
    for (k, span) in spans.iter().enumerate() {
        match span {
            Span::Delete(t) => del.push_str(t),
            Span::Insert(t) => ins.push_str(t),
            Span::Equal(t) => {
                let between =
                    (del.len() + ins.len() > 0) && spans[k + 1..].first().is_some_and(is_change);
                if between && t.chars().filter(|c| !is_space(*c)).count() <= MAX_ABSORBED_EQUAL {
                    del.push_str(t);
                    ins.push_str(t);
                    continue;
                }
                flush(&mut out, &mut del, &mut ins);
                out.push(span.clone());
            }
            Span::Gap => {
                flush(&mut out, &mut del, &mut ins);
                out.push(Span::Gap);
            }
        }
    }
    flush(&mut out, &mut del, &mut ins);
    out
}

fn flush(out: &mut Vec<Span>, del: &mut String, ins: &mut String) {
    if !del.is_empty() {
        out.push(Span::Delete(std::mem::take(del)));
    }
    if !ins.is_empty() {
        out.push(Span::Insert(std::mem::take(ins)));
    }
}

/// Inline diff of two display texts: sentences first, characters inside
/// the changed sentences, then only a little context around each change.
fn inline_diff(old: &str, new: &str) -> Vec<Span> {
    let deadline = Instant::now() + DIFF_TIMEOUT;
    let (os, ns) = (sentences(old), sentences(new));
    let ok: Vec<String> = os.iter().map(|s| comparable(s)).collect();
    let nk: Vec<String> = ns.iter().map(|s| comparable(s)).collect();
    let ops = capture_diff_slices_deadline(Algorithm::Myers, &ok, &nk, Some(deadline));

    let mut spans = Vec::new();
    let (mut o_run, mut n_run): (Option<Range<usize>>, Option<Range<usize>>) = (None, None);
    let extend = |run: &mut Option<Range<usize>>, r: Range<usize>| {
        *run = Some(match run.take() {
            Some(prev) => prev.start..r.end,
            None => r,
        });
    };
    let flush_run =
        |spans: &mut Vec<Span>, o: &mut Option<Range<usize>>, n: &mut Option<Range<usize>>| {
            if o.is_none() && n.is_none() {
                return;
            }
            let old_text: String = o.take().map(|r| os[r].concat()).unwrap_or_default();
            let new_text: String = n.take().map(|r| ns[r].concat()).unwrap_or_default();
            char_spans(&old_text, &new_text, deadline, spans);
        };
    for op in ops {
        let (tag, o, n) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            flush_run(&mut spans, &mut o_run, &mut n_run);
            push_span(&mut spans, Span::Equal(ns[n].concat()));
        } else {
            if !o.is_empty() {
                extend(&mut o_run, o);
            }
            if !n.is_empty() {
                extend(&mut n_run, n);
            }
        }
    }
    flush_run(&mut spans, &mut o_run, &mut n_run);
    trim_context(spans)
}

/// Keeps [`CONTEXT_CHARS`] of unchanged text on each side of every change
/// and replaces the rest with [`Span::Gap`].
fn trim_context(spans: Vec<Span>) -> Vec<Span> {
    let is_change =
        |s: &Span| matches!(s, Span::Insert(t) | Span::Delete(t) if !comparable(t).is_empty());
    let Some(first) = spans.iter().position(is_change) else {
        return Vec::new();
    };
    let last = spans.iter().rposition(is_change).unwrap_or(first);
    let mut out = Vec::new();
    for (k, span) in spans.into_iter().enumerate() {
        let Span::Equal(text) = span else {
            out.push(span);
            continue;
        };
        let len = text.chars().count();
        if k < first {
            if len > CONTEXT_CHARS {
                out.push(Span::Gap);
                out.push(Span::Equal(suffix_chars(&text, CONTEXT_CHARS).to_string()));
            } else {
                out.push(Span::Equal(text));
            }
        } else if k > last {
            if len > CONTEXT_CHARS {
                out.push(Span::Equal(prefix_chars(&text, CONTEXT_CHARS).to_string()));
                out.push(Span::Gap);
            } else {
                out.push(Span::Equal(text));
            }
        } else if len > 2 * CONTEXT_CHARS + 4 {
            out.push(Span::Equal(prefix_chars(&text, CONTEXT_CHARS).to_string()));
            out.push(Span::Gap);
            out.push(Span::Equal(suffix_chars(&text, CONTEXT_CHARS).to_string()));
        } else {
            out.push(Span::Equal(text));
        }
    }
    out
}

/// The last `n` characters of `s`.
fn suffix_chars(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    match s.char_indices().nth(count.saturating_sub(n)) {
        Some((i, _)) => &s[i..],
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Block;
    use crate::sections;

    fn doc(title: &str, lines: &[&str]) -> Document {
        let blocks: Vec<Block> = lines
            .iter()
            .map(|t| Block {
                text: t.to_string(),
                emphasized_prefix: None,
            })
            .collect();
        let parsed = sections::parse(&blocks);
        Document {
            title: title.to_string(),
            published: None,
            encoding: "utf-8".to_string(),
            preamble: parsed.preamble,
            sections: parsed.sections,
        }
    }

    const FIVE: [&str; 5] = [
        "要健全完善监管执法机制，持续强化应急法治保障，坚持在法治轨道上推进应急管理体系和能力现代化建设。",
        "要健全完善隐患治理机制，持续提高风险管控水平，深化治本攻坚三年行动，动态消除重大事故隐患。",
        "要健全完善灾害防御机制，持续增强防灾减灾救灾能力，加强台风、地震、山洪、泥石流等自然灾害防范。",
        "要健全完善协同联动机制，持续优化应急救援体系，加快构建协同联动的多元化应急救援体系。",
        "要健全完善支撑保障机制，持续补齐基层应急短板，筑牢应急管理第一道防线。",
    ];
    const CN: [&str; 6] = ["一", "二", "三", "四", "五", "六"];

    fn numbered(bodies: &[&str]) -> Vec<String> {
        let mut lines = vec!["会议要求：".to_string()];
        for (n, body) in bodies.iter().enumerate() {
            lines.push(format!("（{}）{}", CN[n], body));
        }
        lines
    }

    fn doc_of(lines: &[String]) -> Document {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        doc("标题", &refs)
    }

    fn equal_text(spans: &[Span]) -> String {
        spans
            .iter()
            .filter_map(|s| match s {
                Span::Equal(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn identical_and_layout_only_changes_are_empty() {
        let a = doc_of(&numbered(&FIVE));
        assert!(diff(&a, &a).is_empty());
        let spaced: Vec<String> = numbered(&FIVE)
            .iter()
            .map(|l| {
                l.replace('，', "， ")
                    .replace('（', "　(")
                    .replace('）', ")")
            })
            .collect();
        assert!(diff(&a, &doc_of(&spaced)).is_empty());
    }

    #[test]
    fn deleting_a_middle_section_renumbers_the_rest() {
        let old = doc_of(&numbered(&FIVE));
        let new = doc_of(&numbered(&[FIVE[0], FIVE[1], FIVE[3], FIVE[4]]));
        let d = diff(&old, &new);
        assert_eq!(d.removed(), vec!["(三)"]);
        assert!(d.added().is_empty());
        assert!(d.changed().is_empty(), "{:?}", d.changes);
        assert_eq!(
            d.renumbered(),
            vec![
                ("(四)".to_string(), "(三)".to_string()),
                ("(五)".to_string(), "(四)".to_string())
            ]
        );
        assert_eq!(d.changes.len(), 3);
        assert_eq!(d.changes[0].kind, ChangeKind::Removed);
        assert_eq!(d.changes[0].inline, vec![Span::Delete(FIVE[2].to_string())]);
    }

    #[test]
    fn deleting_without_renumbering_is_one_removal() {
        let old = doc_of(&numbered(&FIVE));
        let mut lines = numbered(&FIVE);
        lines.remove(1);
        let d = diff(&old, &doc_of(&lines));
        assert_eq!(d.removed(), vec!["(一)"]);
        assert_eq!(d.changes.len(), 1);
    }

    #[test]
    fn inserting_a_middle_section_renumbers_the_rest_and_keeps_order() {
        let old = doc_of(&numbered(&FIVE[..4]));
        let fresh = "要健全完善队伍建设机制，锻造应急管理铁军，营造担当作为的良好氛围。";
        let new = doc_of(&numbered(&[FIVE[0], fresh, FIVE[1], FIVE[2], FIVE[3]]));
        let d = diff(&old, &new);
        assert_eq!(d.added(), vec!["(二)"]);
        let paths: Vec<&str> = d.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["(二)", "(三)", "(四)", "(五)"]);
        assert_eq!(d.changes[0].inline, vec![Span::Insert(fresh.to_string())]);
        assert!(d.changed().is_empty());
    }

    #[test]
    fn renumbered_and_edited_counts_as_changed() {
        let old = doc_of(&numbered(&FIVE));
        let edited = FIVE[3].replace("加快构建", "全面构建");
        let new = doc_of(&numbered(&[FIVE[0], FIVE[1], &edited, FIVE[4]]));
        let d = diff(&old, &new);
        assert_eq!(d.removed(), vec!["(三)"]);
        assert_eq!(d.changed(), vec!["(三)"]);
        let c = &d.changes[1];
        assert_eq!(c.kind, ChangeKind::Renumbered);
        assert_eq!(c.old_path.as_deref(), Some("(四)"));
        assert!(c.inline.contains(&Span::Delete("加快".to_string())));
        assert!(c.inline.contains(&Span::Insert("全面".to_string())));
    }

    #[test]
    fn modified_section_shows_edit_with_short_context() {
        let long = "干字当头、奋力一跳，以改革创新推动应急管理事业高质量发展，全力以赴防范化解重大安全风险，加快建设与上海城市定位相匹配的应急管理体系和能力。要着力持续完善应急管理体制机制，建强应急指挥体系。";
        let old = doc("t", &["前言。", &format!("（一）坚持稳中求进。{long}")]);
        let edited = long.replace("高质量发展", "高质量发展、加快转型");
        let new = doc("t", &["前言。", &format!("（一）坚持稳中求进。{edited}")]);
        let d = diff(&old, &new);
        assert_eq!(d.changed(), vec!["(一)"]);
        let c = &d.changes[0];
        assert_eq!(c.kind, ChangeKind::Modified);
        assert_eq!(c.heading, "坚持稳中求进。");
        assert!(
            c.inline.contains(&Span::Insert("、加快转型".to_string())),
            "{:?}",
            c.inline
        );
        assert!(c.inline.contains(&Span::Gap));
        assert!(equal_text(&c.inline).chars().count() <= 2 * CONTEXT_CHARS);
    }

    #[test]
    fn spans_show_display_punctuation() {
        let old = doc("t", &["（一）减少事故起数和伤亡人数，确保平稳。"]);
        let new = doc("t", &["（一）减少事故起数和死亡人数，确保平稳。"]);
        let d = diff(&old, &new);
        let inline = &d.changes[0].inline;
        assert!(
            inline.contains(&Span::Delete("伤".to_string())),
            "{inline:?}"
        );
        assert!(inline.contains(&Span::Insert("死".to_string())));
        assert!(equal_text(inline).contains('，'));
    }

    #[test]
    fn title_date_and_preamble_changes() {
        let mut old = doc(
            "上海市2025年全市应急管理工作会议召开",
            &["会议指出。", "（一）甲。"],
        );
        let mut new = doc(
            "上海市2025年全市应急管理工作会议召开 ",
            &["会议指出。", "（一）甲。"],
        );
        assert!(diff(&old, &new).is_empty(), "trailing space is layout");
        new.title = "上海市2026年全市应急管理工作会议召开".to_string();
        old.published = jiff::civil::Date::new(2025, 1, 15).ok();
        let d = diff(&old, &new);
        assert_eq!(
            d.title_changed.as_ref().map(|t| t.1.as_str()),
            Some("上海市2026年全市应急管理工作会议召开")
        );
        assert!(d.date_changed.is_some());
        assert!(d.changes.is_empty());

        let changed = doc("t", &["会议强调。", "（一）甲。"]);
        let d = diff(&doc("t", &["会议指出。", "（一）甲。"]), &changed);
        assert_eq!(d.changed(), vec![PREAMBLE]);
    }

    #[test]
    fn empty_documents() {
        let empty = doc("", &[]);
        assert!(diff(&empty, &empty).is_empty());
        let full = doc_of(&numbered(&FIVE[..2]));
        let d = diff(&empty, &full);
        assert_eq!(d.added(), vec!["(一)", "(二)"]);
        assert_eq!(d.changed(), vec![PREAMBLE]);
        let d = diff(&full, &empty);
        assert_eq!(d.removed(), vec!["(一)", "(二)"]);
    }

    #[test]
    fn unrelated_long_texts_diff_within_deadline() {
        let a: String = (0..4000u32)
            .map(|i| char::from_u32(0x4E00 + (i * 7919) % 2000).unwrap_or('一'))
            .collect();
        let b: String = (0..4000u32)
            .map(|i| char::from_u32(0x4E00 + (i * 104729) % 2000).unwrap_or('一'))
            .collect();
        let start = Instant::now();
        let spans = inline_diff(&a, &b);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert!(!spans.is_empty());
    }

    #[test]
    fn context_trimming() {
        let spans = trim_context(vec![
            Span::Equal("一二三四五六七八九十一二三四五六七八九十".to_string()),
            Span::Insert("新".to_string()),
            Span::Equal("甲乙".to_string()),
        ]);
        assert_eq!(spans[0], Span::Gap);
        assert_eq!(
            spans[1],
            Span::Equal(
                suffix_chars("一二三四五六七八九十一二三四五六七八九十", CONTEXT_CHARS).to_string()
            )
        );
        assert_eq!(spans.len(), 4);
        assert!(trim_context(vec![Span::Equal("甲".to_string())]).is_empty());
        assert_eq!(suffix_chars("ab", 5), "ab");
        assert_eq!(suffix_chars("", 5), "");
    }
}
