//! Which URLs may become links. A stored URL came from the web (a listing,
//! a redirect), and a `javascript:` or `data:` URL must never become what a
//! hurried reader taps: only http(s) is linked, everywhere.

use crate::text::escape_html;

/// The URL as an `href` value (parsed, percent-encoded, not yet escaped),
/// or `None` for anything but http(s).
pub fn safe_href(url: &str) -> Option<String> {
    let u = url::Url::parse(url.trim()).ok()?;
    matches!(u.scheme(), "http" | "https").then(|| u.to_string())
}

/// `<a href="…" attrs>text</a>` for an http(s) URL, with `text` escaped;
/// `None` for any other URL, which the caller shows as text.
/// `attrs` is markup of the caller's own (e.g. ` rel="noopener"`).
pub fn link_html(url: &str, text: &str, attrs: &str) -> Option<String> {
    safe_href(url).map(|h| {
        format!(
            "<a href=\"{}\"{attrs}>{}</a>",
            escape_html(&h),
            escape_html(text)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_http_only() {
        assert!(safe_href("https://yjglt.example.cn/a.html").is_some());
        assert!(safe_href(" http://a/ ").is_some());
        assert!(safe_href("javascript:alert(1)").is_none());
        assert!(safe_href("data:text/html,x").is_none());
        assert_eq!(
            link_html("https://a/?x=\"<", "t<", " rel=\"x\"").unwrap(),
            "<a href=\"https://a/?x=%22%3C\" rel=\"x\">t&lt;</a>"
        );
        assert!(link_html("javascript:x", "t", "").is_none());
    }
}
