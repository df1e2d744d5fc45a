//! bulletin-watch: a change-tracking monitor for provincial emergency-management
//! work-conference deployments.
//!
//! The crate is laid out as the pipeline it runs, one module per stage, with
//! plain data flowing one way:
//!
//! ```text
//! config ─▶ fetch ─▶ decode ─▶ extract ─▶ sections ─▶ store ─▶ diff ─▶ notify
//!                                  └──▶ listing (discovery of new articles)
//! ```
//!
//! [`check`] runs that pipeline once for one source; [`runner`] runs many
//! checks at once, for `check` and for [`daemon`], which schedules them;
//! [`audit`] reads the stored history back for people who must trust it, and
//! [`web`] shows the same history in a browser.
//! The binary (`src/main.rs`) is a thin command-line shell over these modules.

pub mod alert;
pub mod audit;
pub mod catalog;
pub mod channel;
pub mod check;
pub mod config;
pub mod control;
pub mod daemon;
pub mod decode;
pub mod delivery;
pub mod demo;
pub mod diff;
pub mod evidence;
pub mod extract;
pub mod fetch;
pub mod listing;
pub mod model;
pub mod outbox;
mod present;
pub mod report;
pub mod runner;
pub mod schedule;
pub mod search;
pub mod sections;
pub mod site;
pub mod standing;
pub mod store;
pub mod text;
pub mod validate;
pub mod verify;
mod volatile;
pub mod web;
