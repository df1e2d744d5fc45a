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

use tokio::sync::Notify;
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
///
/// A message occupies its slot from the moment it may go until its answer
/// is back (the [`Permit`] is dropped), and the window is counted from the
/// answer: a message that took long to arrive cannot bunch up with the ones
/// after it at the platform.
#[derive(Debug)]
pub struct RateLimiter {
    rates: Vec<Rate>,
    state: Mutex<State>,
    freed: Notify,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    /// Oldest first: when each message went, and when its answer came.
    slots: VecDeque<Slot>,
    hold_until: Option<Instant>,
}

#[derive(Debug)]
struct Slot {
    id: u64,
    done: Option<Instant>,
}

/// One message's slot; dropping it (answer received, or the attempt
/// abandoned) starts its window.
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a RateLimiter,
    id: u64,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        {
            let mut state = self.limiter.lock();
            let now = Instant::now();
            if let Some(slot) = state.slots.iter_mut().find(|s| s.id == self.id) {
                slot.done = Some(now);
            }
        }
        self.limiter.freed.notify_waiters();
    }
}

enum Wait {
    Until(Instant),
    /// A message still in flight holds the slot that would be freed next.
    InFlight(Option<Instant>),
}

impl RateLimiter {
    pub fn new(rates: Vec<Rate>) -> RateLimiter {
        RateLimiter {
            rates,
            state: Mutex::new(State::default()),
            freed: Notify::new(),
        }
    }

    /// The limits it keeps.
    pub fn rates(&self) -> &[Rate] {
        &self.rates
    }

    pub fn for_kind(kind: ChannelKind) -> RateLimiter {
        RateLimiter::new(Rate::defaults(kind))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The window actually kept: the platform's plus 5% (at least 10 ms).
    fn widened(per: Duration) -> Duration {
        per + (per / 20).max(Duration::from_millis(10))
    }

    /// Waits until one more message may go, and takes its slot.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            // Registered before the check, so no wake-up is missed.
            let freed = self.freed.notified();
            let wait = {
                let mut state = self.lock();
                match self.check(&mut state, Instant::now()) {
                    None => {
                        let id = state.next_id;
                        state.next_id += 1;
                        state.slots.push_back(Slot { id, done: None });
                        return Permit { limiter: self, id };
                    }
                    Some(wait) => wait,
                }
            };
            match wait {
                Wait::Until(until) => tokio::time::sleep_until(until).await,
                Wait::InFlight(None) => freed.await,
                Wait::InFlight(Some(until)) => {
                    let _ = tokio::time::timeout_at(until, freed).await;
                }
            }
        }
    }

    /// `None` when a message may go now.
    fn check(&self, state: &mut State, now: Instant) -> Option<Wait> {
        let longest = self
            .rates
            .iter()
            .map(|r| Self::widened(r.per))
            .max()
            .unwrap_or_default();
        while state
            .slots
            .front()
            .is_some_and(|s| s.done.is_some_and(|d| now.duration_since(d) >= longest))
        {
            state.slots.pop_front();
        }
        let mut until = state.hold_until.filter(|h| *h > now);
        let mut in_flight = false;
        let flying = state.slots.iter().filter(|s| s.done.is_none()).count();
        for rate in &self.rates {
            let per = Self::widened(rate.per);
            let count = rate.count as usize;
            // Messages that may have reached the platform within the last
            // window: those in flight, and those answered within it.
            let mut recent: Vec<Instant> = state
                .slots
                .iter()
                .filter_map(|s| s.done)
                .filter(|d| *d + per > now)
                .collect();
            if flying + recent.len() < count {
                continue;
            }
            // This many must leave the window before one more may go.
            let leave = flying + recent.len() + 1 - count;
            if leave > recent.len() {
                in_flight = true;
                continue;
            }
            recent.sort();
            if let Some(d) = recent.get(leave - 1) {
                let free = *d + per;
                until = Some(until.map_or(free, |u| u.max(free)));
            }
        }
        match (in_flight, until) {
            (false, None) => None,
            (false, Some(u)) => Some(Wait::Until(u)),
            (true, u) => Some(Wait::InFlight(u)),
        }
    }

    /// Holds every sender back for `pause` (the platform asked for it, e.g.
    /// DingTalk's ten minutes after 130101).
    pub fn hold(&self, pause: Duration) {
        let mut state = self.lock();
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

    #[tokio::test]
    async fn a_message_in_flight_keeps_its_slot_until_answered() {
        let per = Duration::from_millis(50);
        let limiter = std::sync::Arc::new(RateLimiter::new(vec![Rate::new(1, per)]));
        let first = limiter.acquire().await;
        let waiter = {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                let _second = limiter.acquire().await;
                Instant::now()
            })
        };
        // However long the first takes, the second waits for its answer.
        tokio::time::sleep(4 * per).await;
        assert!(!waiter.is_finished());
        let answered = Instant::now();
        drop(first);
        let went = waiter.await.unwrap();
        assert!(went >= answered + per, "the window counts from the answer");
    }
}
