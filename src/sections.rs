//! The numbered hierarchy of a Chinese official document:
//! `一、` → `（一）` → `1.` → `（1）`, and `第一章`/`第一条`.
//!
//! Input is the article body as text blocks (paragraphs or `<br>`-separated
//! lines); output is the preamble plus a flat list of sections, each with its
//! canonical label and full label path, in document order.

use serde::{Deserialize, Serialize};

use crate::extract::Block;

/// One numbered section. `heading` + `text` is the section's own text after
/// its label (not including its sub-sections).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    /// Canonical label, e.g. `(一)`, `一、`, `1.`, `(1)`, `第一章`.
    pub label: String,
    /// The label as printed on the page, e.g. `（一）`.
    pub raw_label: String,
    /// Canonical labels from the outermost level down to this section.
    pub path: Vec<String>,
    /// 1 = the outermost level used in this document.
    pub level: u8,
    pub heading: String,
    pub text: String,
}

impl Section {
    /// The path as the manifest and the CLI write it: labels joined with `/`.
    pub fn path_str(&self) -> String {
        self.path.join("/")
    }

    /// The section's own text (heading and body) as one string.
    pub fn body(&self) -> String {
        format!("{}{}", self.heading, self.text)
    }
}

/// The preamble (text before the first heading) and the sections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub preamble: String,
    pub sections: Vec<Section>,
}

/// Splits body blocks into the preamble and numbered sections.
pub fn parse(blocks: &[Block]) -> Parsed {
    Parsed {
        preamble: blocks
            .iter()
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        sections: Vec::new(),
    }
}
