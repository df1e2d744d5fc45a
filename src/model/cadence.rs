//! How a source's check interval may adapt, as the configuration states
//! it and the scheduler applies it.

use std::time::Duration;

/// At most `max_interval` between checks (`None`: the base interval, no
/// growth); at the base interval for `fresh_for` after publication; no
/// more checks after `retire_after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub max_interval: Option<Duration>,
    pub fresh_for: Duration,
    pub retire_after: Option<Duration>,
}

impl Default for Cadence {
    /// Discovered articles' defaults: a week at most, fresh for 30 days,
    /// never retired.
    fn default() -> Cadence {
        Cadence {
            max_interval: Some(Duration::from_secs(7 * 86400)),
            fresh_for: Duration::from_secs(30 * 86400),
            retire_after: None,
        }
    }
}
