//! Shared test support: an in-process fake Notion API and builders for its JSON.
#![allow(dead_code)]

pub mod fake_notion;
pub mod fixtures;
