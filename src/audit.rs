//! Reading the history back: what auditors and scripts see.
//!
//! Every read-only command (`history`, `show`, `diff`, `outbox`, `verify`,
//! `export`, `compile`) renders its output here, as a string, from a
//! [`Store`]. The CLI prints it when it can open the store itself, and the
//! daemon's control socket returns the very same string when the daemon holds
//! the store — so both paths print exactly the same thing.

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::alert::{AlertConfig, Renderer};
use crate::diff;
use crate::model::{DocDiff, Span};
use crate::present::{change_label, change_location, date_or_dash};
use crate::report::ReportError;
use crate::store::{DeliveryState, Store, StoreError, VersionRecord};

pub use crate::present::document::{document_json, document_text};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no source {0:?} in the store (see `bulletin-watch history` for known ids)")]
    UnknownSource(String),
    #[error("source {id:?} has no version {version} (it has 1–{latest})")]
    UnknownVersion {
        id: String,
        version: u32,
        latest: u32,
    },
    #[error("source {0:?} has only one version; nothing to compare")]
    NothingToCompare(String),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    #[error("no version of {id:?} has a section {path:?} (see `bulletin-watch show {id}` for its paths)")]
    UnknownSection { id: String, path: String },
    #[error("searches are answered from the search index, not from the store alone")]
    NeedsIndex,
}

pub type Result<T> = std::result::Result<T, AuditError>;

fn versions_of(store: &Store, source: &str) -> Result<Vec<VersionRecord>> {
    let v = store.versions(source)?;
    if v.is_empty() {
        return Err(AuditError::UnknownSource(source.to_string()));
    }
    Ok(v)
}

fn pick(versions: &[VersionRecord], source: &str, n: u32) -> Result<VersionRecord> {
    versions
        .iter()
        .find(|r| r.version == n)
        .cloned()
        .ok_or_else(|| AuditError::UnknownVersion {
            id: source.to_string(),
            version: n,
            latest: versions.last().map_or(0, |r| r.version),
        })
}

/// `history SOURCE [--json]`; with no source, one line per source.
pub fn history(store: &Store, source: Option<&str>, as_json: bool) -> Result<String> {
    let Some(source) = source else {
        let mut out = String::new();
        let ids = store.source_ids()?;
        if as_json {
            let list: Vec<Value> = ids
                .iter()
                .filter_map(|id| store.latest(id).ok().flatten())
                .map(|r| json!({"source": r.source, "versions": r.version, "latest_fetched_at": r.fetched_at.to_string(), "title": r.title, "url": r.url}))
                .collect();
            return Ok(serde_json::to_string_pretty(&list).unwrap_or_default() + "\n");
        }
        for id in ids {
            if let Some(r) = store.latest(&id)? {
                let _ = writeln!(
                    out,
                    "{:<28} v{:<3} {}  {}",
                    id,
                    r.version,
                    short_time(&r.fetched_at),
                    crate::text::one_line(&r.title)
                );
            }
        }
        return Ok(out);
    };
    let versions = versions_of(store, source)?;
    if as_json {
        let list: Vec<Value> = versions
            .iter()
            .map(|r| {
                json!({
                    "version": r.version,
                    "fetched_at": r.fetched_at.to_string(),
                    "content_hash": r.content_hash,
                    "prev_hash": r.prev_hash,
                    "title": r.title,
                    "sections": r.sections,
                    "url": r.url,
                    "status": r.status,
                })
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&list).unwrap_or_default() + "\n");
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{source}: {} versions  ({})",
        versions.len(),
        versions[0].url
    );
    for r in &versions {
        let _ = writeln!(
            out,
            "  v{:<3} {}  {:>3} 节  {:>7} B  {}  {}",
            r.version,
            short_time(&r.fetched_at),
            r.sections,
            r.byte_len,
            r.content_hash.get(..12).unwrap_or(&r.content_hash),
            crate::text::one_line(&r.title)
        );
    }
    Ok(out)
}

fn short_time(t: &jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// Version `version` of a source, or its latest.
fn record_for(store: &Store, source: &str, version: Option<u32>) -> Result<VersionRecord> {
    let versions = versions_of(store, source)?;
    match version {
        Some(n) => pick(&versions, source, n),
        None => Ok(versions
            .last()
            .cloned()
            .expect("versions_of never returns empty")),
    }
}

/// `show SOURCE [--version N] [--json]`.
pub fn show(store: &Store, source: &str, version: Option<u32>, as_json: bool) -> Result<String> {
    let rec = record_for(store, source, version)?;
    let doc = store.document(&rec)?;
    if as_json {
        return Ok(serde_json::to_string_pretty(&document_json(&doc)).unwrap_or_default() + "\n");
    }
    let mut out = format!(
        "{source} v{} · fetched {} · {}\n原文链接 Original: {}\n\n",
        rec.version,
        short_time(&rec.fetched_at),
        rec.encoding,
        rec.url
    );
    out.push_str(&document_text(&doc));
    Ok(out)
}

/// `show SOURCE --raw`: the bytes exactly as fetched.
pub fn raw(store: &Store, source: &str, version: Option<u32>) -> Result<Vec<u8>> {
    let rec = record_for(store, source, version)?;
    Ok(store.raw(&rec)?)
}

/// The two documents `diff SOURCE [FROM] [TO]` compares (defaults: the last two).
pub fn diff_pair(
    store: &Store,
    source: &str,
    from: Option<u32>,
    to: Option<u32>,
) -> Result<(VersionRecord, VersionRecord, DocDiff)> {
    let versions = versions_of(store, source)?;
    let latest = versions.last().map_or(0, |r| r.version);
    let to_n = to.unwrap_or(latest);
    let from_n = match from {
        Some(n) => n,
        None if to_n > 1 => to_n - 1,
        None => return Err(AuditError::NothingToCompare(source.to_string())),
    };
    let a = pick(&versions, source, from_n)?;
    let b = pick(&versions, source, to_n)?;
    let d = diff::diff(&store.document(&a)?, &store.document(&b)?);
    Ok((a, b, d))
}

/// `diff --json`: the contract scripts rely on.
pub use crate::present::diff_json;

/// Inline spans as terminal text: `[-deleted-]{+inserted+}`, `…` for gaps.
pub fn spans_text(spans: &[Span]) -> String {
    let mut s = String::new();
    for sp in spans {
        match sp {
            Span::Equal(t) => s.push_str(t),
            Span::Insert(t) => {
                let _ = write!(s, "{{+{t}+}}");
            }
            Span::Delete(t) => {
                let _ = write!(s, "[-{t}-]");
            }
            Span::Gap => s.push('…'),
        }
    }
    s
}

/// `diff SOURCE [FROM] [TO] [--json]`.
pub fn diff_output(
    store: &Store,
    source: &str,
    from: Option<u32>,
    to: Option<u32>,
    as_json: bool,
) -> Result<String> {
    let (a, b, d) = diff_pair(store, source, from, to)?;
    if as_json {
        return Ok(
            serde_json::to_string_pretty(&diff_json(source, a.version, b.version, &d))
                .unwrap_or_default()
                + "\n",
        );
    }
    let mut out = format!(
        "{source}: v{} ({}) → v{} ({})\n",
        a.version,
        short_time(&a.fetched_at),
        b.version,
        short_time(&b.fetched_at)
    );
    if d.is_empty() {
        out.push_str("无变化 No changes.\n");
        return Ok(out);
    }
    if let Some((old, new)) = &d.title_changed {
        let _ = writeln!(out, "标题 Title: {old} → {new}");
    }
    if let Some((old, new)) = &d.date_changed {
        let _ = writeln!(
            out,
            "日期 Date: {} → {}",
            date_or_dash(old),
            date_or_dash(new)
        );
    }
    for c in &d.changes {
        let what = change_label(c.kind);
        let _ = writeln!(out, "\n{}  [{what}]", change_location(c));
        if !c.inline.is_empty() {
            let _ = writeln!(out, "  {}", spans_text(&c.inline));
        }
    }
    Ok(out)
}

/// `outbox [--json]`: every alert with its delivery state, rendered with
/// `config` as it would be sent now.
pub fn outbox(store: &Store, config: &AlertConfig, as_json: bool) -> Result<String> {
    let entries = store.outbox()?;
    let renderer = Renderer::new(store, config);
    let messages = entries
        .iter()
        .map(|e| renderer.render(e))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if as_json {
        let list: Vec<Value> = entries
            .iter()
            .zip(&messages)
            .map(|(e, message)| {
                let mut v = json!({
                    "key": e.key,
                    "kind": e.kind,
                    "source": e.source,
                    "version": e.version,
                    "state": e.state,
                    "attempts": e.attempts,
                    "last_error": e.last_error,
                    "created_at": e.created_at.to_string(),
                    "delivered_at": e.delivered_at.map(|t| t.to_string()),
                    "message_id": message.message_id,
                    "subject": message.subject,
                });
                // Fields an e-mail entry of the previous release never had
                // appear only when set, so its listing reads as before.
                if let Some(map) = v.as_object_mut() {
                    if let Some(c) = &e.channel {
                        map.insert("channel".into(), json!(c));
                    }
                    if let Some(r) = &e.permanent {
                        map.insert("delivery".into(), json!(e.state_name()));
                        map.insert(
                            "refusal".into(),
                            json!({"code": r.code, "message": r.message}),
                        );
                    }
                    if !e.parts_done.is_empty() {
                        map.insert("parts_done".into(), json!(e.parts_done));
                    }
                    if let Some(n) = &e.notice {
                        map.insert("notice".into(), json!(n));
                    }
                }
                v
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&list).unwrap_or_default() + "\n");
    }
    let mut out = String::new();
    let (mut pending, mut delivered, mut failing) = (0, 0, 0);
    for (e, message) in entries.iter().zip(&messages) {
        let state = match (e.state, &e.last_error) {
            (DeliveryState::Pending, _) if e.permanent.is_some() => {
                failing += 1;
                "permanent"
            }
            (DeliveryState::Delivered, _) => {
                delivered += 1;
                "delivered"
            }
            (DeliveryState::Pending, Some(_)) => {
                failing += 1;
                "failing"
            }
            (DeliveryState::Pending, None) => {
                pending += 1;
                "pending"
            }
        };
        let via = match &e.channel {
            Some(c) => format!(" [{c}]"),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<10} {:<36} tries={:<3} {}{via}",
            state, e.key, e.attempts, message.subject
        );
        if let (DeliveryState::Pending, Some(err)) = (e.state, &e.last_error) {
            let _ = writeln!(out, "           last error: {err}");
        }
    }
    let _ = writeln!(
        out,
        "{pending} pending, {failing} failing, {delivered} delivered"
    );
    Ok(out)
}

/// A read-only request, answered from a store — by this process when it can
/// open the store, or by the daemon that holds it (over its control socket).
/// Both paths call [`answer`], so they print exactly the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "query", rename_all = "lowercase")]
pub enum Query {
    History {
        source: Option<String>,
        json: bool,
    },
    Show {
        source: String,
        version: Option<u32>,
        json: bool,
        raw: bool,
    },
    Diff {
        source: String,
        from: Option<u32>,
        to: Option<u32>,
        json: bool,
    },
    Outbox {
        json: bool,
        /// The asking command's configuration, so that the daemon renders
        /// the alerts exactly as the command itself would.
        #[serde(default)]
        config: AlertConfig,
    },
    Verify {
        source: Option<String>,
    },
    Export {
        source: Option<String>,
        format: crate::report::ExportFormat,
    },
    Compile {
        request: crate::report::CompileRequest,
    },
    /// The volatile text learned for a source, as a JSON list of patterns.
    Volatile {
        source: String,
    },
    /// `search QUERY …`: answered from the search index
    /// ([`crate::control`] sends it there); `sources` names the entries
    /// an index built by the asking process carries.
    Search {
        request: crate::model::SearchRequest,
        #[serde(default)]
        sources: crate::catalog::Catalog,
    },
    /// `matrix TERM…`: answered from the search index, like `Search`.
    Matrix {
        request: crate::model::MatrixRequest,
        #[serde(default)]
        sources: crate::catalog::Catalog,
    },
    /// `history SOURCE --section PATH`.
    SectionHistory {
        source: String,
        section: String,
        json: bool,
    },
}

/// The output of a query, as bytes (`show --raw` is not text).
pub fn answer(store: &Store, q: &Query) -> Result<Vec<u8>> {
    Ok(match q {
        Query::History { source, json } => history(store, source.as_deref(), *json)?.into_bytes(),
        Query::Show {
            source,
            version,
            raw: true,
            ..
        } => raw(store, source, *version)?,
        Query::Show {
            source,
            version,
            json,
            ..
        } => show(store, source, *version, *json)?.into_bytes(),
        Query::Diff {
            source,
            from,
            to,
            json,
        } => diff_output(store, source, *from, *to, *json)?.into_bytes(),
        Query::Outbox { json, config } => outbox(store, config, *json)?.into_bytes(),
        Query::Verify { source } => {
            format!("{}\n", crate::verify::verify(store, source.as_deref())?).into_bytes()
        }
        Query::Export { source, format } => {
            crate::report::export(store, source.as_deref(), *format)?.into_bytes()
        }
        Query::Compile { request } => crate::report::compile(store, request)?.into_bytes(),
        Query::Volatile { source } => {
            serde_json::to_vec(&store.fetch_state(source)?.volatile.patterns)
                .unwrap_or_else(|_| b"[]".to_vec())
        }
        Query::SectionHistory {
            source,
            section,
            json,
        } => section_history(store, source, section, *json)?.into_bytes(),
        Query::Search { .. } | Query::Matrix { .. } => return Err(AuditError::NeedsIndex),
    })
}

/// `history SOURCE --section PATH`: the timeline of one section — every
/// version in which it appeared, changed, moved or went, with its inline
/// diff. A section renumbered to `PATH` (or away from it) counts under
/// both paths.
pub fn section_history(
    store: &Store,
    source: &str,
    section: &str,
    as_json: bool,
) -> Result<String> {
    let versions = versions_of(store, source)?;
    let mut timeline: Vec<(VersionRecord, crate::model::SectionChange)> = Vec::new();
    let mut prev: Option<crate::model::Document> = None;
    for rec in versions {
        let doc = store.document(&rec)?;
        let before = prev.take().unwrap_or_else(|| crate::model::Document {
            title: doc.title.clone(),
            published: doc.published,
            encoding: doc.encoding.clone(),
            preamble: String::new(),
            sections: Vec::new(),
        });
        for c in diff::diff(&before, &doc).changes {
            if c.path == section || c.old_path.as_deref() == Some(section) {
                timeline.push((rec.clone(), c));
            }
        }
        prev = Some(doc);
    }
    if timeline.is_empty() {
        return Err(AuditError::UnknownSection {
            id: source.to_string(),
            path: section.to_string(),
        });
    }
    if as_json {
        let list: Vec<Value> = timeline
            .iter()
            .map(|(r, c)| {
                json!({
                    "version": r.version,
                    "fetched_at": r.fetched_at.to_string(),
                    "kind": c.kind,
                    "path": c.path,
                    "old_path": c.old_path,
                    "inline": c.inline,
                })
            })
            .collect();
        return Ok(serde_json::to_string_pretty(&list).unwrap_or_default() + "\n");
    }
    let mut out = format!(
        "{source} {}: {} versions changed it\n",
        crate::present::path_label(section),
        timeline.len()
    );
    for (r, c) in &timeline {
        let _ = writeln!(
            out,
            "\nv{:<3} {}  {}  [{}]",
            r.version,
            short_time(&r.fetched_at),
            change_location(c),
            change_label(c.kind)
        );
        if !c.inline.is_empty() {
            let _ = writeln!(out, "  {}", spans_text(&c.inline));
        }
    }
    Ok(out)
}
