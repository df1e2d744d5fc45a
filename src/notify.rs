//! The former home of alert rendering and delivery, kept as names only so
//! that callers written against it keep compiling: rendering now lives in
//! [`crate::alert`] and delivery in [`crate::delivery`]; new code uses those.

pub use crate::alert::render::{
    render_changed, render_failing, render_published, render_recovered, render_unavailable,
    AlertContext, Rendered, SUBJECT_TAG,
};
pub use crate::alert::{digest, Message, MessageError};
pub use crate::delivery::{DeliveryError as NotifyError, Mailer, SmtpMailer, Verdict};
pub use crate::present::reader_time;
