//! The `diff --json` object: the contract scripts rely on, shared by the
//! CLI (`diff --json`) and the webhook body's `diff` field.

use serde_json::{json, Value};

use crate::model::DocDiff;

/// `diff --json` for `source` from version `from` to `to`.
pub fn diff_json(source: &str, from: u32, to: u32, d: &DocDiff) -> Value {
    json!({
        "source": source,
        "from": from,
        "to": to,
        "title_changed": d.title_changed.is_some(),
        "date_changed": d.date_changed.is_some(),
        "added": d.added(),
        "removed": d.removed(),
        "changed": d.changed(),
        "renumbered": d.renumbered().into_iter().map(|(f, t)| json!({"from": f, "to": t})).collect::<Vec<_>>(),
        "changes": d.changes.iter().map(|c| json!({
            "path": c.path,
            "old_path": c.old_path,
            "kind": c.kind,
            "inline": c.inline,
        })).collect::<Vec<_>>(),
    })
}
