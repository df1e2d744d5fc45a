//! What a page becomes: the article as extracted, and the document that is
//! versioned, diffed and shown. Extraction produces these, sections fill them
//! in, and everything downstream (store, diff, alerts, reports, web) reads
//! them; so they live here, below every stage.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// One text block of the body: a paragraph, or a line where the page uses
/// `<br>` between lines. `text` is [`crate::text::display`]-normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub text: String,
    /// The leading text of the block that was set in `<strong>`/`<b>`, if any
    /// (a strong hint that it is a heading label).
    pub emphasized_prefix: Option<String>,
}

/// What the extractor finds in one page.
#[derive(Debug, Clone)]
pub struct Article {
    pub title: String,
    pub published: Option<Date>,
    pub blocks: Vec<Block>,
    /// Fields of a 政府信息公开 metadata table (索引号, 发布机构, 成文日期,
    /// 文号, 主题分类, …) as label and value, in page order; the table
    /// itself is never part of the body.
    pub metadata: Vec<(String, String)>,
}

/// The normalised content of one page: what is versioned, diffed and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub title: String,
    pub published: Option<Date>,
    pub encoding: String,
    pub preamble: String,
    pub sections: Vec<Section>,
}

impl Document {
    /// Runs `f` over every text that counts when versions are compared:
    /// title, preamble, each section's heading and text.
    pub fn map_text(&mut self, mut f: impl FnMut(&mut String)) {
        f(&mut self.title);
        f(&mut self.preamble);
        for sec in &mut self.sections {
            f(&mut sec.heading);
            f(&mut sec.text);
        }
    }
}

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
