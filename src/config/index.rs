//! The configured sources by id: [`crate::config::Config::source`] is asked
//! for a listing once per discovered article when the daemon plans its
//! timetable, so at 100,000 sources a walk over all of them per question
//! would cost more than the checks. Positions sorted by id, 4 bytes a
//! source, searched by halving.

use std::fmt;
use std::sync::Arc;

use super::{Config, Source};

/// Positions into `Config::sources`, in the order of their ids.
#[derive(Clone, Default)]
pub(crate) struct SourceIndex(pub(crate) Vec<u32>);

impl SourceIndex {
    pub(crate) fn of(sources: &[Arc<Source>]) -> SourceIndex {
        let mut at: Vec<u32> = (0..sources.len() as u32).collect();
        at.sort_unstable_by(|&a, &b| sources[a as usize].id.cmp(&sources[b as usize].id));
        SourceIndex(at)
    }
}

impl Config {
    /// The configured source `id` (a binary search of the index; a walk
    /// if `sources` was changed after loading).
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.position(id)
            .and_then(|i| self.sources.get(i))
            .map(|s| &**s)
    }

    /// Where the configured source `id` is in `sources` (its order in the
    /// sources file), found as [`Config::source`] finds it.
    pub fn position(&self, id: &str) -> Option<usize> {
        let at = self
            .by_id
            .0
            .binary_search_by(|&i| {
                self.sources
                    .get(i as usize)
                    .map_or(std::cmp::Ordering::Greater, |s| s.id.as_str().cmp(id))
            })
            .ok()
            .map(|k| self.by_id.0[k] as usize)
            .filter(|&i| self.sources.get(i).is_some_and(|s| s.id == id));
        at.or_else(|| self.sources.iter().position(|s| s.id == id))
    }
}

impl fmt::Debug for SourceIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceIndex({} sources)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_source_is_found_by_its_id_and_an_unknown_id_is_not() {
        let mut text = String::from("[settings]\ninterval = \"60s\"\n");
        // Ids out of order, so the index is not the file's order.
        for n in [7, 3, 11, 0, 5, 42, 9] {
            text.push_str(&format!(
                "\n[[source]]\nid = \"s{n}\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/{n}.html\"\nkind = \"article\"\n"
            ));
        }
        let c = crate::config::parse(&text, std::path::Path::new("t/sources.toml")).unwrap();
        for s in &c.sources {
            assert_eq!(
                c.source(&s.id).map(|f| f.url.as_str()),
                Some(s.url.as_str())
            );
        }
        assert!(c.source("s4").is_none());
        assert!(c.source("").is_none());
        // Sources changed after loading are still found (by a walk).
        let mut c2 = c.clone();
        c2.sources.reverse();
        assert_eq!(c2.source("s42").unwrap().id, "s42");
    }
}
