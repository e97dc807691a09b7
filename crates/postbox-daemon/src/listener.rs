//! Listening: preparing and binding the Unix socket (and the TCP port when asked), and removing
//! the socket file again.
//!
//! The Unix socket's rules, in order:
//!
//! 1. A missing directory is created, with mode 0700 (and any missing parents).
//! 2. The directory must not let another user replace the socket: it must be owned by the
//!    daemon's user or root, and not writable by group or others unless sticky (like `/tmp`).
//! 3. Something already at the path: a socket another daemon answers on is left alone and the
//!    daemon refuses to start; a stale socket (nobody answers) is removed; anything else is left
//!    alone and the daemon refuses to start.
//! 4. The socket is bound, then set to the configured mode.
//! 5. On shutdown the socket file is removed — only if it is still the one this daemon bound.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::DaemonError;
use crate::config::own_credentials;

/// The bound Unix socket's file; dropping it removes the file if it is still ours. Drop it before
/// the listener: while the listener is open the file's inode cannot be reused, so the identity
/// check cannot mistake another socket for ours.
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    /// Device and inode of the socket this daemon bound.
    identity: (u64, u64),
}

impl SocketFile {
    /// Where the socket is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|meta| (meta.dev(), meta.ino()) == self.identity);
        if ours {
            match std::fs::remove_file(&self.path) {
                Ok(()) => tracing::debug!(path = %self.path.display(), "socket removed"),
                Err(error) => tracing::warn!(
                    path = %self.path.display(),
                    "could not remove the socket: {error}"
                ),
            }
        }
    }
}

/// Prepares the directory, clears a stale socket, binds `path` and sets its `mode`. The listener
/// is non-blocking, ready for tokio.
///
/// # Errors
///
/// [`DaemonError::AlreadyRunning`], [`DaemonError::NotASocket`],
/// [`DaemonError::UnsafeDirectory`], or [`DaemonError::Io`] when a step fails.
pub(crate) fn bind_unix(path: &Path, mode: u32) -> Result<(UnixListener, SocketFile), DaemonError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    prepare_directory(dir)?;
    clear_stale(path)?;
    let listener = UnixListener::bind(path)
        .map_err(|error| DaemonError::io("binding", path.display(), error))?;
    // From here on the file is ours: the guard removes it if a later step fails.
    let meta = std::fs::symlink_metadata(path)
        .map_err(|error| DaemonError::io("inspecting", path.display(), error))?;
    let file = SocketFile {
        path: path.to_owned(),
        identity: (meta.dev(), meta.ino()),
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|error| DaemonError::io("setting the mode of", path.display(), error))?;
    listener
        .set_nonblocking(true)
        .map_err(|error| DaemonError::io("configuring", path.display(), error))?;
    Ok((listener, file))
}

/// Creates `dir` with mode 0700 if missing, then checks that it is safe to put a socket in.
fn prepare_directory(dir: &Path) -> Result<(), DaemonError> {
    match std::fs::metadata(dir) {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|error| DaemonError::io("creating directory", dir.display(), error))?;
            tracing::info!(dir = %dir.display(), "created the socket directory (mode 0700)");
        }
        Err(error) => return Err(DaemonError::io("inspecting", dir.display(), error)),
    }
    let meta = std::fs::metadata(dir)
        .map_err(|error| DaemonError::io("inspecting", dir.display(), error))?;
    let unsafe_dir = |reason: String| {
        Err(DaemonError::UnsafeDirectory {
            path: dir.to_owned(),
            reason,
        })
    };
    if !meta.is_dir() {
        return unsafe_dir("it is not a directory".to_owned());
    }
    let uid = own_credentials().uid;
    if meta.uid() != uid && meta.uid() != 0 {
        return unsafe_dir(format!(
            "it is owned by uid {}, not by the daemon's uid {uid} or root",
            meta.uid()
        ));
    }
    let mode = meta.mode();
    let sticky = mode & 0o1000 != 0;
    if mode & 0o022 != 0 && !sticky {
        return unsafe_dir(format!(
            "its mode {:o} lets other users replace the socket",
            mode & 0o7777
        ));
    }
    Ok(())
}

/// Removes a stale socket at `path`; refuses when a daemon answers there or a non-socket is there.
fn clear_stale(path: &Path) -> Result<(), DaemonError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(DaemonError::io("inspecting", path.display(), error)),
    };
    if !meta.file_type().is_socket() {
        return Err(DaemonError::NotASocket {
            path: path.to_owned(),
        });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(DaemonError::AlreadyRunning {
            path: path.to_owned(),
        }),
        Err(error) if error.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing a stale socket");
            match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(error) => Err(DaemonError::io(
                    "removing stale socket",
                    path.display(),
                    error,
                )),
            }
        }
        Err(error) => Err(DaemonError::io("probing", path.display(), error)),
    }
}

/// Binds the TCP listener, non-blocking, ready for tokio.
///
/// # Errors
///
/// [`DaemonError::Io`] if the address cannot be bound.
pub(crate) fn bind_tcp(address: SocketAddr) -> Result<std::net::TcpListener, DaemonError> {
    let listener = std::net::TcpListener::bind(address)
        .map_err(|error| DaemonError::io("binding", address, error))?;
    listener
        .set_nonblocking(true)
        .map_err(|error| DaemonError::io("configuring", address, error))?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "postbox-daemon-listener-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_missing_directory_is_created_private_and_the_socket_gets_its_mode() {
        let root = scratch("mode");
        let path = root.join("a/b/postbox.sock");
        let (listener, file) = bind_unix(&path, 0o640).unwrap();
        let dir_mode = std::fs::metadata(root.join("a/b")).unwrap().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let sock_mode = std::fs::symlink_metadata(&path).unwrap().mode() & 0o777;
        assert_eq!(sock_mode, 0o640);
        assert!(matches!(
            bind_unix(&path, 0o600),
            Err(DaemonError::AlreadyRunning { .. })
        ));
        drop(listener);
        drop(file);
        assert!(!path.exists(), "the guard removes the socket");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_stale_socket_is_replaced_and_other_files_are_not_touched() {
        let root = scratch("stale");
        std::fs::create_dir_all(&root).unwrap();
        let path = root.join("postbox.sock");
        drop(UnixListener::bind(&path).unwrap());
        assert!(
            path.exists(),
            "a listener dropped without cleanup leaves its file"
        );
        let (_listener, file) = bind_unix(&path, 0o600).unwrap();
        drop(file);

        std::fs::write(&path, b"not a socket").unwrap();
        assert!(matches!(
            bind_unix(&path, 0o600),
            Err(DaemonError::NotASocket { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let root = scratch("unsafe");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
        let refused = bind_unix(&root.join("postbox.sock"), 0o600);
        assert!(
            matches!(refused, Err(DaemonError::UnsafeDirectory { .. })),
            "{refused:?}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn a_replaced_socket_is_not_removed_by_the_old_guard() {
        let root = scratch("replaced");
        let path = root.join("postbox.sock");
        // The guard is dropped while its listener is open (as `serve` does), so the inode it
        // remembers cannot have been reused.
        let (_listener, file) = bind_unix(&path, 0o600).unwrap();
        std::fs::remove_file(&path).unwrap();
        let _other = UnixListener::bind(&path).unwrap();
        drop(file);
        assert!(path.exists(), "another daemon's socket stays");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
