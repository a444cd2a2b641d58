//! Building the run's collaborators from the configuration: the sink of each database (wrapped
//! in the dry-run decorator on `--dry-run`), the media downloader, the notifier settings.

use crate::config::{Config, DatabaseConfig, Destination, GiteaSettings, LocalSettings};
use crate::media::{AiConfig, Downloader, MediaConfig, MediaError};
use crate::notify::NotifyConfig;
use crate::sink::dry_run::DryRunSink;
use crate::sink::gitea::{GiteaConfig, GiteaSink};
use crate::sink::local_git::{LocalGitConfig, LocalGitSink};
use crate::sink::{Sink, SinkError};

pub(crate) fn make_sink(cfg: &Config, db: &DatabaseConfig) -> Result<Box<dyn Sink>, SinkError> {
    let inner: Box<dyn Sink> = match &cfg.destination {
        Destination::Gitea(g) => Box::new(GiteaSink::new(gitea_config(cfg, g, &db.repo))?),
        Destination::Local(l) => Box::new(LocalGitSink::new(local_config(cfg, l, &db.repo))),
    };
    Ok(if cfg.dry_run { Box::new(DryRunSink::new(inner)) } else { inner })
}

/// The Gitea/Forgejo sink settings for repository `repo`.
pub(crate) fn gitea_config(cfg: &Config, g: &GiteaSettings, repo: &str) -> GiteaConfig {
    GiteaConfig {
        base_url: g.base_url.clone(),
        token: g.token.clone(),
        owner: g.owner.clone(),
        repo: repo.to_string(),
        branch: g.branch.clone(),
        create_repos: g.create_repos,
        ca_file: g.ca_file.clone(),
        max_request_bytes: g.max_request_bytes,
        author_name: cfg.author_name.clone(),
        author_email: cfg.author_email.clone(),
        user_agent: crate::user_agent(),
    }
}

/// The local git sink settings for repository `repo` (a folder under BACKUP_DIR).
pub(crate) fn local_config(cfg: &Config, l: &LocalSettings, repo: &str) -> LocalGitConfig {
    LocalGitConfig {
        repo_dir: l.backup_dir.join(repo),
        push: l.push,
        author_name: cfg.author_name.clone(),
        author_email: cfg.author_email.clone(),
        branch: l.branch.clone(),
        git_program: None,
    }
}

pub(crate) fn downloader(cfg: &Config) -> Result<Downloader, MediaError> {
    // The media module's default User-Agent is browser-compatible: some CDNs refuse others.
    Downloader::new(MediaConfig {
        max_file_bytes: cfg.max_file_bytes,
        allow_hosts: cfg.download_allow_hosts.clone(),
        ai: cfg.ai.as_ref().map(|a| AiConfig {
            api_url: a.api_url.clone(),
            api_key: a.api_key.clone(),
            model: a.model.clone(),
        }),
        ..MediaConfig::default()
    })
}

pub(crate) fn notify_config(cfg: &Config) -> NotifyConfig {
    NotifyConfig {
        discord_level: cfg.discord_level,
        discord_webhook_url: cfg.discord_webhook_url.clone(),
        healthcheck_url: cfg.healthcheck_url.clone(),
        webhook_url: cfg.webhook_url.clone(),
        timezone: cfg.timezone,
        hostname: gethostname::gethostname().to_string_lossy().into_owned(),
        user_agent: crate::user_agent(),
    }
}
