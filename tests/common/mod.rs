//! Shared test support: in-process fake Notion and Gitea servers and builders for their JSON.
#![allow(dead_code)]

pub mod env;
pub mod fake_gitea;
pub mod fake_notion;
pub mod fixtures;
pub mod sdk;
pub mod seed;
