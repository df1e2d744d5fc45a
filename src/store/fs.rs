//! Folder and file helpers: owner-only folders, durable renames, sizes.

use std::path::{Path, PathBuf};

use super::BackupError;

/// `<dir>/.<name>.<what>`: next to `path`, so renames stay on one file system.
pub(super) fn temp_sibling(path: &Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "store".into());
    path.with_file_name(format!(".{name}.{what}"))
}

pub(super) fn dir_is_empty(path: &Path) -> Result<bool, BackupError> {
    match std::fs::read_dir(path) {
        Ok(mut rd) => Ok(rd.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(BackupError::file(path, e)),
    }
}

/// Makes a rename durable (best effort: not every platform can sync a folder).
pub(super) fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let parent = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
}

/// Bytes used by the files under `path`.
pub(super) fn folder_size(path: &Path) -> u64 {
    walk_files(path)
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Creates the store folder readable by its owner only: it holds evidence
/// and, in `mail/`, alert messages.
pub(super) fn create_private_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(path)
    }
}

/// sled creates its files with the process umask; tighten them.
pub(super) fn restrict_permissions(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let walk = walk_files(path);
        for p in walk {
            let mode = if p.is_dir() { 0o700 } else { 0o600 };
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode));
        }
    }
}

pub(super) fn walk_files(path: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&p) {
            for e in rd.flatten() {
                let ep = e.path();
                if ep.is_dir() {
                    stack.push(ep.clone());
                }
                out.push(ep);
            }
        }
    }
    out
}
