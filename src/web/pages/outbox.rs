//! The alerts: every one still waiting, and the newest delivered, each
//! rendered as its recipients get it.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::super::layout::page;
use super::super::{blocking, html, seg, short, WebState, ERROR_CHARS};
use super::{bj, bj_opt};
use crate::alert::{AlertConfig, Renderer};
use crate::catalog::Catalog;
use crate::present::alert_kind_name;
use crate::store::{DeliveryState, OutboxEntry, Store, StoreError};
use crate::text::escape_html as esc;

/// Delivered alerts the outbox page shows, newest first (every waiting one
/// is shown).
const OUTBOX_DELIVERED_SHOWN: usize = 200;

// ----- alerts ------------------------------------------------------------------

pub(crate) fn delivery(e: &OutboxEntry) -> (&'static str, &'static str) {
    match (e.state, &e.last_error) {
        (DeliveryState::Pending, _) if e.permanent.is_some() => ("拒收 permanent", "b-bad"),
        (DeliveryState::Delivered, _) => ("已送达 delivered", "b-ok"),
        (DeliveryState::Pending, Some(_)) => ("失败 failing", "b-bad"),
        (DeliveryState::Pending, None) => ("待发送 pending", "b-warn"),
    }
}

/// Where an alert points: the change it reports, or the source.
pub(crate) fn alert_target(e: &OutboxEntry) -> String {
    match e.version {
        Some(v) if v > 1 => format!("/source/{}/diff?from={}&to={v}", seg(&e.source), v - 1),
        Some(v) => format!("/source/{}/v/{v}", seg(&e.source)),
        None => format!("/source/{}", seg(&e.source)),
    }
}

pub(crate) fn outbox_html(store: &Store, config: &AlertConfig) -> Result<String, StoreError> {
    let mut entries = store.outbox()?;
    entries.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.key.cmp(&a.key)));
    let renderer = Renderer::new(store, config);
    let count = |label: &str| entries.iter().filter(|e| delivery(e).0 == label).count();
    let mut b = format!(
        "<h1>告警 Alerts</h1><p class=\"muted\">{} 待发送 pending · {} 失败 failing · {} 已送达 delivered · \
         <a href=\"/feed.xml\">Atom feed</a></p><ul class=\"cards\">",
        count("待发送 pending"),
        count("失败 failing") + count("拒收 permanent"),
        count("已送达 delivered"),
    );
    if entries.is_empty() {
        b.push_str("<li class=muted>没有告警。No alerts yet.</li>");
    }
    // Each alert is rendered from the store to be shown, so a long history
    // is cut: every alert still waiting, and the newest delivered ones.
    let mut delivered_shown = 0;
    let mut hidden = 0;
    for e in &entries {
        if e.state == DeliveryState::Delivered {
            if delivered_shown == OUTBOX_DELIVERED_SHOWN {
                hidden += 1;
                continue;
            }
            delivered_shown += 1;
        }
        let (state, class) = delivery(e);
        let message = renderer.render(e)?;
        // A chat entry names its channel (never its robot URL).
        let via = e
            .channel
            .as_deref()
            .map(|c| format!("<span class=\"badge\">{}</span>", esc(c)))
            .unwrap_or_default();
        let _ = write!(
            b,
            "<li><div class=\"row\"><span class=\"badge {class}\">{state}</span>\
             <span class=\"badge\">{}</span>{via}<span class=\"grow\"><a href=\"{}\">{}</a></span></div>\
             <div class=\"row muted\"><span>创建 created {}</span><span>尝试 attempts {}</span>\
             <span>送达 delivered {}</span><a href=\"/source/{}\">{}</a><code>{}</code></div>",
            esc(alert_kind_name(e.kind)),
            esc(&alert_target(e)),
            esc(&message.subject),
            bj(e.created_at),
            e.attempts,
            bj_opt(e.delivered_at),
            seg(&e.source),
            esc(&e.source),
            esc(&message.message_id),
        );
        if let Some(r) = &e.permanent {
            let code = r.code.map(|c| format!("{c} ")).unwrap_or_default();
            let _ = write!(
                b,
                "<p class=\"err\">拒收 refused: {}</p>",
                esc(&short(&format!("{code}{}", r.message), ERROR_CHARS))
            );
        }
        if let (DeliveryState::Pending, Some(err)) = (e.state, &e.last_error) {
            let _ = write!(
                b,
                "<p class=\"err\">最近错误 last error: {}</p><div class=\"muted\">下次尝试 next attempt {}</div>",
                esc(&short(err, ERROR_CHARS)),
                bj(e.next_attempt)
            );
        }
        b.push_str("</li>");
    }
    b.push_str("</ul>");
    if hidden > 0 {
        let _ = write!(
            b,
            "<p class=\"muted\">另有 {hidden} 条较早的已送达告警未显示。{hidden} older delivered alerts \
             are not shown; <code>bulletin-watch outbox</code> lists them all.</p>"
        );
    }
    Ok(page("告警 Alerts", &b))
}

pub(crate) async fn outbox_page(State(st): State<WebState>) -> Response {
    blocking(move || {
        let current = st.config.current();
        let config = AlertConfig::with_sources(&current, Catalog::of(current.clone()));
        Ok(html(StatusCode::OK, outbox_html(&st.store, &config)?))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlertKind;

    /// Every alert is rendered to be shown, so the page keeps every waiting
    /// alert and only the newest delivered ones.
    #[test]
    fn the_outbox_page_shows_waiting_alerts_and_the_newest_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut delivered = Vec::new();
        for i in 0..OUTBOX_DELIVERED_SHOWN + 3 {
            let key = format!("recovered/s{i:04}/1");
            let mut e = OutboxEntry::new(key, AlertKind::Recovered, &format!("s{i:04}"), None);
            store.enqueue(&e).unwrap();
            e.state = DeliveryState::Delivered;
            e.delivered_at = Some(e.created_at);
            delivered.push(e);
        }
        store.update_entries(&delivered).unwrap();
        let waiting = OutboxEntry::new("failing/old/1".into(), AlertKind::Failing, "old", None);
        store.enqueue(&waiting).unwrap();
        let html = outbox_html(&store, &AlertConfig::default()).unwrap();
        assert_eq!(html.matches("<li>").count(), OUTBOX_DELIVERED_SHOWN + 1);
        assert!(html.contains("/source/old"), "the waiting alert is shown");
        let newest = format!("/source/s{:04}\"", OUTBOX_DELIVERED_SHOWN + 2);
        assert!(
            html.contains(&newest),
            "the newest delivered alert is shown"
        );
        assert!(!html.contains("/source/s0000\""), "the oldest is not");
        assert!(
            html.contains("3 older delivered alerts"),
            "{}",
            &html[..400]
        );
    }
}
