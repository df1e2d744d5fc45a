//! The pack: an append-only file beside sled that holds the history's bulk —
//! blobs and version records — while sled keeps only small locators to it.
//!
//! Why a file of its own: sled is log-structured and writes new copies of
//! the tree nodes an update touches, so every kilobyte stored through it
//! costs two to three on disk, and the space comes back late. A version
//! never changes once written, so it needs no tree at all: appended to a
//! plain file it costs exactly its bytes.
//!
//! Layout: an 8-byte magic, then entries `len:u32le crc32:u32le payload`.
//! A [`Loc`] names an entry's payload by offset and length. An append that a
//! crash cuts short leaves bytes that nothing points to: the store writes a
//! locator into sled only after [`Pack::sync`] has made its entry durable,
//! and the next append simply follows the torn tail.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

const MAGIC: &[u8; 8] = b"BWPACK1\n";
const ENTRY_HEADER: u64 = 8;
/// First byte of a locator as stored in sled. Values written before the
/// pack existed start with a blob format byte (0 or 1) or `{` (JSON), so
/// the two can never be confused.
const LOC_TAG: u8 = b'P';
pub const LOC_LEN: usize = 1 + LOC_BODY;
/// A locator without its tag, as embedded in other values.
pub const LOC_BODY: usize = 12;

/// Where one entry's payload lives in the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    pub offset: u64,
    pub len: u32,
}

impl Loc {
    pub fn encode(self) -> [u8; LOC_LEN] {
        let mut out = [0u8; LOC_LEN];
        out[0] = LOC_TAG;
        out[1..9].copy_from_slice(&self.offset.to_le_bytes());
        out[9..13].copy_from_slice(&self.len.to_le_bytes());
        out
    }

    /// Appends the 12-byte form (offset, length) to `out`.
    pub fn write_body(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }

    /// Reads the 12-byte form from the start of `bytes`.
    pub fn read_body(bytes: &[u8]) -> Option<Loc> {
        Some(Loc {
            offset: u64::from_le_bytes(bytes.get(0..8)?.try_into().ok()?),
            len: u32::from_le_bytes(bytes.get(8..12)?.try_into().ok()?),
        })
    }

    /// The locator stored in a sled value, or `None` for a value stored
    /// inline (by a store written before the pack existed, or restored).
    pub fn decode(value: &[u8]) -> Option<Loc> {
        if value.len() != LOC_LEN || value[0] != LOC_TAG {
            return None;
        }
        Some(Loc {
            offset: u64::from_le_bytes(value[1..9].try_into().ok()?),
            len: u32::from_le_bytes(value[9..13].try_into().ok()?),
        })
    }
}

pub struct Pack {
    path: PathBuf,
    file: File,
    /// Where the next entry goes. Appends are serialised by this lock;
    /// reads use positioned I/O and need none.
    end: Mutex<u64>,
    /// Set by the first failed sync. After a failed fsync the
    /// kernel may drop the unwritten pages and report success to the next
    /// one, so nothing appended since the last good sync can be trusted:
    /// every later append and sync fails until the store is reopened.
    failed: AtomicBool,
    /// Test hook: every write fails as on a full disk.
    #[cfg(any(test, feature = "test-hooks"))]
    full: AtomicBool,
}

impl Pack {
    /// Opens the pack at `path`, creating it (owner-only) when missing.
    pub fn open(path: &Path) -> io::Result<Pack> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true).create(true);
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let mut end = file.metadata()?.len();
        if end == 0 {
            file.write_all_at(MAGIC, 0)?;
            file.sync_all()?;
            end = MAGIC.len() as u64;
        } else {
            let mut magic = [0u8; 8];
            file.read_exact_at(&mut magic, 0)
                .map_err(|_| invalid(path, "too short to be a pack file"))?;
            if &magic != MAGIC {
                return Err(invalid(path, "not a bulletin-watch pack file (bad magic)"));
            }
        }
        Ok(Pack {
            path: path.to_path_buf(),
            file,
            end: Mutex::new(end),
            failed: AtomicBool::new(false),
            #[cfg(any(test, feature = "test-hooks"))]
            full: AtomicBool::new(false),
        })
    }

    /// The pack file's path, for errors that must name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry. Not durable until [`Pack::sync`] returns.
    pub fn append(&self, payload: &[u8]) -> io::Result<Loc> {
        let len = u32::try_from(payload.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pack entry over 4 GiB"))?;
        let mut entry = Vec::with_capacity(payload.len() + ENTRY_HEADER as usize);
        entry.extend_from_slice(&len.to_le_bytes());
        entry.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        entry.extend_from_slice(payload);
        let mut end = self.end.lock().unwrap_or_else(|e| e.into_inner());
        self.check_failed()?;
        #[cfg(any(test, feature = "test-hooks"))]
        if self.full.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(28));
        }
        // A failed write (a full disk) leaves `end` where it was: the next
        // entry overwrites whatever part of this one reached the file.
        self.file.write_all_at(&entry, *end)?;
        let loc = Loc {
            offset: *end + ENTRY_HEADER,
            len,
        };
        *end += entry.len() as u64;
        Ok(loc)
    }

    /// Reads the payload at `loc`, checking its length and checksum.
    /// Damage (bad length or checksum, an entry cut short) is reported as
    /// `InvalidData`; other I/O errors keep their kind, as they may pass.
    pub fn read(&self, loc: Loc) -> io::Result<Vec<u8>> {
        let bad = |m: String| invalid(&self.path, &m);
        let failed = |e: io::Error, what: &str| match e.kind() {
            io::ErrorKind::UnexpectedEof => bad(format!("entry at {} {what}", loc.offset)),
            kind => io::Error::new(
                kind,
                format!("{}: entry at {}: {e}", self.path.display(), loc.offset),
            ),
        };
        if loc.offset < MAGIC.len() as u64 + ENTRY_HEADER {
            return Err(bad(format!(
                "locator offset {} is inside the header",
                loc.offset
            )));
        }
        let mut header = [0u8; ENTRY_HEADER as usize];
        self.file
            .read_exact_at(&mut header, loc.offset - ENTRY_HEADER)
            .map_err(|e| failed(e, "is past the end of the file"))?;
        let len = u32::from_le_bytes(header[0..4].try_into().unwrap_or_default());
        let crc = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
        if len != loc.len {
            return Err(bad(format!(
                "entry at {} is {len} bytes long, its locator says {}",
                loc.offset, loc.len
            )));
        }
        let mut payload = vec![0u8; len as usize];
        self.file
            .read_exact_at(&mut payload, loc.offset)
            .map_err(|e| failed(e, "is truncated"))?;
        if crc32fast::hash(&payload) != crc {
            return Err(bad(format!("entry at {} fails its checksum", loc.offset)));
        }
        Ok(payload)
    }

    /// Makes every append so far durable.
    pub fn sync(&self) -> io::Result<()> {
        self.check_failed()?;
        self.file.sync_data().inspect_err(|_| {
            self.failed.store(true, Ordering::SeqCst);
        })
    }

    /// Test hook: every later append fails with ENOSPC.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn fill_disk(&self) {
        self.full.store(true, Ordering::SeqCst);
    }

    fn check_failed(&self) -> io::Result<()> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(io::Error::other(format!(
                "{}: an earlier sync failed; reopen the store (restart) to continue",
                self.path.display()
            )));
        }
        Ok(())
    }
}

fn invalid(path: &Path, message: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {message}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_read_back_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.pack");
        let pack = Pack::open(&path).unwrap();
        let a = pack.append(b"first").unwrap();
        let b = pack.append("第二".as_bytes()).unwrap();
        pack.sync().unwrap();
        assert_eq!(pack.read(a).unwrap(), b"first");
        assert_eq!(Loc::decode(&b.encode()), Some(b));
        drop(pack);

        // Reopened, it appends after what is there.
        let pack = Pack::open(&path).unwrap();
        let c = pack.append(b"third").unwrap();
        assert!(c.offset > b.offset);
        assert_eq!(pack.read(b).unwrap(), "第二".as_bytes());
        assert_eq!(pack.read(c).unwrap(), b"third");

        // A flipped byte, a wrong length and a wrong offset are all errors.
        pack.file.write_all_at(b"F", a.offset).unwrap();
        assert!(pack.read(a).unwrap_err().to_string().contains("checksum"));
        let wrong = Loc { len: 3, ..b };
        assert!(pack
            .read(wrong)
            .unwrap_err()
            .to_string()
            .contains("locator"));
        assert!(pack.read(Loc { offset: 1, len: 1 }).is_err());
        assert!(pack
            .read(Loc {
                offset: 1 << 40,
                len: 5
            })
            .is_err());
    }

    #[test]
    fn a_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.pack");
        std::fs::write(&path, b"something else entirely").unwrap();
        let e = Pack::open(&path).err().unwrap();
        assert!(e.to_string().contains("bad magic"), "{e}");
    }

    #[test]
    fn inline_values_are_not_locators() {
        assert_eq!(Loc::decode(b"{\"source\":\"x\"}"), None);
        assert_eq!(Loc::decode(&[0u8; LOC_LEN]), None);
        assert_eq!(Loc::decode(&[1u8; LOC_LEN]), None);
    }
}
