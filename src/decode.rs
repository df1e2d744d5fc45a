//! Bytes → text. Government sites mix UTF-8, GBK and GB18030 and often
//! declare the wrong one, so the charset is decided here, once, from the
//! evidence in order: explicit override, HTTP header, BOM, `<meta>`, sniffing
//! — and a declaration that produces replacement characters is not believed.

use std::sync::LazyLock;

use crate::model::EncodingSource;
use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};
use regex::bytes::Regex;

/// A decoded page.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub text: String,
    /// WHATWG name of the encoding used, e.g. `UTF-8`, `GBK`, `gb18030`.
    pub encoding: &'static str,
    pub source: EncodingSource,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body is not text (looks like {0})")]
    NotText(&'static str),
    #[error("unknown encoding label {0:?}")]
    UnknownLabel(String),
}

/// How far into the body `<meta charset>` is looked for. Browsers stop at
/// 1024 bytes, but CMS templates put long keyword/description metas first,
/// and a declaration found a little later is still better evidence than a
/// statistical guess.
const META_SCAN_BYTES: usize = 4096;

/// Decodes a response body. `content_type` is the raw HTTP header value,
/// `override_label` the source's configured `encoding`, if any.
///
/// The override is the operator's explicit decision and is applied even if
/// it produces replacement characters; every other declaration is only
/// evidence and is dropped when the bytes contradict it.
pub fn decode(
    bytes: &[u8],
    content_type: Option<&str>,
    override_label: Option<&str>,
) -> Result<Decoded, DecodeError> {
    let bom = sniff_bom(bytes);
    if bom.is_none() {
        if let Some(kind) = binary_kind(bytes) {
            return Err(DecodeError::NotText(kind));
        }
    }

    if let Some(label) = override_label {
        let enc = Encoding::for_label(label.trim().as_bytes())
            .ok_or_else(|| DecodeError::UnknownLabel(label.to_string()))?;
        let body = strip_bom_for(bytes, bom, enc);
        let (text, _) = enc.decode_without_bom_handling(body);
        return Ok(done(text.into_owned(), enc, EncodingSource::Override));
    }

    // A declaration that is only weak evidence (a single-byte charset, which
    // decodes anything without error) is remembered and used only when
    // nothing stronger turns up.
    let mut weak: Option<(&'static Encoding, EncodingSource)> = None;

    let header = content_type.and_then(charset_from_content_type);
    if let Some(enc) = header {
        // A BOM cannot be there by accident; a header that contradicts it is
        // a server default, not knowledge about this file.
        if bom.is_none_or(|(b, _)| b == enc) {
            match try_declared(bytes, bom, enc, EncodingSource::Header) {
                Verdict::Accept(d) => return Ok(d),
                Verdict::Weak => weak = weak.or(Some((enc, EncodingSource::Header))),
                Verdict::Reject => {}
            }
        }
    }

    if let Some((enc, len)) = bom {
        if let Some(d) = decode_strict(&bytes[len..], enc) {
            return Ok(done(d, enc, EncodingSource::Bom));
        }
    }

    if let Some(enc) = meta_charset(bytes) {
        match try_declared(bytes, bom, enc, EncodingSource::Meta) {
            Verdict::Accept(d) => return Ok(d),
            Verdict::Weak => weak = weak.or(Some((enc, EncodingSource::Meta))),
            Verdict::Reject => {}
        }
    }

    let body = match bom {
        Some((_, len)) => &bytes[len..],
        None => bytes,
    };
    let guess = sniff(body);
    if let Some((enc, source)) = weak {
        // Keep the single-byte declaration unless the sniffer is confident
        // the bytes are something else that decodes cleanly.
        if guess == enc || guess.is_single_byte() || decode_strict(body, guess).is_none() {
            let (text, _) = enc.decode_without_bom_handling(body);
            return Ok(done(text.into_owned(), enc, source));
        }
    }
    let (text, _) = guess.decode_without_bom_handling(body);
    Ok(done(text.into_owned(), guess, EncodingSource::Sniffed))
}

enum Verdict {
    Accept(Decoded),
    /// Decodes without error, but so would anything: keep looking.
    Weak,
    /// Produces errors: the declaration is wrong.
    Reject,
}

fn try_declared(
    bytes: &[u8],
    bom: Option<(&'static Encoding, usize)>,
    enc: &'static Encoding,
    source: EncodingSource,
) -> Verdict {
    let body = strip_bom_for(bytes, bom, enc);
    // Legacy labels on valid, non-ASCII UTF-8 are template leftovers: long
    // GBK text is practically never valid UTF-8 by accident.
    if enc != UTF_8 && !is_ascii(body) {
        if let Ok(s) = std::str::from_utf8(body) {
            return Verdict::Accept(done(s.to_string(), UTF_8, source));
        }
    }
    if enc.is_single_byte() && !is_ascii(body) {
        return Verdict::Weak;
    }
    match decode_strict(body, enc) {
        Some(text) => Verdict::Accept(done(text, enc, source)),
        None => Verdict::Reject,
    }
}

fn done(mut text: String, enc: &'static Encoding, source: EncodingSource) -> Decoded {
    if text.starts_with('\u{FEFF}') {
        text.drain(..'\u{FEFF}'.len_utf8());
    }
    Decoded {
        text,
        encoding: enc.name(),
        source,
    }
}

fn is_ascii(bytes: &[u8]) -> bool {
    Encoding::ascii_valid_up_to(bytes) == bytes.len()
}

/// Decodes without replacement; `None` if the bytes are not valid in `enc`.
fn decode_strict(bytes: &[u8], enc: &'static Encoding) -> Option<String> {
    enc.decode_without_bom_handling_and_without_replacement(bytes)
        .map(|c| c.into_owned())
}

fn sniff_bom(bytes: &[u8]) -> Option<(&'static Encoding, usize)> {
    Encoding::for_bom(bytes)
}

/// The body with a BOM removed when the BOM belongs to `enc` (a UTF-8 BOM
/// in front of a page decoded as GBK would otherwise become mojibake).
fn strip_bom_for<'a>(
    bytes: &'a [u8],
    bom: Option<(&'static Encoding, usize)>,
    enc: &'static Encoding,
) -> &'a [u8] {
    match bom {
        Some((b, len)) if b == enc || b == UTF_8 => &bytes[len..],
        _ => bytes,
    }
}

/// The charset parameter of a `Content-Type` value, if it names an
/// encoding `encoding_rs` knows.
fn charset_from_content_type(ct: &str) -> Option<&'static Encoding> {
    ct.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        Encoding::for_label(value.as_bytes())
    })
}

static META_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)<meta\b[^>]*>").unwrap_or_else(|e| panic!("static regex: {e}"))
});
static META_CHARSET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i-u)charset\s*=\s*["']?\s*([a-z0-9_.:\-]+)"#)
        .unwrap_or_else(|e| panic!("static regex: {e}"))
});
static COMMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s-u)<!--.*?-->").unwrap_or_else(|e| panic!("static regex: {e}"))
});

/// The encoding declared by the first `<meta charset>` or
/// `<meta http-equiv="Content-Type" content="…; charset=…">` in the head.
fn meta_charset(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(META_SCAN_BYTES)];
    let head = COMMENT.replace_all(head, &b""[..]);
    META_TAG.find_iter(&head).find_map(|tag| {
        let caps = META_CHARSET.captures(tag.as_bytes())?;
        let enc = Encoding::for_label(caps.get(1)?.as_bytes())?;
        // A page cannot describe itself as UTF-16 in ASCII-compatible bytes;
        // browsers read such a declaration as UTF-8, and so do we.
        Some(if enc == UTF_16LE || enc == UTF_16BE {
            UTF_8
        } else {
            enc
        })
    })
}

/// The statistical guess. UTF-8 is allowed: these pages are served from
/// `.gov.cn` hosts where both UTF-8 and GBK are common.
fn sniff(bytes: &[u8]) -> &'static Encoding {
    if std::str::from_utf8(bytes).is_ok() || mostly_utf8(bytes) {
        return UTF_8;
    }
    let mut det = EncodingDetector::new(Iso2022JpDetection::Deny);
    det.feed(bytes, true);
    det.guess(Some(b"cn"), Utf8Detection::Allow)
}

/// UTF-8 with a few broken sequences (a stray byte, a multi-byte character
/// cut by a CMS that truncates by bytes) is still UTF-8: the damage becomes
/// U+FFFD instead of the whole page turning into GBK mojibake. Legacy text
/// practically never forms many valid multi-byte UTF-8 sequences and few
/// invalid ones (the GBK fixtures have four invalid sequences per valid
/// one), so the ratio settles it.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            invalid += 1;
        }
    }
    valid >= 16 && invalid * 4 <= valid
}

/// Recognises bodies that are clearly not HTML: a monitored URL that now
/// serves a PDF or an image must be reported, not diffed as mojibake.
fn binary_kind(bytes: &[u8]) -> Option<&'static str> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let lead = &bytes[start..];
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF", "PDF"),
        (b"\x89PNG\r\n\x1a\n", "PNG image"),
        (b"\xFF\xD8\xFF", "JPEG image"),
        (b"GIF87a", "GIF image"),
        (b"GIF89a", "GIF image"),
        (b"PK\x03\x04", "ZIP archive (or an Office document)"),
        (
            b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1",
            "legacy Office document",
        ),
        (b"\x1F\x8B", "gzip data"),
        (b"Rar!", "RAR archive"),
        (b"7z\xBC\xAF\x27\x1C", "7z archive"),
    ];
    if let Some((_, kind)) = MAGIC.iter().find(|(m, _)| lead.starts_with(m)) {
        return Some(kind);
    }
    if lead.len() >= 12 && &lead[..4] == b"RIFF" && &lead[8..12] == b"WEBP" {
        return Some("WebP image");
    }
    let sample = &bytes[..bytes.len().min(8192)];
    let nuls = sample.iter().filter(|&&b| b == 0).count();
    if !sample.is_empty() && nuls * 100 > sample.len() {
        return Some("binary data");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gbk(s: &str) -> Vec<u8> {
        let (b, _, unmappable) = encoding_rs::GBK.encode(s);
        assert!(!unmappable);
        b.into_owned()
    }

    const ZH: &str = "会议强调，要坚持人民至上、生命至上，全力防范化解重大安全风险。";

    #[test]
    fn override_wins_over_everything() {
        let page = format!("<meta charset=\"utf-8\"><p>{ZH}</p>");
        let bytes = gbk(&page);
        let d = decode(&bytes, Some("text/html; charset=utf-8"), Some("gb18030")).unwrap();
        assert_eq!(d.source, EncodingSource::Override);
        assert_eq!(d.encoding, "gb18030");
        assert!(d.text.contains(ZH));
        assert!(matches!(
            decode(&bytes, None, Some("no-such-charset")),
            Err(DecodeError::UnknownLabel(_))
        ));
    }

    #[test]
    fn header_before_meta() {
        let page = format!("<meta charset=\"gb2312\"><p>{ZH}</p>");
        let bytes = gbk(&page);
        let d = decode(&bytes, Some("text/html; charset=GBK"), None).unwrap();
        assert_eq!((d.source, d.encoding), (EncodingSource::Header, "GBK"));
        let d = decode(&bytes, Some("text/html"), None).unwrap();
        assert_eq!((d.source, d.encoding), (EncodingSource::Meta, "GBK"));
        assert!(d.text.contains(ZH));
    }

    #[test]
    fn bom_is_stripped_and_beats_a_contradicting_header() {
        let mut bytes = b"\xEF\xBB\xBF".to_vec();
        bytes.extend_from_slice(format!("<p>{ZH}</p>").as_bytes());
        let d = decode(&bytes, Some("text/html"), None).unwrap();
        assert_eq!((d.source, d.encoding), (EncodingSource::Bom, "UTF-8"));
        assert!(d.text.starts_with("<p>"));
        let d = decode(&bytes, Some("text/html; charset=gbk"), None).unwrap();
        assert_eq!((d.source, d.encoding), (EncodingSource::Bom, "UTF-8"));
        let d = decode(&bytes, Some("text/html; charset=utf-8"), None).unwrap();
        assert_eq!((d.source, d.encoding), (EncodingSource::Header, "UTF-8"));
        assert!(d.text.starts_with("<p>"));
    }

    #[test]
    fn wrong_declarations_are_not_believed() {
        let bytes = gbk(&format!("<meta charset=\"utf-8\"><p>{ZH}</p>"));
        let d = decode(&bytes, None, None).unwrap();
        assert_eq!(d.source, EncodingSource::Sniffed);
        assert!(d.text.contains(ZH), "{}", d.text);

        let d = decode(&bytes, Some("text/html; charset=iso-8859-1"), None).unwrap();
        assert!(d.text.contains(ZH));

        let utf8 = format!("<meta charset=\"gb2312\"><p>{ZH}</p>");
        let d = decode(utf8.as_bytes(), Some("text/html; charset=gbk"), None).unwrap();
        assert_eq!(d.encoding, "UTF-8");
        assert!(d.text.contains(ZH));
    }

    #[test]
    fn single_byte_header_kept_for_western_text() {
        let bytes = b"<p>Caf\xE9 cr\xE8me br\xFBl\xE9e, d\xE9j\xE0 vu.</p>";
        let d = decode(bytes, Some("text/html; charset=iso-8859-1"), None).unwrap();
        assert_eq!(
            (d.source, d.encoding),
            (EncodingSource::Header, "windows-1252")
        );
        assert!(d.text.contains("Café"));
    }

    #[test]
    fn meta_in_http_equiv_and_after_comments() {
        let page = format!(
            "<!-- <meta charset=\"utf-8\"> --><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\" /><p>{ZH}</p>"
        );
        let d = decode(&gbk(&page), None, None).unwrap();
        assert_eq!((d.source, d.encoding), (EncodingSource::Meta, "GBK"));
    }

    #[test]
    fn binary_is_not_text() {
        for b in [
            &b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"[..],
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
            b"\xFF\xD8\xFF\xE0\0\x10JFIF",
            b"PK\x03\x04\x14\0\0\0",
            b"abc\0\0\0\0\0\0\0\0\0def",
        ] {
            assert!(matches!(
                decode(b, None, None),
                Err(DecodeError::NotText(_))
            ));
        }
        // Even when it claims to be HTML.
        assert!(decode(b"%PDF-1.4", Some("text/html; charset=utf-8"), None).is_err());
    }

    #[test]
    fn damaged_utf8_stays_utf8() {
        let mut bytes = format!("<meta charset=\"utf-8\"><p>{ZH}</p><p>{ZH}</p>").into_bytes();
        let at = bytes.len() / 2;
        bytes.splice(at..at, [0xFF, 0xFE, 0x80]);
        for ct in [Some("text/html; charset=utf-8"), Some("text/html"), None] {
            let d = decode(&bytes, ct, None).unwrap();
            assert_eq!(d.encoding, "UTF-8", "{ct:?}");
            assert!(d.text.contains(ZH), "{ct:?}: {}", d.text);
            assert!(d.text.contains('\u{FFFD}'));
        }
        // Real GBK is not mistaken for damaged UTF-8.
        let g = gbk(&format!("<p>{ZH}{ZH}{ZH}</p>"));
        assert!(!mostly_utf8(&g));
        assert_eq!(decode(&g, None, None).unwrap().encoding, "GBK");
    }

    #[test]
    fn never_panics_on_odd_input() {
        for b in [
            &b""[..],
            b"\xEF\xBB",
            b"\xFE\xFF\0<",
            b"<meta charset=",
            b"<meta charset=\"\xFF\xFE\">",
            b"\x80\x81\x82\xFF",
        ] {
            let _ = decode(b, Some("text/html; charset"), None);
            let _ = decode(b, Some(";;=;"), None);
        }
    }
}
