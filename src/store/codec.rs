//! Small values as they are stored: JSON, compressed with a built-in zstd
//! dictionary per kind of value, and every older form still read.

use serde::Serialize;

use super::error::{codec, damaged};
use super::keys::key_name;
use super::{FetchState, OutboxEntry, Result, StoreError};

/// A stored JSON value; damage names the key.
pub(super) fn decode_json<T: serde::de::DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(damaged(key_name(key), "bad JSON"))
}

/// A built-in zstd dictionary for one kind of small value that is written
/// often: version records, outbox entries, fetch states. Each is a few
/// hundred bytes of JSON, too short for compression to learn its field
/// names, which are most of it. A value compressed with a dictionary starts
/// with its two-byte tag; the dictionary's bytes must never change (a new
/// dictionary gets a new tag), or the values written with it become
/// unreadable. Both directions prepare the dictionary once per process:
/// loading it costs more than compressing a value with it.
pub(super) struct SmallDict {
    tag: [u8; 2],
    bytes: &'static [u8],
    /// `None` when zstd refused the dictionary (it never does for these
    /// constants; the plain dictionary is loaded each time then).
    encoder: std::sync::OnceLock<Option<zstd::dict::EncoderDictionary<'static>>>,
    decoder: std::sync::OnceLock<zstd::dict::DecoderDictionary<'static>>,
}

/// The level small values are compressed at. Any level reads back the
/// same way, so it may change without touching what is stored.
const SMALL_LEVEL: i32 = 3;

/// Runs `f` with this thread's zstd compression context, created on first
/// use and kept: a fresh context per value allocates (and zeroes) its match
/// tables each time, which costs more than compressing a page with them.
/// The one-shot calls `f` makes reset the context's session after each
/// frame; a context that saw an error is dropped, not reused.
pub(super) fn with_cctx<T>(
    f: impl FnOnce(&mut zstd::zstd_safe::CCtx<'static>) -> std::io::Result<T>,
) -> std::io::Result<T> {
    use zstd::zstd_safe::CCtx;
    thread_local! {
        static CCTX: std::cell::RefCell<Option<CCtx<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    let fresh = || CCtx::try_create().ok_or_else(|| std::io::Error::other("no zstd context"));
    CCTX.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            // Only when `f` itself compresses: give it a context of its own.
            return f(&mut fresh()?);
        };
        let cctx = match slot.as_mut() {
            Some(cctx) => cctx,
            None => slot.insert(fresh()?),
        };
        let result = f(cctx);
        if result.is_err() {
            *slot = None;
        }
        result
    })
}

/// A zstd error code as an I/O error.
pub(super) fn zstd_error(code: usize) -> std::io::Error {
    std::io::Error::other(zstd::zstd_safe::get_error_name(code))
}

/// The most a small value may claim to hold.
pub(super) const MAX_SMALL_VALUE: usize = 16 << 20;

impl SmallDict {
    const fn new(tag: [u8; 2], bytes: &'static [u8]) -> SmallDict {
        SmallDict {
            tag,
            bytes,
            encoder: std::sync::OnceLock::new(),
            decoder: std::sync::OnceLock::new(),
        }
    }

    /// `json` compressed, behind the tag.
    pub(super) fn pack(&'static self, json: &[u8]) -> Result<Vec<u8>> {
        self.pack_io(json).map_err(codec("compress a small value"))
    }

    fn pack_io(&'static self, json: &[u8]) -> std::io::Result<Vec<u8>> {
        let prepared = self
            .encoder
            .get_or_init(|| zstd::dict::EncoderDictionary::try_copy(self.bytes, SMALL_LEVEL).ok());
        let mut out =
            Vec::with_capacity(self.tag.len() + zstd::zstd_safe::compress_bound(json.len()));
        out.extend_from_slice(&self.tag);
        with_cctx(|cctx| {
            let mut data = Vec::with_capacity(zstd::zstd_safe::compress_bound(json.len()));
            match prepared {
                Some(prepared) => cctx.compress_using_cdict(&mut data, json, prepared.as_cdict()),
                None => cctx.compress_using_dict(&mut data, json, self.bytes, SMALL_LEVEL),
            }
            .map_err(zstd_error)?;
            out.extend_from_slice(&data);
            Ok(())
        })?;
        Ok(out)
    }

    /// The JSON of a value written by [`SmallDict::pack`]; `None` when
    /// `stored` does not carry this dictionary's tag. The decompression
    /// context (some 100 KB) is kept per thread: every check reads a record
    /// and a fetch state.
    pub(super) fn unpack(&'static self, stored: &[u8]) -> Option<std::io::Result<Vec<u8>>> {
        thread_local! {
            static DCTX: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
                const { std::cell::RefCell::new(None) };
        }
        let data = stored.strip_prefix(&self.tag)?;
        let Some(size) = zstd::bulk::Decompressor::upper_bound(data) else {
            // A frame that does not record its size: stream it.
            let stream = || -> std::io::Result<Vec<u8>> {
                let mut d = zstd::stream::read::Decoder::with_dictionary(data, self.bytes)?;
                let mut out = Vec::new();
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(&mut d, MAX_SMALL_VALUE as u64),
                    &mut out,
                )?;
                Ok(out)
            };
            return Some(stream());
        };
        if size > MAX_SMALL_VALUE {
            return Some(Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("value claims {size} bytes (damaged?)"),
            )));
        }
        let prepared = self
            .decoder
            .get_or_init(|| zstd::dict::DecoderDictionary::copy(self.bytes));
        Some(DCTX.with(|cell| {
            let mut cell = cell.borrow_mut();
            let d = match cell.as_mut() {
                Some(d) => d,
                None => cell.insert(zstd::bulk::Decompressor::new()?),
            };
            d.set_prepared_dictionary(prepared)?;
            d.decompress(data, size)
        }))
    }
}

/// Version records ([`VersionRecord`]), as they go into the pack.
pub(super) static RECORDS: SmallDict = SmallDict::new([b'R', 1], RECORD_DICT_V1);
pub(super) const RECORD_DICT_V1: &[u8] = r#"{"source":"","version":1,"fetched_at":"2026-01-01T00:00:00.000000000Z","url":"https://www.gov.cn/","final_url":"http://yjt.gov.cn/art/2026/1/1/art_1_1.html","status":200,"content_type":"text/html; charset=utf-8","etag":null,"last_modified":null,"byte_len":40000,"encoding":"UTF-8","encoding_source":"meta","title":"省应急管理厅召开全省应急管理工作会议","published":"2026-01-01","sections":10,"fingerprint":"","doc_hash":"","raw_hash":"","content_hash":"","prev_hash":null,"record_hash":""}{"etag":"\"","last_modified":"Mon, 01 Jan 2026 00:00:00 GMT","encoding":"GBK","content_type":"text/html; charset=GBK","encoding_source":"header","published":null,"sections":0,"status":200,"version":2,"prev_hash":""#.as_bytes();

/// Outbox entries: written twice each (queued, delivered).
pub(super) static ENTRIES: SmallDict = SmallDict::new([b'E', 1], ENTRY_DICT_V1);
pub(super) const ENTRY_DICT_V1: &[u8] = br#"{"key":"changed/","kind":"changed","source":"","version":1,"created_at":"2026-01-01T00:00:00.000000000Z","state":"pending","attempts":0,"last_error":null,"next_attempt":"2026-01-01T00:00:00.000000000Z","delivered_at":null}{"key":"published/","kind":"published","version":null,"detail":"","failures":3,"state":"delivered","attempts":1,"delivered_at":"2026-01-01T00:00:00.000000000Z"}{"key":"failing/","kind":"failing"}{"key":"recovered/","kind":"recovered"}"#;

/// Fetch states: rewritten with every new version (the validators change).
pub(super) static STATES: SmallDict = SmallDict::new([b'S', 1], STATE_DICT_V1);
pub(super) const STATE_DICT_V1: &[u8] = br#"{"validators":{"etag":""","last_modified":"Mon, 01 Jan 2026 00:00:00 GMT"},"last_checked":"2026-01-01T00:00:00.000000000Z","last_success":"2026-01-01T00:00:00.000000000Z","consecutive_failures":0,"last_error":null,"failing_alerted":false,"failing_episodes":0}{"validators":{"etag":null,"last_modified":null},"last_success":null,"consecutive_failures":1,"last_error":"http://: HTTP 503 Service Unavailable","failing_alerted":true,"failing_episodes":1}"#;

pub(super) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// Entries written before the dictionary (plain zstd, or JSON) read as
/// before.
pub(super) fn encode_entry(e: &OutboxEntry) -> Result<Vec<u8>> {
    let json = to_json(e)?;
    Ok(ENTRIES.pack(&json).unwrap_or(json))
}

/// The JSON of an outbox entry from its raw value in the `outbox` tree,
/// in whichever form it was written; for audits of the raw store.
pub fn stored_entry_json(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    if let Some(json) = ENTRIES.unpack(bytes) {
        return json;
    }
    if bytes.starts_with(&ZSTD_MAGIC) {
        return zstd::stream::decode_all(bytes);
    }
    Ok(bytes.to_vec())
}

pub(super) fn decode_entry(key: &[u8], bytes: &[u8]) -> Result<OutboxEntry> {
    let json = stored_entry_json(bytes)
        .map_err(damaged(key_name(key), "cannot decompress outbox entry"))?;
    decode_json(key, &json)
}

/// States written before the dictionary are JSON.
pub(super) fn encode_state(state: &FetchState) -> Result<Vec<u8>> {
    let json = to_json(state)?;
    Ok(STATES.pack(&json).unwrap_or(json))
}

pub(super) fn decode_state(key: &[u8], bytes: &[u8]) -> Result<FetchState> {
    match STATES.unpack(bytes) {
        Some(json) => {
            let json = json.map_err(damaged(key_name(key), "cannot decompress fetch state"))?;
            decode_json(key, &json)
        }
        None => decode_json(key, bytes),
    }
}

/// The JSON of a record read from the pack (records written before the
/// dictionary are plain zstd).
pub(super) fn unpack_record(packed: &[u8]) -> std::io::Result<Vec<u8>> {
    RECORDS
        .unpack(packed)
        .unwrap_or_else(|| zstd::stream::decode_all(packed))
}

/// A value's JSON. (The store's types always serialise; the error is kept
/// rather than assumed away.)
pub(super) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(StoreError::Encode)
}

/// A document's JSON, byte for byte what [`to_json`] writes for it, written
/// here directly: a page's text is most of a document, and serde_json
/// looks every byte of a string up in its escape table, where this checks
/// a string sixteen bytes at a time and copies the runs that need no
/// escape whole. The destructuring stops compiling when either type gains
/// a field; a unit test compares the bytes with serde_json's.
pub(super) fn document_json(doc: &crate::model::Document) -> Result<Vec<u8>> {
    use crate::model::{Document, Section};
    let Document {
        title,
        published,
        encoding,
        preamble,
        sections,
    } = doc;
    let size = 128
        + title.len()
        + preamble.len()
        + sections
            .iter()
            .map(|s| 96 + s.heading.len() + s.text.len() + 8 * s.path.len() + 2 * s.label.len())
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    push_field(&mut out, b"{\"title\":", title);
    out.extend_from_slice(b",\"published\":");
    serde_json::to_writer(&mut out, published).map_err(StoreError::Encode)?;
    push_field(&mut out, b",\"encoding\":", encoding);
    push_field(&mut out, b",\"preamble\":", preamble);
    out.extend_from_slice(b",\"sections\":[");
    for (i, s) in sections.iter().enumerate() {
        let Section {
            label,
            raw_label,
            path,
            level,
            heading,
            text,
        } = s;
        if i > 0 {
            out.push(b',');
        }
        push_field(&mut out, b"{\"label\":", label);
        push_field(&mut out, b",\"raw_label\":", raw_label);
        out.extend_from_slice(b",\"path\":[");
        for (k, p) in path.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            push_json_str(&mut out, p);
        }
        out.extend_from_slice(b"],\"level\":");
        serde_json::to_writer(&mut out, level).map_err(StoreError::Encode)?;
        push_field(&mut out, b",\"heading\":", heading);
        push_field(&mut out, b",\"text\":", text);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// `key` (with the punctuation before the value) and `value` as a JSON
/// string.
fn push_field(out: &mut Vec<u8>, key: &[u8], value: &str) {
    out.extend_from_slice(key);
    push_json_str(out, value);
}

/// Whether serde_json writes byte `b` of a string as an escape: `"`, `\`
/// and the control characters below U+0020.
#[inline]
fn escaped_in_json(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// `s` as a JSON string, escaped exactly as serde_json escapes it.
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    out.push(b'"');
    let mut done = 0;
    let mut i = 0;
    while i < b.len() {
        // Sixteen bytes at a time without a branch per byte.
        if let Some(chunk) = b.get(i..i + 16) {
            if !chunk.iter().fold(false, |hit, &x| hit | escaped_in_json(x)) {
                i += 16;
                continue;
            }
        }
        let x = b[i];
        if escaped_in_json(x) {
            out.extend_from_slice(&b[done..i]);
            match x {
                b'"' => out.extend_from_slice(b"\\\""),
                b'\\' => out.extend_from_slice(b"\\\\"),
                0x08 => out.extend_from_slice(b"\\b"),
                0x0C => out.extend_from_slice(b"\\f"),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' => out.extend_from_slice(b"\\t"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.extend_from_slice(b"\\u00");
                    out.push(HEX[usize::from(x >> 4)]);
                    out.push(HEX[usize::from(x & 0xF)]);
                }
            }
            done = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&b[done..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Document, Section};
    use proptest::prelude::*;

    /// Text with everything serde_json escapes, and what it leaves alone.
    fn tricky() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\\'),
                Just('\n'),
                Just('\t'),
                Just('\u{8}'),
                Just('\u{c}'),
                Just('\r'),
                Just('\u{1}'),
                Just('\u{1f}'),
                Just('\u{7f}'),
                Just('\u{2028}'),
                Just('/'),
                Just('a'),
                Just('中'),
                Just('，'),
                Just('😀'),
            ],
            0..70,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn document_json_is_serde_json(
            title in tricky(),
            preamble in tricky(),
            texts in proptest::collection::vec((tricky(), tricky(), tricky()), 0..4),
            level in any::<u8>(),
            dated in any::<bool>(),
        ) {
            let doc = Document {
                title,
                published: dated.then(|| jiff::civil::date(2025, 1, 15)),
                encoding: "UTF-8".into(),
                preamble,
                sections: texts
                    .into_iter()
                    .map(|(label, heading, text)| Section {
                        raw_label: format!("（{label}）"),
                        path: vec![label.clone(), "二、".into()],
                        label,
                        level,
                        heading,
                        text,
                    })
                    .collect(),
            };
            let ours = document_json(&doc).unwrap();
            let serde = to_json(&doc).unwrap();
            prop_assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&serde));
        }
    }
}
