//! The body of a Standard Webhooks delivery: one JSON object per alert,
//! for programs rather than people. Its fields:
//!
//! - `type`: `changed`, `published`, `failing`, `recovered`,
//!   `delivery-failing` or `delivery-recovered` (`test` from `notify test`);
//! - `source` (the source id), `province`, `region` (or null), `title`,
//!   `url` (the original article), `version` (`v3 → v4`), `fetched_at`
//!   (RFC 3339, UTC);
//! - `diff`: for `changed`, the object `diff --json` prints;
//! - `sections`: for `published`, `[{"path", "heading", "text"}]`;
//! - `text`: the plain-text rendering of the alert.
//!
//! Headers: `webhook-id` (the outbox entry's id, the same on every retry;
//! receivers deduplicate by it), `webhook-timestamp`, `webhook-signature`
//! and `Idempotency-Key` (= `webhook-id`), see [`super::sign`].

use serde_json::{json, Value};

use crate::model::Span;

use super::{ChatAlert, ChatKind};

/// `{"type", "source", "province", "region", "title", "url", "version",
/// "fetched_at", "diff" (changed), "sections" (published), "text"}`.
pub(super) fn body(alert: &ChatAlert) -> Value {
    let mut body = json!({
        "type": alert.kind.as_str(),
        "source": alert.source,
        "province": alert.province,
        "region": alert.region,
        "title": alert.title,
        "url": alert.url,
        "version": alert.version,
        "fetched_at": alert.fetched_at.to_string(),
        "text": alert.text,
    });
    if alert.kind == ChatKind::Changed {
        body["diff"] = alert.diff.clone().unwrap_or(Value::Null);
    }
    if alert.kind == ChatKind::Published {
        let sections: Vec<Value> = alert
            .sections
            .iter()
            .map(|s| {
                let text: String = s
                    .spans
                    .iter()
                    .filter_map(|span| match span {
                        Span::Equal(t) | Span::Insert(t) => Some(t.as_str()),
                        Span::Delete(_) | Span::Gap => None,
                    })
                    .collect();
                json!({"path": s.path, "heading": s.heading, "text": text})
            })
            .collect();
        body["sections"] = Value::Array(sections);
    }
    body
}
