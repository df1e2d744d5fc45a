//! The kinds of alert: decided by the checker, queued by the store, rendered
//! and delivered further up.

use serde::{Deserialize, Serialize};

/// Why an alert was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertKind {
    Published,
    Changed,
    Failing,
    Recovered,
    /// A delivery channel (a chat robot, or the mail server) refused an
    /// alert for good: raised once per streak of refusals.
    #[serde(rename = "delivery-failing")]
    DeliveryFailing,
    /// The channel accepted a message again after a `DeliveryFailing`.
    #[serde(rename = "delivery-recovered")]
    DeliveryRecovered,
}
