//! What a source's checks and alerts follow beyond its page — who hears of
//! it, which links and hosts it may follow, what text is noise, how its
//! interval adapts — apart from the source itself, because almost every
//! source sets none of it: they share one copy built from `[settings]`
//! instead of ~170 bytes each (17 MB at 100,000 sources).

use std::sync::Arc;
use std::time::Duration;

use regex::Regex;

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
    /// The rules of a source that sets none of its own, under `settings`.
    pub fn defaults(settings: &Settings) -> SourceRules {
        SourceRules {
            recipients: Vec::new(),
            link_pattern: None,
            allowed_hosts: Vec::new(),
            ignore: Vec::new(),
            alert_on_first: settings.alert_on_first,
            confirm_changes: settings.confirm_changes,
            channels: settings.channels.clone(),
            max_interval: None,
            articles: settings.articles,
        }
    }

    /// The one shared copy of `settings`' defaults.
    pub fn shared(settings: &Settings) -> Arc<SourceRules> {
        Arc::new(SourceRules::defaults(settings))
    }
}
