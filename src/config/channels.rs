//! `[[channel]]` and `[web]` of the sources file: the chat robots and
//! webhooks alerts go to, and where the web view is reachable. A robot URL
//! carries its token and a signing secret is a credential, so both are
//! read at load time (from an environment variable or a file, or — with a
//! warning — from the file itself) into [`RobotUrl`] and [`Secret`], whose
//! `Debug` and `Display` never show them; no error here quotes them.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::channel::{ChannelError, ChannelKind, Rate, Robot, RobotUrl, Secret};

use super::{Problem, Validator};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawChannel {
    id: Spanned<String>,
    kind: Spanned<String>,
    url_env: Option<Spanned<String>>,
    url_file: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    secret_env: Option<Spanned<String>>,
    secret_file: Option<Spanned<String>>,
    keyword: Option<String>,
    #[serde(default)]
    mention_mobiles: Vec<Spanned<String>>,
    mention_all: Option<Spanned<bool>>,
    rate: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    base_url: Option<Spanned<String>>,
}

/// `[web]`: settings of the web view that other outputs link to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebConfig {
    /// Where readers reach the web view (`https://bw.example.gov.cn/`):
    /// chat messages link to its diff page.
    pub base_url: Option<Url>,
}

impl WebConfig {
    /// The web view's diff page of `source` from version `from` to `to`,
    /// when `base_url` is set.
    pub fn diff_url(&self, source: &str, from: u32, to: u32) -> Option<String> {
        let mut url = self.base_url.clone()?;
        url.path_segments_mut()
            .ok()?
            .pop_if_empty()
            .extend(["source", source, "diff"]);
        url.set_query(Some(&format!("from={from}&to={to}")));
        Some(url.to_string())
    }
}

/// One `[[channel]]`, validated, its URL and secret read.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    pub id: String,
    pub kind: ChannelKind,
    /// The robot URL, token and all; shown redacted only.
    pub url: RobotUrl,
    /// DingTalk 加签, Feishu 签名校验 or the webhook's `whsec_…` secret.
    pub secret: Option<Secret>,
    pub keyword: Option<String>,
    pub mention_mobiles: Vec<String>,
    pub mention_all: bool,
    /// `rate`, or the platform's limits.
    pub rates: Vec<Rate>,
}

impl ChannelConfig {
    /// The robot this channel sends through.
    pub fn robot(&self) -> Result<Robot, ChannelError> {
        Ok(Robot::new(
            &self.id,
            self.kind,
            self.url.expose().as_str(),
            self.secret.clone(),
        )?
        .with_keyword(self.keyword.clone())
        .with_mentions(self.mention_mobiles.clone(), self.mention_all))
    }
}

/// Where a credential was found.
enum Found {
    Value(String),
    /// Written into the sources file itself.
    Inline(String),
    Absent,
    /// Named but unreadable; the problem is recorded.
    Broken,
}

impl Validator<'_> {
    fn warn(&mut self, offset: usize, field: &str, message: String) {
        let (line, column) = super::position::line_col(self.text, offset);
        self.warnings.push(Problem {
            line,
            column,
            field: field.to_string(),
            message,
        });
    }

    /// A credential from `NAME_env`, `NAME_file` or (`inline`) `NAME`.
    fn credential(
        &mut self,
        field: &str,
        env: &Option<Spanned<String>>,
        file: &Option<Spanned<String>>,
        inline: Option<&Spanned<String>>,
        base_dir: &Path,
    ) -> Found {
        let given = [env.is_some(), file.is_some(), inline.is_some()];
        if given.iter().filter(|g| **g).count() > 1 {
            let at = [env.as_ref(), file.as_ref(), inline]
                .into_iter()
                .flatten()
                .nth(1)
                .map_or(0, |s| s.span().start);
            let choices = if inline.is_some() {
                format!("{field}_env, {field}_file or {field}")
            } else {
                format!("{field}_env or {field}_file")
            };
            self.push(at, field, format!("set only one of {choices}"));
            return Found::Broken;
        }
        let (found, at, name) = if let Some(var) = env {
            match std::env::var(var.get_ref().trim()) {
                Ok(v) => (Found::Value(v), var.span().start, format!("{field}_env")),
                Err(_) => {
                    self.push(
                        var.span().start,
                        &format!("{field}_env"),
                        format!("environment variable {} is not set", var.get_ref().trim()),
                    );
                    return Found::Broken;
                }
            }
        } else if let Some(f) = file {
            let path = base_dir.join(f.get_ref().trim());
            match std::fs::read_to_string(&path) {
                Ok(v) => (Found::Value(v), f.span().start, format!("{field}_file")),
                Err(e) => {
                    self.push(
                        f.span().start,
                        &format!("{field}_file"),
                        format!("cannot read {}: {e}", path.display()),
                    );
                    return Found::Broken;
                }
            }
        } else if let Some(v) = inline {
            (
                Found::Inline(v.get_ref().clone()),
                v.span().start,
                field.to_string(),
            )
        } else {
            return Found::Absent;
        };
        match found {
            Found::Value(v) | Found::Inline(v) if v.trim().is_empty() => {
                self.push(at, &name, "is empty".into());
                Found::Broken
            }
            Found::Value(v) => Found::Value(v.trim().to_string()),
            Found::Inline(v) => Found::Inline(v.trim().to_string()),
            other => other,
        }
    }

    pub(super) fn channels(
        &mut self,
        raw: &[Spanned<RawChannel>],
        base_dir: &Path,
    ) -> Vec<ChannelConfig> {
        let mut out: Vec<ChannelConfig> = Vec::new();
        for (i, spanned) in raw.iter().enumerate() {
            let c = spanned.get_ref();
            let f = |name: &str| format!("channel[{i}].{name}");
            let before = self.problems.len();
            let id = c.id.get_ref().trim().to_string();
            if id.is_empty()
                || id.len() > 64
                || !id
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.'))
            {
                self.push(
                    c.id.span().start,
                    &f("id"),
                    format!("{id:?} is not a valid id: use at most 64 ASCII letters, digits, '-', '_' or '.'"),
                );
            } else if out.iter().any(|o| o.id == id) {
                self.push(
                    c.id.span().start,
                    &f("id"),
                    format!("duplicate channel id {id:?}"),
                );
            }
            let kind = match c.kind.get_ref().trim().parse::<ChannelKind>() {
                Ok(k) => Some(k),
                Err(e) => {
                    self.push(c.kind.span().start, &f("kind"), e.to_string());
                    None
                }
            };
            let url =
                match self.credential(&f("url"), &c.url_env, &c.url_file, c.url.as_ref(), base_dir)
                {
                    Found::Value(u) => Some((u, false)),
                    Found::Inline(u) => Some((u, true)),
                    Found::Absent => {
                        self.push(
                            spanned.span().start,
                            &f("url"),
                            format!("channel {id:?} has no URL: set url_env, url_file or url"),
                        );
                        None
                    }
                    Found::Broken => None,
                };
            let url = url.and_then(|(u, inline)| {
                let at = [c.url_env.as_ref(), c.url_file.as_ref(), c.url.as_ref()]
                    .into_iter()
                    .flatten()
                    .next()
                    .map_or(0, |s| s.span().start);
                match RobotUrl::parse(&u) {
                    Ok(parsed) => {
                        if inline {
                            self.warn(
                                at,
                                &f("url"),
                                format!("the robot URL of {id:?} carries its token, so this file now holds a credential: keep it private, or use url_env or url_file"),
                            );
                        }
                        Some(parsed)
                    }
                    Err(e) => {
                        self.push(at, &f("url"), e.to_string());
                        None
                    }
                }
            });
            let secret = match self.credential(
                &f("secret"),
                &c.secret_env,
                &c.secret_file,
                None,
                base_dir,
            ) {
                Found::Value(s) | Found::Inline(s) => Some(Secret::new(s)),
                Found::Absent | Found::Broken => None,
            };
            let secret_at = c
                .secret_env
                .as_ref()
                .or(c.secret_file.as_ref())
                .map_or(spanned.span().start, |s| s.span().start);
            match kind {
                Some(ChannelKind::Wecom) if secret.is_some() => self.push(
                    secret_at,
                    &f("secret"),
                    "WeCom group robots are not signed: remove secret_env / secret_file".into(),
                ),
                Some(ChannelKind::Webhook)
                    if secret.is_none() && c.secret_env.is_none() && c.secret_file.is_none() =>
                {
                    self.push(
                        spanned.span().start,
                        &f("secret"),
                        format!("webhook channel {id:?} needs a signing secret (whsec_…): set secret_env or secret_file"),
                    )
                }
                _ => {}
            }
            let mention_all = c.mention_all.as_ref().is_some_and(|m| *m.get_ref());
            if matches!(kind, Some(ChannelKind::Feishu | ChannelKind::Webhook))
                && (!c.mention_mobiles.is_empty() || mention_all)
            {
                let at = c
                    .mention_mobiles
                    .first()
                    .map(|m| m.span().start)
                    .or(c.mention_all.as_ref().map(|m| m.span().start))
                    .unwrap_or(0);
                let field = if c.mention_mobiles.is_empty() {
                    "mention_all"
                } else {
                    "mention_mobiles"
                };
                self.push(
                    at,
                    &f(field),
                    "only wecom and dingtalk robots mention members".into(),
                );
            }
            let mention_mobiles: Vec<String> = c
                .mention_mobiles
                .iter()
                .enumerate()
                .filter_map(|(j, m)| {
                    let mobile = m.get_ref().trim();
                    if !mobile.is_empty()
                        && mobile.chars().all(|ch| ch.is_ascii_digit() || ch == '+')
                    {
                        Some(mobile.to_string())
                    } else {
                        self.push(
                            m.span().start,
                            &f(&format!("mention_mobiles[{j}]")),
                            format!("{mobile:?} is not a mobile number"),
                        );
                        None
                    }
                })
                .collect();
            let rates = c
                .rate
                .as_ref()
                .and_then(|r| match r.get_ref().parse::<Rate>() {
                    Ok(rate) => Some(vec![rate]),
                    Err(e) => {
                        self.push(r.span().start, &f("rate"), e.to_string());
                        None
                    }
                });
            if self.problems.len() > before {
                continue;
            }
            let (Some(kind), Some(url)) = (kind, url) else {
                continue;
            };
            let channel = ChannelConfig {
                id,
                kind,
                url,
                secret,
                keyword: c.keyword.clone().filter(|k| !k.trim().is_empty()),
                mention_mobiles,
                mention_all,
                rates: rates.unwrap_or_else(|| Rate::defaults(kind)),
            };
            // Signing secrets are checked as the robot will use them.
            if let Err(e) = channel.robot() {
                self.push(secret_at, &f("secret"), e.to_string());
                continue;
            }
            out.push(channel);
        }
        out
    }

    /// `channels = [...]` of `[settings]` or a source (`owner`): each must
    /// name a `[[channel]]`.
    pub(super) fn channel_ids(
        &mut self,
        ids: Option<&[Spanned<String>]>,
        channels: &[ChannelConfig],
        owner: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (j, id) in ids.unwrap_or_default().iter().enumerate() {
            let name = id.get_ref().trim();
            if channels.iter().any(|c| c.id == name) {
                if !out.iter().any(|o: &String| o == name) {
                    out.push(name.to_string());
                }
            } else {
                let known: Vec<&str> = channels.iter().map(|c| c.id.as_str()).collect();
                self.push(
                    id.span().start,
                    &format!("{owner}.channels[{j}]"),
                    format!(
                        "unknown channel {name:?}; configured: {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
        }
        out
    }

    pub(super) fn web(&mut self, raw: Option<&RawWeb>) -> WebConfig {
        let base_url = raw.and_then(|w| w.base_url.as_ref()).and_then(|u| {
            match Url::parse(u.get_ref().trim()) {
                Ok(p) if matches!(p.scheme(), "http" | "https") && p.host_str().is_some() => {
                    Some(p)
                }
                Ok(_) => {
                    self.push(
                        u.span().start,
                        "web.base_url",
                        "must be an http(s) URL".into(),
                    );
                    None
                }
                Err(e) => {
                    self.push(u.span().start, "web.base_url", format!("invalid URL: {e}"));
                    None
                }
            }
        });
        WebConfig { base_url }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_urls_append_to_the_base_path_and_escape_the_id() {
        for base in [
            "https://watch.example.org/bw/",
            "https://watch.example.org/bw",
        ] {
            let web = WebConfig {
                base_url: Some(Url::parse(base).unwrap()),
            };
            assert_eq!(
                web.diff_url("zj.a b", 3, 4).as_deref(),
                Some("https://watch.example.org/bw/source/zj.a%20b/diff?from=3&to=4")
            );
        }
        assert_eq!(WebConfig::default().diff_url("zj", 1, 2), None);
    }
}
