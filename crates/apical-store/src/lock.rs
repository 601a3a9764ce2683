//! One writer per run directory: `.lock` is held with an exclusive OS file lock for as long as
//! a run or resume works in the directory. The lock dies with the process (even on kill -9), so
//! a crashed run never blocks its own `apical resume`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::StoreError;

/// An exclusive hold on a run directory, released when dropped.
#[derive(Debug)]
pub struct RunLock {
    file: File,
    path: std::path::PathBuf,
}

impl Drop for RunLock {
    /// Removes the lock file (a finished run directory holds only its outputs), then lets go.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

impl RunLock {
    /// Takes the lock of `dir` (which must exist), or refuses with the holder's pid. On a file
    /// system without file locks (some cluster mounts) it warns and goes on unlocked.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = crate::RunDir::new(dir).lock();
        // A holder removes the file when it lets go; a lock taken on a file that was removed
        // meanwhile guards nothing, so check that the path still names the locked file.
        for _ in 0..20 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|source| StoreError::Write {
                    path: path.clone(),
                    source,
                })?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    return Err(StoreError::Locked {
                        path: dir.to_path_buf(),
                        holder: holder.trim().to_string(),
                    });
                }
                Err(TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                    eprintln!(
                        "apical: warning: {} cannot be locked on this file system ({e}); make sure no other apical process writes to {}",
                        path.display(),
                        dir.display()
                    );
                    return Ok(Self { file, path });
                }
                Err(TryLockError::Error(source)) => return Err(StoreError::Write { path, source }),
            }
            if !same_file(&file, &path) {
                continue;
            }
            // Record the holder for the message another process prints.
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = write!(file, "{}", std::process::id());
            let _ = file.flush();
            return Ok(Self { file, path });
        }
        Err(StoreError::Locked {
            path: dir.to_path_buf(),
            holder: "unknown (the lock file keeps changing)".into(),
        })
    }
}

/// Whether another process holds the lock of `dir` now (its run is in progress). Looks without
/// taking the lock or changing the file.
pub fn is_held(dir: &Path) -> bool {
    let Ok(file) = File::open(crate::RunDir::new(dir).lock()) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            false
        }
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// The pid of the process that holds the lock of `dir` now (`None`: no run in progress).
/// Looks without taking the lock or changing the file.
pub fn held_by(dir: &Path) -> Option<String> {
    if !is_held(dir) {
        return None;
    }
    let pid = std::fs::read_to_string(crate::RunDir::new(dir).lock()).unwrap_or_default();
    let pid = pid.trim();
    Some(if pid.is_empty() {
        "unknown".into()
    } else {
        pid.to_string()
    })
}

/// Whether `path` still names the open `file`.
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = crate::testdir::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains(&std::process::id().to_string()));
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }
}
