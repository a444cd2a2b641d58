//! Local git destination: a work tree on disk, driven through the `git` CLI (so the user's ssh
//! keys, credential helpers and git config apply to `git push`).
//!
//! Owns: `git init` of a missing repository, reading the committed tree once, writing files
//! atomically (temp file + rename), staging exactly the paths a change set touches, committing
//! with the configured identity (works without any global git identity), and pushing at the end.
//!
//! Crash safety: a run can be killed between writing files and committing, or between `git add`
//! and `git commit`. The commit of a change set is computed only from the committed tree (HEAD)
//! and stages only the paths it writes or deletes, so leftovers can never leak into a commit.
//! On `open`, a dirty repository (leftovers of a killed run, or hand edits) is put aside with
//! `git stash push --include-untracked` — recoverable with `git stash list` / `git stash pop`,
//! nothing is ever discarded — so the work tree matches HEAD again. Committed history is never
//! rewritten: no reset of HEAD, no force push.
//!
//! Must not: run hooks from the repository (`core.hooksPath=/dev/null`), follow a symlink out of
//! the work tree, write into `.git`, or print remote URLs with credentials.

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::diff::{self, Op, Prepared, Tree};
use super::{ChangeSet, CommitOutcome, Content, Plan, Sink, SinkError};

/// Longest a `git push` may take before it is abandoned.
const PUSH_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, Default)]
pub struct LocalGitConfig {
    /// The work tree (created with `git init` by `open(true)` when missing).
    pub repo_dir: PathBuf,
    /// `GIT_PUSH`: `git push` the branch at the end of the run.
    pub push: bool,
    pub author_name: String,
    pub author_email: String,
    /// Branch to commit on; `None` = the branch checked out (`main` for a new repository).
    pub branch: Option<String>,
    /// The git program; `None` = `git` found on `PATH`.
    pub git_program: Option<PathBuf>,
}

pub struct LocalGitSink {
    cfg: LocalGitConfig,
    git: PathBuf,
    branch: String,
    tree: Tree,
    has_head: bool,
    opened: bool,
}

struct Output {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl LocalGitSink {
    pub fn new(cfg: LocalGitConfig) -> Self {
        let git = cfg.git_program.clone().unwrap_or_else(|| PathBuf::from("git"));
        LocalGitSink { cfg, git, branch: String::new(), tree: Tree::new(), has_head: false, opened: false }
    }

    /// The branch commits go to (known after `open`).
    pub fn branch(&self) -> &str {
        &self.branch
    }

    fn dir(&self) -> &Path {
        &self.cfg.repo_dir
    }

    /// Run git in the repository. `Err` only when git cannot be started; check `status` yourself.
    async fn run(&self, args: &[&str], stdin: Option<Vec<u8>>, in_repo: bool) -> Result<Output, SinkError> {
        let mut cmd = tokio::process::Command::new(&self.git);
        if in_repo {
            cmd.arg("-C").arg(self.dir());
        }
        cmd.args(["-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false", "-c", "core.safecrlf=false"])
            .args(["-c", "commit.gpgSign=false", "-c", "core.quotePath=false"])
            .arg("-c")
            .arg(format!("user.name={}", self.cfg.author_name))
            .arg("-c")
            .arg(format!("user.email={}", self.cfg.author_email))
            .args(args);
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
            "GIT_ALTERNATE_OBJECT_DIRECTORIES",
            "GIT_NAMESPACE",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("GIT_AUTHOR_NAME", &self.cfg.author_name)
            .env("GIT_AUTHOR_EMAIL", &self.cfg.author_email)
            .env("GIT_COMMITTER_NAME", &self.cfg.author_name)
            .env("GIT_COMMITTER_EMAIL", &self.cfg.author_email)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                SinkError::Config(format!(
                    "git not found: install git (looked for {:?} on PATH) to back up into {}",
                    self.git,
                    self.dir().display()
                ))
            } else {
                SinkError::Io(format!("cannot run {:?}: {e}", self.git))
            }
        })?;
        if let Some(input) = stdin {
            let mut pipe = child.stdin.take().expect("stdin was piped");
            pipe.write_all(&input).await.map_err(|e| SinkError::Io(format!("cannot talk to git: {e}")))?;
            drop(pipe);
        }
        let out = child.wait_with_output().await.map_err(|e| SinkError::Io(format!("git failed: {e}")))?;
        Ok(Output {
            status: out.status,
            stdout: out.stdout,
            stderr: redact_urls(&String::from_utf8_lossy(&out.stderr)),
        })
    }

    /// Run git and require success.
    async fn ok(&self, args: &[&str], stdin: Option<Vec<u8>>) -> Result<Vec<u8>, SinkError> {
        let out = self.run(args, stdin, true).await?;
        if !out.status.success() {
            return Err(SinkError::Io(format!(
                "git {} failed in {}: {}",
                args.iter().find(|a| !a.starts_with('-')).copied().unwrap_or(""),
                self.dir().display(),
                out.stderr.trim()
            )));
        }
        Ok(out.stdout)
    }

    async fn text(&self, args: &[&str]) -> Result<Option<String>, SinkError> {
        let out = self.run(args, None, true).await?;
        Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
    }

    /// True when `repo_dir` is itself the top of a work tree (not merely inside another one).
    async fn is_work_tree(&self) -> Result<bool, SinkError> {
        if !self.dir().is_dir() {
            return Ok(false);
        }
        if self.text(&["rev-parse", "--is-bare-repository"]).await?.as_deref() == Some("true") {
            return Err(SinkError::Config(format!(
                "{} is a bare repository: point the backup at a clone with a work tree (git clone {} <folder>)",
                self.dir().display(),
                self.dir().display()
            )));
        }
        let Some(top) = self.text(&["rev-parse", "--show-toplevel"]).await? else {
            return Ok(false);
        };
        let same = match (std::fs::canonicalize(&top), std::fs::canonicalize(self.dir())) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        Ok(same)
    }

    async fn read_tree(&mut self) -> Result<(), SinkError> {
        self.tree.clear();
        self.has_head = self.text(&["rev-parse", "--verify", "-q", "HEAD^{commit}"]).await?.is_some();
        if !self.has_head {
            return Ok(());
        }
        let out = self.ok(&["ls-tree", "-r", "-z", "--full-tree", "HEAD"], None).await?;
        for rec in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let rec = String::from_utf8_lossy(rec);
            let Some((meta, path)) = rec.split_once('\t') else {
                continue;
            };
            let mut parts = meta.split(' ');
            let (_mode, kind, sha) = (parts.next(), parts.next(), parts.next());
            if let (Some("blob"), Some(sha)) = (kind, sha) {
                self.tree.insert(path.to_string(), sha.to_string());
            }
        }
        Ok(())
    }

    /// Remove a stale `index.lock` left by a killed git, then put uncommitted changes aside.
    async fn recover(&self) -> Result<(), SinkError> {
        let lock = self.dir().join(".git").join("index.lock");
        if let Ok(meta) = std::fs::metadata(&lock) {
            let age = meta.modified().ok().and_then(|m| m.elapsed().ok()).unwrap_or_default();
            if age < Duration::from_secs(60) {
                return Err(SinkError::Remote {
                    message: format!(
                        "{} is locked by another git process ({} exists): wait, or delete the file if no git is running",
                        self.dir().display(),
                        lock.display()
                    ),
                    transient: true,
                });
            }
            tracing::warn!(path = %lock.display(), "removing a stale git index.lock left by an interrupted run");
            std::fs::remove_file(&lock).map_err(|e| SinkError::Io(format!("cannot remove {}: {e}", lock.display())))?;
        }
        let status = self.ok(&["status", "--porcelain=v1", "-z", "--untracked-files=all"], None).await?;
        if status.is_empty() {
            return Ok(());
        }
        let entries = status.split(|b| *b == 0).filter(|r| !r.is_empty()).count();
        if self.has_head {
            tracing::warn!(repo = %self.dir().display(), entries, "uncommitted changes found (interrupted run or hand edits): stashing them (see `git stash list`)");
            self.ok(
                &[
                    "stash",
                    "push",
                    "--include-untracked",
                    "-q",
                    "-m",
                    "notion-git-backup: uncommitted changes found on open",
                ],
                None,
            )
            .await?;
        } else {
            // No commit yet: only clear the index; files left on disk are never staged since
            // commits stage exactly the paths they write.
            tracing::warn!(repo = %self.dir().display(), entries, "uncommitted files in a repository without commits: clearing the index");
            self.ok(&["read-tree", "--empty"], None).await?;
        }
        Ok(())
    }

    /// `git add` exactly the touched paths, then commit them. Returns the new commit, `None` when
    /// nothing was staged after all.
    ///
    /// The commit is made with plumbing (`write-tree`, `commit-tree`, `update-ref` from the old
    /// head to the new one): `git commit` re-checks the stat data of every tracked file on each
    /// call, which in a 5,000-page repository cost more CPU than all the rest of a page's commit.
    async fn stage_and_commit(
        &self,
        ops: &[Op],
        writes: &[Prepared],
        message: &str,
    ) -> Result<Option<String>, SinkError> {
        let mut pathspecs = Vec::new();
        for op in ops {
            let p = match op {
                Op::Put { write, .. } => &writes[*write].path,
                Op::Delete { path, .. } => path,
            };
            pathspecs.extend_from_slice(p.as_bytes());
            pathspecs.push(0);
        }
        // Literal pathspecs: a `*` or `:(` in a file name is a name, not a pattern. (Only here:
        // GIT_LITERAL_PATHSPECS globally breaks `git stash --include-untracked`.)
        self.ok(
            &["--literal-pathspecs", "add", "-A", "-f", "--pathspec-from-file=-", "--pathspec-file-nul"],
            Some(pathspecs),
        )
        .await?;
        let line = |out: Vec<u8>, what: &str| {
            let s = String::from_utf8_lossy(&out).trim().to_string();
            if s.is_empty() {
                Err(SinkError::Io(format!("git {what} printed nothing in {}", self.dir().display())))
            } else {
                Ok(s)
            }
        };
        let tree = line(self.ok(&["write-tree"], None).await?, "write-tree")?;
        let (parent, base_tree) = if self.has_head {
            let out = line(self.ok(&["rev-parse", "HEAD^{commit}", "HEAD^{tree}"], None).await?, "rev-parse")?;
            let mut ids = out.lines().map(str::trim);
            let (Some(head), Some(head_tree)) = (ids.next(), ids.next()) else {
                return Err(SinkError::Io(format!("git rev-parse HEAD gave {out:?} in {}", self.dir().display())));
            };
            (Some(head.to_string()), head_tree.to_string())
        } else {
            // The empty tree of this repository's hash.
            (None, line(self.ok(&["hash-object", "-t", "tree", "--stdin"], Some(Vec::new())).await?, "hash-object")?)
        };
        if base_tree == tree {
            // Content filters made the files equal to HEAD after all: nothing to commit.
            return Ok(None);
        }
        let mut args = vec!["commit-tree", tree.as_str()];
        if let Some(p) = &parent {
            args.extend(["-p", p.as_str()]);
        }
        args.extend(["-F", "-"]);
        let commit = line(self.ok(&args, Some(message.as_bytes().to_vec())).await?, "commit-tree")?;
        // From the head we built on (or from nothing): a branch moved meanwhile is an error, not
        // a lost commit.
        let reflog = format!("commit: {}", message.lines().next().unwrap_or(""));
        // An empty old value: the branch must not exist yet.
        let old = parent.as_deref().unwrap_or("");
        self.ok(&["update-ref", "-m", reflog.as_str(), "HEAD", commit.as_str(), old], None).await?;
        Ok(Some(commit))
    }

    async fn remote(&self) -> Result<String, SinkError> {
        let key = format!("branch.{}.remote", self.branch);
        if let Some(r) = self.text(&["config", "--get", &key]).await?.filter(|r| !r.is_empty()) {
            return Ok(r);
        }
        let remotes = self.text(&["remote"]).await?.unwrap_or_default();
        let remotes: Vec<&str> = remotes.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if remotes.contains(&"origin") {
            return Ok("origin".into());
        }
        match remotes.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(SinkError::Config(format!(
                "GIT_PUSH is set but {} has no remote: add one with `git -C {} remote add origin <url>`",
                self.dir().display(),
                self.dir().display()
            ))),
            _ => Err(SinkError::Config(format!(
                "GIT_PUSH is set but {} has several remotes and none is origin or the branch's upstream: \
                 set one with `git -C {} branch --set-upstream-to=<remote>/{}`",
                self.dir().display(),
                self.dir().display(),
                self.branch
            ))),
        }
    }
}

#[async_trait::async_trait]
impl Sink for LocalGitSink {
    fn describe(&self) -> String {
        self.dir().display().to_string()
    }

    async fn open(&mut self, create: bool) -> Result<(), SinkError> {
        let version = self.run(&["--version"], None, false).await?;
        if !version.status.success() {
            return Err(SinkError::Config(format!("{:?} --version failed: {}", self.git, version.stderr.trim())));
        }
        if !self.is_work_tree().await? {
            if !create {
                return Err(SinkError::Missing(format!(
                    "no git repository at {}: create it with `git init`, or let the backup create it",
                    self.dir().display()
                )));
            }
            std::fs::create_dir_all(self.dir())
                .map_err(|e| SinkError::Io(format!("cannot create {}: {e}", self.dir().display())))?;
            self.ok(&["init", "-q"], None).await?;
            let b = self.cfg.branch.clone().unwrap_or_else(|| "main".into());
            self.ok(&["symbolic-ref", "HEAD", &format!("refs/heads/{b}")], None).await?;
            tracing::info!(repo = %self.dir().display(), branch = %b, "initialised a new git repository");
        }
        let current = self.text(&["symbolic-ref", "-q", "--short", "HEAD"]).await?.ok_or_else(|| {
            SinkError::Config(format!(
                "{} has a detached HEAD: check out a branch (git -C {} switch <branch>)",
                self.dir().display(),
                self.dir().display()
            ))
        })?;
        self.read_tree().await?;
        self.branch = match &self.cfg.branch {
            Some(b) if *b != current => {
                if self.has_head {
                    return Err(SinkError::Config(format!(
                        "{} has branch {current:?} checked out but GIT_BRANCH is {b:?}: check it out \
                         (git -C {} switch {b}) or change GIT_BRANCH",
                        self.dir().display(),
                        self.dir().display()
                    )));
                }
                // No commit yet: switch the unborn branch (a read-only open only plans for it).
                if create {
                    self.ok(&["symbolic-ref", "HEAD", &format!("refs/heads/{b}")], None).await?;
                }
                b.clone()
            }
            _ => current,
        };
        // `open(false)` (dry run, `check`) is read-only: it never creates and never recovers, so it
        // leaves a dirty work tree exactly as it found it.
        if create {
            self.recover().await?;
        }
        self.opened = true;
        Ok(())
    }

    async fn plan(&self, change: &ChangeSet) -> Result<Plan, SinkError> {
        Ok(diff::stage(&self.tree, change).await?.plan)
    }

    async fn commit(&mut self, change: ChangeSet) -> Result<CommitOutcome, SinkError> {
        if !self.opened {
            return Err(SinkError::Config(format!("{}: commit before open", self.describe())));
        }
        let diff::Staged { writes, ops, plan, blob_ids } = diff::stage(&self.tree, &change).await?;
        if ops.is_empty() {
            return Ok(CommitOutcome { plan, commits: vec![], blob_ids });
        }
        let root = self.dir().to_path_buf();
        let (ops2, writes2) = (ops.clone(), writes.clone());
        tokio::task::spawn_blocking(move || write_work_tree(&root, &ops2, &writes2))
            .await
            .map_err(|e| SinkError::Io(format!("writing files failed: {e}")))??;
        let head = match self.stage_and_commit(&ops, &writes, &change.message).await {
            Ok(Some(head)) => head,
            Ok(None) => {
                // Content filters made the files equal to HEAD after all: nothing to commit.
                diff::apply(&mut self.tree, &ops, &writes);
                return Ok(CommitOutcome { plan, commits: vec![], blob_ids });
            }
            Err(e) => {
                // Leave nothing staged for the next change set; the written files stay on disk
                // and are put aside by the next `open`.
                let unstage: &[&str] = if self.has_head { &["reset", "-q"] } else { &["read-tree", "--empty"] };
                if let Err(e2) = self.ok(unstage, None).await {
                    tracing::warn!(error = %e2, "could not unstage after a failed commit");
                }
                return Err(e);
            }
        };
        diff::apply(&mut self.tree, &ops, &writes);
        self.has_head = true;
        Ok(CommitOutcome { plan, commits: vec![head], blob_ids })
    }

    fn files_under(&self, dir: &str) -> Vec<String> {
        if dir.is_empty() {
            return self.tree.keys().cloned().collect();
        }
        diff::files_in(&self.tree, dir).map(|(p, _)| p.clone()).collect()
    }

    async fn finish(&mut self) -> Result<(), SinkError> {
        if !self.cfg.push || !self.opened || !self.has_head {
            return Ok(());
        }
        let remote = self.remote().await?;
        let refspec = format!("refs/heads/{0}:refs/heads/{0}", self.branch);
        let args = ["push", "-q", remote.as_str(), refspec.as_str()];
        let push = self.run(&args, None, true);
        let out = tokio::time::timeout(PUSH_TIMEOUT, push).await.map_err(|_| SinkError::Remote {
            message: format!("git push to {remote} from {} took too long and was stopped", self.dir().display()),
            transient: true,
        })??;
        if !out.status.success() {
            return Err(SinkError::Remote {
                message: format!(
                    "git push to {remote} from {} failed: {} (if the remote has commits this repository lacks, \
                     pull them first; authentication uses your ssh keys / credential helper)",
                    self.dir().display(),
                    out.stderr.trim()
                ),
                transient: true,
            });
        }
        Ok(())
    }
}

/// Apply operations to the work tree: deletes first (clearing file/folder clashes), then each
/// write through a temp file renamed into place. Never follows a symlink out of the tree.
fn write_work_tree(root: &Path, ops: &[Op], writes: &[Prepared]) -> Result<(), SinkError> {
    let io = |what: &str, p: &Path, e: std::io::Error| SinkError::Io(format!("cannot {what} {}: {e}", p.display()));
    for op in ops {
        if let Op::Delete { path, .. } = op {
            let full = safe_join(root, path)?;
            match std::fs::symlink_metadata(&full) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&full).map_err(|e| io("delete", &full, e))?,
                Ok(_) => std::fs::remove_file(&full).map_err(|e| io("delete", &full, e))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("inspect", &full, e)),
            }
            prune_empty_parents(root, &full);
        }
    }
    for op in ops {
        let Op::Put { write, .. } = op else { continue };
        let w = &writes[*write];
        let full = safe_join(root, &w.path)?;
        let parent = full.parent().expect("joined path has a parent");
        std::fs::create_dir_all(parent).map_err(|e| io("create folder", parent, e))?;
        if std::fs::symlink_metadata(&full).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir(&full).map_err(|e| io("replace folder", &full, e))?;
        }
        let name = full.file_name().expect("file name").to_string_lossy().to_string();
        let tmp = parent.join(format!(".{name}.ngb-tmp"));
        match &w.content {
            Content::Bytes(b) => std::fs::write(&tmp, b).map_err(|e| io("write", &tmp, e))?,
            Content::File(src) => {
                std::fs::copy(src, &tmp).map_err(|e| io("copy staged file to", &tmp, e))?;
            }
        }
        std::fs::rename(&tmp, &full).map_err(|e| io("rename into", &full, e))?;
    }
    Ok(())
}

/// `root/rel`, refusing unsafe paths and any existing symlink among the parent folders.
fn safe_join(root: &Path, rel: &str) -> Result<PathBuf, SinkError> {
    if !crate::paths::is_safe_relative(rel) {
        return Err(SinkError::Config(format!("refusing unsafe path {rel:?}")));
    }
    let mut cur = root.to_path_buf();
    let parts: Vec<&str> = rel.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        cur.push(part);
        if !matches!(Path::new(part).components().next(), Some(Component::Normal(_))) {
            return Err(SinkError::Config(format!("refusing unsafe path {rel:?}")));
        }
        if i + 1 < parts.len() {
            if let Ok(m) = std::fs::symlink_metadata(&cur) {
                if m.file_type().is_symlink() {
                    return Err(SinkError::Config(format!(
                        "refusing to write {rel:?}: {} is a symbolic link",
                        cur.display()
                    )));
                }
            }
        }
    }
    Ok(cur)
}

fn prune_empty_parents(root: &Path, file: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Hide `user:password@` in any URL of a git message.
fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c.is_whitespace() || c == '/' || c == '\'' || c == '"').unwrap_or(tail.len());
        match tail[..end].rfind('@') {
            Some(at) => {
                out.push_str("***@");
                rest = &tail[at + 1..];
            }
            None => rest = tail,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_hidden() {
        let s = redact_urls("fatal: unable to access 'https://bob:ghp_secret@example.org/r.git/': denied");
        assert!(!s.contains("ghp_secret") && !s.contains("bob"), "{s}");
        assert!(s.contains("https://***@example.org/r.git/"));
        assert_eq!(redact_urls("ssh://git@host/x and more"), "ssh://***@host/x and more");
        assert_eq!(redact_urls("no url here"), "no url here");
    }

    #[test]
    fn unsafe_joins_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(safe_join(dir.path(), "../x").is_err());
        assert!(safe_join(dir.path(), ".git/hooks/pre-commit").is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/tmp", dir.path().join("link")).unwrap();
            let e = safe_join(dir.path(), "link/evil").unwrap_err().to_string();
            assert!(e.contains("symbolic link"), "{e}");
        }
        assert!(safe_join(dir.path(), "a/b.md").is_ok());
    }
}
