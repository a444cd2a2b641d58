//! Test scaffolding shared by the end-to-end suites: the settings a test run uses (fake Notion,
//! optional fake Gitea, databases), turned into a [`Config`] or into environment variables for the
//! real binary, and small readers of what ended up in a git repository.
//!
//! Use it instead of writing another `config()` builder in a test file:
//! ```ignore
//! let s = Settings::new(&fake).db(&db.database_id, "notes").label("Notes");
//! let cfg = s.config(dir.path());                     // library runs
//! let vars = s.gitea(&gitea).set("KEEP_DELETED", "1").vars(); // binary runs / .env files
//! ```
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use notion_git_backup::config::{from_vars, Config, Overrides};

use super::fake_gitea::{self, FakeGitea};
use super::fake_notion::{FakeNotion, DEFAULT_TOKEN};

/// Settings of one test run, as `KEY=value` pairs (later calls override earlier ones).
#[derive(Debug, Clone)]
pub struct Settings {
    vars: BTreeMap<String, String>,
    dbs: usize,
}

impl Settings {
    /// The fake Notion server, its token, a rate limit that does not slow tests down, and local
    /// git under `backup/` with the state in `state.json` (both relative to the run's folder).
    pub fn new(notion: &FakeNotion) -> Settings {
        Settings::with_notion_url(&notion.base_url())
    }

    pub fn with_notion_url(url: &str) -> Settings {
        let vars = [
            ("NOTION_TOKEN", DEFAULT_TOKEN),
            ("NOTION_API_URL", url),
            ("NOTION_RATE_LIMIT", "500"),
            ("BACKUP_DIR", "backup"),
            ("STATE_FILE", "state.json"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Settings { vars, dbs: 0 }
    }

    /// Add database `DB<n>_*` (n = 1, 2, ... in call order) backed up into `repo`.
    pub fn db(mut self, database_id: &str, repo: &str) -> Settings {
        self.dbs += 1;
        let n = self.dbs;
        self.vars.insert(format!("DB{n}_NOTION_ID"), database_id.to_string());
        self.vars.insert(format!("DB{n}_GIT_REPO"), repo.to_string());
        self
    }

    /// Label of the database added last.
    pub fn label(mut self, label: &str) -> Settings {
        assert!(self.dbs > 0, "label() after db()");
        self.vars.insert(format!("DB{}_LABEL", self.dbs), label.to_string());
        self
    }

    /// Back up into the fake Gitea server instead of local git.
    pub fn gitea(self, g: &FakeGitea) -> Settings {
        self.set("GIT_BASE_URL", &g.base_url).set("GIT_TOKEN", fake_gitea::TOKEN).set("GIT_OWNER", fake_gitea::USER)
    }

    pub fn set(mut self, key: &str, value: &str) -> Settings {
        self.vars.insert(key.to_string(), value.to_string());
        self
    }

    pub fn unset(mut self, key: &str) -> Settings {
        self.vars.remove(key);
        self
    }

    /// Every pair, e.g. for `Command::envs` or a `.env` file.
    pub fn vars(&self) -> BTreeMap<String, String> {
        self.vars.clone()
    }

    /// The pairs as a `.env` file.
    pub fn env_file(&self) -> String {
        self.vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
    }

    /// The validated configuration, relative paths resolved against `dir`.
    pub fn config(&self, dir: &Path) -> Config {
        self.config_with(dir, &Overrides::default())
    }

    pub fn config_with(&self, dir: &Path, overrides: &Overrides) -> Config {
        match from_vars(&self.vars, dir, overrides) {
            Ok(c) => c,
            Err(e) => panic!("test settings rejected: {e}"),
        }
    }
}

/// The local repository of `repo` for settings made by [`Settings::new`] run in `dir`.
pub fn local_repo(dir: &Path, repo: &str) -> PathBuf {
    dir.join("backup").join(repo)
}

/// Files of `rev` in a repository (working repo or bare): path -> bytes. Empty when `rev` does
/// not exist.
pub fn files(repo: &Path, rev: &str) -> BTreeMap<String, Vec<u8>> {
    fake_gitea::read_files(repo, rev)
}

/// Files of `rev` as text (lossy).
pub fn texts(repo: &Path, rev: &str) -> BTreeMap<String, String> {
    files(repo, rev).into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned())).collect()
}

/// Commits reachable from HEAD (0 for an empty or missing repository).
pub fn commit_count(repo: &Path) -> usize {
    git(repo, &["rev-list", "--count", "HEAD"]).and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// Folders holding an `index.md`, sorted.
pub fn page_folders(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut f: Vec<String> = files.keys().filter_map(|p| p.strip_suffix("/index.md")).map(str::to_string).collect();
    f.sort();
    f
}

/// `git -C repo args...`, stdout on success.
pub fn git(repo: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").arg("-C").arg(repo).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
