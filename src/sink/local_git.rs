//! Local git destination: a work tree on disk, driven through the `git` CLI (so the user's ssh
//! keys, credential helpers and git config apply to `git push`).
//!
//! Owns: `git init` of a missing repository, the repository's lock (one run at a time, a file in
//! its `.git` folder), reading the committed tree once, writing files safely (temp file in the
//! `.git` folder, exclusive create, renamed into place; no symlink followed), committing exactly
//! the paths a change set touches with plumbing (`hash-object --no-filters`, `update-index
//! --index-info`, `write-tree`, `commit-tree`, `update-ref`) under the configured identity (works
//! without any global git identity), and pushing at the end.
//!
//! Crash safety: a run can be killed between writing files and committing. The commit of a change
//! set is computed only from the committed tree (HEAD) and stages only the paths it writes or
//! deletes, so leftovers can never leak into a commit. On `open(true)`, git lock files left by a
//! killed git are removed (the repository lock proves no other run is using it), and a dirty work
//! tree (leftovers of a killed run, or hand edits) is put aside as a named stash (`git stash push
//! --include-untracked -m "notion-git-backup: uncommitted changes found <date>"`) and reported
//! through [`Sink::take_notices`]: nothing is ever discarded. Committed history is never
//! rewritten: no reset of HEAD, no force push. `git` children run in their own process group, so
//! a Ctrl-C or SIGTERM sent to the whole group reaches only this process, which finishes the
//! commit in flight.
//!
//! Must not: run programs named by the repository's config while adding, committing, stashing or
//! reading status (hooks, `core.fsmonitor`, `filter.<driver>.clean/smudge/process`, a pager, an
//! external diff: all switched off on every git command line; `core.sshCommand` and remotes are
//! left alone, for `git push` only), follow a symlink out of the work tree, write into `.git`
//! beyond its own lock and temp folder, or print remote URLs with credentials.

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::diff::{self, Op, Prepared, Tree};
use super::lock::RepoLock;
use super::{commit_message, ChangeSet, CommitOutcome, Content, Plan, Sink, SinkError};

/// Longest a `git push` may take before it is abandoned.
const PUSH_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Settings on every git command line (`-c` wins over every config file): no hooks, no
/// filesystem monitor, no line-ending conversion, no signing, no submodule recursion.
const SAFE_CONFIG: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "commit.gpgSign=false",
    "core.quotePath=false",
    "submodule.recurse=false",
    "diff.ignoreSubmodules=all",
    "status.submoduleSummary=false",
];

/// The lock file, in the repository's (common) git folder.
const LOCK_FILE: &str = "notion-git-backup.lock";
/// Temp files are written here (in the git folder, never in the work tree) and renamed into place.
const TMP_DIR: &str = "notion-git-backup-tmp";
/// Prefix of the stash holding uncommitted changes found on open.
pub const STASH_PREFIX: &str = "notion-git-backup: uncommitted changes found";

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
    /// `-c` arguments switching off the filter drivers the repository's config defines.
    filter_overrides: Vec<String>,
    /// The work tree's git folder and the repository's common git folder (absolute).
    git_dirs: Option<(PathBuf, PathBuf)>,
    lock: Option<RepoLock>,
    notices: Vec<String>,
}

struct Output {
    status: std::process::ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl LocalGitSink {
    pub fn new(cfg: LocalGitConfig) -> Self {
        let git = cfg.git_program.clone().unwrap_or_else(|| PathBuf::from("git"));
        LocalGitSink {
            cfg,
            git,
            branch: String::new(),
            tree: Tree::new(),
            has_head: false,
            opened: false,
            filter_overrides: Vec::new(),
            git_dirs: None,
            lock: None,
            notices: Vec::new(),
        }
    }

    /// The branch commits go to (known after `open`).
    /// Whether [`Sink::open`] found (or made) the repository.
    pub fn is_open(&self) -> bool {
        self.opened
    }

    pub fn branch(&self) -> &str {
        &self.branch
    }

    fn dir(&self) -> &Path {
        &self.cfg.repo_dir
    }

    /// Run git in the repository. `Err` only when git cannot be started; check `status` yourself.
    async fn run(&self, args: &[&str], stdin: Option<Vec<u8>>, in_repo: bool) -> Result<Output, SinkError> {
        let mut cmd = tokio::process::Command::new(&self.git);
        cmd.arg("--no-pager");
        if in_repo {
            cmd.arg("-C").arg(self.dir());
        }
        for setting in SAFE_CONFIG {
            cmd.arg("-c").arg(setting);
        }
        cmd.arg("-c")
            .arg(format!("user.name={}", self.cfg.author_name))
            .arg("-c")
            .arg(format!("user.email={}", self.cfg.author_email))
            .args(&self.filter_overrides)
            .args(args);
        for var in [
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "GIT_OBJECT_DIRECTORY",
            "GIT_ALTERNATE_OBJECT_DIRECTORIES",
            "GIT_NAMESPACE",
            "GIT_EXTERNAL_DIFF",
            "GIT_PAGER",
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
        // Its own process group: Ctrl-C or a SIGTERM sent to our group must not kill git in the
        // middle of a commit; this process decides when to stop.
        #[cfg(unix)]
        cmd.process_group(0);
        tracing::trace!(repo = %self.dir().display(), ?args, "git");
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
            if let Some(e) = ownership_error(&out.stderr, self.dir()) {
                return Err(e);
            }
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
        let bare = self.run(&["rev-parse", "--is-bare-repository"], None, true).await?;
        if !bare.status.success() {
            // Not a repository, unless git refuses one it does not trust.
            return match ownership_error(&bare.stderr, self.dir()) {
                Some(e) => Err(e),
                None => Ok(false),
            };
        }
        if String::from_utf8_lossy(&bare.stdout).trim() == "true" {
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

    /// Find the work tree's git folder and the repository's common git folder.
    async fn locate_git_dirs(&mut self) -> Result<(), SinkError> {
        let out = self.ok(&["rev-parse", "--absolute-git-dir", "--git-common-dir"], None).await?;
        let out = String::from_utf8_lossy(&out).to_string();
        let mut lines = out.lines().map(str::trim);
        let (Some(git_dir), Some(common)) = (lines.next(), lines.next()) else {
            return Err(SinkError::Io(format!("git rev-parse gave {out:?} in {}", self.dir().display())));
        };
        let common = self.dir().join(common);
        let common = std::fs::canonicalize(&common).unwrap_or(common);
        self.git_dirs = Some((PathBuf::from(git_dir), common));
        Ok(())
    }

    /// Take the repository lock (the git folder must be known).
    fn take_lock(&mut self) -> Result<(), SinkError> {
        if self.lock.is_some() {
            return Ok(());
        }
        let (_, common) = self.git_dirs.as_ref().expect("git folders located before locking");
        let what = format!("repository {}", self.dir().display());
        self.lock = Some(RepoLock::acquire(&common.join(LOCK_FILE), &what)?);
        Ok(())
    }

    /// `-c filter.<driver>.clean= ...` for every filter driver any git config of this repository
    /// defines: a `.gitattributes` naming one would otherwise run its program on add, status and
    /// stash.
    async fn read_filter_overrides(&self) -> Result<Vec<String>, SinkError> {
        let out = self.run(&["config", "-z", "--get-regexp", r"^filter\."], None, true).await?;
        // Exit code 1: no such key.
        if !out.status.success() {
            if out.status.code() == Some(1) {
                return Ok(Vec::new());
            }
            return Err(SinkError::Io(format!("git config failed in {}: {}", self.dir().display(), out.stderr.trim())));
        }
        let mut drivers: Vec<String> = Vec::new();
        for rec in out.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let rec = String::from_utf8_lossy(rec);
            let key = rec.split('\n').next().unwrap_or("");
            let Some(driver) = key.strip_prefix("filter.").and_then(|k| k.rsplit_once('.')).map(|(d, _)| d) else {
                continue;
            };
            if !drivers.iter().any(|d| d == driver) {
                drivers.push(driver.to_string());
            }
        }
        let mut args = Vec::new();
        for d in drivers {
            if d.contains('=') || d.contains('\n') {
                return Err(SinkError::Config(format!(
                    "the git config of {} defines a filter driver named {d:?}, which cannot be switched off for the \
                     backup: rename or remove it (git config --remove-section \"filter.{d}\")",
                    self.dir().display()
                )));
            }
            for (key, value) in [("clean", ""), ("smudge", ""), ("process", ""), ("required", "false")] {
                args.push("-c".to_string());
                args.push(format!("filter.{d}.{key}={value}"));
            }
        }
        Ok(args)
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

    /// With the repository lock held: remove git lock files left by a killed git, empty our temp
    /// folder, then put uncommitted changes aside in a named stash.
    async fn recover(&mut self) -> Result<(), SinkError> {
        self.remove_stale_git_locks().await?;
        self.clear_tmp()?;
        let status = self
            .ok(&["status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=all"], None)
            .await?;
        if status.is_empty() {
            return Ok(());
        }
        let entries = status.split(|b| *b == 0).filter(|r| !r.is_empty()).count();
        let dir = self.dir().display().to_string();
        if self.has_head {
            let name = format!("{STASH_PREFIX} {}", chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z"));
            tracing::warn!(repo = %dir, entries, stash = %name, "uncommitted changes found (interrupted run or hand edits): put aside in git stash");
            self.ok(&["stash", "push", "--include-untracked", "-q", "-m", name.as_str()], None).await?;
            self.notices.push(format!(
                "{dir}: {entries} uncommitted change(s) in the work tree (hand edits, or an interrupted run) were put \
                 aside as git stash \"{name}\": list them with `git -C {dir} stash list`, bring them back with \
                 `git -C {dir} stash pop`, or drop them with `git -C {dir} stash drop`"
            ));
        } else {
            // No commit yet: only clear the index; files left on disk are never staged since
            // commits stage exactly the paths they write.
            tracing::warn!(repo = %dir, entries, "uncommitted files in a repository without commits: clearing the index");
            self.ok(&["read-tree", "--empty"], None).await?;
            self.notices.push(format!(
                "{dir}: {entries} file(s) not in any commit were found in a repository without commits; they stay \
                 on disk and are not backed up"
            ));
        }
        Ok(())
    }

    /// Git's own lock files (index, HEAD, the branch, packed refs, the stash) found while we hold
    /// the repository lock were left by a git that was killed: remove them, and say so.
    async fn remove_stale_git_locks(&mut self) -> Result<(), SinkError> {
        let branch_lock = format!("refs/heads/{}.lock", self.branch);
        let names = ["index.lock", "HEAD.lock", "packed-refs.lock", "refs/stash.lock", branch_lock.as_str()];
        let mut args = vec!["rev-parse"];
        for n in &names {
            args.extend(["--git-path", n]);
        }
        let out = self.ok(&args, None).await?;
        let mut paths: Vec<PathBuf> =
            String::from_utf8_lossy(&out).lines().map(|l| self.dir().join(l.trim())).collect();
        paths.dedup();
        for lock in paths {
            let Ok(meta) = std::fs::symlink_metadata(&lock) else { continue };
            if meta.is_dir() {
                continue;
            }
            let age = meta.modified().ok().and_then(|m| m.elapsed().ok()).map(|d| d.as_secs()).unwrap_or(0);
            tracing::warn!(path = %lock.display(), age_seconds = age, "removing a stale git lock file left by an interrupted git");
            std::fs::remove_file(&lock)
                .map_err(|e| SinkError::Io(format!("cannot remove the stale git lock file {}: {e}", lock.display())))?;
            self.notices.push(format!(
                "{}: removed the stale git lock file {} (left by a git process that was stopped; no other run was \
                 using the repository)",
                self.dir().display(),
                lock.display()
            ));
        }
        Ok(())
    }

    /// Our temp folder in the git folder, created (mode 0700) and emptied of leftovers.
    fn tmp_dir(&self) -> Result<PathBuf, SinkError> {
        let (git_dir, _) = self.git_dirs.as_ref().expect("git folders located after open");
        let dir = git_dir.join(TMP_DIR);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(dir),
            Ok(_) => Err(SinkError::Io(format!("{} is not a folder: remove it", dir.display()))),
            Err(_) => {
                let mut builder = std::fs::DirBuilder::new();
                #[cfg(unix)]
                std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
                builder.create(&dir).map_err(|e| SinkError::Io(format!("cannot create {}: {e}", dir.display())))?;
                Ok(dir)
            }
        }
    }

    fn clear_tmp(&self) -> Result<(), SinkError> {
        let dir = self.tmp_dir()?;
        let entries =
            std::fs::read_dir(&dir).map_err(|e| SinkError::Io(format!("cannot read {}: {e}", dir.display())))?;
        for e in entries.flatten() {
            let p = e.path();
            let r = match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(&p),
                _ => std::fs::remove_file(&p),
            };
            if let Err(e) = r {
                tracing::warn!(path = %p.display(), "cannot remove a leftover temp file: {e}");
            }
        }
        Ok(())
    }

    /// Store the written files' bytes as objects and stage exactly the touched paths, then commit
    /// them. Returns the new commit, `None` when nothing changed after all.
    ///
    /// No repository program can run: objects are written with `hash-object --no-filters` (the
    /// committed bytes are exactly ours, whatever `.gitattributes` says, and their ids are the
    /// ones [`diff`] computed), the index is updated with `update-index --index-info`, and the
    /// commit is made with `write-tree`, `commit-tree` and `update-ref` from the old head.
    async fn stage_and_commit(
        &self,
        ops: &[Op],
        writes: &[Prepared],
        message: &str,
    ) -> Result<Option<String>, SinkError> {
        let puts: Vec<&Prepared> = ops
            .iter()
            .filter_map(|op| match op {
                Op::Put { write, .. } => Some(&writes[*write]),
                Op::Delete { .. } => None,
            })
            .collect();
        for chunk in puts.chunks(200) {
            let mut args = vec!["hash-object", "-w", "--no-filters", "--"];
            args.extend(chunk.iter().map(|w| w.path.as_str()));
            let out = self.ok(&args, None).await?;
            let out = String::from_utf8_lossy(&out);
            let ids: Vec<&str> = out.lines().map(str::trim).collect();
            if ids.len() != chunk.len() {
                return Err(SinkError::Io(format!(
                    "git hash-object stored {} of {} files in {}",
                    ids.len(),
                    chunk.len(),
                    self.dir().display()
                )));
            }
            for (w, id) in chunk.iter().zip(ids) {
                if id != w.blob {
                    return Err(SinkError::Io(format!(
                        "{} in {} changed while it was committed (git stored object {id}, expected {}): another \
                         program is writing in the backup's work tree, or the repository is not a SHA-1 repository",
                        w.path,
                        self.dir().display(),
                        w.blob
                    )));
                }
            }
        }
        let mut info = Vec::new();
        for op in ops {
            if let Op::Delete { path, .. } = op {
                info.extend_from_slice(format!("0 {}\t{path}\0", "0".repeat(40)).as_bytes());
            }
        }
        for w in &puts {
            info.extend_from_slice(format!("100644 {}\t{}\0", w.blob, w.path).as_bytes());
        }
        self.ok(&["update-index", "-z", "--index-info"], Some(info)).await?;
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

    /// The remote `git push` goes to with `GIT_PUSH=1`: the branch's upstream remote, else
    /// `origin`, else the only remote. An error says how to add or choose one (or to set
    /// `GIT_PUSH=0`). Read-only; `check` uses it too.
    pub async fn push_remote(&self) -> Result<String, SinkError> {
        let dir = self.dir().display();
        let key = format!("branch.{}.remote", self.branch);
        let remotes = self.text(&["remote"]).await?.unwrap_or_default();
        let remotes: Vec<&str> = remotes.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        if let Some(r) = self.text(&["config", "--get", &key]).await?.filter(|r| !r.is_empty()) {
            if remotes.contains(&r.as_str()) || r.contains(':') || r.contains('/') {
                return Ok(r);
            }
            return Err(SinkError::Config(format!(
                "GIT_PUSH=1 but the upstream remote {r:?} of branch {} does not exist in {dir}: add it (`git -C {dir} \
                 remote add {r} <url>`), choose another (`git -C {dir} config {key} <remote>`), or set GIT_PUSH=0",
                self.branch
            )));
        }
        if remotes.contains(&"origin") {
            return Ok("origin".into());
        }
        match remotes.as_slice() {
            [one] => Ok(one.to_string()),
            [] => Err(SinkError::Config(format!(
                "GIT_PUSH=1 but {dir} has no remote to push to: add one with `git -C {dir} remote add origin <url>`, \
                 or set GIT_PUSH=0"
            ))),
            _ => Err(SinkError::Config(format!(
                "GIT_PUSH=1 but {dir} has several remotes ({}), none is origin and branch {} has no upstream: \
                 choose one with `git -C {dir} config {key} <remote>`, or set GIT_PUSH=0",
                remotes.join(", "),
                self.branch
            ))),
        }
    }
}

/// Git's refusal to work in a repository owned by another user, as an error naming the cause and
/// the two fixes; `None` for any other failure.
fn ownership_error(stderr: &str, dir: &Path) -> Option<SinkError> {
    if !stderr.contains("dubious ownership") {
        return None;
    }
    // "fatal: detected dubious ownership in repository at '/srv/backup/notes'"
    let repo = stderr
        .split_once("repository at '")
        .and_then(|(_, rest)| rest.split_once('\''))
        .map(|(p, _)| p.to_string())
        .unwrap_or_else(|| dir.display().to_string());
    Some(SinkError::Config(format!(
        "git refuses to use {repo}: it is owned by another user than the one running the backup (git: \"detected \
         dubious ownership\"). Run the backup as the user who owns the repository, or trust it for this user with \
         `git config --global --add safe.directory {repo}`"
    )))
}

#[async_trait::async_trait]
impl Sink for LocalGitSink {
    fn describe(&self) -> String {
        self.dir().display().to_string()
    }

    /// The canonical path of the repository (of its nearest existing folder, plus the rest, when
    /// it does not exist yet).
    fn identity(&self) -> String {
        canonical(self.dir()).display().to_string()
    }

    async fn lock(&mut self) -> Result<(), SinkError> {
        if self.lock.is_some() {
            return Ok(());
        }
        // A repository that does not exist yet is created, then locked, by `open(true)`.
        if !self.is_work_tree().await? {
            return Ok(());
        }
        self.locate_git_dirs().await?;
        self.take_lock()
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
        self.locate_git_dirs().await?;
        if create {
            self.take_lock()?;
        }
        self.filter_overrides = self.read_filter_overrides().await?;
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
        // `open(false)` (dry run, `check`) is read-only: it never creates, locks or recovers, so
        // it leaves a dirty work tree exactly as it found it.
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
        let tmp = self.tmp_dir()?;
        let (ops2, writes2) = (ops.clone(), writes.clone());
        tokio::task::spawn_blocking(move || write_work_tree(&root, &tmp, &ops2, &writes2))
            .await
            .map_err(|e| SinkError::Io(format!("writing files failed: {e}")))??;
        let message = commit_message(&change.message);
        let head = match self.stage_and_commit(&ops, &writes, &message).await {
            Ok(Some(head)) => head,
            Ok(None) => {
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

    fn blob_of(&self, path: &str) -> Option<String> {
        self.tree.get(path).cloned()
    }

    async fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>, SinkError> {
        match self.tree.get(path) {
            None => Ok(None),
            Some(sha) => self.ok(&["cat-file", "blob", sha], None).await.map(Some),
        }
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
        let remote = self.push_remote().await?;
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

    fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }
}

/// `path` made absolute and canonical as far as it exists.
fn canonical(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
    };
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = std::fs::canonicalize(cur) {
            return rest.iter().rev().fold(c, |acc: PathBuf, part| acc.join(part));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Apply operations to the work tree: deletes first (clearing file/folder clashes), then each
/// write into a new temp file (exclusive create, random name, in `tmp_dir` inside the git folder)
/// renamed into place. Never follows a symlink: not at a parent folder (refused), not at the file
/// itself (replaced by the rename), not at a temp name (never reused).
fn write_work_tree(root: &Path, tmp_dir: &Path, ops: &[Op], writes: &[Prepared]) -> Result<(), SinkError> {
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
        create_parents(root, &w.path)?;
        let parent = full.parent().expect("joined path has a parent");
        if std::fs::symlink_metadata(&full).is_ok_and(|m| m.is_dir()) {
            std::fs::remove_dir(&full).map_err(|e| io("replace folder", &full, e))?;
        }
        // A rename cannot cross file systems: then the temp file goes beside its target.
        let tmp_in = if same_device(tmp_dir, parent) { tmp_dir } else { parent };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".ngb-").suffix(".tmp");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let mut tmp = builder.tempfile_in(tmp_in).map_err(|e| io("create a temp file in", tmp_in, e))?;
        match &w.content {
            Content::Bytes(b) => {
                std::io::Write::write_all(tmp.as_file_mut(), b).map_err(|e| io("write", tmp.path(), e))?
            }
            Content::File(src) => {
                let mut from = std::fs::File::open(src).map_err(|e| io("read the staged file", src, e))?;
                std::io::copy(&mut from, tmp.as_file_mut())
                    .map_err(|e| io("copy the staged file to", tmp.path(), e))?;
            }
        }
        tmp.persist(&full).map_err(|e| io("rename into", &full, e.error))?;
    }
    Ok(())
}

/// Create the missing parent folders of `root/rel` one by one, refusing a symlink or a file on
/// the way.
fn create_parents(root: &Path, rel: &str) -> Result<(), SinkError> {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut cur = root.to_path_buf();
    for part in &parts[..parts.len() - 1] {
        cur.push(part);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(SinkError::Config(format!(
                    "refusing to write {rel:?}: {} is a symbolic link",
                    cur.display()
                )))
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(SinkError::Io(format!("cannot write {rel:?}: {} is a file, not a folder", cur.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // `mkdir` never follows a symlink planted meanwhile: it fails with "exists".
                std::fs::create_dir(&cur)
                    .map_err(|e| SinkError::Io(format!("cannot create folder {}: {e}", cur.display())))?;
            }
            Err(e) => return Err(SinkError::Io(format!("cannot inspect {}: {e}", cur.display()))),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_device(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    matches!((std::fs::metadata(a), std::fs::metadata(b)), (Ok(x), Ok(y)) if x.dev() == y.dev())
}

#[cfg(not(unix))]
fn same_device(_a: &Path, _b: &Path) -> bool {
    true
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
