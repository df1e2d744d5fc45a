//! What can go wrong in the store, in types a caller can act on: a store in
//! use, one that cannot be opened (and how to recover), damage found while
//! reading, a check that raced another writer, and a full disk — which is
//! not damage, and whose recovery is to free space, never to restore.

use std::path::{Path, PathBuf};

use super::SCHEMA;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "store {path} is in use by another process (is `bulletin-watch run` running?); \
         stop it, or ask it through its control socket"
    )]
    Locked { path: PathBuf },
    /// The store folder is not in a state to open, for a reason the store
    /// itself describes.
    #[error(
        "cannot open store {path}: {message}\n  recovery: restore the last backup with \
         `bulletin-watch store restore BACKUP` into a fresh folder, then run `bulletin-watch verify`"
    )]
    Open { path: PathBuf, message: String },
    /// The database or the pack could not be read at opening.
    #[error(
        "cannot open store {path}: {source}\n  recovery: restore the last backup with \
         `bulletin-watch store restore BACKUP` into a fresh folder, then run `bulletin-watch verify`"
    )]
    Unreadable {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "store {path} was written by an incompatible version (schema {found}, expected {SCHEMA})"
    )]
    Schema { path: PathBuf, found: String },
    #[error("store database error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value is not what the store writes.
    #[error("store record {key} is unreadable: {message}")]
    Corrupt { key: String, message: String },
    /// A stored value could not be decoded (decompressed, parsed, or read
    /// back from the pack intact).
    #[error("store record {key} is unreadable: {what}: {source}")]
    Damaged {
        key: String,
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("blob {hash} is missing from the store")]
    MissingBlob { hash: String },
    #[error("store I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Compressing or decompressing a value in memory failed.
    #[error("store cannot {what}: {source}")]
    Codec {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A value could not be written as JSON.
    #[error("store cannot encode a value: {0}")]
    Encode(#[source] serde_json::Error),
    /// A blocking sync did not finish (its thread panicked or was cancelled).
    #[error("store sync did not finish: {0}")]
    Worker(#[source] tokio::task::JoinError),
    /// The filesystem holding the store has no space (or quota) left. What
    /// is stored is intact; nothing more can be written until space is
    /// freed.
    #[error(
        "no space left on the filesystem holding {path}: the store is intact, but nothing more \
         can be written\n  recovery: free space on that filesystem (or raise the quota), then \
         run the command again (nothing in the store needs repair)"
    )]
    DiskFull { path: PathBuf },
    /// The version a check diffed against is no longer the latest: another
    /// writer stored one meanwhile. Nothing was written; check again.
    #[error(
        "{id}: the latest stored version moved from {} to {} while the check ran; \
         nothing was stored",
        show_version(*expected),
        show_version(*found)
    )]
    Moved {
        id: String,
        expected: Option<u32>,
        found: Option<u32>,
    },
}

fn show_version(v: Option<u32>) -> String {
    v.map_or_else(|| "none".to_string(), |v| format!("v{v}"))
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Whether this is the full-disk error: stop writing, free space.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }

    /// An I/O error that may pass (a retry can succeed); damage, a missing
    /// record or a full disk will not.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Io { .. } | StoreError::Sled(sled::Error::Io(_))
        )
    }

    /// The same error with a full disk recognised: an I/O error that means
    /// "no space" becomes [`StoreError::DiskFull`] at its own path, a sled
    /// one at `db` (the store folder).
    pub(crate) fn classify(self, db: &Path) -> StoreError {
        match self {
            StoreError::Sled(sled::Error::Io(e)) if io_is_disk_full(&e) => StoreError::DiskFull {
                path: db.to_path_buf(),
            },
            StoreError::Io { path, source } if io_is_disk_full(&source) => {
                StoreError::DiskFull { path }
            }
            other => other,
        }
    }
}

/// ENOSPC or EDQUOT, however it reached us. (sled keeps the kind of an I/O
/// error it stored for later, but not the OS error number.)
pub(crate) fn io_is_disk_full(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded)
        || matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT))
}

/// Maps an I/O error on `path` into a store error naming it (a full disk
/// as [`StoreError::DiskFull`]).
pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| {
        if io_is_disk_full(&source) {
            StoreError::DiskFull {
                path: path.to_path_buf(),
            }
        } else {
            StoreError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// Damage of the value under `key`, found while `what`.
pub(crate) fn damaged<E: std::error::Error + Send + Sync + 'static>(
    key: String,
    what: &'static str,
) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Damaged {
        key,
        what,
        source: Box::new(e),
    }
}

/// A failed in-memory compression step.
pub(crate) fn codec(what: &'static str) -> impl FnOnce(std::io::Error) -> StoreError {
    move |source| StoreError::Codec { what, source }
}

/// A sled transaction's failure: storage errors as they are, an abort as
/// damage of `key`.
pub(crate) fn tx_error(
    key: &str,
) -> impl FnOnce(sled::transaction::TransactionError<()>) -> StoreError + '_ {
    move |e| match e {
        sled::transaction::TransactionError::Storage(e) => StoreError::Sled(e),
        sled::transaction::TransactionError::Abort(()) => StoreError::Corrupt {
            key: key.to_string(),
            message: "transaction aborted".into(),
        },
    }
}
