//! The result of comparing two versions: which sections were added,
//! removed, modified or renumbered, with their inline changes. Computed by
//! [`crate::diff`], stored nowhere, rendered by alerts, reports and the web
//! view.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Pseudo-path for the text before the first numbered section.
pub const PREAMBLE: &str = "_preamble";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Modified,
    /// Same content under a new label (possibly also lightly edited: then
    /// `inline` is not empty).
    Renumbered,
}

/// A piece of an inline diff. `Gap` stands for unchanged text left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", content = "text", rename_all = "lowercase")]
pub enum Span {
    Equal(String),
    Insert(String),
    Delete(String),
    Gap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionChange {
    pub kind: ChangeKind,
    /// Path in the newer version (the older one for `Removed`).
    pub path: String,
    /// Path in the older version when it differs (`Renumbered`).
    pub old_path: Option<String>,
    /// Heading of the section (newer version's, older for `Removed`), for
    /// display; the opening words of its text when it has no heading line.
    pub heading: String,
    /// Inline diff for `Modified` (and edited `Renumbered`) sections, with
    /// only a few characters of context around each change; the full text
    /// for `Added`/`Removed` as a single Insert/Delete span.
    pub inline: Vec<Span>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocDiff {
    pub title_changed: Option<(String, String)>,
    pub date_changed: Option<(Option<Date>, Option<Date>)>,
    pub changes: Vec<SectionChange>,
}

impl DocDiff {
    pub fn is_empty(&self) -> bool {
        self.title_changed.is_none() && self.date_changed.is_none() && self.changes.is_empty()
    }

    fn paths(&self, kind: ChangeKind) -> Vec<String> {
        self.changes
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.path.clone())
            .collect()
    }
    pub fn added(&self) -> Vec<String> {
        self.paths(ChangeKind::Added)
    }
    pub fn removed(&self) -> Vec<String> {
        self.paths(ChangeKind::Removed)
    }
    /// Paths whose text changed (modified, and renumbered-and-edited).
    pub fn changed(&self) -> Vec<String> {
        self.changes
            .iter()
            .filter(|c| {
                c.kind == ChangeKind::Modified
                    || (c.kind == ChangeKind::Renumbered && !c.inline.is_empty())
            })
            .map(|c| c.path.clone())
            .collect()
    }
    /// `(from, to)` pairs of renumbered sections.
    pub fn renumbered(&self) -> Vec<(String, String)> {
        self.changes
            .iter()
            .filter(|c| c.kind == ChangeKind::Renumbered)
            .map(|c| (c.old_path.clone().unwrap_or_default(), c.path.clone()))
            .collect()
    }
}
