//! Running a query: the index finds candidates quickly — every character
//! pair of each wanted term must be there, and jieba words that match lift
//! the score — and each candidate is then checked against its own text
//! ([`Parsed::matches`]), so a hit always really contains what was asked
//! and never what was excluded.

use tantivy::collector::{DocSetCollector, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, ConstScoreQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{DocAddress, Searcher, TantivyDocument, Term};

use super::query::Parsed;
use super::schema::{self, Fields};
use super::{fold, snippet, Engine, Result, SearchIndex};

/// Matches in the word field count this much more than character pairs.
const WORD_BOOST: f32 = 2.0;

/// One matching entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub source: String,
    pub province: String,
    pub region: String,
    pub title: String,
    pub url: String,
    pub version: u32,
    pub fetched_at: String,
    /// A section path as in `diff --json`, or `_preamble`, or `_title`.
    pub path: String,
    /// An excerpt with each match marked 【like this】.
    pub snippet: String,
    pub score: f32,
    /// The snippet in pieces, each marked as a match or not.
    #[serde(skip)]
    pub parts: Vec<(String, bool)>,
    #[serde(skip)]
    pub year: u64,
    #[serde(skip)]
    pub latest: bool,
}

/// Which entries a query looks at.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filters<'a> {
    pub region: Option<&'a str>,
    pub province: Option<&'a str>,
    pub year: Option<i16>,
    pub source: Option<&'a str>,
    pub all_versions: bool,
}

fn term_query(f: tantivy::schema::Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(f, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn filter(q: Box<dyn Query>) -> (Occur, Box<dyn Query>) {
    (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
}

/// The index query for one folded term.
fn one_term(engine: &Engine, term: &str) -> Box<dyn Query> {
    let f = engine.fields;
    let grams: Vec<(Occur, Box<dyn Query>)> = schema::grams_of(term)
        .iter()
        .map(|g| (Occur::Must, term_query(f.grams, g)))
        .collect();
    let words: Vec<(Occur, Box<dyn Query>)> = schema::words_of(&engine.index, term)
        .iter()
        .map(|w| (Occur::Should, term_query(f.words, w)))
        .collect();
    let mut parts: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Must, Box::new(BooleanQuery::new(grams)))];
    if !words.is_empty() {
        parts.push((
            Occur::Should,
            Box::new(BoostQuery::new(
                Box::new(BooleanQuery::new(words)),
                WORD_BOOST,
            )),
        ));
    }
    Box::new(BooleanQuery::new(parts))
}

fn build(engine: &Engine, parsed: &Parsed, filters: &Filters) -> Box<dyn Query> {
    let f = engine.fields;
    let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for c in parsed.clauses.iter().filter(|c| !c.exclude) {
        let alts: Vec<(Occur, Box<dyn Query>)> = c
            .any
            .iter()
            .map(|t| (Occur::Should, one_term(engine, t)))
            .collect();
        must.push((Occur::Must, Box::new(BooleanQuery::new(alts))));
    }
    if !filters.all_versions {
        must.push(filter(Box::new(TermQuery::new(
            Term::from_field_u64(f.latest, 1),
            IndexRecordOption::Basic,
        ))));
    }
    for (field, value) in [
        (f.region, filters.region),
        (f.province, filters.province),
        (f.source, filters.source),
    ] {
        if let Some(v) = value {
            must.push(filter(term_query(field, v)));
        }
    }
    if let Some(y) = filters.year {
        must.push(filter(Box::new(TermQuery::new(
            Term::from_field_u64(f.year, u64::try_from(y).unwrap_or(u64::MAX)),
            IndexRecordOption::Basic,
        ))));
    }
    Box::new(BooleanQuery::new(must))
}

fn str_of(d: &TantivyDocument, f: tantivy::schema::Field) -> String {
    d.get_first(f)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn u64_of(d: &TantivyDocument, f: tantivy::schema::Field) -> u64 {
    d.get_first(f).and_then(|v| v.as_u64()).unwrap_or(0)
}

/// The entry at `addr` as a hit, if its text really matches.
fn checked(
    searcher: &Searcher,
    f: &Fields,
    parsed: &Parsed,
    addr: DocAddress,
    score: f32,
) -> tantivy::Result<Option<Hit>> {
    let d: TantivyDocument = searcher.doc(addr)?;
    let text = str_of(&d, f.text);
    if !parsed.matches(&fold(&text)) {
        return Ok(None);
    }
    Ok(Some(Hit {
        source: str_of(&d, f.source),
        province: str_of(&d, f.province),
        region: str_of(&d, f.region),
        title: str_of(&d, f.title),
        url: str_of(&d, f.url),
        version: u32::try_from(u64_of(&d, f.version)).unwrap_or(0),
        fetched_at: str_of(&d, f.fetched_at),
        path: str_of(&d, f.path),
        snippet: snippet::snippet(&text, parsed.wanted()),
        parts: snippet::parts(&text, parsed.wanted()),
        score,
        year: u64_of(&d, f.year),
        latest: u64_of(&d, f.latest) == 1,
    }))
}

impl SearchIndex {
    /// The best `limit` hits, best first.
    pub(crate) fn top(&self, parsed: &Parsed, filters: &Filters, limit: usize) -> Result<Vec<Hit>> {
        let engine = self.engine()?;
        let t = |e| self.tantivy(e);
        let searcher = engine.reader.searcher();
        let q = build(&engine, parsed, filters);
        let limit = limit.max(1);
        // Candidates that fail the text check (an excluded word, pairs
        // found apart) are dropped; ask for more until enough remain.
        let mut want = limit.saturating_mul(2).max(20);
        loop {
            let found = searcher
                .search(&q, &TopDocs::with_limit(want).order_by_score())
                .map_err(t)?;
            let mut hits = Vec::new();
            for (score, addr) in &found {
                if let Some(h) =
                    checked(&searcher, &engine.fields, parsed, *addr, *score).map_err(t)?
                {
                    hits.push(h);
                    if hits.len() == limit {
                        break;
                    }
                }
            }
            if hits.len() == limit || found.len() < want {
                return Ok(hits);
            }
            want = want.saturating_mul(4);
        }
    }

    /// Every hit, in no particular order (for the matrix and facets).
    pub(crate) fn all(&self, parsed: &Parsed, filters: &Filters) -> Result<Vec<Hit>> {
        let engine = self.engine()?;
        let t = |e| self.tantivy(e);
        let searcher = engine.reader.searcher();
        let q = build(&engine, parsed, filters);
        let found = searcher.search(&q, &DocSetCollector).map_err(t)?;
        let mut hits = Vec::new();
        for addr in found {
            if let Some(h) = checked(&searcher, &engine.fields, parsed, addr, 0.0).map_err(t)? {
                hits.push(h);
            }
        }
        Ok(hits)
    }
}
