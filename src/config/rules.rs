//! What a source's checks and alerts follow beyond its page — who hears of
//! it, which links and hosts it may follow, what text is noise, how its
//! interval adapts — apart from the source itself, because almost every
//! source sets none of it: they share one copy built from `[settings]`
//! instead of ~170 bytes each (17 MB at 100,000 sources).

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use url::Url;

use super::Settings;
use crate::model::Cadence;

/// One source's rules (see the module doc).
#[derive(Debug, Clone)]
pub struct SourceRules {
    pub recipients: Vec<String>,
    /// Only listings have one.
    pub link_pattern: Option<Regex>,
    pub allowed_hosts: Vec<String>,
    pub ignore: Vec<Regex>,
    pub alert_on_first: bool,
    pub confirm_changes: bool,
    /// The chat channels (ids of `[[channel]]`s) its alerts go to: its own
    /// `channels`, else `[settings] channels`.
    pub channels: Vec<String>,
    /// An article source's own `max_interval` (`None`: it keeps `interval`).
    pub max_interval: Option<Duration>,
    /// A listing's: how the articles discovered on it are scheduled.
    pub articles: Cadence,
}

impl SourceRules {
    /// The rules of a source that sets none of its own under `settings`,
    /// as the one copy such sources share.
    pub fn shared(settings: &Settings) -> Arc<SourceRules> {
        Arc::new(SourceRules {
            recipients: Vec::new(),
            link_pattern: None,
            allowed_hosts: Vec::new(),
            ignore: Vec::new(),
            alert_on_first: settings.alert_on_first,
            confirm_changes: settings.confirm_changes,
            channels: settings.channels.clone(),
            max_interval: None,
            articles: settings.articles,
        })
    }
}

/// Whether `url` is on `own`'s host and port, or on one of `allowed`: an
/// entry `host` allows that host on the URL scheme's standard port only,
/// `host:port` that port — a listing link must not reach some other service
/// on an allowed machine.
pub fn host_allowed(own: &Url, allowed: &[String], url: &Url) -> bool {
    let Some(h) = url.host_str() else {
        return false;
    };
    let port = url.port_or_known_default();
    if own.host_str() == Some(h) && own.port_or_known_default() == port {
        return true;
    }
    allowed.iter().any(|a| {
        match a
            .rsplit_once(':')
            .and_then(|(host, p)| Some((host, p.parse::<u16>().ok()?)))
        {
            Some((host, p)) => host.eq_ignore_ascii_case(h) && Some(p) == port,
            // `url` reports no port when it is the scheme's standard one.
            None => a.eq_ignore_ascii_case(h) && url.port().is_none(),
        }
    })
}
