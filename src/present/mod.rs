//! One presentation vocabulary for every output: e-mail, `.eml` files, the
//! web view, reports and exports, and the CLI text that shows the same
//! things. Each concept lives here once — the words for a kind of change,
//! the preamble's label, Beijing time, which URLs may become links, and how
//! an inline diff becomes HTML — so that two outputs can never disagree on
//! them. This module only formats what it is given; it reads nothing.

pub mod diff_html;
pub mod diff_json;
pub mod document;
pub mod labels;
pub mod link;
pub mod time;

pub use diff_html::{spans_html, Marks, Side, CLASS_MARKS};
pub use diff_json::diff_json;
pub use labels::{
    alert_kind_name, change_label, change_location, change_location_by, date_or_dash, path_label,
    Tone, PREAMBLE_LABEL,
};
pub use link::{link_html, safe_href};
pub use time::{beijing_date, beijing_minutes, reader_time};
