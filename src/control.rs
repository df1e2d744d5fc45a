//! The daemon's control socket: how read-only commands reach a store that a
//! running daemon holds (sled lets only one process open it).
//!
//! A Unix socket `control.sock` in the store folder, readable and writable by
//! the owner only. The client sends one [`Query`] as a JSON line; the daemon
//! answers in frames as it writes the output — each a tag byte, a 4-byte
//! big-endian length and that many bytes: `d` output, then `k` (done) or `e`
//! (an error, its message) — and closes the connection. So a long `history`
//! or `export` streams through the socket and is never held whole.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
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
    #[error("cannot write the output")]
    Output(#[source] std::io::Error),
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
    let mut out = Vec::new();
    query_to(store_dir, q, &mut out)?;
    Ok(out)
}

/// [`query`], writing the answer to `out` as it comes.
pub fn query_to(store_dir: &Path, q: &Query, out: &mut dyn Write) -> Result<(), QueryError> {
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
            Ok(store) => return answer_held_to(&store, None, q, out),
            Err(StoreError::Locked { .. }) => match ask_to(store_dir, q, out) {
                Ok(()) => return Ok(()),
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
    let mut out = Vec::new();
    answer_held_to(store, index, q, &mut out)?;
    Ok(out)
}

/// [`answer_held`], writing the answer to `out` as it is made.
pub fn answer_held_to(
    store: &Store,
    index: Option<&SearchIndex>,
    q: &Query,
    out: &mut dyn Write,
) -> Result<(), QueryError> {
    let opened;
    let index = match (q, index) {
        (Query::Search { .. } | Query::Matrix { .. }, Some(i)) => i,
        (Query::Search { sources, .. } | Query::Matrix { sources, .. }, None) => {
            opened = SearchIndex::open_now(store, sources.clone())?;
            &opened
        }
        _ => return Ok(audit::answer_to(store, q, out)?),
    };
    let text = match q {
        Query::Search { request, .. } => index.search_output(request)?,
        Query::Matrix { request, .. } => index.matrix_output(request)?,
        _ => return Ok(audit::answer_to(store, q, out)?),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| QueryError::Audit(AuditError::Write(e)))
}

/// Asks the daemon holding `store_dir` to answer `q`.
pub fn ask(store_dir: &Path, q: &Query) -> Result<Vec<u8>, ControlError> {
    let mut out = Vec::new();
    ask_to(store_dir, q, &mut out)?;
    Ok(out)
}

const DATA: u8 = b'd';
const DONE: u8 = b'k';
const FAILED: u8 = b'e';

/// [`ask`], writing the answer to `out` as its frames arrive.
#[cfg(unix)]
pub fn ask_to(store_dir: &Path, q: &Query, out: &mut dyn Write) -> Result<(), ControlError> {
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
    let mut r = BufReader::with_capacity(64 * 1024, s);
    loop {
        let mut head = [0u8; 5];
        match r.read_exact(&mut head) {
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(ControlError::Remote("the answer ended early".into()))
            }
            other => other?,
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        match head[0] {
            DATA => {
                let mut left = len;
                while left > 0 {
                    let buf = r.fill_buf()?;
                    if buf.is_empty() {
                        return Err(ControlError::Remote("the answer ended early".into()));
                    }
                    let n = buf.len().min(left);
                    out.write_all(&buf[..n]).map_err(ControlError::Output)?;
                    r.consume(n);
                    left -= n;
                }
            }
            DONE => return Ok(()),
            FAILED => {
                let mut msg = vec![0; len];
                r.read_exact(&mut msg)?;
                return Err(ControlError::Remote(
                    String::from_utf8_lossy(&msg).into_owned(),
                ));
            }
            _ => return Err(ControlError::Remote("garbled answer".into())),
        }
    }
}

#[cfg(not(unix))]
pub fn ask_to(store_dir: &Path, _q: &Query, _out: &mut dyn Write) -> Result<(), ControlError> {
    Err(ControlError::Connect {
        path: socket_path(store_dir),
        source: std::io::Error::other("control sockets need a Unix system"),
    })
}

/// One `anchor` asked of the daemon: answered with the round's report
/// (`Err` when a TSA failed).
pub type AnchorRequest = tokio::sync::oneshot::Sender<Result<String, String>>;
/// Where the control socket hands `anchor` requests to the daemon's
/// anchoring service.
pub type AnchorRequests = tokio::sync::mpsc::Sender<AnchorRequest>;

/// Output written as `d` frames, one per write.
struct Frames<W: Write>(W);

fn frame(w: &mut dyn Write, tag: u8, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    let mut head = [tag, 0, 0, 0, 0];
    head[1..].copy_from_slice(&len.to_be_bytes());
    w.write_all(&head)?;
    w.write_all(bytes)
}

impl<W: Write> Write for Frames<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A frame's length is a u32; one write never needs more.
        let n = buf.len().min(1 << 30);
        if n > 0 {
            frame(&mut self.0, DATA, &buf[..n])?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Answers one connection, on a blocking thread: reads the query line,
/// writes the answer as it is made, then `k` or `e`.
#[cfg(unix)]
fn answer_connection(
    conn: std::os::unix::net::UnixStream,
    store: &Store,
    index: Option<&SearchIndex>,
    anchors: Option<&AnchorRequests>,
) -> std::io::Result<()> {
    conn.set_nonblocking(false)?;
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line)?;
    let mut frames = BufWriter::with_capacity(64 * 1024, Frames(&conn));
    let result = match serde_json::from_str::<Query>(&line) {
        Err(e) => Err(format!("bad query: {e}")),
        Ok(Query::Anchor) => anchor_answer(anchors)
            .and_then(|text| frames.write_all(text.as_bytes()).map_err(|e| e.to_string())),
        Ok(q) => answer_held_to(store, index, &q, &mut frames).map_err(|e| e.to_string()),
    };
    frames.flush()?;
    let mut conn = &conn;
    match result {
        Ok(()) => frame(&mut conn, DONE, &[])?,
        Err(msg) => frame(&mut conn, FAILED, msg.as_bytes())?,
    }
    conn.shutdown(std::net::Shutdown::Write)
}

/// Serves queries until the task is dropped. Removes a stale socket file
/// first (the store lock guarantees no other daemon owns it).
#[cfg(unix)]
pub async fn serve(store: Arc<Store>) -> std::io::Result<()> {
    serve_with(store, None, None).await
}

/// [`serve`], answering `search` and `matrix` from `index` (the daemon's)
/// and handing [`Query::Anchor`] to the anchoring service.
#[cfg(unix)]
pub async fn serve_with(
    store: Arc<Store>,
    index: Option<Arc<SearchIndex>>,
    anchors: Option<AnchorRequests>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;

    let path = socket_path(store.path());
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    loop {
        let (conn, _) = listener.accept().await?;
        let store = store.clone();
        let anchors = anchors.clone();
        let index = index.clone();
        tokio::spawn(async move {
            let Ok(conn) = conn.into_std() else {
                return;
            };
            let _ = tokio::task::spawn_blocking(move || {
                answer_connection(conn, &store, index.as_deref(), anchors.as_ref())
            })
            .await;
        });
    }
}

/// Hands `anchor` to the daemon's anchoring service and waits for the
/// round's report (on the connection's blocking thread).
#[cfg(unix)]
fn anchor_answer(anchors: Option<&AnchorRequests>) -> Result<String, String> {
    let stopped = || "the anchoring service has stopped".to_string();
    let tx = anchors.ok_or("this daemon does not anchor (no [evidence] section)")?;
    let (reply, wait) = tokio::sync::oneshot::channel();
    tx.blocking_send(reply).map_err(|_| stopped())?;
    wait.blocking_recv().unwrap_or_else(|_| Err(stopped()))
}

#[cfg(not(unix))]
pub async fn serve(_store: Arc<Store>) -> std::io::Result<()> {
    std::future::pending().await
}

#[cfg(not(unix))]
pub async fn serve_with(
    _store: Arc<Store>,
    _index: Option<Arc<SearchIndex>>,
    _anchors: Option<AnchorRequests>,
) -> std::io::Result<()> {
    std::future::pending().await
}
