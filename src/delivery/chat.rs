//! Chat delivery: the configured `[[channel]]`s as ready robots, and one
//! alert delivered to one of them. A [`Channels`] registry is built once
//! from the configuration (by the daemon and by `check`) and holds, per
//! channel, its [`Robot`] and the [`RateLimiter`] every sender to that
//! robot shares, so that a burst is paced across all of them.
//!
//! A robot has no idempotency: it cannot tell a repeated message from a
//! new one. [`Channels::deliver`] therefore sends an alert's parts one at
//! a time and hands each accepted part to a `record` callback before the
//! next goes, so that the outbox can persist it at once; a crash can then
//! repeat at most the one part in flight. Parts already recorded are
//! passed back in `done` and skipped. Rendering the [`ChatAlert`] is
//! [`crate::alert::Renderer::chat`]'s job, not this module's.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::channel::{ChannelError, ChatAlert, Outgoing, RateLimiter, Robot, RobotUrl, Verdict};
use crate::config::Config;

use super::DeliveryError;

/// One configured channel, ready to send.
#[derive(Debug)]
pub struct ChatChannel {
    pub robot: Robot,
    /// Shared by everything that sends to this robot.
    pub limiter: Arc<RateLimiter>,
}

impl ChatChannel {
    pub fn id(&self) -> &str {
        &self.robot.id
    }

    /// The robot URL without its token, for listings and logs.
    pub fn url(&self) -> &RobotUrl {
        self.robot.url()
    }
}

/// Every configured chat channel, by id.
#[derive(Debug, Default)]
pub struct Channels {
    http: reqwest::Client,
    channels: BTreeMap<String, ChatChannel>,
}

impl Channels {
    /// The robots of `config`'s `[[channel]]`s, each with its own limiter.
    pub fn from_config(config: &Config) -> Result<Channels, DeliveryError> {
        Channels::build(config, None)
    }

    /// Like [`Channels::from_config`], for a reloaded configuration: a
    /// channel whose kind and rate stayed the same keeps its limiter (and
    /// the pause its platform asked for), so a reload cannot open a burst.
    pub fn reload(&self, config: &Config) -> Result<Channels, DeliveryError> {
        Channels::build(config, Some(self))
    }

    fn build(config: &Config, previous: Option<&Channels>) -> Result<Channels, DeliveryError> {
        // As for fetching: the TLS provider must be chosen once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .user_agent(config.settings.user_agent.clone())
            .connect_timeout(config.settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DeliveryError::Http(e.without_url()))?;
        let mut channels = BTreeMap::new();
        for c in &config.channels {
            let mut robot = c.robot().map_err(|source| DeliveryError::Channel {
                id: c.id.clone(),
                source,
            })?;
            robot.timeout = config.settings.timeout;
            let kept = previous
                .and_then(|p| p.channels.get(&c.id))
                .filter(|old| old.robot.kind == c.kind && old.limiter.rates() == c.rates.as_slice())
                .map(|old| Arc::clone(&old.limiter));
            let limiter = kept.unwrap_or_else(|| Arc::new(RateLimiter::new(c.rates.clone())));
            channels.insert(c.id.clone(), ChatChannel { robot, limiter });
        }
        Ok(Channels { http, channels })
    }

    pub fn get(&self, id: &str) -> Option<&ChatChannel> {
        self.channels.get(id)
    }

    /// In id order.
    pub fn iter(&self) -> impl Iterator<Item = &ChatChannel> {
        self.channels.values()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// `alert` as the parts channel `id` will accept, numbered from 1.
    /// The same alert renders to the same parts every time, so the parts
    /// recorded as delivered can be skipped on a retry.
    pub fn render(&self, id: &str, alert: &ChatAlert) -> Result<Vec<Outgoing>, DeliveryError> {
        let channel = self.channel(id)?;
        channel
            .robot
            .render(alert)
            .map_err(|source| DeliveryError::Channel {
                id: id.to_string(),
                source,
            })
    }

    /// Renders `alert` for channel `id` and sends every part whose index
    /// is not in `done`, in order, through the channel's limiter. Each
    /// part the robot accepts is passed to `record` at once (for the
    /// outbox to persist before the next part goes); the first part that
    /// is not accepted ends the delivery with its verdict. `delivery_id` is
    /// the outbox entry's id: the webhook's `webhook-id`, stable across
    /// retries.
    pub async fn deliver(
        &self,
        id: &str,
        alert: &ChatAlert,
        delivery_id: &str,
        done: &[usize],
        record: impl FnMut(&Outgoing),
    ) -> Verdict {
        let Some(channel) = self.channels.get(id) else {
            return Verdict::Permanent {
                code: None,
                message: format!("no channel {id:?} is configured"),
                body_too_large: false,
            };
        };
        let parts = match channel.robot.render(alert) {
            Ok(parts) => parts,
            Err(e) => return render_failed(&channel.robot, &e),
        };
        let pending: Vec<Outgoing> = parts
            .into_iter()
            .filter(|p| !done.contains(&p.index))
            .collect();
        channel
            .robot
            .deliver(&self.http, &channel.limiter, &pending, delivery_id, record)
            .await
    }

    fn channel(&self, id: &str) -> Result<&ChatChannel, DeliveryError> {
        self.channels
            .get(id)
            .ok_or_else(|| DeliveryError::UnknownChannel(id.to_string()))
    }
}

/// A message that cannot be made fit (its header alone too long) will not
/// fit on a retry either.
fn render_failed(robot: &Robot, e: &ChannelError) -> Verdict {
    Verdict::Permanent {
        code: None,
        message: robot.scrub(&e.to_string()),
        body_too_large: matches!(e, ChannelError::TooLarge { .. }),
    }
}
