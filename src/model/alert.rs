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
    /// No trusted timestamp was obtained for two anchor intervals: raised
    /// once per streak.
    #[serde(rename = "anchor-failing")]
    AnchorFailing,
    /// A trusted timestamp was obtained again after an `AnchorFailing`.
    #[serde(rename = "anchor-recovered")]
    AnchorRecovered,
    /// A host has more checks due than its pacing allows: raised once per
    /// streak, with the figures.
    #[serde(rename = "host-over-budget")]
    HostOverBudget,
    /// The host's due checks fit its pacing again after a `HostOverBudget`.
    #[serde(rename = "host-within-budget")]
    HostWithinBudget,
}

impl AlertKind {
    /// The kind's name as keys, JSON and file names spell it
    /// (`published`, `delivery-failing`, …): its serde name.
    pub fn name(self) -> &'static str {
        match self {
            AlertKind::Published => "published",
            AlertKind::Changed => "changed",
            AlertKind::Failing => "failing",
            AlertKind::Recovered => "recovered",
            AlertKind::DeliveryFailing => "delivery-failing",
            AlertKind::DeliveryRecovered => "delivery-recovered",
            AlertKind::AnchorFailing => "anchor-failing",
            AlertKind::AnchorRecovered => "anchor-recovered",
            AlertKind::HostOverBudget => "host-over-budget",
            AlertKind::HostWithinBudget => "host-within-budget",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AlertKind;

    #[test]
    fn names_are_the_serde_names() {
        for k in [
            AlertKind::Published,
            AlertKind::Changed,
            AlertKind::Failing,
            AlertKind::Recovered,
            AlertKind::DeliveryFailing,
            AlertKind::DeliveryRecovered,
            AlertKind::AnchorFailing,
            AlertKind::AnchorRecovered,
            AlertKind::HostOverBudget,
            AlertKind::HostWithinBudget,
        ] {
            assert_eq!(
                serde_json::to_string(&k).unwrap(),
                format!("\"{}\"", k.name())
            );
        }
    }
}
