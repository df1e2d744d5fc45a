//! Splitting a long alert into numbered parts that each fit a platform's
//! byte limit. Parts break between sections; a section too long for a part
//! of its own is cut between characters of its diff (never inside a
//! character, and never inside the markup the renderer adds around a span,
//! because the cut happens before rendering). The size is always measured
//! on the body as the renderer produces it, so escaping and JSON quoting
//! are counted.

use std::collections::VecDeque;

use crate::model::Span;

use super::{ChannelError, ChatSection};

/// Which part of how many, when an alert takes more than one.
pub type Numbering = Option<(usize, usize)>;

impl ChatSection {
    /// The section's length in cut units: characters of its spans, a
    /// `Gap` counting as one.
    pub fn units(&self) -> usize {
        self.spans.iter().map(span_units).sum()
    }

    /// The first `n` units and the rest, the rest marked `continued`.
    pub fn cut(&self, n: usize) -> (ChatSection, ChatSection) {
        let mut head = Vec::new();
        let mut tail = Vec::new();
        let mut left = n;
        for span in &self.spans {
            let len = span_units(span);
            if left >= len {
                head.push(span.clone());
                left -= len;
            } else if left == 0 {
                tail.push(span.clone());
            } else {
                let (a, b) = split_span(span, left);
                head.push(a);
                tail.push(b);
                left = 0;
            }
        }
        let first = ChatSection {
            spans: head,
            ..self.clone()
        };
        let rest = ChatSection {
            spans: tail,
            continued: true,
            ..self.clone()
        };
        (first, rest)
    }
}

fn span_units(span: &Span) -> usize {
    match span {
        Span::Equal(t) | Span::Insert(t) | Span::Delete(t) => t.chars().count(),
        Span::Gap => 1,
    }
}

/// Splits a text span after `n` characters (0 < n < its length).
fn split_span(span: &Span, n: usize) -> (Span, Span) {
    let cut = |t: &str| {
        let at = t.char_indices().nth(n).map_or(t.len(), |(i, _)| i);
        (t[..at].to_string(), t[at..].to_string())
    };
    match span {
        Span::Equal(t) => {
            let (a, b) = cut(t);
            (Span::Equal(a), Span::Equal(b))
        }
        Span::Insert(t) => {
            let (a, b) = cut(t);
            (Span::Insert(a), Span::Insert(b))
        }
        Span::Delete(t) => {
            let (a, b) = cut(t);
            (Span::Delete(a), Span::Delete(b))
        }
        Span::Gap => (Span::Gap, Span::Gap),
    }
}

/// Groups `sections` into parts. `fits(sections, numbering)` tells whether
/// a part holding those sections, rendered with that numbering, is within
/// the limit; it must grow with the sections and the numbering's digits.
/// An alert that fits in one part comes back as one group, shown without
/// numbering. `limit` only names the limit in the error when not even one
/// character of a section fits beside the header.
pub fn split<F>(
    sections: &[ChatSection],
    limit: usize,
    fits: F,
) -> Result<Vec<Vec<ChatSection>>, ChannelError>
where
    F: Fn(&[ChatSection], Numbering) -> bool,
{
    if fits(sections, None) {
        return Ok(vec![sections.to_vec()]);
    }
    // Pack with the widest numbering the parts could show; a smaller
    // index or total renders no longer. More parts than that: widen.
    let mut widest = 9usize;
    loop {
        let numbering = Some((widest, widest));
        let groups = pack(sections, limit, |s| fits(s, numbering))?;
        if groups.len() <= widest {
            return Ok(groups);
        }
        widest = widest.saturating_mul(10).saturating_add(9);
    }
}

fn pack<F>(
    sections: &[ChatSection],
    limit: usize,
    fits: F,
) -> Result<Vec<Vec<ChatSection>>, ChannelError>
where
    F: Fn(&[ChatSection]) -> bool,
{
    if !fits(&[]) {
        return Err(ChannelError::TooLarge { limit });
    }
    let mut groups = Vec::new();
    let mut current: Vec<ChatSection> = Vec::new();
    let mut queue: VecDeque<ChatSection> = sections.iter().cloned().collect();
    while let Some(section) = queue.pop_front() {
        current.push(section);
        if fits(&current) {
            continue;
        }
        let Some(section) = current.pop() else {
            continue;
        };
        if !current.is_empty() {
            groups.push(std::mem::take(&mut current));
            queue.push_front(section);
            continue;
        }
        // Alone and still too long: cut it after as many units as fit.
        let units = section.units();
        if units <= 1 || !fits(&[section.cut(1).0]) {
            return Err(ChannelError::TooLarge { limit });
        }
        let (mut lo, mut hi) = (1usize, units - 1);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if fits(&[section.cut(mid).0]) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        let (head, rest) = section.cut(lo);
        groups.push(vec![head]);
        queue.push_front(rest);
    }
    if !current.is_empty() || groups.is_empty() {
        groups.push(current);
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(path: &str, spans: Vec<Span>) -> ChatSection {
        ChatSection {
            path: path.into(),
            heading: format!("第{path}节"),
            change: None,
            spans,
            continued: false,
        }
    }

    /// A toy renderer: bytes of header + numbering + each section's text.
    fn size(sections: &[ChatSection], numbering: Numbering) -> usize {
        let mut n = 20;
        if let Some((i, t)) = numbering {
            n += format!(" ({i}/{t})").len();
        }
        for s in sections {
            n += s.heading.len() + 2;
            for span in &s.spans {
                n += match span {
                    Span::Equal(t) => t.len(),
                    Span::Insert(t) | Span::Delete(t) => t.len() + 4,
                    Span::Gap => 3,
                };
            }
        }
        n
    }

    #[test]
    fn short_alert_is_one_unnumbered_part() {
        let s = vec![section("1", vec![Span::Equal("短".into())])];
        let parts = split(&s, 100, |x, n| size(x, n) <= 100).unwrap();
        assert_eq!(parts, vec![s]);
    }

    #[test]
    fn long_section_is_cut_between_characters() {
        let text: String = "应急管理部署".repeat(100);
        let s = vec![section("1", vec![Span::Insert(text.clone())])];
        let parts = split(&s, 200, |x, n| size(x, n) <= 200).unwrap();
        assert!(parts.len() > 1);
        let mut joined = String::new();
        for (i, p) in parts.iter().enumerate() {
            assert!(size(p, Some((i + 1, parts.len()))) <= 200);
            assert_eq!(p[0].continued, i > 0);
            for span in &p[0].spans {
                let Span::Insert(t) = span else { panic!() };
                joined.push_str(t);
            }
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn a_header_too_long_is_an_error() {
        let s = vec![section("1", vec![Span::Equal("x".into())])];
        assert!(matches!(
            split(&s, 10, |x, n| size(x, n) <= 10),
            Err(ChannelError::TooLarge { limit: 10 })
        ));
    }
}
