//! The Notion API client: auth, version, base URL, one shared rate limiter, retries, typed errors
//! ([`client`], [`ratelimit`], [`error`]); [`paginate`] as the only way to walk a list; the serde
//! [`model`]; the endpoints this tool reads ([`api`]) and the ones restore writes ([`write`]); and the
//! block-tree fetch ([`tree`]).
//!
//! This module knows nothing about Markdown, files on disk or git.

pub mod api;
pub mod client;
pub mod error;
pub mod model;
pub mod paginate;
pub mod ratelimit;
pub mod tree;
pub mod write;

pub use client::{Body, ClientConfig, NotionClient, Replay, RetryPolicy};
pub use error::NotionError;
