//! The query language scripts and editors type: words joined by spaces
//! must all match (AND), `"a phrase"` matches as written, `a OR b` matches
//! either, and `-word` (or `-"a phrase"`) excludes. `OR` binds tighter than
//! the space: `安全 燃气 OR 电动自行车` is 安全 AND (燃气 OR 电动自行车).
//!
//! A term matches a text when its [`fold`]ed form occurs in the text's
//! folded form: Chinese has no spaces, so a word and a phrase are the same
//! thing here — a run of characters — and the index only finds the
//! candidates quickly (see `engine`).

use super::fold::fold;

/// One AND-ed part of a query: any of `any` matches (OR), or — when
/// `exclude` — none of them may.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub exclude: bool,
    /// Folded terms.
    pub any: Vec<String>,
}

/// A parsed query: every clause must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub clauses: Vec<Clause>,
}

impl Parsed {
    /// Every term a match must or may contain (for snippets).
    pub fn wanted(&self) -> impl Iterator<Item = &str> {
        self.clauses
            .iter()
            .filter(|c| !c.exclude)
            .flat_map(|c| c.any.iter().map(String::as_str))
    }

    /// Whether a folded text satisfies the query.
    pub fn matches(&self, folded: &str) -> bool {
        self.clauses.iter().all(|c| {
            let any = c.any.iter().any(|t| folded.contains(t.as_str()));
            any != c.exclude
        })
    }
}

/// Why a query cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the query is empty: give at least one word")]
    Empty,
    #[error("a quote opened at character {at} is never closed: add the closing \"")]
    UnclosedQuote { at: usize },
    #[error("OR needs a word on each side (at word {at})")]
    DanglingOr { at: usize },
    #[error("-{term} cannot be part of an OR: write the excluded word on its own")]
    ExcludedInOr { term: String },
    #[error("\"-\" or \"\"\" alone is not a word (at word {at}): write -word to exclude a word")]
    EmptyTerm { at: usize },
    #[error("the query only excludes words: add at least one word that must match")]
    OnlyExcluded,
}

#[derive(Debug)]
enum Item {
    Term { text: String, exclude: bool },
    Or,
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '＂')
}

fn lex(q: &str) -> Result<Vec<Item>, QueryError> {
    let chars: Vec<char> = q.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if crate::text::is_space(c) {
            i += 1;
            continue;
        }
        let start = i;
        let exclude = c == '-' || c == '－';
        if exclude {
            i += 1;
        }
        let text = if i < chars.len() && is_quote(chars[i]) {
            let open = i;
            i += 1;
            let from = i;
            while i < chars.len() && !is_quote(chars[i]) {
                i += 1;
            }
            if i >= chars.len() {
                return Err(QueryError::UnclosedQuote { at: open + 1 });
            }
            let t: String = chars[from..i].iter().collect();
            i += 1;
            t
        } else {
            let from = i;
            while i < chars.len() && !crate::text::is_space(chars[i]) && !is_quote(chars[i]) {
                i += 1;
            }
            chars[from..i].iter().collect()
        };
        if !exclude && text == "OR" && !chars.get(start).is_some_and(|c| is_quote(*c)) {
            items.push(Item::Or);
            continue;
        }
        let folded = fold(&text);
        if folded.is_empty() {
            return Err(QueryError::EmptyTerm {
                at: items.len() + 1,
            });
        }
        items.push(Item::Term {
            text: folded,
            exclude,
        });
    }
    Ok(items)
}

/// Reads a query.
pub fn parse(q: &str) -> Result<Parsed, QueryError> {
    let items = lex(q)?;
    if items.is_empty() {
        return Err(QueryError::Empty);
    }
    let mut clauses: Vec<Clause> = Vec::new();
    let mut joining = false;
    for (n, item) in items.iter().enumerate() {
        match item {
            Item::Or => {
                let after_term = !joining && n > 0;
                if !after_term || n + 1 == items.len() {
                    return Err(QueryError::DanglingOr { at: n + 1 });
                }
                if let Some(last) = clauses.last().filter(|c| c.exclude) {
                    return Err(QueryError::ExcludedInOr {
                        term: last.any.join(""),
                    });
                }
                joining = true;
            }
            Item::Term { text, exclude } => {
                if joining {
                    if *exclude {
                        return Err(QueryError::ExcludedInOr { term: text.clone() });
                    }
                    if let Some(last) = clauses.last_mut() {
                        last.any.push(text.clone());
                    }
                    joining = false;
                } else {
                    clauses.push(Clause {
                        exclude: *exclude,
                        any: vec![text.clone()],
                    });
                }
            }
        }
    }
    if clauses.iter().all(|c| c.exclude) {
        return Err(QueryError::OnlyExcluded);
    }
    Ok(Parsed { clauses })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(exclude: bool, any: &[&str]) -> Clause {
        Clause {
            exclude,
            any: any.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn words_phrases_or_and_not() {
        let p = parse("安全 \"治本 攻坚\" 燃气 OR 电动自行车 -火灾").unwrap();
        assert_eq!(
            p.clauses,
            vec![
                c(false, &["安全"]),
                c(false, &["治本攻坚"]),
                c(false, &["燃气", "电动自行车"]),
                c(true, &["火灾"]),
            ]
        );
        assert!(p.matches("安全治本攻坚电动自行车"));
        assert!(!p.matches("安全治本攻坚电动自行车火灾"));
        assert!(!p.matches("安全治本攻坚"));
        assert_eq!(parse("（一）").unwrap().clauses, vec![c(false, &["(一)"])]);
        assert_eq!(
            parse("“治本攻坚”").unwrap().clauses,
            vec![c(false, &["治本攻坚"])]
        );
        assert_eq!(parse("\"OR\"").unwrap().clauses, vec![c(false, &["or"])]);
    }

    #[test]
    fn malformed_queries_say_what_is_wrong() {
        assert_eq!(parse("  "), Err(QueryError::Empty));
        assert_eq!(
            parse("安全 \"治本"),
            Err(QueryError::UnclosedQuote { at: 4 })
        );
        assert_eq!(parse("OR 安全"), Err(QueryError::DanglingOr { at: 1 }));
        assert_eq!(parse("安全 OR"), Err(QueryError::DanglingOr { at: 2 }));
        assert_eq!(
            parse("安全 OR OR 燃气"),
            Err(QueryError::DanglingOr { at: 3 })
        );
        assert!(matches!(
            parse("安全 OR -燃气"),
            Err(QueryError::ExcludedInOr { .. })
        ));
        assert!(matches!(parse("安全 -"), Err(QueryError::EmptyTerm { .. })));
        assert_eq!(parse("-安全"), Err(QueryError::OnlyExcluded));
        let msg = parse("安全 \"治本").unwrap_err().to_string();
        assert!(msg.contains("never closed"), "{msg}");
    }
}
