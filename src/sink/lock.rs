//! One backup run per repository: an exclusive `flock` on a lock file, held for as long as the
//! sink lives and released by the operating system when the process dies (a killed run never
//! leaves a lock that blocks the next one).
//!
//! Owns: creating the lock file safely (no symlink followed, mode 0600), writing who holds it
//! (pid, host, since), the error that names the holder and what to do, removing the file on
//! release, and the per-user folder for locks of remote repositories (`$XDG_STATE_HOME`, else
//! `~/.local/state`, under `notion-git-backup/locks/`; the system temp folder as a last resort).
//! Must not: wait for a lock (a second run fails at once), or remove a lock file it does not hold.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::SinkError;

/// An exclusive lock on one repository, held until dropped.
#[derive(Debug)]
pub struct RepoLock {
    file: File,
    path: PathBuf,
}

impl RepoLock {
    /// Lock `path` (created when missing) for the repository described by `what` (used in the
    /// error). Fails at once with [`SinkError::Locked`] when another process, or another sink in
    /// this process, holds it.
    pub fn acquire(path: &Path, what: &str) -> Result<RepoLock, SinkError> {
        let io = |action: &str, e: std::io::Error| {
            SinkError::Io(format!("cannot {action} the lock file {} of {what}: {e}", path.display()))
        };
        // The file may be replaced between open and lock by a holder releasing it (it removes the
        // file): then the lock we got is on a file nobody else will see, and we try again.
        for _ in 0..20 {
            let mut file = open_no_follow(path).map_err(|e| io("open", e))?;
            match fs4::fs_std::FileExt::try_lock_exclusive(&file) {
                Ok(true) => {}
                Ok(false) => return Err(held_error(path, what)),
                Err(e) => return Err(io("lock", e)),
            }
            if !same_file(&file, path) {
                continue;
            }
            let _ = file.set_len(0);
            let _ = writeln!(
                file,
                "pid {} on {} since {}",
                std::process::id(),
                gethostname::gethostname().to_string_lossy(),
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
            let _ = file.sync_data();
            return Ok(RepoLock { file, path: path.to_path_buf() });
        }
        Err(io("lock", std::io::Error::other("it kept being replaced while locking")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // Removed while still held, and only when it is still our file: a waiting process then
        // finds it gone (or replaced) and creates a fresh one.
        if same_file(&self.file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn held_error(path: &Path, what: &str) -> SinkError {
    let holder = std::fs::read_to_string(path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let ours = format!("pid {} ", std::process::id());
    let who = match &holder {
        Some(h) if h.starts_with(&ours) => format!("this run itself ({h}): the repository is opened twice"),
        Some(h) => format!("another backup run ({h})"),
        None => "another backup run".to_string(),
    };
    SinkError::Locked(format!(
        "{what} is locked by {who}; lock file {}. Only one run may write to a repository at a time: \
         wait for that run to finish (two configurations pointing at the same repository must not run at once: \
         give each its own repository, or schedule them apart). The lock is released when that process ends, \
         even if it was killed.",
        path.display()
    ))
}

#[cfg(unix)]
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)
}

#[cfg(not(unix))]
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

/// True when `path` still names the open `file` (same device and inode).
#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

/// The folder holding the locks of remote (Gitea/Forgejo) repositories for this user:
/// `$XDG_STATE_HOME/notion-git-backup/locks`, else `~/.local/state/notion-git-backup/locks`, else
/// (no home, or not writable) a private folder in the system temp folder. Created (mode 0700).
pub fn user_lock_dir() -> Result<PathBuf, SinkError> {
    let candidates = state_dirs(std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME"));
    let mut errors = Vec::new();
    for dir in candidates {
        match create_private_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
    let tmp = temp_lock_dir();
    match create_private_dir(&tmp) {
        Ok(()) => Ok(tmp),
        Err(e) => {
            errors.push(format!("{}: {e}", tmp.display()));
            Err(SinkError::Io(format!(
                "cannot create a folder for repository locks ({}): set XDG_STATE_HOME to a writable folder",
                errors.join("; ")
            )))
        }
    }
}

/// The per-user state folders to try, from `XDG_STATE_HOME` and `HOME` (relative values are
/// ignored, as the XDG specification says).
fn state_dirs(xdg_state_home: Option<std::ffi::OsString>, home: Option<std::ffi::OsString>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(x) = xdg_state_home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        out.push(x.join("notion-git-backup").join("locks"));
    }
    if let Some(h) = home.map(PathBuf::from).filter(|p| p.is_absolute()) {
        let p = h.join(".local").join("state").join("notion-git-backup").join("locks");
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(unix)]
fn temp_lock_dir() -> PathBuf {
    std::env::temp_dir().join(format!("notion-git-backup-{}", rustix::process::geteuid().as_raw())).join("locks")
}

#[cfg(not(unix))]
fn temp_lock_dir() -> PathBuf {
    std::env::temp_dir().join("notion-git-backup").join("locks")
}

/// Create `dir` (and its parents); the last two levels with mode 0700. An existing folder must be
/// a real folder owned by this user (a shared temp folder could hold someone else's).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        let me = rustix::process::geteuid().as_raw();
        for d in [dir, dir.parent().unwrap_or(dir)] {
            let m = std::fs::symlink_metadata(d)?;
            if !m.is_dir() || m.uid() != me {
                return Err(std::io::Error::other(format!("{} is not a folder owned by this user", d.display())));
            }
        }
        rustix::fs::access(dir, rustix::fs::Access::WRITE_OK | rustix::fs::Access::EXEC_OK)?;
        Ok(())
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_first_ones_pid_and_the_file_goes_on_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("repo.lock");
        let first = RepoLock::acquire(&path, "repository notes").unwrap();
        let e = RepoLock::acquire(&path, "repository notes").unwrap_err();
        let m = e.to_string();
        assert!(matches!(e, SinkError::Locked(_)), "{m}");
        assert!(m.starts_with("repository notes is locked by this run itself (pid "), "{m}");
        assert!(m.contains(&format!("pid {} on ", std::process::id())) && m.contains(" since "), "{m}");
        drop(first);
        assert!(!path.exists(), "released lock file removed");
        let again = RepoLock::acquire(&path, "repository notes").unwrap();
        assert_eq!(again.path(), path);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_the_lock_path_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("victim");
        std::fs::write(&target, "keep").unwrap();
        let path = dir.path().join("repo.lock");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        let e = RepoLock::acquire(&path, "repository notes").unwrap_err();
        assert!(matches!(e, SinkError::Io(_)), "{e}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn lock_folders_follow_xdg_then_home() {
        let x = |s: &str| Some(std::ffi::OsString::from(s));
        assert_eq!(
            state_dirs(x("/xdg"), x("/home/me")),
            vec![
                PathBuf::from("/xdg/notion-git-backup/locks"),
                PathBuf::from("/home/me/.local/state/notion-git-backup/locks")
            ]
        );
        assert_eq!(state_dirs(x("relative"), None), Vec::<PathBuf>::new());
        assert_eq!(state_dirs(None, x("/h")), vec![PathBuf::from("/h/.local/state/notion-git-backup/locks")]);
    }

    #[cfg(unix)]
    #[test]
    fn a_private_folder_owned_by_someone_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path(), &link).unwrap();
        assert!(create_private_dir(&link).is_err(), "a symlink is not a private folder");
        let ok = dir.path().join("a").join("locks");
        create_private_dir(&ok).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&ok).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
