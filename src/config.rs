//! Configuration: the `.env` file plus the environment become one plain, validated [`Config`].
//!
//! Two stages: the command line ([`crate::cli`]) gives [`Overrides`]; [`load`] reads the `.env`
//! file with [`dotenv`] (exactly as the Python script reads it; variables already set in the
//! environment win), and [`from_vars`] validates everything in one place and reports EVERY
//! problem at once, each naming the key and the fix. A `.env` written for the Python script `notion-gitea-backup.py` works unchanged. Nothing here
//! imports clap, and no message ever contains a secret value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub mod dotenv;

use crate::ids;
use crate::notion::client::{DEFAULT_API_URL, DEFAULT_VERSION};

/// What the command line decides.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--env`: path of the `.env` file (default `./.env`).
    pub env_path: PathBuf,
    /// `--env` was given explicitly (a missing file is then worth a warning).
    pub env_path_explicit: bool,
    /// `--state`: overrides STATE_FILE.
    pub state_file: Option<PathBuf>,
    pub dry_run: bool,
    pub full_sync: bool,
    /// `--allow-mass-delete`: this run may remove more pages than DELETE_GUARD allows.
    pub allow_mass_delete: bool,
}

#[derive(Clone)]
pub struct NotionSettings {
    pub token: String,
    pub api_url: String,
    pub version: String,
    /// Sustained requests per second.
    pub rate_limit: f64,
}

#[derive(Clone)]
pub struct GiteaSettings {
    /// Server root, e.g. `https://git.example.com` (no `/api/v1`).
    pub base_url: String,
    pub token: String,
    pub owner: String,
    pub branch: Option<String>,
    pub create_repos: bool,
    pub ca_file: Option<PathBuf>,
    pub max_request_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct LocalSettings {
    pub backup_dir: PathBuf,
    pub push: bool,
    pub branch: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Destination {
    Gitea(GiteaSettings),
    Local(LocalSettings),
}

/// How page properties are laid out in the front matter (FRONT_MATTER); owned by the renderer.
pub use crate::markdown::FrontMatterStyle;

/// One `DB<n>_*` triple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// The `<n>` of `DB<n>_*`.
    pub index: u32,
    /// Canonical 32-hex id.
    pub notion_id: String,
    pub repo: String,
    pub label: String,
}

#[derive(Clone)]
pub struct AiSettings {
    pub api_url: String,
    pub api_key: String,
    pub model: String,
}

// Debug output of the settings that hold secrets shows `***` in their place.
impl fmt::Debug for NotionSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotionSettings")
            .field("token", &"***")
            .field("api_url", &self.api_url)
            .field("version", &self.version)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

impl fmt::Debug for GiteaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GiteaSettings")
            .field("base_url", &self.base_url)
            .field("token", &"***")
            .field("owner", &self.owner)
            .field("branch", &self.branch)
            .field("create_repos", &self.create_repos)
            .field("ca_file", &self.ca_file)
            .field("max_request_bytes", &self.max_request_bytes)
            .finish()
    }
}

impl fmt::Debug for AiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiSettings")
            .field("api_url", &self.api_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .finish()
    }
}

#[derive(Clone)]
pub struct Config {
    pub notion: NotionSettings,
    pub destination: Destination,
    pub author_name: String,
    pub author_email: String,
    pub databases: Vec<DatabaseConfig>,
    /// 0 never, 1 only when something failed, 2 always.
    pub discord_level: u8,
    pub discord_webhook_url: Option<String>,
    pub healthcheck_url: Option<String>,
    pub webhook_url: Option<String>,
    pub ai: Option<AiSettings>,
    pub timezone: chrono_tz::Tz,
    pub state_file: PathBuf,
    pub max_file_bytes: u64,
    pub keep_deleted: bool,
    /// Pages processed at once.
    pub page_concurrency: usize,
    /// Back up unresolved comments (BACKUP_COMMENTS; one extra request per block).
    pub backup_comments: bool,
    /// WORKSPACE_REPO: back up everything the token can see (that no configured database
    /// covers) into this repository. Also on, as `notion-workspace`, when no DB<n>_* is set.
    pub workspace_repo: Option<String>,
    pub dry_run: bool,
    pub full_sync: bool,
    /// DELETE_GUARD: a run that would remove more than this share (0.0-1.0) of a repository's
    /// pages (and at least [`DELETE_GUARD_MIN_PAGES`]) removes none of them.
    pub delete_guard: f64,
    /// `--allow-mass-delete`: the guard is lifted for this run.
    pub allow_mass_delete: bool,
    /// VERIFY_DAYS: every recorded child page's `last_edited_time` is re-checked at least this
    /// often (a slice per run), so an edit Notion's search missed is caught. 0 = never.
    pub verify_days: u32,
    /// MAX_RUN_MINUTES: the run stops starting new pages after this long (saving its state like an
    /// interrupt; the next run goes on). `None` = no limit.
    pub max_run: Option<std::time::Duration>,
    /// DOWNLOAD_ALLOW_HOSTS: external download hosts (`host` or `host:port`, lowercase) allowed
    /// even when they resolve to loopback, link-local or private addresses.
    pub download_allow_hosts: Vec<String>,
    /// FRONT_MATTER: `nested` (default) or `flat`.
    pub front_matter: FrontMatterStyle,
    /// Non-fatal remarks (a `DB3_*` with no `DB2_*`, an unknown `DB<n>_` key, ...).
    pub warnings: Vec<String>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |u: &Option<String>| u.as_ref().map(|_| "***");
        f.debug_struct("Config")
            .field("notion", &self.notion)
            .field("destination", &self.destination)
            .field("author_name", &self.author_name)
            .field("author_email", &self.author_email)
            .field("databases", &self.databases)
            .field("discord_level", &self.discord_level)
            .field("discord_webhook_url", &hidden(&self.discord_webhook_url))
            .field("healthcheck_url", &hidden(&self.healthcheck_url))
            .field("webhook_url", &hidden(&self.webhook_url))
            .field("ai", &self.ai)
            .field("timezone", &self.timezone)
            .field("state_file", &self.state_file)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("keep_deleted", &self.keep_deleted)
            .field("page_concurrency", &self.page_concurrency)
            .field("backup_comments", &self.backup_comments)
            .field("workspace_repo", &self.workspace_repo)
            .field("dry_run", &self.dry_run)
            .field("full_sync", &self.full_sync)
            .field("delete_guard", &self.delete_guard)
            .field("allow_mass_delete", &self.allow_mass_delete)
            .field("verify_days", &self.verify_days)
            .field("max_run", &self.max_run)
            .field("download_allow_hosts", &self.download_allow_hosts)
            .field("front_matter", &self.front_matter)
            .field("warnings", &self.warnings)
            .finish()
    }
}

impl Config {
    /// Every secret value of this configuration, for the log/notification scrubber.
    pub fn secrets(&self) -> Vec<String> {
        let mut s = vec![self.notion.token.clone()];
        if let Destination::Gitea(g) = &self.destination {
            s.push(g.token.clone());
        }
        s.extend(self.discord_webhook_url.clone());
        s.extend(self.healthcheck_url.clone());
        s.extend(self.webhook_url.clone());
        if let Some(ai) = &self.ai {
            s.push(ai.api_key.clone());
        }
        s.retain(|x| !x.is_empty());
        s
    }
}

/// Every problem found, each naming the key and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(f, "configuration has {n} problem{}:", if n == 1 { "" } else { "s" })?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        for w in &self.warnings {
            writeln!(f, "  (warning) {w}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Read the `.env` file (if any) and the environment, and validate.
pub fn load(ov: &Overrides) -> Result<Config, ConfigError> {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut pre = Vec::new();
    let mut file_warnings = Vec::new();
    let mut default_file_missing = false;
    match dotenv::read(&ov.env_path) {
        Ok(file) => {
            for issue in &file.issues {
                let msg = format!("{}: {issue}", ov.env_path.display());
                if issue.is_error() {
                    pre.push(msg);
                } else {
                    file_warnings.push(msg);
                }
            }
            vars.extend(file.vars);
        }
        Err(dotenv::DotenvError::NotFound { .. }) if ov.env_path_explicit => pre.push(format!(
            "{}: file not found (given with --env); fix the path, or drop --env to use the environment only",
            ov.env_path.display()
        )),
        Err(dotenv::DotenvError::NotFound { .. }) => default_file_missing = true,
        Err(e) => pre.push(e.to_string()),
    }
    // The environment wins over the file.
    for (k, v) in std::env::vars() {
        vars.insert(k, v);
    }
    let base_dir = env_dir(&ov.env_path);
    let mut result = from_vars(&vars, &base_dir, ov);
    if default_file_missing {
        if let Err(e) = &mut result {
            // Cron starts jobs in the home folder: say which file was looked for.
            let looked_for = std::path::absolute(&ov.env_path).unwrap_or_else(|_| ov.env_path.clone());
            for p in e.problems.iter_mut().filter(|p| **p == token_missing()) {
                *p = format!(
                    "NOTION_TOKEN is missing, and no settings file was read: {} does not exist (without --env, the .env in the current folder is read; cron starts jobs in your home folder). Pass --env /path/to/.env, or set NOTION_TOKEN in the environment",
                    looked_for.display()
                );
            }
        }
    }
    match result {
        Ok(mut c) if pre.is_empty() => {
            file_warnings.append(&mut c.warnings);
            c.warnings = file_warnings;
            Ok(c)
        }
        Ok(mut c) => {
            file_warnings.append(&mut c.warnings);
            Err(ConfigError { problems: pre, warnings: file_warnings })
        }
        Err(mut e) => {
            pre.append(&mut e.problems);
            file_warnings.append(&mut e.warnings);
            Err(ConfigError { problems: pre, warnings: file_warnings })
        }
    }
}

fn token_missing() -> String {
    "NOTION_TOKEN is missing: create an integration at https://www.notion.so/profile/integrations, copy its secret (ntn_... or secret_...) into NOTION_TOKEN, and share each database with it (••• -> Connections)".to_string()
}

/// The folder relative paths resolve against: the `.env` file's folder (absolute), so cron's
/// working directory does not matter.
pub fn env_dir(env_path: &Path) -> PathBuf {
    let parent = env_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf())
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

struct Reader<'a> {
    vars: &'a BTreeMap<String, String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    /// A set, non-blank value (surrounding whitespace trimmed).
    fn get(&self, key: &str) -> Option<String> {
        self.vars.get(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        match self.get(key) {
            None => default,
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    self.problems.push(format!("{key}={v} is not a yes/no value: use 1 or 0 (true/false also work)"));
                    default
                }
            },
        }
    }

    fn number<T: std::str::FromStr + PartialOrd + fmt::Display + Copy>(
        &mut self,
        key: &str,
        default: T,
        min: T,
        max: T,
    ) -> T {
        match self.get(key) {
            None => default,
            Some(v) => match v.parse::<T>() {
                Ok(n) if n >= min && n <= max => n,
                _ => {
                    self.problems.push(format!("{key}={v} is not a number from {min} to {max} (default {default})"));
                    default
                }
            },
        }
    }

    /// An http(s) URL. `secret` URLs are never echoed.
    fn url(&mut self, key: &str, secret: bool) -> Option<String> {
        let v = self.get(key)?;
        match url::Url::parse(&v) {
            Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.host_str().is_some() => Some(v),
            _ => {
                let shown = if secret { "(value hidden)".to_string() } else { format!("{v:?}") };
                self.problems.push(format!(
                    "{key} is not a URL {shown}: it must start with https:// (or http://) and name a host"
                ));
                None
            }
        }
    }
}

/// Valid repository name: Gitea's `[A-Za-z0-9._-]`, at most 100 characters, and safe as a folder.
fn valid_repo_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        && !name.starts_with('.')
        && !name.eq_ignore_ascii_case(".git")
}

/// Validate a complete set of variables. `base_dir` is where relative paths resolve.
pub fn from_vars(vars: &BTreeMap<String, String>, base_dir: &Path, ov: &Overrides) -> Result<Config, ConfigError> {
    let mut r = Reader { vars, problems: Vec::new() };
    let mut warnings = Vec::new();

    // --- Notion
    let token = r.get("NOTION_TOKEN").unwrap_or_else(|| {
        r.problems.push(token_missing());
        String::new()
    });
    let api_url = r.url("NOTION_API_URL", false).unwrap_or_else(|| DEFAULT_API_URL.to_string());
    warnings.extend(plain_http_warning("NOTION_API_URL", &api_url, "NOTION_TOKEN"));
    let version = r.get("NOTION_VERSION").unwrap_or_else(|| DEFAULT_VERSION.to_string());
    if !is_api_version(&version) {
        r.problems.push(format!(
            "NOTION_VERSION={version} is not an API version date: use {DEFAULT_VERSION} (or 2025-09-03)"
        ));
    }
    let rate_limit = r.number("NOTION_RATE_LIMIT", 3.0f64, 0.1, 1000.0);

    // --- Destination
    let author_name = r.get("GIT_AUTHOR_NAME").unwrap_or_else(|| "Notion Backup".to_string());
    let author_email = r.get("GIT_AUTHOR_EMAIL").unwrap_or_else(|| "notion-backup@localhost".to_string());
    let branch = r.get("GIT_BRANCH");
    let destination = if r.get("GIT_BASE_URL").is_some() {
        let base_url = r.url("GIT_BASE_URL", false).map(|u| normalize_gitea_url(&u)).unwrap_or_default();
        let gtoken = r.get("GIT_TOKEN").unwrap_or_else(|| {
            r.problems.push("GIT_TOKEN is missing (GIT_BASE_URL is set): create an access token in Gitea/Forgejo under Settings -> Applications with scope write:repository (+ write:user to let it create repos)".into());
            String::new()
        });
        let owner = r.get("GIT_OWNER").unwrap_or_else(|| {
            r.problems.push("GIT_OWNER is missing (GIT_BASE_URL is set): set it to the user or organisation that owns the backup repositories".into());
            String::new()
        });
        let ca_file = r.get("GIT_CA_FILE").map(|p| resolve(base_dir, &p));
        if let Some(ca) = &ca_file {
            if !ca.is_file() {
                r.problems.push(format!(
                    "GIT_CA_FILE={} does not exist: give the path of your CA certificate (PEM)",
                    ca.display()
                ));
            }
        }
        let max_mb = r.number("GIT_MAX_REQUEST_MB", 50u64, 1, 4096);
        Destination::Gitea(GiteaSettings {
            base_url,
            token: gtoken,
            owner,
            branch,
            create_repos: r.bool("GIT_CREATE_REPOS", false),
            ca_file,
            max_request_bytes: max_mb * 1024 * 1024,
        })
    } else {
        for k in ["GIT_TOKEN", "GIT_OWNER"] {
            if r.get(k).is_some() {
                warnings.push(format!("{k} is set but GIT_BASE_URL is not: backing up to local git repositories under BACKUP_DIR; set GIT_BASE_URL to use Gitea/Forgejo"));
            }
        }
        let dir = r.get("BACKUP_DIR").unwrap_or_else(|| "notion-backup".to_string());
        Destination::Local(LocalSettings {
            backup_dir: resolve(base_dir, &dir),
            push: r.bool("GIT_PUSH", false),
            branch,
        })
    };

    // --- Databases
    let databases = read_databases(&mut r, &mut warnings);

    // --- Notifications
    let discord_level = r.number("DISCORD_LEVEL", 0u8, 0, 2);
    let discord_webhook_url = r.url("DISCORD_WEBHOOK_URL", true);
    if discord_level > 0 && discord_webhook_url.is_none() && r.get("DISCORD_WEBHOOK_URL").is_none() {
        r.problems.push(format!("DISCORD_LEVEL={discord_level} but DISCORD_WEBHOOK_URL is missing: paste the webhook URL from Discord (channel settings -> Integrations -> Webhooks), or set DISCORD_LEVEL=0"));
    }
    let healthcheck_url = r.url("HEALTHCHECK_URL", true);
    let webhook_url = r.url("WEBHOOK_URL", true);

    // --- AI naming
    let ai = if r.bool("AI_NAMING_ENABLED", false) {
        let api_url = r.url("AI_API_URL", false).unwrap_or_else(|| "https://api.anthropic.com/v1/messages".to_string());
        warnings.extend(plain_http_warning("AI_API_URL", &api_url, "AI_API_KEY"));
        let api_key = r.get("AI_API_KEY").unwrap_or_else(|| {
            r.problems.push(
                "AI_API_KEY is missing (AI_NAMING_ENABLED=1): set the API key, or set AI_NAMING_ENABLED=0".into(),
            );
            String::new()
        });
        let model = r.get("AI_MODEL").unwrap_or_else(|| "claude-haiku-4-5".to_string());
        Some(AiSettings { api_url, api_key, model })
    } else {
        None
    };

    // --- Misc
    let timezone = match r.get("TIMEZONE") {
        None => chrono_tz::UTC,
        Some(tz) => tz.parse::<chrono_tz::Tz>().unwrap_or_else(|_| {
            r.problems.push(format!(
                "TIMEZONE={tz} is not a time zone name: use an IANA name such as Europe/Berlin or America/New_York"
            ));
            chrono_tz::UTC
        }),
    };
    let state_file = match (&ov.state_file, r.get("STATE_FILE")) {
        (Some(p), _) => std::path::absolute(p).unwrap_or_else(|_| p.clone()),
        (None, Some(p)) => resolve(base_dir, &p),
        (None, None) => base_dir.join("sync-state.json"),
    };
    let max_file_bytes = r.number("MAX_FILE_MB", 100u64, 1, 100_000) * 1024 * 1024;
    let keep_deleted = r.bool("KEEP_DELETED", false);
    let page_concurrency = r.number("PAGE_CONCURRENCY", 4usize, 1, 32);
    let backup_comments = r.bool("BACKUP_COMMENTS", false);
    let delete_guard = read_percent(&mut r, "DELETE_GUARD", 20.0) / 100.0;
    let verify_days = r.number("VERIFY_DAYS", 7u32, 0, 3650);
    let max_run = match r.number("MAX_RUN_MINUTES", DEFAULT_MAX_RUN_MINUTES, 0, 100_000) {
        0 => None,
        m => Some(std::time::Duration::from_secs(m * 60)),
    };
    let download_allow_hosts = read_host_list(&mut r, "DOWNLOAD_ALLOW_HOSTS");
    let front_matter = match r.get("FRONT_MATTER").map(|v| v.to_ascii_lowercase()) {
        None => FrontMatterStyle::Nested,
        Some(v) if v == "nested" => FrontMatterStyle::Nested,
        Some(v) if v == "flat" => FrontMatterStyle::Flat,
        Some(v) => {
            r.problems.push(format!(
                "FRONT_MATTER={v} is not a front-matter layout: use nested (properties under `properties:`, the default) or flat (top-level keys, for Obsidian)"
            ));
            FrontMatterStyle::Nested
        }
    };
    let workspace_repo = match r.get("WORKSPACE_REPO") {
        Some(name) if !valid_repo_name(&name) => {
            r.problems.push(format!(
                "WORKSPACE_REPO={name:?} is not a valid repository name: use letters, digits, '.', '_' and '-' only"
            ));
            None
        }
        Some(name) => {
            if databases.iter().any(|d| d.repo.eq_ignore_ascii_case(&name)) {
                r.problems.push(format!(
                    "WORKSPACE_REPO={name:?} is also a DB<n>_GIT_REPO: give the workspace its own repository"
                ));
            }
            Some(name)
        }
        None if databases.is_empty() && !r.problems.iter().any(|p| p.starts_with("DB")) => {
            Some("notion-workspace".to_string())
        }
        None => None,
    };

    if !r.problems.is_empty() {
        return Err(ConfigError { problems: r.problems, warnings });
    }
    Ok(Config {
        notion: NotionSettings { token, api_url, version, rate_limit },
        destination,
        author_name,
        author_email,
        databases,
        discord_level,
        discord_webhook_url,
        healthcheck_url,
        webhook_url,
        ai,
        timezone,
        state_file,
        max_file_bytes,
        keep_deleted,
        page_concurrency,
        backup_comments,
        workspace_repo,
        dry_run: ov.dry_run,
        full_sync: ov.full_sync,
        delete_guard,
        allow_mass_delete: ov.allow_mass_delete,
        verify_days,
        max_run,
        download_allow_hosts,
        front_matter,
        warnings,
    })
}

/// Pages a run may always remove from a repository, whatever DELETE_GUARD says.
pub const DELETE_GUARD_MIN_PAGES: usize = 5;

/// Default of MAX_RUN_MINUTES: 12 hours (a first backup of tens of thousands of pages goes on
/// in the next run).
pub const DEFAULT_MAX_RUN_MINUTES: u64 = 720;

/// A percentage, `20` or `20%`, from 0 to 100.
fn read_percent(r: &mut Reader, key: &str, default: f64) -> f64 {
    let Some(v) = r.get(key) else { return default };
    match v.trim_end_matches('%').trim().parse::<f64>() {
        Ok(n) if (0.0..=100.0).contains(&n) => n,
        _ => {
            r.problems.push(format!("{key}={v} is not a percentage from 0 to 100 (default {default}%)"));
            default
        }
    }
}

/// A warning when `url` is plain `http://` to a host other than this machine: the secret in
/// `secret_key` would cross the network unencrypted. Loopback (tests, a local proxy) is fine.
fn plain_http_warning(key: &str, url: &str, secret_key: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let loopback = match u.host()? {
        url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    };
    (u.scheme() == "http" && !loopback).then(|| {
        format!(
            "{key} uses plain http:// to {}: {secret_key} would cross the network unencrypted; use https://",
            u.host_str().unwrap_or("")
        )
    })
}

/// `host[:port]` entries separated by commas or spaces, lowercased.
fn read_host_list(r: &mut Reader, key: &str) -> Vec<String> {
    let Some(v) = r.get(key) else { return Vec::new() };
    let mut out = Vec::new();
    for item in v.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()) {
        let ok = url::Url::parse(&format!("http://{item}/")).ok().is_some_and(|u| {
            u.host_str().is_some() && u.path() == "/" && u.username().is_empty() && u.query().is_none()
        });
        if ok {
            out.push(item.to_ascii_lowercase());
        } else {
            r.problems
                .push(format!("{key}: {item:?} is not a host name or host:port (e.g. wiki.intranet or 10.0.0.5:8080)"));
        }
    }
    out
}

fn is_api_version(v: &str) -> bool {
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
}

/// Accept `https://git.example.com`, `.../`, and `.../api/v1`; keep the server root.
fn normalize_gitea_url(u: &str) -> String {
    let t = u.trim_end_matches('/');
    t.strip_suffix("/api/v1").unwrap_or(t).to_string()
}

fn read_databases(r: &mut Reader, warnings: &mut Vec<String>) -> Vec<DatabaseConfig> {
    #[derive(Default)]
    struct Triple {
        id: Option<String>,
        repo: Option<String>,
        label: Option<String>,
    }
    let mut by_n: BTreeMap<u32, Triple> = BTreeMap::new();
    for (key, value) in r.vars.iter() {
        let Some(rest) = key.strip_prefix("DB") else { continue };
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() || !rest[digits.len()..].starts_with('_') {
            continue;
        }
        let Ok(n) = digits.parse::<u32>() else { continue };
        let field = &rest[digits.len() + 1..];
        let value = value.trim().to_string();
        let t = by_n.entry(n).or_default();
        match field {
            "NOTION_ID" => t.id = Some(value).filter(|v| !v.is_empty()),
            "GIT_REPO" => t.repo = Some(value).filter(|v| !v.is_empty()),
            "LABEL" => t.label = Some(value).filter(|v| !v.is_empty()),
            other => warnings.push(format!(
                "{key}: unknown setting DB{n}_{other} is ignored (known: DB{n}_NOTION_ID, DB{n}_GIT_REPO, DB{n}_LABEL)"
            )),
        }
    }
    let mut out = Vec::new();
    let mut expected = 1u32;
    let any_set = by_n.values().any(|t| t.id.is_some() || t.repo.is_some() || t.label.is_some());
    for (n, t) in by_n {
        if t.id.is_none() && t.repo.is_none() && t.label.is_none() {
            continue;
        }
        if n != expected {
            warnings.push(format!(
                "DB{n}_* is set but DB{expected}_* is not: numbering has a gap; DB{n} is still backed up (renumber to DB{expected} to silence this)"
            ));
        }
        expected = n + 1;
        let id = match &t.id {
            None => {
                // One message for the whole triple (a copied .env.example with only the token
                // filled in lands here), never a second one contradicting it.
                let set: Vec<String> = [("GIT_REPO", &t.repo), ("LABEL", &t.label)]
                    .into_iter()
                    .filter_map(|(f, v)| v.as_ref().map(|v| format!("DB{n}_{f}={v}")))
                    .collect();
                let also_repo = if t.repo.is_none() { format!(" and DB{n}_GIT_REPO are") } else { " is".into() };
                let name_repo = if t.repo.is_none() {
                    format!(", and name its repository in DB{n}_GIT_REPO")
                } else {
                    String::new()
                };
                r.problems.push(format!(
                    "DB{n}_NOTION_ID{also_repo} empty, but {} {} set: paste the database's link or id from Notion (open the database -> ••• -> Copy link) into DB{n}_NOTION_ID{name_repo}; or, to back up everything the token can see instead, delete or comment out the DB{n}_* lines",
                    set.join(" and "),
                    if set.len() == 1 { "is" } else { "are" }
                ));
                None
            }
            Some(raw) => match ids::parse_user_id(raw) {
                Some(id) => Some(id),
                None => {
                    r.problems.push(format!("DB{n}_NOTION_ID={raw:?} is not a Notion id: use the 32-character id, a dashed UUID, or the database's link from Notion (••• -> Copy link)"));
                    None
                }
            },
        };
        let repo = match &t.repo {
            None if t.id.is_none() => None,
            None => {
                r.problems.push(format!("DB{n}_GIT_REPO is missing (DB{n}_NOTION_ID is set): name the repository to back this database up into, e.g. DB{n}_GIT_REPO=notion-notes"));
                None
            }
            Some(name) if !valid_repo_name(name) => {
                r.problems.push(format!("DB{n}_GIT_REPO={name:?} is not a valid repository name: use letters, digits, '.', '_' and '-' only (at most 100, not starting with '.')"));
                None
            }
            Some(name) => Some(name.clone()),
        };
        if let (Some(notion_id), Some(repo)) = (id, repo) {
            let label = t.label.clone().unwrap_or_else(|| repo.clone());
            out.push(DatabaseConfig { index: n, notion_id, repo, label });
        }
    }
    // Two databases in one repository would overwrite each other's index and folders.
    for (i, a) in out.iter().enumerate() {
        for b in &out[i + 1..] {
            if a.repo.eq_ignore_ascii_case(&b.repo) {
                r.problems.push(format!(
                    "DB{}_GIT_REPO and DB{}_GIT_REPO both name {:?}: give each database its own repository",
                    a.index, b.index, a.repo
                ));
            }
            if a.notion_id == b.notion_id {
                r.problems.push(format!(
                    "DB{}_NOTION_ID and DB{}_NOTION_ID are the same database: remove one of them",
                    a.index, b.index
                ));
            }
        }
    }
    // Only when no DB<n>_* is set at all: a half-filled DB1_* is a mistake to fix (reported
    // above), not a request to back up the whole workspace.
    if out.is_empty() && !any_set && r.get("WORKSPACE_REPO").is_none() {
        warnings.push("no DB<n>_* database configured: backing up everything the token can see into the repository notion-workspace (set WORKSPACE_REPO to name it, or DB1_NOTION_ID/DB1_GIT_REPO to back up one database)".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "1f2e3d4c5b6a79881f2e3d4c5b6a7988";

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn ok(pairs: &[(&str, &str)]) -> Config {
        from_vars(&vars(pairs), Path::new("/etc/nb"), &Overrides::default()).unwrap()
    }

    fn problems(pairs: &[(&str, &str)]) -> Vec<String> {
        from_vars(&vars(pairs), Path::new("/etc/nb"), &Overrides::default()).unwrap_err().problems
    }

    #[test]
    fn python_script_env_works_unchanged() {
        let c = ok(&[
            ("NOTION_TOKEN", "secret_abc"),
            ("GIT_BASE_URL", "https://git.example.com/"),
            ("GIT_TOKEN", "gt"),
            ("GIT_OWNER", "me"),
            ("DB1_NOTION_ID", ID),
            ("DB1_GIT_REPO", "notes"),
            ("DB1_LABEL", "Notes"),
            ("DB2_NOTION_ID", "https://www.notion.so/acme/Tasks-aaaabbbbccccddddeeeeffff00001111?v=1234"),
            ("DB2_GIT_REPO", "tasks"),
            ("DB2_LABEL", "Tasks"),
            ("DISCORD_LEVEL", "1"),
            ("DISCORD_WEBHOOK_URL", "https://discord.com/api/webhooks/1/abc"),
            ("AI_NAMING_ENABLED", "false"),
            ("TIMEZONE", "Europe/Berlin"),
        ]);
        assert_eq!(c.databases.len(), 2);
        assert_eq!(c.databases[1].notion_id, "aaaabbbbccccddddeeeeffff00001111");
        assert_eq!(c.timezone, chrono_tz::Europe::Berlin);
        assert_eq!(c.state_file, PathBuf::from("/etc/nb/sync-state.json"));
        match &c.destination {
            Destination::Gitea(g) => assert_eq!(g.base_url, "https://git.example.com"),
            other => panic!("{other:?}"),
        }
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn local_default_and_relative_paths() {
        let c = ok(&[("NOTION_TOKEN", "t"), ("DB1_NOTION_ID", ID), ("DB1_GIT_REPO", "notes")]);
        match &c.destination {
            Destination::Local(l) => assert_eq!(l.backup_dir, PathBuf::from("/etc/nb/notion-backup")),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.databases[0].label, "notes");
    }

    #[test]
    fn five_mistakes_five_problems_no_secrets() {
        let p = problems(&[
            ("DB1_NOTION_ID", "not-an-id"),
            ("DB1_GIT_REPO", "notes"),
            ("DB2_NOTION_ID", ID),
            ("GIT_BASE_URL", "git.example.com"),
            ("DISCORD_LEVEL", "7"),
            ("DISCORD_WEBHOOK_URL", "https://discord.com/api/webhooks/1/SUPERSECRET"),
        ]);
        let all = p.join("\n");
        assert!(p.len() >= 5, "{all}");
        for key in ["NOTION_TOKEN", "DB1_NOTION_ID", "DB2_GIT_REPO", "GIT_BASE_URL", "DISCORD_LEVEL"] {
            assert!(p.iter().any(|x| x.starts_with(key)), "no problem for {key} in\n{all}");
        }
        assert!(!all.contains("SUPERSECRET"));
    }

    #[test]
    fn gap_in_numbering_warns_and_keeps() {
        let c = ok(&[
            ("NOTION_TOKEN", "t"),
            ("DB1_NOTION_ID", ID),
            ("DB1_GIT_REPO", "a"),
            ("DB3_NOTION_ID", "aaaabbbbccccddddeeeeffff00001111"),
            ("DB3_GIT_REPO", "c"),
        ]);
        assert_eq!(c.databases.len(), 2);
        assert!(c.warnings.iter().any(|w| w.contains("DB3_*") && w.contains("DB2_*")), "{:?}", c.warnings);
    }

    #[test]
    fn no_upper_limit_on_databases() {
        let mut pairs = vec![("NOTION_TOKEN".to_string(), "t".to_string())];
        for n in 1..=25 {
            pairs.push((format!("DB{n}_NOTION_ID"), format!("{:032x}", n)));
            pairs.push((format!("DB{n}_GIT_REPO"), format!("repo{n}")));
        }
        let v: BTreeMap<_, _> = pairs.into_iter().collect();
        let c = from_vars(&v, Path::new("/x"), &Overrides::default()).unwrap();
        assert_eq!(c.databases.len(), 25);
        assert_eq!(c.databases.iter().map(|d| d.index).collect::<Vec<_>>(), (1..=25).collect::<Vec<_>>());
    }

    /// Regression: `.env.example` copied with only the token filled in gave two contradicting
    /// messages (`DB1_NOTION_ID is missing` and "no DB<n>_* configured: backing up everything").
    #[test]
    fn copied_env_example_with_only_the_token_gives_one_message() {
        let e = from_vars(
            &vars(&[
                ("NOTION_TOKEN", "t"),
                ("DB1_NOTION_ID", ""),
                ("DB1_GIT_REPO", "notion-notes"),
                ("DB1_LABEL", "Notes"),
            ]),
            Path::new("/etc/nb"),
            &Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(e.problems.len(), 1, "{e}");
        assert!(
            e.problems[0]
                .starts_with("DB1_NOTION_ID is empty, but DB1_GIT_REPO=notion-notes and DB1_LABEL=Notes are set"),
            "{e}"
        );
        assert!(e.warnings.is_empty(), "no warning may say the whole workspace is backed up: {e}");
        // Only a label: still one message, naming both settings to fill in.
        let p = problems(&[("NOTION_TOKEN", "t"), ("DB1_LABEL", "Notes")]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].starts_with("DB1_NOTION_ID and DB1_GIT_REPO are empty, but DB1_LABEL=Notes is set"), "{p:?}");
        // Nothing set at all is the documented workspace mode, with its warning.
        let c = ok(&[("NOTION_TOKEN", "t"), ("DB1_NOTION_ID", ""), ("DB1_GIT_REPO", ""), ("DB1_LABEL", "")]);
        assert_eq!(c.workspace_repo.as_deref(), Some("notion-workspace"));
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    }

    #[test]
    fn duplicate_repo_and_bad_repo_name() {
        let p = problems(&[
            ("NOTION_TOKEN", "t"),
            ("DB1_NOTION_ID", ID),
            ("DB1_GIT_REPO", "a"),
            ("DB2_NOTION_ID", "aaaabbbbccccddddeeeeffff00001111"),
            ("DB2_GIT_REPO", "A"),
        ]);
        assert!(p[0].contains("both name"), "{p:?}");
        let p = problems(&[("NOTION_TOKEN", "t"), ("DB1_NOTION_ID", ID), ("DB1_GIT_REPO", "../evil")]);
        assert!(p[0].starts_with("DB1_GIT_REPO"), "{p:?}");
    }

    #[test]
    fn gitea_needs_token_and_owner() {
        let p = problems(&[
            ("NOTION_TOKEN", "t"),
            ("DB1_NOTION_ID", ID),
            ("DB1_GIT_REPO", "a"),
            ("GIT_BASE_URL", "https://g.example"),
        ]);
        assert!(p.iter().any(|x| x.starts_with("GIT_TOKEN")));
        assert!(p.iter().any(|x| x.starts_with("GIT_OWNER")));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = ok(&[
            ("NOTION_TOKEN", "ntn_supersecret"),
            ("DB1_NOTION_ID", ID),
            ("DB1_GIT_REPO", "a"),
            ("GIT_BASE_URL", "https://g.example"),
            ("GIT_TOKEN", "gitea_supersecret"),
            ("GIT_OWNER", "me"),
            ("AI_NAMING_ENABLED", "1"),
            ("AI_API_KEY", "ai_supersecret"),
            ("DISCORD_LEVEL", "2"),
            ("DISCORD_WEBHOOK_URL", "https://discord.example/api/webhooks/1/hook_supersecret"),
        ]);
        let d = format!("{c:?}");
        assert!(!d.contains("supersecret"), "{d}");
    }

    #[test]
    fn secrets_listed() {
        let c = ok(&[
            ("NOTION_TOKEN", "ntn_1"),
            ("DB1_NOTION_ID", ID),
            ("DB1_GIT_REPO", "a"),
            ("HEALTHCHECK_URL", "https://hc.example/ping/uuid"),
        ]);
        assert_eq!(c.secrets(), vec!["ntn_1".to_string(), "https://hc.example/ping/uuid".to_string()]);
    }

    #[test]
    fn plain_http_to_another_host_is_a_warning_and_loopback_is_not() {
        let base = [("NOTION_TOKEN", "secret_abc"), ("DB1_NOTION_ID", ID), ("DB1_GIT_REPO", "notes")];
        let with = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            ok(&pairs).warnings
        };
        assert_eq!(
            with(&[("NOTION_API_URL", "http://notion-proxy.lan:8080/v1")]),
            vec!["NOTION_API_URL uses plain http:// to notion-proxy.lan: NOTION_TOKEN would cross the network unencrypted; use https://".to_string()]
        );
        assert_eq!(
            with(&[("AI_NAMING_ENABLED", "1"), ("AI_API_KEY", "sk-abc"), ("AI_API_URL", "http://10.0.0.5/v1/messages")]),
            vec!["AI_API_URL uses plain http:// to 10.0.0.5: AI_API_KEY would cross the network unencrypted; use https://".to_string()]
        );
        for local in
            ["http://127.0.0.1:8000/v1", "http://localhost:3000", "http://[::1]:9/v1", "https://api.notion.com/v1"]
        {
            assert!(with(&[("NOTION_API_URL", local)]).is_empty(), "{local}");
        }
        // AI_API_URL is only looked at when AI naming is on.
        assert!(with(&[("AI_API_URL", "http://ai.example.com/v1/messages")]).is_empty());
    }
}
