//! One `[[source]]` entry, validated and built: its id, URL, region,
//! selectors, interval and rules, each problem reported with the field it
//! is in; and the shared copies a source gets when it sets none of its
//! extraction options or rules.

use std::collections::HashSet;
use std::sync::Arc;

use toml::Spanned;
use url::Url;

use super::{RawSource, Region, Settings, Source, SourceKind, SourceRules, Validator};
use crate::model::ExtractOptions;

impl Validator<'_> {
    pub(super) fn source(
        &mut self,
        i: usize,
        spanned: &Spanned<RawSource>,
        settings: &Settings,
        defaults: &Arc<SourceRules>,
        seen: &mut HashSet<String>,
    ) -> Option<Source> {
        let raw = spanned.get_ref();
        let before = self.problems.len();
        let id = raw.id.get_ref().trim().to_string();
        let f = |name: &str| format!("source[{i}].{name}");
        if id.is_empty()
            || id.len() > 64
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            self.push(
                raw.id.span().start,
                &f("id"),
                format!("{id:?} is not a valid id: use at most 64 ASCII letters, digits, '-', '_' or '.'"),
            );
        } else if !seen.insert(id.clone()) {
            self.push(
                raw.id.span().start,
                &f("id"),
                format!("duplicate id {id:?}"),
            );
        }
        let region = Region::parse(raw.region.get_ref().trim());
        if region.is_none() {
            self.push(
                raw.region.span().start,
                &f("region"),
                format!(
                    "unknown region {:?}; expected one of {}",
                    raw.region.get_ref(),
                    Region::ALL.map(Region::name).join(" ")
                ),
            );
        }
        let url = match Url::parse(raw.url.get_ref().trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
            Ok(u) => {
                self.push(
                    raw.url.span().start,
                    &f("url"),
                    format!("{:?}: only http(s) URLs can be watched", u.as_str()),
                );
                None
            }
            Err(e) => {
                self.push(
                    raw.url.span().start,
                    &f("url"),
                    format!("invalid URL {:?}: {e}", raw.url.get_ref()),
                );
                None
            }
        };
        let extract = ExtractOptions {
            content: self.selector(&raw.content, &f("content")),
            title: self.selector(&raw.title, &f("title")),
            date: self.selector(&raw.date, &f("date")),
            encoding: raw.encoding.as_ref().and_then(|e| {
                if encoding_rs::Encoding::for_label(e.get_ref().trim().as_bytes()).is_some() {
                    Some(e.get_ref().trim().to_string())
                } else {
                    self.push(
                        e.span().start,
                        &f("encoding"),
                        format!("unknown encoding {:?}", e.get_ref()),
                    );
                    None
                }
            }),
        };
        let interval = raw
            .interval
            .as_ref()
            .and_then(|d| self.duration(d, &f("interval")))
            .unwrap_or(settings.interval);
        let recipients = raw
            .recipients
            .iter()
            .enumerate()
            .filter_map(|(j, a)| self.address(a, &f(&format!("recipients[{j}]"))))
            .collect();
        let link_pattern = raw
            .link_pattern
            .as_ref()
            .and_then(|p| self.regex(p, &f("link_pattern")));
        match (raw.kind, &raw.link_pattern) {
            (SourceKind::Listing, None) => self.push(
                spanned.span().start,
                &f("link_pattern"),
                format!("listing source {id:?} needs a link_pattern (e.g. \"应急管理工作会议\")"),
            ),
            (SourceKind::Article, Some(p)) => self.push(
                p.span().start,
                &f("link_pattern"),
                "only listing sources take a link_pattern".into(),
            ),
            _ => {}
        }
        let ignore = raw
            .ignore
            .iter()
            .enumerate()
            .filter_map(|(j, r)| self.regex(r, &f(&format!("ignore[{j}]"))))
            .collect();
        let keys = [&raw.max_interval, &raw.fresh_for, &raw.retire_after];
        let articles = self.cadence(keys, &f(""), settings.articles);
        let listing_only = [
            ("fresh_for", &raw.fresh_for),
            ("retire_after", &raw.retire_after),
        ];
        for (key, s) in listing_only
            .into_iter()
            .filter(|_| raw.kind == SourceKind::Article)
        {
            if let Some(s) = s {
                let msg = "only listing sources take it (for the articles found on them)";
                self.push(s.span().start, &f(key), msg.into());
            }
        }
        if self.problems.len() > before {
            return None;
        }
        // Whether the source sets none of the rules' keys. Every key is
        // named, so that a key added to `RawSource` must be sorted here.
        let sets_none = {
            let RawSource {
                recipients,
                link_pattern,
                allowed_hosts,
                ignore,
                alert_on_first,
                confirm_changes,
                channels,
                max_interval,
                fresh_for,
                retire_after,
                id: _,
                name: _,
                province: _,
                region: _,
                url: _,
                kind: _,
                content: _,
                title: _,
                date: _,
                encoding: _,
                interval: _,
            } = raw;
            recipients.is_empty()
                && link_pattern.is_none()
                && allowed_hosts.is_empty()
                && ignore.is_empty()
                && alert_on_first.is_none()
                && confirm_changes.is_none()
                && channels.is_none()
                && max_interval.is_none()
                && fresh_for.is_none()
                && retire_after.is_none()
        };
        let rules = if sets_none {
            defaults.clone()
        } else {
            Arc::new(SourceRules {
                max_interval: raw
                    .max_interval
                    .as_ref()
                    .filter(|_| raw.kind == SourceKind::Article)
                    .and(articles.max_interval),
                articles,
                recipients,
                link_pattern,
                allowed_hosts: raw
                    .allowed_hosts
                    .iter()
                    .map(|h| h.trim().to_ascii_lowercase())
                    .collect(),
                ignore,
                alert_on_first: raw.alert_on_first.unwrap_or(settings.alert_on_first),
                confirm_changes: raw.confirm_changes.unwrap_or(settings.confirm_changes),
                channels: settings.channels.clone(),
            })
        };
        Some(Source {
            name: raw.name.clone().unwrap_or_else(|| id.clone()),
            id,
            province: raw.province.trim().to_string(),
            region: region?,
            url: url?,
            kind: raw.kind,
            extract: shared_extract(extract),
            interval,
            rules,
        })
    }
}

/// `extract`, or the one shared copy of the defaults when it sets nothing.
fn shared_extract(extract: ExtractOptions) -> Arc<ExtractOptions> {
    static DEFAULT: std::sync::OnceLock<Arc<ExtractOptions>> = std::sync::OnceLock::new();
    let ExtractOptions {
        content,
        title,
        date,
        encoding,
    } = &extract;
    if content.is_none() && title.is_none() && date.is_none() && encoding.is_none() {
        DEFAULT.get_or_init(Arc::default).clone()
    } else {
        Arc::new(extract)
    }
}
