//! An outbox entry as a chat message: the plain [`ChatAlert`] that a
//! [`crate::channel::Robot`] renders for its platform, built from the same
//! store reads as the e-mail ([`Renderer::render`]) — the source as the
//! catalogue names it, the diff computed exactly as the check did, the
//! e-mail's plain text for the webhook's `text` and the `diff --json`
//! object for its `diff`. Delivery is not done here
//! ([`crate::delivery::chat`]).

use crate::channel::{ChatAlert, ChatSection};
use crate::config::WebConfig;
use crate::diff;
use crate::model::{AlertKind, Span, PREAMBLE};
use crate::present::{self, PREAMBLE_LABEL};
use crate::store::{OutboxEntry, StoreError};
use crate::text::prefix_chars;

use super::render::{self, AlertContext};
use super::{is_transient, Renderer, Unreadable, NOT_RECORDED};

/// A failing source's error, as the line under the title.
const MAX_SUMMARY_CHARS: usize = 300;

impl Renderer<'_> {
    /// The chat channels `entry` goes to: its source's (see
    /// [`crate::catalog::SourceEntry::channels`]).
    pub fn channels(&self, entry: &OutboxEntry) -> Result<Vec<String>, StoreError> {
        Ok(self.about(&entry.source)?.channels)
    }

    /// The chat message for `entry`, the same every time for the same
    /// store and configuration; `web` gives the link to the web view's
    /// diff page. Fails only on an I/O error of the store; a version that
    /// cannot be read is reported inside the message.
    pub fn chat(&self, entry: &OutboxEntry, web: &WebConfig) -> Result<ChatAlert, StoreError> {
        let about = self.about(&entry.source)?;
        let mut ctx = AlertContext {
            source_id: entry.source.clone(),
            source_name: about.name.clone(),
            province: about.province.clone(),
            title: about.name.clone(),
            url: about.url.clone(),
            from_version: None,
            to_version: 0,
            fetched_at: entry.created_at,
        };
        let mut alert = ChatAlert {
            kind: entry.kind.into(),
            source: entry.source.clone(),
            province: about.province.clone(),
            region: about.region.map(|r| r.name().to_string()),
            title: String::new(),
            url: String::new(),
            version: entry.version.map(|v| format!("v{v}")).unwrap_or_default(),
            fetched_at: entry.created_at,
            summary: None,
            sections: Vec::new(),
            text: String::new(),
            diff: None,
            diff_url: None,
        };
        match entry.kind {
            AlertKind::Published | AlertKind::Changed => {
                match self.chat_version(entry, &mut ctx, &mut alert, web) {
                    Ok(()) => {}
                    Err(Unreadable::Store(e)) if is_transient(&e) => return Err(e),
                    Err(e) => {
                        let error = e.to_string();
                        alert.text = render::render_unavailable(&ctx, entry.kind, &error).text;
                        alert.summary = Some(error);
                        alert.sections.clear();
                        alert.diff = None;
                        alert.diff_url = None;
                    }
                }
            }
            AlertKind::Failing => {
                let detail = entry.detail.as_deref().unwrap_or(NOT_RECORDED);
                alert.text = render::render_failing(&ctx, detail, entry.failures).text;
                alert.summary = Some(prefix_chars(detail, MAX_SUMMARY_CHARS).to_string());
            }
            AlertKind::Recovered => {
                alert.text = render::render_recovered(&ctx).text;
            }
            AlertKind::AnchorFailing | AlertKind::AnchorRecovered => {
                let detail = entry.detail.as_deref();
                alert.text = render::render_anchor_notice(&ctx, entry.kind, detail).text;
                alert.summary = detail.map(|d| prefix_chars(d, MAX_SUMMARY_CHARS).to_string());
            }
            AlertKind::HostOverBudget | AlertKind::HostWithinBudget => {
                let detail = entry.detail.as_deref();
                let notice =
                    render::render_host_notice(&ctx, entry.kind, entry.notice_of(), detail);
                alert.text = notice.text;
                alert.summary = Some(
                    detail
                        .map_or(entry.notice_of(), |d| prefix_chars(d, MAX_SUMMARY_CHARS))
                        .to_string(),
                );
            }
            AlertKind::DeliveryFailing | AlertKind::DeliveryRecovered => {
                let detail = entry.detail.as_deref();
                let notice =
                    render::render_delivery_notice(&ctx, entry.kind, entry.notice_of(), detail);
                alert.text = notice.text;
                alert.summary = Some(match detail {
                    Some(d) => format!(
                        "{}: {}",
                        entry.notice_of(),
                        prefix_chars(d, MAX_SUMMARY_CHARS)
                    ),
                    None => entry.notice_of().to_string(),
                });
            }
        }
        alert.title = ctx.title;
        alert.url = ctx.url;
        alert.fetched_at = ctx.fetched_at;
        Ok(alert)
    }

    fn chat_version(
        &self,
        entry: &OutboxEntry,
        ctx: &mut AlertContext,
        alert: &mut ChatAlert,
        web: &WebConfig,
    ) -> Result<(), Unreadable> {
        let version = entry.version.ok_or(Unreadable::NoVersion)?;
        ctx.to_version = version;
        let (record, new) = self.stored(&entry.source, version)?;
        ctx.title = record.title.clone();
        ctx.fetched_at = record.fetched_at;
        if entry.kind == AlertKind::Published {
            alert.version = format!("v{version}");
            alert.summary = Some("新发布".to_string());
            let preamble = (!new.preamble.trim().is_empty()).then(|| ChatSection {
                path: PREAMBLE.to_string(),
                heading: PREAMBLE_LABEL.to_string(),
                change: None,
                spans: vec![Span::Equal(new.preamble.clone())],
                continued: false,
            });
            alert.sections = preamble
                .into_iter()
                .chain(new.sections.iter().map(|s| ChatSection {
                    path: s.path_str(),
                    heading: s.heading.clone(),
                    change: None,
                    spans: vec![Span::Equal(s.text.clone())],
                    continued: false,
                }))
                .collect();
            alert.text = render::render_published(ctx, &new).text;
            return Ok(());
        }
        let previous = version.saturating_sub(1);
        ctx.from_version = Some(previous);
        let (_, old) = self.stored(&entry.source, previous)?;
        let d = diff::diff(&old, &new);
        alert.version = format!("v{previous} → v{version}");
        alert.summary = Some(render::changed_summary(&d));
        alert.sections = d
            .changes
            .iter()
            .map(|c| ChatSection {
                path: c.path.clone(),
                heading: if c.heading.is_empty() {
                    present::path_label(&c.path)
                } else {
                    c.heading.clone()
                },
                change: Some(c.kind),
                spans: c.inline.clone(),
                continued: false,
            })
            .collect();
        alert.diff = Some(present::diff_json(&entry.source, previous, version, &d));
        alert.diff_url = web.diff_url(&entry.source, previous, version);
        alert.text = render::render_changed(ctx, &d).text;
        Ok(())
    }
}
