//! The plain types the pipeline's stages hand each other. They carry data and
//! a few helpers, no behaviour of a stage: extraction produces a
//! [`Document`], the store keeps it, the diff compares two of them into a
//! [`DocDiff`], and alerts, reports and the web view render what they are
//! given. Every stage imports from here; this module imports from none.

mod alert;
mod anchor;
mod cadence;
mod diff;
mod document;
mod hash;
mod page;
mod search;
mod sink;

pub use alert::AlertKind;
pub use anchor::ChainHead;
pub use cadence::Cadence;
pub use diff::{ChangeKind, DocDiff, SectionChange, Span, PREAMBLE};
pub use document::{Article, Block, Document, Parsed, Section};
pub use hash::{content_hash, sha256_hex};
pub use page::{EncodingSource, ExtractOptions, Validators, VolatileMask};
pub use search::{MatrixFormat, MatrixRequest, SearchRequest};
pub use sink::VersionSink;
