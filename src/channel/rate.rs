//! Pacing per robot. Every platform counts messages per robot in a window
//! (WeCom and DingTalk 20 a minute, Feishu 5 a second and 100 a minute) and
//! answers a burst with a rate-limit code; DingTalk then throttles the robot
//! for ten minutes. The limiter makes a sender wait for a free slot instead,
//! so a burst is paced, never rejected. Windows are sliding and a little
//! wider than the platform's, so that network jitter cannot put one message
//! too many into the platform's window.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{ChannelError, ChannelKind};

/// At most `count` messages in any `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn new(count: u32, per: Duration) -> Rate {
        Rate { count, per }
    }

    /// The platform's documented limits.
    pub fn defaults(kind: ChannelKind) -> Vec<Rate> {
        let minute = Duration::from_secs(60);
        match kind {
            ChannelKind::Wecom | ChannelKind::Dingtalk => vec![Rate::new(20, minute)],
            ChannelKind::Feishu => {
                vec![Rate::new(5, Duration::from_secs(1)), Rate::new(100, minute)]
            }
            // A receiver of our own has no documented limit; stay polite.
            ChannelKind::Webhook => vec![Rate::new(10, Duration::from_secs(1))],
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = ChannelError;
    /// `"20/1m"`, `"5/1s"`, `"100/10min"`: a count and a humantime duration.
    fn from_str(s: &str) -> Result<Rate, ChannelError> {
        let bad = |reason: &str| ChannelError::Rate {
            value: s.to_string(),
            reason: reason.to_string(),
        };
        let (count, per) = s
            .split_once('/')
            .ok_or_else(|| bad("expected COUNT/DURATION, e.g. \"20/1m\""))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| bad("the count is not a whole number"))?;
        let per = humantime::parse_duration(per.trim()).map_err(|e| bad(&e.to_string()))?;
        if count == 0 || per.is_zero() {
            return Err(bad("count and duration must be above zero"));
        }
        Ok(Rate { count, per })
    }
}

/// A sliding-window limiter shared by everything that sends to one robot.
#[derive(Debug)]
pub struct RateLimiter {
    rates: Vec<Rate>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    sent: VecDeque<Instant>,
    hold_until: Option<Instant>,
}

impl RateLimiter {
    pub fn new(rates: Vec<Rate>) -> RateLimiter {
        RateLimiter {
            rates,
            state: Mutex::new(State::default()),
        }
    }

    pub fn for_kind(kind: ChannelKind) -> RateLimiter {
        RateLimiter::new(Rate::defaults(kind))
    }

    /// The window actually kept: the platform's plus 5% (at least 10 ms).
    fn widened(per: Duration) -> Duration {
        per + (per / 20).max(Duration::from_millis(10))
    }

    /// Waits until one more message may go, and counts it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                let now = Instant::now();
                let longest = self
                    .rates
                    .iter()
                    .map(|r| Self::widened(r.per))
                    .max()
                    .unwrap_or_default();
                while state
                    .sent
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= longest)
                {
                    state.sent.pop_front();
                }
                let mut until = state.hold_until.filter(|h| *h > now);
                for rate in &self.rates {
                    let count = rate.count as usize;
                    if state.sent.len() < count {
                        continue;
                    }
                    // The count-th newest send must have left the window.
                    let idx = state.sent.len() - count;
                    if let Some(t) = state.sent.get(idx) {
                        let free = *t + Self::widened(rate.per);
                        if free > now {
                            until = Some(until.map_or(free, |u| u.max(free)));
                        }
                    }
                }
                match until {
                    None => {
                        state.sent.push_back(now);
                        return;
                    }
                    Some(until) => until,
                }
            };
            tokio::time::sleep_until(wait).await;
        }
    }

    /// Holds every sender back for `pause` (the platform asked for it, e.g.
    /// DingTalk's ten minutes after 130101).
    pub fn hold(&self, pause: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + pause;
        state.hold_until = Some(state.hold_until.map_or(until, |h| h.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(
            "20/1m".parse::<Rate>().unwrap(),
            Rate::new(20, Duration::from_secs(60))
        );
        assert_eq!(
            " 5 / 1s ".parse::<Rate>().unwrap(),
            Rate::new(5, Duration::from_secs(1))
        );
        for bad in ["20", "x/1m", "0/1m", "20/0s", "20/soon"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    // Real time, short windows: the same arithmetic as a minute.
    #[tokio::test]
    async fn a_burst_is_paced_to_the_window() {
        let per = Duration::from_millis(100);
        let limiter = RateLimiter::new(vec![Rate::new(20, per)]);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..60 {
            limiter.acquire().await;
            times.push(start.elapsed());
        }
        // No window holds more than 20.
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < *t + per).count();
            assert!(in_window <= 20, "{in_window} at {t:?}");
        }
        assert!(times[59] >= 2 * per);
    }

    #[tokio::test]
    async fn both_windows_are_kept() {
        let limiter = RateLimiter::new(vec![
            Rate::new(2, Duration::from_millis(20)),
            Rate::new(10, Duration::from_millis(300)),
        ]);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert!(start.elapsed() >= Duration::from_millis(20));
        for _ in 3..11 {
            limiter.acquire().await;
        }
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[tokio::test]
    async fn hold_pauses_every_sender() {
        let limiter = RateLimiter::new(vec![Rate::new(20, Duration::from_secs(60))]);
        limiter.hold(Duration::from_millis(150));
        let start = Instant::now();
        limiter.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(150));
    }
}
