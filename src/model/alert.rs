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
}
