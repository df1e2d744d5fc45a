//! `sources.toml`: what to watch and how. Loading validates everything up
//! front — unknown keys, duplicate ids, URLs, CSS selectors, regexes, e-mail
//! addresses, durations — and names file, line, column and field in every
//! error, so that `bulletin-watch sources validate` can be run before a deploy
//! and a daemon reload can refuse a broken file while keeping the old one.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use serde::{Deserialize, Serialize};
use toml::Spanned;
use url::Url;

use crate::model::ExtractOptions;

mod batches;
mod channels;
mod evidence;
mod index;
mod mail;
mod position;
mod region;
mod rules;
mod source;

pub(crate) use index::SourceIndex;
use position::{field_at, line_col};

pub use crate::model::Cadence;
pub use channels::{ChannelConfig, WebConfig};
pub use evidence::{EvidenceConfig, TsaConfig, DEFAULT_ANCHOR_INTERVAL};
pub use mail::MailConfig;
use mail::RawMail;
pub use region::Region;
pub use rules::{host_allowed, SourceRules};

/// Sender address when `[mail] from` is not set.
pub const DEFAULT_FROM: &str = "bulletin-watch@localhost";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// One article page, watched for edits.
    Article,
    /// A column/listing page where new deployments appear.
    Listing,
}

/// Global settings (`[settings]`), every key optional.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: PathBuf,
    pub user_agent: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub retries: u32,
    pub concurrency: usize,
    pub host_concurrency: usize,
    pub host_interval: Duration,
    pub failure_threshold: u32,
    pub alert_on_first: bool,
    /// Fetch a changed page once more before storing it, and learn what
    /// differs between the two fetches as volatile text.
    pub confirm_changes: bool,
    /// `[settings] channels`: the chat channels of every source that does
    /// not name its own (default none).
    pub channels: Vec<String>,
    /// `[settings] outbox_retention`: delivered outbox entries older than
    /// this are pruned (default 90 days); versions never are.
    pub outbox_retention: Duration,
    /// Scheduling of discovered articles (`max_interval`, `fresh_for`,
    /// `retire_after`); a listing's own keys override these.
    pub articles: Cadence,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            store: PathBuf::from("store"),
            user_agent: format!(
                "bulletin-watch/{} (+change monitor; polite, conditional GET)",
                env!("CARGO_PKG_VERSION")
            ),
            interval: Duration::from_secs(30 * 60),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 5 * 1024 * 1024,
            max_redirects: 5,
            retries: 2,
            concurrency: 8,
            host_concurrency: 1,
            host_interval: Duration::from_millis(1500),
            failure_threshold: 5,
            alert_on_first: false,
            confirm_changes: true,
            channels: Vec::new(),
            outbox_retention: Duration::from_secs(90 * 24 * 3600),
            articles: Cadence::default(),
        }
    }
}

/// Per-host politeness override (`[hosts."name"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPolicy {
    pub concurrency: usize,
    pub interval: Duration,
}

/// One configured source, validated.
#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub name: String,
    pub province: String,
    pub region: Region,
    pub url: Url,
    pub kind: SourceKind,
    /// Shared by every source that sets none of its keys (most of them:
    /// one copy instead of four empty fields per source).
    pub extract: Arc<ExtractOptions>,
    pub interval: Duration,
    /// Shared by every source that sets none of its keys, like `extract`.
    pub rules: Arc<SourceRules>,
}

impl Source {
    /// Whether `url` may be fetched on behalf of this source: its own host,
    /// or one listed in `allowed_hosts`.
    pub fn host_allowed(&self, url: &Url) -> bool {
        host_allowed(&self.url, &self.rules.allowed_hosts, url)
    }
}

/// A loaded, validated `sources.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub settings: Settings,
    pub mail: MailConfig,
    pub hosts: BTreeMap<String, HostPolicy>,
    /// Shared, so a job or a timetable entry holds a pointer, not a copy.
    pub sources: Vec<Arc<Source>>,
    /// `sources` by id, for [`Config::source`].
    pub(crate) by_id: SourceIndex,
    /// `[[channel]]`: chat robots and webhooks, secrets already read.
    pub channels: Vec<ChannelConfig>,
    /// `[web]`.
    pub web: WebConfig,
    /// What loads but deserves a word (a robot URL written into the file).
    pub warnings: Vec<Problem>,
    /// `[evidence]`: trusted timestamps over the history; `None` anchors nothing.
    pub evidence: Option<EvidenceConfig>,
}

impl Config {
    /// The configured channel `id`.
    pub fn channel(&self, id: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The politeness policy for a host: its `[hosts]` entry or the defaults.
    pub fn host_policy(&self, host: &str) -> HostPolicy {
        self.hosts.get(host).cloned().unwrap_or(HostPolicy {
            concurrency: self.settings.host_concurrency,
            interval: self.settings.host_interval,
        })
    }
}

impl Config {
    /// No sources, default settings and the store at `store`: for reading
    /// a store without its sources file (an auditor's `serve --store`).
    pub fn store_only(path: &Path, store: &Path) -> Config {
        Config {
            path: path.to_path_buf(),
            settings: Settings {
                store: store.to_path_buf(),
                ..Default::default()
            },
            mail: MailConfig::default(),
            hosts: BTreeMap::new(),
            sources: Vec::new(),
            by_id: SourceIndex::default(),
            channels: Vec::new(),
            web: WebConfig::default(),
            warnings: Vec::new(),
            evidence: None,
        }
    }
}

/// One problem in a configuration file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", render_problems(path, problems))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// `path:line:column: field: message`, one problem a line.
pub fn render_problems(path: &Path, problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{}: {}: {}",
                path.display(),
                p.line,
                p.column,
                p.field,
                p.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

// ----- the file as written -------------------------------------------------

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    settings: RawSettings,
    mail: Option<RawMail>,
    #[serde(default)]
    hosts: BTreeMap<String, Spanned<RawHost>>,
    #[serde(default, rename = "source")]
    sources: Vec<Spanned<RawSource>>,
    #[serde(default, rename = "channel")]
    channels: Vec<Spanned<channels::RawChannel>>,
    web: Option<channels::RawWeb>,
    evidence: Option<evidence::RawEvidence>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    store: Option<String>,
    user_agent: Option<String>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    max_body_bytes: Option<Spanned<u64>>,
    max_redirects: Option<usize>,
    retries: Option<u32>,
    concurrency: Option<Spanned<usize>>,
    host_concurrency: Option<Spanned<usize>>,
    host_interval: Option<Spanned<String>>,
    failure_threshold: Option<Spanned<u32>>,
    alert_on_first: Option<bool>,
    confirm_changes: Option<bool>,
    channels: Option<Vec<Spanned<String>>>,
    outbox_retention: Option<Spanned<String>>,
    max_interval: Option<Spanned<String>>,
    fresh_for: Option<Spanned<String>>,
    retire_after: Option<Spanned<String>>,
}

/// The scheduling keys `[settings]` and `[[source]]` share.
type RawCadence<'a> = [&'a Option<Spanned<String>>; 3];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    concurrency: Option<usize>,
    interval: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: Spanned<String>,
    name: Option<String>,
    province: String,
    region: Spanned<String>,
    url: Spanned<String>,
    kind: SourceKind,
    content: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    date: Option<Spanned<String>>,
    encoding: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    #[serde(default)]
    recipients: Vec<Spanned<String>>,
    link_pattern: Option<Spanned<String>>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    alert_on_first: Option<bool>,
    confirm_changes: Option<bool>,
    channels: Option<Vec<Spanned<String>>>,
    max_interval: Option<Spanned<String>>,
    fresh_for: Option<Spanned<String>>,
    retire_after: Option<Spanned<String>>,
}

// ----- loading ---------------------------------------------------------------

/// Reads and validates a configuration file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Loads `path`, with `store` (a `--store` option) in place of
/// `[settings] store`.
pub fn load_with_store(path: &Path, store: Option<&Path>) -> Result<Config, ConfigError> {
    let mut config = load(path)?;
    if let Some(store) = store {
        config.settings.store = store.to_path_buf();
    }
    Ok(config)
}

/// Validates configuration text; `path` is used for messages and to resolve
/// a relative `store` and `password_file` against the file's folder.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut v = Validator {
        text,
        problems: Vec::new(),
        warnings: Vec::new(),
        base: 0,
    };
    // A large file is read as its head, then its sources batch by batch.
    let batches = batches::source_batches(text);
    let head = batches.as_ref().map_or(text, |(end, _)| &text[..*end]);
    let raw: RawFile = match toml::from_str(head) {
        Ok(raw) => raw,
        Err(e) => return Err(v.syntax(&e, 0, path)),
    };
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let settings = v.settings(&raw.settings, &base_dir);
    let mail = match &raw.mail {
        Some(m) => v.mail(m, &base_dir),
        None => MailConfig {
            from: DEFAULT_FROM.to_string(),
            ..MailConfig::default()
        },
    };
    let mut hosts = BTreeMap::new();
    for (name, h) in &raw.hosts {
        let interval = h
            .get_ref()
            .interval
            .as_ref()
            .and_then(|i| v.pause(i, &format!("hosts.\"{name}\".interval")))
            .unwrap_or(settings.host_interval);
        let concurrency = h.get_ref().concurrency.unwrap_or(settings.host_concurrency);
        if concurrency == 0 {
            v.push(
                h.span().start,
                &format!("hosts.\"{name}\".concurrency"),
                "must be at least 1".into(),
            );
        }
        hosts.insert(
            name.to_ascii_lowercase(),
            HostPolicy {
                concurrency,
                interval,
            },
        );
    }
    let channels = v.channels(&raw.channels, &base_dir);
    let web = v.web(raw.web.as_ref());
    let evidence = raw.evidence.as_ref().map(|e| v.evidence(e, &base_dir));
    let mut settings = settings;
    settings.channels = v.channel_ids(raw.settings.channels.as_deref(), &channels, "settings");
    let mut seen = HashSet::new();
    let mut sources = Vec::new();
    let defaults = SourceRules::shared(&settings);
    let mut one = |v: &mut Validator, i: usize, s: &Spanned<RawSource>| {
        if let Some(mut src) = v.source(i, s, &settings, &defaults, &mut seen) {
            if let Some(ids) = &s.get_ref().channels {
                // A source with its own channels has rules of its own.
                Arc::make_mut(&mut src.rules).channels =
                    v.channel_ids(Some(ids), &channels, &format!("source[{i}]"));
            }
            sources.push(Arc::new(src));
        }
    };
    for (i, s) in raw.sources.iter().enumerate() {
        one(&mut v, i, s);
    }
    let mut i = raw.sources.len();
    for range in batches.map(|(_, b)| b).unwrap_or_default() {
        let batch: RawFile = match toml::from_str(&text[range.clone()]) {
            Ok(raw) => raw,
            Err(e) => {
                // As a whole-file read would: the syntax error alone.
                v.problems.clear();
                return Err(v.syntax(&e, range.start, path));
            }
        };
        // The batch's spans count from its start.
        v.base = range.start;
        for s in &batch.sources {
            one(&mut v, i, s);
            i += 1;
        }
        v.base = 0;
    }
    if !v.problems.is_empty() {
        return Err(v.into_error(path));
    }
    let by_id = SourceIndex::of(&sources);
    Ok(Config {
        path: path.to_path_buf(),
        settings,
        mail,
        hosts,
        sources,
        by_id,
        channels,
        web,
        warnings: v.warnings,
        evidence,
    })
}

struct Validator<'a> {
    text: &'a str,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    /// Where in `text` the spans being checked count from (a batch of
    /// sources read on its own, see `batches.rs`).
    base: usize,
}

impl Validator<'_> {
    /// A TOML error in the slice of the file that starts at `start`.
    fn syntax(mut self, e: &toml::de::Error, start: usize, path: &Path) -> ConfigError {
        let span = e.span().unwrap_or(0..0);
        let at = start + span.start;
        let field = field_at(self.text, at);
        self.base = 0;
        self.push(at, &field, e.message().trim().to_string());
        self.into_error(path)
    }

    /// A password from `password_env` or `password_file` (one of them;
    /// a file's trailing line break is not part of it), with errors named
    /// `{section}.password_env` / `{section}.password_file`.
    fn password(
        &mut self,
        env: Option<&Spanned<String>>,
        file: Option<&Spanned<String>>,
        section: &str,
        base_dir: &Path,
    ) -> Option<String> {
        match (env, file) {
            (Some(_), Some(f)) => {
                self.push(
                    f.span().start,
                    &format!("{section}.password_file"),
                    "set either password_env or password_file, not both".into(),
                );
                None
            }
            (Some(var), None) => match std::env::var(var.get_ref()) {
                Ok(p) => Some(p),
                Err(_) => {
                    self.push(
                        var.span().start,
                        &format!("{section}.password_env"),
                        format!("environment variable {} is not set", var.get_ref()),
                    );
                    None
                }
            },
            (None, Some(file)) => {
                let p = base_dir.join(file.get_ref());
                match std::fs::read_to_string(&p) {
                    Ok(s) => Some(s.trim_end_matches(['\r', '\n']).to_string()),
                    Err(e) => {
                        self.push(
                            file.span().start,
                            &format!("{section}.password_file"),
                            format!("cannot read {}: {e}", p.display()),
                        );
                        None
                    }
                }
            }
            (None, None) => None,
        }
    }

    fn push(&mut self, offset: usize, field: &str, message: String) {
        let (line, column) = line_col(self.text, self.base + offset);
        self.problems.push(Problem {
            line,
            column,
            field: field.to_string(),
            message,
        });
    }

    fn into_error(mut self, path: &Path) -> ConfigError {
        self.problems.sort_by_key(|p| (p.line, p.column));
        ConfigError::Invalid {
            path: path.to_path_buf(),
            problems: self.problems,
        }
    }

    fn duration(&mut self, s: &Spanned<String>, field: &str) -> Option<Duration> {
        match self.pause(s, field) {
            Some(d) if d.is_zero() => {
                self.push(s.span().start, field, "must be longer than zero".into());
                None
            }
            d => d,
        }
    }

    /// A pause between requests: like [`Self::duration`], but zero is
    /// allowed and means "no pause" (host pacing off, e.g. on an intranet).
    fn pause(&mut self, s: &Spanned<String>, field: &str) -> Option<Duration> {
        match humantime::parse_duration(s.get_ref().trim()) {
            Ok(d) => Some(d),
            Err(e) => {
                self.push(
                    s.span().start,
                    field,
                    format!(
                        "invalid duration {:?} ({e}); write e.g. \"30m\", \"2s\", \"1h 30m\"",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn positive<T: Copy + PartialOrd + Default + fmt::Display>(
        &mut self,
        s: &Option<Spanned<T>>,
        field: &str,
    ) -> Option<T> {
        let s = s.as_ref()?;
        if *s.get_ref() <= T::default() {
            self.push(
                s.span().start,
                field,
                format!("must be greater than zero, got {}", s.get_ref()),
            );
            return None;
        }
        Some(*s.get_ref())
    }

    fn settings(&mut self, raw: &RawSettings, base_dir: &Path) -> Settings {
        let d = Settings::default();
        let dur = |v: &mut Self, s: &Option<Spanned<String>>, f: &str, def: Duration| {
            s.as_ref().and_then(|s| v.duration(s, f)).unwrap_or(def)
        };
        Settings {
            store: raw
                .store
                .as_ref()
                .map(|s| base_dir.join(s))
                .unwrap_or_else(|| base_dir.join(&d.store)),
            user_agent: raw.user_agent.clone().unwrap_or(d.user_agent),
            interval: dur(self, &raw.interval, "settings.interval", d.interval),
            timeout: dur(self, &raw.timeout, "settings.timeout", d.timeout),
            connect_timeout: dur(
                self,
                &raw.connect_timeout,
                "settings.connect_timeout",
                d.connect_timeout,
            ),
            max_body_bytes: self
                .positive(&raw.max_body_bytes, "settings.max_body_bytes")
                .unwrap_or(d.max_body_bytes),
            max_redirects: raw.max_redirects.unwrap_or(d.max_redirects),
            retries: raw.retries.unwrap_or(d.retries),
            concurrency: self
                .positive(&raw.concurrency, "settings.concurrency")
                .unwrap_or(d.concurrency),
            host_concurrency: self
                .positive(&raw.host_concurrency, "settings.host_concurrency")
                .unwrap_or(d.host_concurrency),
            host_interval: raw
                .host_interval
                .as_ref()
                .and_then(|s| self.pause(s, "settings.host_interval"))
                .unwrap_or(d.host_interval),
            failure_threshold: self
                .positive(&raw.failure_threshold, "settings.failure_threshold")
                .unwrap_or(d.failure_threshold),
            alert_on_first: raw.alert_on_first.unwrap_or(d.alert_on_first),
            confirm_changes: raw.confirm_changes.unwrap_or(d.confirm_changes),
            // Checked against `[[channel]]` once those are read.
            channels: Vec::new(),
            outbox_retention: dur(
                self,
                &raw.outbox_retention,
                "settings.outbox_retention",
                d.outbox_retention,
            ),
            articles: self.cadence(
                [&raw.max_interval, &raw.fresh_for, &raw.retire_after],
                "settings.",
                d.articles,
            ),
        }
    }

    /// `max_interval`, `fresh_for`, `retire_after` over `base`.
    fn cadence(&mut self, raw: RawCadence, prefix: &str, base: Cadence) -> Cadence {
        let [max_interval, fresh_for, retire_after] = raw;
        let mut dur = |s: &Option<Spanned<String>>, key: &str| {
            s.as_ref()
                .map(|s| self.duration(s, &format!("{prefix}{key}")))
        };
        Cadence {
            max_interval: dur(max_interval, "max_interval").unwrap_or(base.max_interval),
            fresh_for: dur(fresh_for, "fresh_for")
                .flatten()
                .unwrap_or(base.fresh_for),
            retire_after: dur(retire_after, "retire_after").unwrap_or(base.retire_after),
        }
    }

    fn selector(&mut self, s: &Option<Spanned<String>>, field: &str) -> Option<String> {
        let s = s.as_ref()?;
        match scraper::Selector::parse(s.get_ref()) {
            Ok(_) => Some(s.get_ref().clone()),
            Err(e) => {
                self.push(
                    s.span().start,
                    field,
                    format!("invalid CSS selector {:?}: {e}", s.get_ref()),
                );
                None
            }
        }
    }

    fn regex(&mut self, s: &Spanned<String>, field: &str) -> Option<Regex> {
        match Regex::new(s.get_ref()) {
            Ok(r) => Some(r),
            Err(e) => {
                let msg = e
                    .to_string()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                self.push(
                    s.span().start,
                    field,
                    format!("invalid regex {:?}: {msg}", s.get_ref()),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[settings]
interval = "2s"

[[source]]
id = "sh"
province = "上海市"
region = "华东"
url = "http://127.0.0.1:1/shanghai/article.v1.html"
kind = "article"
"#;

    fn problems(text: &str) -> Vec<Problem> {
        match parse(text, Path::new("t/sources.toml")) {
            Err(ConfigError::Invalid { problems, .. }) => problems,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn sources_that_set_no_rules_share_one_copy_of_the_settings() {
        let text = format!(
            "[settings]\ninterval = \"2s\"\nalert_on_first = true\n{}{}{}",
            "\n[[source]]\nid = \"a\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/a.html\"\nkind = \"article\"\n",
            "\n[[source]]\nid = \"b\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/b.html\"\nkind = \"article\"\n",
            "\n[[source]]\nid = \"c\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/c.html\"\nkind = \"article\"\nignore = [\"访问量\"]\nconfirm_changes = false\n",
        );
        let c = parse(&text, Path::new("t/sources.toml")).unwrap();
        let [a, b, own] = [0, 1, 2].map(|i| &c.sources[i].rules);
        assert!(Arc::ptr_eq(a, b), "one shared copy");
        assert!(!Arc::ptr_eq(a, own));
        assert!(a.alert_on_first && a.ignore.is_empty() && a.confirm_changes);
        assert!(
            own.alert_on_first,
            "what it does not set comes from [settings]"
        );
        assert_eq!(own.ignore.len(), 1);
        assert!(!own.confirm_changes);
    }

    #[test]
    fn any_one_rule_key_gives_a_source_rules_of_its_own() {
        // Articles: a listing always sets link_pattern, one of the keys.
        // (`channels` must name a configured channel; it is set further on.)
        for key in [
            "recipients = [\"duty@example.gov.cn\"]",
            "allowed_hosts = [\"cdn.example.gov.cn\"]",
            "ignore = [\"访问量\"]",
            "alert_on_first = false",
            "confirm_changes = false",
            "max_interval = \"1h\"",
        ] {
            let text = format!(
                "[settings]\ninterval = \"2s\"\n\n[[source]]\nid = \"plain\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/a.html\"\nkind = \"article\"\n\n[[source]]\nid = \"own\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/b.html\"\nkind = \"article\"\n{key}\n"
            );
            let c =
                parse(&text, Path::new("t/sources.toml")).unwrap_or_else(|e| panic!("{key}: {e}"));
            let [plain, own] = [0, 1].map(|i| &c.sources[i].rules);
            assert!(!Arc::ptr_eq(plain, own), "{key} alone");
        }
    }

    #[test]
    fn allowed_hosts_pin_the_port() {
        let own = Url::parse("http://yjt.example.gov.cn/list.html").unwrap();
        let allowed = vec![
            "www.example.gov.cn".to_string(),
            "cdn.example.org:8080".to_string(),
        ];
        let ok = |u: &str| host_allowed(&own, &allowed, &Url::parse(u).unwrap());
        assert!(ok("http://yjt.example.gov.cn/a.html"));
        assert!(
            !ok("http://yjt.example.gov.cn:8080/a.html"),
            "own host, other port"
        );
        assert!(ok("https://www.example.gov.cn/a.html"));
        assert!(
            !ok("http://www.example.gov.cn:6379/"),
            "an allowed host's other services stay out"
        );
        assert!(ok("http://cdn.example.org:8080/a.html"));
        assert!(!ok("http://cdn.example.org/a.html"));
        assert!(!ok("http://evil.example/a.html"));
    }

    #[test]
    fn good_file_loads_with_defaults() {
        let c = parse(GOOD, Path::new("t/sources.toml")).unwrap();
        assert_eq!(c.settings.interval, Duration::from_secs(2));
        assert_eq!(c.settings.store, Path::new("t/store"));
        assert_eq!(c.sources[0].region, Region::EastChina);
        assert_eq!(c.sources[0].interval, Duration::from_secs(2));
        assert_eq!(c.sources[0].name, "sh");
        assert_eq!(c.mail.from, DEFAULT_FROM);
        assert!(c.mail.smtp_url.is_none());
    }

    #[test]
    fn unknown_key_names_line_and_field() {
        let p =
            problems(&GOOD.replace("kind = \"article\"", "kind = \"article\"\ncolour = \"red\""));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].line, 11);
        assert!(p[0].message.contains("colour"), "{:?}", p[0]);
    }

    #[test]
    fn semantic_errors_are_all_reported_with_positions() {
        let text = format!(
            "{GOOD}\n[[source]]\nid = \"sh\"\nprovince = \"x\"\nregion = \"火星\"\nurl = \"ftp://x\"\nkind = \"listing\"\nlink_pattern = \"(\"\ncontent = \"div[\"\nrecipients = [\"not-an-address\"]\n"
        );
        let p = problems(&text);
        let fields: Vec<_> = p.iter().map(|p| p.field.as_str()).collect();
        for f in [
            "source[1].id",
            "source[1].region",
            "source[1].url",
            "source[1].link_pattern",
            "source[1].content",
            "source[1].recipients[0]",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        let dup = p.iter().find(|p| p.field == "source[1].id").unwrap();
        assert_eq!(dup.line, 13);
        assert!(dup.message.contains("duplicate"));
    }

    #[test]
    fn bad_duration_and_syntax() {
        let p = problems(&GOOD.replace("\"2s\"", "\"soon\""));
        assert_eq!((p[0].line, p[0].field.as_str()), (3, "settings.interval"));
        let p = problems("[settings\ninterval = 1");
        assert_eq!(p[0].line, 1);
        assert_eq!(p[0].field, "settings");
    }

    #[test]
    fn scheduling_keys_in_settings_and_listings_but_fresh_for_only_on_listings() {
        let listing = "\n[[source]]\nid = \"col\"\nprovince = \"上海市\"\nregion = \"华东\"\nurl = \"http://127.0.0.1:1/col/\"\nkind = \"listing\"\nlink_pattern = \"会议\"\nfresh_for = \"10d\"\nmax_interval = \"2d\"\n";
        let text = format!("[settings]\nmax_interval = \"3d\"\nretire_after = \"3y\"\n{listing}");
        let c = parse(&text, Path::new("t/sources.toml")).unwrap();
        let day = Duration::from_secs(86400);
        let a = c.settings.articles;
        assert_eq!((a.max_interval, a.fresh_for), (Some(day * 3), day * 30));
        assert_eq!(a.retire_after, Some(Duration::from_secs(3 * 31_557_600)));
        let s = &c.sources[0];
        assert_eq!(
            (s.rules.articles.max_interval, s.rules.articles.fresh_for),
            (Some(day * 2), day * 10)
        );
        assert_eq!(s.rules.articles.retire_after, a.retire_after, "inherited");
        assert_eq!(
            s.rules.max_interval, None,
            "a listing's own interval does not grow"
        );
        let p = problems(&GOOD.replace(
            "kind = \"article\"",
            "kind = \"article\"\nretire_after = \"1y\"",
        ));
        assert_eq!(p[0].field, "source[0].retire_after");
        let c = parse(
            &GOOD.replace(
                "kind = \"article\"",
                "kind = \"article\"\nmax_interval = \"1d\"",
            ),
            Path::new("t/sources.toml"),
        )
        .unwrap();
        assert_eq!(c.sources[0].rules.max_interval, Some(day));
        assert_eq!(
            c.settings.articles.max_interval,
            Some(day * 7),
            "the default"
        );
    }

    #[test]
    fn zero_turns_host_pacing_off_but_not_intervals_or_timeouts() {
        let text = GOOD.replace(
            "interval = \"2s\"\n",
            "interval = \"2s\"\nhost_interval = \"0s\"\n\n[hosts.\"intranet.example\"]\ninterval = \"0s\"\n",
        );
        let c = parse(&text, Path::new("t/sources.toml")).unwrap();
        assert_eq!(c.settings.host_interval, Duration::ZERO);
        assert_eq!(c.host_policy("intranet.example").interval, Duration::ZERO);
        assert_eq!(c.host_policy("other.example").interval, Duration::ZERO);
        for field in ["interval", "timeout", "connect_timeout"] {
            let p = problems(&GOOD.replace(
                "interval = \"2s\"\n",
                &format!("interval = \"2s\"\n{field} = \"0s\"\n").replacen(
                    "interval = \"2s\"\ninterval",
                    "interval",
                    1,
                ),
            ));
            assert_eq!(p.len(), 1, "{field}: {p:?}");
            assert_eq!(p[0].field, format!("settings.{field}"));
            assert!(p[0].message.contains("longer than zero"), "{p:?}");
        }
        let p = problems(&GOOD.replace(
            "kind = \"article\"",
            "kind = \"article\"\ninterval = \"0s\"",
        ));
        assert_eq!(p[0].field, "source[0].interval");
    }

    #[test]
    fn password_comes_from_env_or_file_never_debug() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let text = format!("{GOOD}\n[mail]\nfrom = \"a@example.org\"\nsmtp_url = \"smtp://127.0.0.1:2525\"\npassword_file = \"pw\"\n");
        let c = parse(&text, &dir.path().join("sources.toml")).unwrap();
        assert_eq!(c.mail.password.as_deref(), Some("s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let p = problems(&text.replace(
            "password_file = \"pw\"",
            "password_env = \"BW_TEST_UNSET_VAR_XYZ\"",
        ));
        assert!(p[0].message.contains("BW_TEST_UNSET_VAR_XYZ"));
    }
}
