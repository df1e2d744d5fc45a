//! `.eml` files in a directory (`<store>/mail/`), for a machine that has no
//! SMTP relay yet: the e-mail exactly as it would go on the wire, one file
//! per Message-ID, written crash-safe.

use std::path::Path;

use super::DeliveryError;
use crate::alert::Message;

/// Writes `msg` as `<dir>/<Message-ID>.eml` off the async threads.
pub async fn deliver(dir: &Path, msg: &Message) -> Result<(), DeliveryError> {
    let bytes = msg.formatted()?;
    let dir = dir.to_path_buf();
    let id = msg.message_id.clone();
    let target = dir.clone();
    tokio::task::spawn_blocking(move || write_eml(&dir, &id, &bytes))
        .await
        .map_err(|e| DeliveryError::File {
            path: target,
            source: std::io::Error::other(e.to_string()),
        })?
}

/// Crash-safe and idempotent: the file appears complete or not at all, and
/// an existing `<id>.eml` is never replaced (a pickup process that already
/// forwarded it must not see a "new" file).
fn write_eml(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<(), DeliveryError> {
    use std::io::Write;
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DeliveryError::File { path, source }
    };

    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_err(dir))?;

    let target = dir.join(format!("{message_id}.eml"));
    if target.exists() {
        return Ok(());
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = dir.join(format!(".{message_id}.{}.{nanos}.tmp", std::process::id()));

    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(&tmp).map_err(io_err(&tmp))?;
        file.write_all(bytes).map_err(io_err(&tmp))?;
        file.sync_all().map_err(io_err(&tmp))?;
        drop(file);
        // A hard link fails if the target exists, where rename would replace
        // it: that keeps two concurrent deliveries of one alert to one file.
        match std::fs::hard_link(&tmp, &target) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(_) => std::fs::rename(&tmp, &target).map_err(io_err(&target)),
        }
    })();
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) if result.is_ok() => return Err(io_err(&tmp)(e)),
        Err(_) => {}
    }
    result?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}
