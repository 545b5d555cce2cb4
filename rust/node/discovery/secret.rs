//! The cluster secret of local discovery: nodes of one cluster on one host share a secret that
//! the first of them generates in the discovery directory, so they authenticate each other with
//! no setting at all.
//!
//! Invariants: the directory is a real directory (not a link) owned by this process's user and
//! closed to everyone else (mode 0700; a looser one left by an older version is tightened), and
//! the secret file is created with mode 0600 under the directory's start-up lock, written under a
//! temporary name and renamed, so every node reads the same whole secret. A directory owned by
//! another user is refused: its owner could replace the secret with one they know. The parent
//! directory, shared by every cluster on the host, is created like `/tmp` itself (sticky and
//! writable by all), so each user can keep clusters of their own there.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::DirectoryLock;

const SECRET_FILE_NAME: &str = "cluster.secret";
/// Random bytes in a generated secret (written as 64 hex digits).
const GENERATED_SECRET_BYTES: usize = 32;

/// Creates (or checks) the discovery directory `dir` and its parent.
pub(super) fn prepare_directory(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent() {
        if !parent.exists() {
            create_directory(parent, 0o1777)?;
        }
    }
    if !dir.exists() {
        create_directory(dir, 0o700)?;
    }
    check_private(dir)
}

/// The secret of the cluster whose discovery directory is `dir`: read, or generated when the
/// directory has none yet.
pub(crate) fn local_secret(dir: &Path) -> io::Result<Vec<u8>> {
    prepare_directory(dir)?;
    let path = dir.join(SECRET_FILE_NAME);
    if let Some(secret) = read_secret(&path)? {
        return Ok(secret);
    }
    let _lock = DirectoryLock::acquire(dir)?;
    // Another starter may have written it while this one waited for the lock.
    if let Some(secret) = read_secret(&path)? {
        return Ok(secret);
    }
    let mut random = [0u8; GENERATED_SECRET_BYTES];
    getrandom::fill(&mut random)
        .map_err(|e| io::Error::other(format!("no random bytes for the cluster secret: {e}")))?;
    let secret: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let temporary = dir.join(format!(".{SECRET_FILE_NAME}.{}.tmp", std::process::id()));
    // A crashed writer's leftover; under the lock nobody else is writing it.
    let _ = fs::remove_file(&temporary);
    let written = create_private_file(&temporary)
        .and_then(|mut file| file.write_all(format!("{secret}\n").as_bytes()))
        .and_then(|()| fs::rename(&temporary, &path));
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(io::Error::new(
            error.kind(),
            format!(
                "cannot write the cluster secret {}: {error}",
                path.display()
            ),
        ));
    }
    log::info!(
        "discovery: generated the cluster secret in {}",
        path.display()
    );
    Ok(secret.into_bytes())
}

/// The secret in `path` without surrounding whitespace, or `None` when there is no file.
fn read_secret(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            Ok(Some(text.trim().as_bytes().to_vec()))
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io::Error::new(
            error.kind(),
            format!("cannot read the cluster secret {}: {error}", path.display()),
        )),
    }
}

#[cfg(unix)]
fn create_directory(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    match fs::DirBuilder::new().mode(mode).create(path) {
        // Another starter made it first; the checks that follow look at what it made.
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(io::Error::new(
            error.kind(),
            format!("cannot create {}: {error}", path.display()),
        )),
        // The process umask narrows the mode given at creation; set it exactly.
        Ok(()) => fs::set_permissions(path, fs::Permissions::from_mode(mode)),
    }
}

#[cfg(not(unix))]
fn create_directory(path: &Path, _mode: u32) -> io::Result<()> {
    match fs::create_dir(path) {
        Err(error) if error.kind() != io::ErrorKind::AlreadyExists => Err(io::Error::new(
            error.kind(),
            format!("cannot create {}: {error}", path.display()),
        )),
        _ => Ok(()),
    }
}

/// Refuses a directory that is a link, belongs to another user, or that others may enter;
/// tightens one of ours that others may enter.
#[cfg(unix)]
fn check_private(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let metadata = fs::symlink_metadata(dir)?;
    if !metadata.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the discovery directory {} is not a directory (a link?): remove it, or choose \
                 another cluster name",
                dir.display()
            ),
        ));
    }
    let own = rustix::process::geteuid().as_raw();
    if metadata.uid() != own {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "the discovery directory {} belongs to user {}, not to this process's user {own}: \
                 nodes of one cluster on one host must run as one user (or choose another \
                 cluster name)",
                dir.display(),
                metadata.uid()
            ),
        ));
    }
    if metadata.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}
