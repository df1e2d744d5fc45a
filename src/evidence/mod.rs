//! Evidence from outside: RFC 3161 trusted timestamps ("anchors") over the
//! whole history, so that a rewritten latest version — which the hash
//! chain alone cannot reveal — is caught, offline, by anyone with the
//! store or an export.
//!
//! It stands after the store: it reads chain heads and keeps anchors
//! through [`crate::store`], takes its TSAs from [`crate::config`], and is
//! used by the read side (`verify`, `export`, `anchors`) and the daemon.
//! Its rooms: [`merkle`] (the root over the chain heads, defined exactly),
//! [`tsp`] (the request and every check of a reply or stored token),
//! [`client`] (the HTTP exchange with a TSA), [`anchor`] (one anchoring
//! round: ask every TSA, keep the good tokens), [`check`] (offline
//! verification of stored anchors against the history as it is now) and
//! [`export`] (listing and the auditor's folder).

pub mod anchor;
pub mod check;
pub mod client;
pub mod export;
pub mod merkle;
pub mod tsp;

pub use anchor::{anchor_all, Outcome, Round};
pub use check::{check_anchors, AnchorCheck, AnchorCheckError, TrustedCa};
pub use client::{Client, ClientError};
pub use export::{export_dir, list, list_json, ExportError};
pub use tsp::TokenError;
