//! The notices of the anchoring service: no trusted timestamp could be
//! obtained for two intervals (`anchor-failing`, with the TSAs' errors), or
//! one was obtained again (`anchor-recovered`). A child of `render` so that
//! it shares the e-mail's header, footer and cleaning helpers.

use std::fmt::Write as _;

use super::{
    clean_block, escape_html, excerpt, finish, html_header, subject, text_header, AlertContext,
    Rendered, ACCENT_FAILING, ACCENT_RECOVERED, MAX_ERROR_CHARS,
};
use crate::model::AlertKind;

/// `anchor-failing` (with `detail`, the TSAs' errors) or `anchor-recovered`.
pub fn render_anchor_notice(ctx: &AlertContext, kind: AlertKind, detail: Option<&str>) -> Rendered {
    let failing = kind == AlertKind::AnchorFailing;
    let summary = if failing {
        "可信时间戳失败"
    } else {
        "可信时间戳恢复"
    }
    .to_string();
    let subject = subject(ctx, &summary, "trusted timestamps");
    let mut text = text_header(ctx, &summary);
    let mut html = String::new();
    let accent = if failing {
        ACCENT_FAILING
    } else {
        ACCENT_RECOVERED
    };
    html_header(&mut html, ctx, &subject, &summary, accent);
    let line = if failing {
        "两个周期内未能取得可信时间戳 No trusted timestamp (RFC 3161) could be obtained for two \
         anchor intervals; checks and alerts go on, and anchoring is retried."
    } else {
        "已重新取得可信时间戳 A trusted timestamp was obtained again."
    };
    let _ = writeln!(text, "{line}");
    let _ = write!(html, "<p style=\"margin:0 0 12px;\">{line}</p>");
    if let Some(d) = detail {
        let d = excerpt(&clean_block(d), MAX_ERROR_CHARS);
        let _ = writeln!(text, "错误 Errors:\n{d}");
        let _ = write!(
            html,
            "<p style=\"margin:0 0 12px;font-family:monospace;white-space:pre-wrap;\">{}</p>",
            escape_html(&d)
        );
    }
    text.push('\n');
    finish(ctx, kind, subject, text, html)
}
