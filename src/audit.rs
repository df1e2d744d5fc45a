//! Reading the history back: what auditors and scripts see.
//!
//! Every read-only command (`history`, `show`, `diff`, `outbox`, `verify`,
//! `export`, `compile`) renders its output here from a [`Store`]: `history`,
//! `outbox` and `export` written as they go ([`answer_to`]), the others as a
//! string. The CLI prints it when it can open the store itself, and the
//! daemon's control socket returns the very same bytes when the daemon holds
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
    #[error(transparent)]
    Anchors(#[from] crate::evidence::AnchorCheckError),
    /// A query only the daemon answers (it asks the TSAs).
    #[error("{0}")]
    DaemonOnly(&'static str),
    #[error("cannot write the output")]
    Write(#[source] std::io::Error),
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

/// `history SOURCE [--json]`; with no source, one line per source. As one
/// string (see [`history_to`]).
pub fn history(store: &Store, source: Option<&str>, as_json: bool) -> Result<String> {
    let mut out = Vec::new();
    history_to(store, source, as_json, &mut out)?;
    Ok(into_string(out))
}

fn into_string(out: Vec<u8>) -> String {
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn put(out: &mut dyn std::io::Write, bytes: &[u8]) -> Result<()> {
    out.write_all(bytes).map_err(AuditError::Write)
}

/// Writes a JSON array element by element, byte for byte as
/// `serde_json::to_string_pretty` of the whole list followed by a newline
/// would, without holding the list: each element is pretty-printed alone
/// and indented one level (JSON text has no raw newlines inside strings).
struct PrettyList<'a> {
    out: &'a mut dyn std::io::Write,
    started: bool,
}

impl<'a> PrettyList<'a> {
    fn new(out: &'a mut dyn std::io::Write) -> PrettyList<'a> {
        PrettyList {
            out,
            started: false,
        }
    }

    fn push(&mut self, v: &Value) -> Result<()> {
        let text = serde_json::to_string_pretty(v).unwrap_or_default();
        let mut chunk = String::with_capacity(text.len() + 64);
        chunk.push_str(if self.started { ",\n" } else { "[\n" });
        self.started = true;
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                chunk.push('\n');
            }
            chunk.push_str("  ");
            chunk.push_str(line);
        }
        put(self.out, chunk.as_bytes())
    }

    fn end(self) -> Result<()> {
        put(
            self.out,
            if self.started { "\n]\n" } else { "[]\n" }.as_bytes(),
        )
    }
}

/// `history`, written to `out` as it goes: with no source, one source at a
/// time; for one source, one version at a time (its records are read
/// first, as the heading counts them). The same bytes as [`history`].
pub fn history_to(
    store: &Store,
    source: Option<&str>,
    as_json: bool,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let mut line = String::new();
    let Some(source) = source else {
        let ids = store.source_ids()?;
        if as_json {
            let mut list = PrettyList::new(out);
            for r in ids.iter().filter_map(|id| store.latest(id).ok().flatten()) {
                list.push(&json!({"source": r.source, "versions": r.version, "latest_fetched_at": r.fetched_at.to_string(), "title": r.title, "url": r.url}))?;
            }
            return list.end();
        }
        for id in ids {
            if let Some(r) = store.latest(&id)? {
                line.clear();
                let _ = writeln!(
                    line,
                    "{:<28} v{:<3} {}  {}",
                    id,
                    r.version,
                    short_time(&r.fetched_at),
                    crate::text::one_line(&r.title)
                );
                put(out, line.as_bytes())?;
            }
        }
        return Ok(());
    };
    let versions = versions_of(store, source)?;
    if as_json {
        let mut list = PrettyList::new(out);
        for r in &versions {
            list.push(&json!({
                "version": r.version,
                "fetched_at": r.fetched_at.to_string(),
                "content_hash": r.content_hash,
                "prev_hash": r.prev_hash,
                "title": r.title,
                "sections": r.sections,
                "url": r.url,
                "status": r.status,
            }))?;
        }
        return list.end();
    }
    let _ = writeln!(
        line,
        "{source}: {} versions  ({})",
        versions.len(),
        versions[0].url
    );
    put(out, line.as_bytes())?;
    for r in &versions {
        line.clear();
        let _ = writeln!(
            line,
            "  v{:<3} {}  {:>3} 节  {:>7} B  {}  {}",
            r.version,
            short_time(&r.fetched_at),
            r.sections,
            r.byte_len,
            r.content_hash.get(..12).unwrap_or(&r.content_hash),
            crate::text::one_line(&r.title)
        );
        put(out, line.as_bytes())?;
    }
    Ok(())
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
/// `config` as it would be sent now. As one string (see [`outbox_to`]).
pub fn outbox(store: &Store, config: &AlertConfig, as_json: bool) -> Result<String> {
    let mut out = Vec::new();
    outbox_to(store, config, as_json, &mut out)?;
    Ok(into_string(out))
}

/// `outbox`, written to `out` as it goes: each alert is rendered, written
/// and dropped before the next (the events are small; their e-mails are
/// not). An alert that cannot be rendered ends the output with an error
/// after the lines before it.
pub fn outbox_to(
    store: &Store,
    config: &AlertConfig,
    as_json: bool,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let entries = store.outbox()?;
    let renderer = Renderer::new(store, config);
    if as_json {
        let mut list = PrettyList::new(out);
        for e in &entries {
            let message = renderer.render(e)?;
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
            list.push(&v)?;
        }
        return list.end();
    }
    let (mut pending, mut delivered, mut failing) = (0, 0, 0);
    let mut line = String::new();
    for e in &entries {
        let message = renderer.render(e)?;
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
        line.clear();
        let _ = writeln!(
            line,
            "{:<10} {:<36} tries={:<3} {}{via}",
            state, e.key, e.attempts, message.subject
        );
        if let (DeliveryState::Pending, Some(err)) = (e.state, &e.last_error) {
            let _ = writeln!(line, "           last error: {err}");
        }
        put(out, line.as_bytes())?;
    }
    line.clear();
    let _ = writeln!(
        line,
        "{pending} pending, {failing} failing, {delivered} delivered"
    );
    put(out, line.as_bytes())
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
    /// `verify` with the TSAs' configured CA files: stored anchors are
    /// checked against these (else against the CA stored with them).
    VerifyWith {
        source: Option<String>,
        trust: Vec<crate::evidence::TrustedCa>,
    },
    /// `anchors [--json]`.
    Anchors {
        json: bool,
    },
    /// Every stored anchor record, as JSON (for `anchors --export`).
    AnchorRecords,
    /// `anchor` while the daemon runs: the daemon anchors at once and
    /// answers with the round's report.
    Anchor,
    /// Every source's schedule and every tracked article, as JSON
    /// ([`crate::store::Standings`]).
    Standings,
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
    let mut out = Vec::new();
    answer_to(store, q, &mut out)?;
    Ok(out)
}

/// The output of a query, written to `out`: `history`, `outbox` and
/// `export` as they go, the others whole. An error may follow some output.
pub fn answer_to(store: &Store, q: &Query, out: &mut dyn std::io::Write) -> Result<()> {
    let whole = match q {
        Query::History { source, json } => return history_to(store, source.as_deref(), *json, out),
        Query::Outbox { json, config } => return outbox_to(store, config, *json, out),
        Query::Export { source, format } => {
            return Ok(crate::report::export_to(
                store,
                source.as_deref(),
                *format,
                out,
            )?)
        }
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
        Query::Verify { source } => verify(store, source.as_deref(), &[])?.into_bytes(),
        Query::VerifyWith { source, trust } => {
            verify(store, source.as_deref(), trust)?.into_bytes()
        }
        Query::Anchors { json: false } => crate::evidence::list(store)?.into_bytes(),
        Query::Anchors { json: true } => crate::evidence::list_json(store)?.into_bytes(),
        Query::AnchorRecords => serde_json::to_vec(&store.anchors()?).unwrap_or_default(),
        Query::Anchor => {
            return Err(AuditError::DaemonOnly(
                "anchoring asks the TSAs: `bulletin-watch anchor` or the daemon does it",
            ))
        }
        Query::Compile { request } => crate::report::compile(store, request)?.into_bytes(),
        Query::Volatile { source } => {
            serde_json::to_vec(&store.fetch_state(source)?.volatile.patterns)
                .unwrap_or_else(|_| b"[]".to_vec())
        }
        Query::Standings => serde_json::to_vec(&store.standings()?).unwrap_or_default(),
        Query::SectionHistory {
            source,
            section,
            json,
        } => section_history(store, source, section, *json)?.into_bytes(),
        Query::Search { .. } | Query::Matrix { .. } => return Err(AuditError::NeedsIndex),
    };
    put(out, &whole)
}

/// `verify`: the hash chains, then every stored anchor (a store without
/// anchors prints exactly the chains' summary).
fn verify(
    store: &Store,
    source: Option<&str>,
    trust: &[crate::evidence::TrustedCa],
) -> Result<String> {
    let summary = crate::verify::verify(store, source)?;
    let anchors = crate::evidence::check_anchors(store, source, trust)?;
    Ok(format!("{summary}\n{anchors}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn streamed(list: &[Value]) -> String {
        let mut out = Vec::new();
        let mut w = PrettyList::new(&mut out);
        for v in list {
            w.push(v).unwrap();
        }
        w.end().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_streamed_list_prints_as_the_whole_list_would() {
        let cases = [
            vec![],
            vec![json!({"a": 1})],
            vec![
                json!({"source": "a\nb", "v": [1, 2, {"x": null}], "e": {}, "l": []}),
                json!("行\"二\""),
                json!({"k": {"deep": [true, false]}}),
            ],
        ];
        for list in cases {
            let whole = serde_json::to_string_pretty(&list).unwrap() + "\n";
            assert_eq!(streamed(&list), whole);
        }
    }
}
