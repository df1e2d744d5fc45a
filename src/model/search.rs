//! What a search or a comparison asks for, as plain data: the CLI builds
//! these, the control socket carries them to a daemon, and the search index
//! answers them. Regions are carried by name (`华东`), already checked by
//! whoever built the request.

use serde::{Deserialize, Serialize};

/// `search QUERY [--region R] [--province P] [--year Y] [--source ID]
/// [--all-versions] [--limit N] [--json]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub province: Option<String>,
    #[serde(default)]
    pub year: Option<i16>,
    #[serde(default)]
    pub source: Option<String>,
    /// Search every stored version, not only each source's latest.
    #[serde(default)]
    pub all_versions: bool,
    pub limit: usize,
    #[serde(default)]
    pub json: bool,
}

/// `matrix TERM… [--region R] [--year Y] [--format markdown|html|json]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRequest {
    pub terms: Vec<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub year: Option<i16>,
    pub format: MatrixFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MatrixFormat {
    #[default]
    Markdown,
    Html,
    Json,
}

impl std::str::FromStr for MatrixFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "markdown" | "md" => Ok(MatrixFormat::Markdown),
            "html" => Ok(MatrixFormat::Html),
            "json" => Ok(MatrixFormat::Json),
            _ => Err(format!("unknown format {s:?} (markdown, html or json)")),
        }
    }
}
