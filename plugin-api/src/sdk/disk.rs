//! Telling a full disk from other I/O errors: some engines (LMDB) report a write that found no
//! space as a plain `Input/output error`.

use std::path::Path;

use crate::{ErrorCode, PluginError};

/// Below this much free space on a data directory's filesystem, a failed write is taken to be
/// for want of space: 1 MiB.
pub const LOW_SPACE_BYTES: u64 = 1 << 20;

/// The bytes free to this process on the filesystem holding `path`; `None` where that cannot
/// be known.
#[must_use]
pub fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let stat = rustix::fs::statvfs(path).ok()?;
        Some(stat.f_bavail.saturating_mul(stat.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// `error` from a write into `dir`, restated as `full` ("no space left on device", with the
/// free space) when it is an I/O error and the filesystem has less than [`LOW_SPACE_BYTES`]
/// free; unchanged otherwise.
#[must_use]
pub fn or_disk_full(error: PluginError, dir: &Path) -> PluginError {
    if error.code != ErrorCode::IO && error.code != ErrorCode::FULL {
        return error;
    }
    match free_bytes(dir) {
        Some(free) if free < LOW_SPACE_BYTES => PluginError::new(
            ErrorCode::FULL,
            format!(
                "no space left on device: the filesystem of {} has {free} bytes free ({})",
                dir.display(),
                error.message
            ),
        ),
        _ => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_is_known_here_and_ordinary_errors_are_kept() {
        let dir = std::env::temp_dir();
        assert!(free_bytes(&dir).is_some_and(|free| free > 0));
        let error = PluginError::new(ErrorCode::IO, "Input/output error");
        // A filesystem with room: the error is what it was.
        let kept = or_disk_full(error.clone(), &dir);
        assert_eq!(kept.code, ErrorCode::IO);
        assert_eq!(kept.message.as_str(), "Input/output error");
        let other = PluginError::new(ErrorCode::CORRUPTION, "bad page");
        assert_eq!(or_disk_full(other, &dir).code, ErrorCode::CORRUPTION);
    }
}
