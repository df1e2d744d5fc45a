//! The daemon's control socket: how read-only commands reach a store that a
//! running daemon holds (sled lets only one process open it).
//!
//! A Unix socket `control.sock` in the store folder, readable and writable by
//! the owner only. The client sends one [`Query`] as a JSON line; the daemon
//! answers with one status byte (`0` ok, `1` error) followed by the output,
//! and closes the connection.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::audit::{self, AuditError, Query};
use crate::search::{SearchError, SearchIndex};
use crate::store::{Store, StoreError};

pub fn socket_path(store_dir: &Path) -> PathBuf {
    store_dir.join("control.sock")
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot reach the daemon at {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the daemon answered: {0}")]
    Remote(String),
    #[error("control socket I/O: {0}")]
    Io(#[from] std::io::Error),
}

/// Why a read-only query got no answer.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(
        "no store at {} (nothing checked yet? run `bulletin-watch check`, or pass --store)",
        path.display()
    )]
    NoStore { path: PathBuf },
    #[error("opening store {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Search(#[from] SearchError),
    /// The daemon holding the store answered with an error.
    #[error(transparent)]
    Remote(ControlError),
    #[error("no running daemon answered ({reason})")]
    NoDaemon {
        reason: ControlError,
        #[source]
        source: StoreError,
    },
}

/// Answers a read-only query from the store at `store_dir`, or — when a
/// running daemon holds the store — from the daemon over its control
/// socket. Both paths produce the same bytes. Never creates a store.
pub fn query(store_dir: &Path, q: &Query) -> Result<Vec<u8>, QueryError> {
    use std::time::{Duration, Instant};
    if !store_dir.exists() {
        return Err(QueryError::NoStore {
            path: store_dir.to_path_buf(),
        });
    }
    // The lock holder is either a daemon (ask it) or another short command
    // (or a daemon still starting): try both for a few seconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match Store::open(store_dir) {
            Ok(store) => return answer_held(&store, None, q),
            Err(StoreError::Locked { .. }) => match ask(store_dir, q) {
                Ok(out) => return Ok(out),
                Err(ControlError::Connect { .. }) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e @ ControlError::Remote(_)) => return Err(QueryError::Remote(e)),
                Err(reason) => {
                    return Err(QueryError::NoDaemon {
                        reason,
                        source: StoreError::Locked {
                            path: store_dir.to_path_buf(),
                        },
                    })
                }
            },
            Err(source) => {
                return Err(QueryError::Open {
                    path: store_dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// Answers `q` from a store this process holds: `search` and `matrix`
/// from `index` (or, without one, from the store's index, brought up to
/// date first), everything else from the store.
pub fn answer_held(
    store: &Store,
    index: Option<&SearchIndex>,
    q: &Query,
) -> Result<Vec<u8>, QueryError> {
    let opened;
    let index = match (q, index) {
        (Query::Search { .. } | Query::Matrix { .. }, Some(i)) => i,
        (Query::Search { sources, .. } | Query::Matrix { sources, .. }, None) => {
            opened = SearchIndex::open_now(store, sources.clone())?;
            &opened
        }
        _ => return Ok(audit::answer(store, q)?),
    };
    Ok(match q {
        Query::Search { request, .. } => index.search_output(request)?,
        Query::Matrix { request, .. } => index.matrix_output(request)?,
        _ => return Ok(audit::answer(store, q)?),
    }
    .into_bytes())
}

/// Asks the daemon holding `store_dir` to answer `q`.
#[cfg(unix)]
pub fn ask(store_dir: &Path, q: &Query) -> Result<Vec<u8>, ControlError> {
    let path = socket_path(store_dir);
    let mut s =
        std::os::unix::net::UnixStream::connect(&path).map_err(|source| ControlError::Connect {
            path: path.clone(),
            source,
        })?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(120)))?;
    let mut line = serde_json::to_vec(q).map_err(std::io::Error::other)?;
    line.push(b'\n');
    s.write_all(&line)?;
    s.shutdown(std::net::Shutdown::Write)?;
    let mut reply = Vec::new();
    s.read_to_end(&mut reply)?;
    match reply.split_first() {
        Some((b'0', out)) => Ok(out.to_vec()),
        Some((_, err)) => Err(ControlError::Remote(
            String::from_utf8_lossy(err).into_owned(),
        )),
        None => Err(ControlError::Remote("empty answer".into())),
    }
}

#[cfg(not(unix))]
pub fn ask(store_dir: &Path, _q: &Query) -> Result<Vec<u8>, ControlError> {
    Err(ControlError::Connect {
        path: socket_path(store_dir),
        source: std::io::Error::other("control sockets need a Unix system"),
    })
}

/// Serves queries until the task is dropped. Removes a stale socket file
/// first (the store lock guarantees no other daemon owns it).
#[cfg(unix)]
pub async fn serve(store: Arc<Store>) -> std::io::Result<()> {
    serve_with(store, None).await
}

/// [`serve`], answering `search` and `matrix` from `index` (the daemon's).
#[cfg(unix)]
pub async fn serve_with(store: Arc<Store>, index: Option<Arc<SearchIndex>>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let path = socket_path(store.path());
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        let (conn, _) = listener.accept().await?;
        let store = store.clone();
        let index = index.clone();
        tokio::spawn(async move {
            let (r, mut w) = conn.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(r);
            if reader.read_line(&mut line).await.is_err() {
                return;
            }
            let reply = match serde_json::from_str::<Query>(&line) {
                Err(e) => [b"1".as_slice(), format!("bad query: {e}").as_bytes()].concat(),
                Ok(q) => match tokio::task::spawn_blocking(move || {
                    answer_held(&store, index.as_deref(), &q)
                })
                .await
                {
                    Ok(Ok(out)) => [b"0".as_slice(), &out].concat(),
                    Ok(Err(e)) => [b"1".as_slice(), e.to_string().as_bytes()].concat(),
                    Err(e) => [b"1".as_slice(), e.to_string().as_bytes()].concat(),
                },
            };
            let _ = w.write_all(&reply).await;
            let _ = w.shutdown().await;
        });
    }
}

#[cfg(not(unix))]
pub async fn serve(_store: Arc<Store>) -> std::io::Result<()> {
    std::future::pending().await
}

#[cfg(not(unix))]
pub async fn serve_with(
    _store: Arc<Store>,
    _index: Option<Arc<SearchIndex>>,
) -> std::io::Result<()> {
    std::future::pending().await
}
