//! Who hears of a committed version. The check pipeline calls a
//! [`VersionSink`] once a version is durably stored; the search index is one
//! (it indexes the version later, on its own thread). Defined here, below
//! every stage, so that the pipeline never imports what listens to it.

/// Told of every version committed to the store.
pub trait VersionSink: Send + Sync {
    /// Version `version` of `source` is durably stored. Must return at once:
    /// it is called on the commit path.
    fn committed(&self, source: &str, version: u32);
}
