//! Provinces × terms: which provinces' latest deployments mention each
//! term, with hit counts and the sections — the comparison editors make by
//! hand today.

use std::collections::{BTreeMap, BTreeSet};

use tantivy::collector::DocSetCollector;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{TantivyDocument, Term};

use super::find::Filters;
use super::query::{parse, Parsed};
use super::{schema, Result, SearchIndex};
use crate::config::Region;
use crate::model::MatrixRequest;

/// One province's row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Row {
    pub province: String,
    pub region: String,
    pub cells: Vec<Cell>,
}

/// One term in one province.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cell {
    pub term: String,
    pub hits: usize,
    /// Matching entries: source, version and path, in path order.
    pub sections: Vec<SectionRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct SectionRef {
    pub source: String,
    pub version: u32,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Matrix {
    pub terms: Vec<String>,
    pub rows: Vec<Row>,
}

fn region_rank(name: &str) -> usize {
    Region::ALL
        .iter()
        .position(|r| r.name() == name)
        .unwrap_or(Region::ALL.len())
}

impl SearchIndex {
    /// The matrix for `req`; a malformed term is an error naming it.
    pub fn matrix(&self, req: &MatrixRequest) -> Result<Matrix> {
        let queries: Vec<Parsed> = req
            .terms
            .iter()
            .map(|t| parse(t))
            .collect::<std::result::Result<_, _>>()?;
        let filters = Filters {
            region: req.region.as_deref(),
            year: req.year,
            ..Filters::default()
        };
        // Rows: every province with a latest version under the filters.
        let mut rows: BTreeMap<(usize, String), String> = BTreeMap::new();
        for (province, region) in self.provinces(&filters)? {
            rows.insert((region_rank(&region), province), region);
        }
        let mut cells: BTreeMap<(String, usize), BTreeSet<SectionRef>> = BTreeMap::new();
        let mut counts: BTreeMap<(String, usize), usize> = BTreeMap::new();
        for (n, q) in queries.iter().enumerate() {
            for h in self.all(q, &filters)? {
                *counts.entry((h.province.clone(), n)).or_default() += 1;
                cells
                    .entry((h.province.clone(), n))
                    .or_default()
                    .insert(SectionRef {
                        source: h.source,
                        version: h.version,
                        path: h.path,
                    });
                rows.entry((region_rank(&h.region), h.province))
                    .or_insert(h.region);
            }
        }
        let rows = rows
            .into_iter()
            .map(|((_, province), region)| Row {
                cells: req
                    .terms
                    .iter()
                    .enumerate()
                    .map(|(n, term)| {
                        let key = (province.clone(), n);
                        Cell {
                            term: term.clone(),
                            hits: counts.get(&key).copied().unwrap_or(0),
                            sections: cells
                                .get(&key)
                                .map(|s| s.iter().cloned().collect())
                                .unwrap_or_default(),
                        }
                    })
                    .collect(),
                province,
                region,
            })
            .collect();
        Ok(Matrix {
            terms: req.terms.clone(),
            rows,
        })
    }

    /// (province, region) of every latest version under `filters`.
    fn provinces(&self, filters: &Filters) -> Result<BTreeSet<(String, String)>> {
        let engine = self.engine()?;
        let f = engine.fields;
        let t = |e| self.tantivy(e);
        let term = |field, text: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, text),
                IndexRecordOption::Basic,
            ))
        };
        let mut must: Vec<(Occur, Box<dyn Query>)> = vec![
            (Occur::Must, term(f.kind, schema::KIND_TITLE)),
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.latest, 1),
                    IndexRecordOption::Basic,
                )),
            ),
        ];
        if let Some(r) = filters.region {
            must.push((Occur::Must, term(f.region, r)));
        }
        if let Some(y) = filters.year {
            must.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_u64(f.year, u64::try_from(y).unwrap_or(u64::MAX)),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let searcher = engine.reader.searcher();
        let mut out = BTreeSet::new();
        for addr in searcher
            .search(&BooleanQuery::new(must), &DocSetCollector)
            .map_err(t)?
        {
            let d: TantivyDocument = searcher.doc(addr).map_err(t)?;
            let get = |field| {
                d.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            out.insert((get(f.province), get(f.region)));
        }
        Ok(out)
    }
}
