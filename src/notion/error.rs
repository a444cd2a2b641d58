//! Typed Notion API errors. Each says whether it is worth retrying and what the user must do.

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum NotionError {
    /// 401: the token is wrong, revoked or missing.
    #[error("Notion rejected the token (401 unauthorized): check NOTION_TOKEN; create or copy it at https://www.notion.so/profile/integrations")]
    Unauthorized,
    /// 404 object_not_found: the object does not exist or is not shared with the integration.
    #[error("{what} not found or not shared with the integration: open it in Notion -> ••• menu -> Connections -> add your integration (Notion said: {message})")]
    NotFound { what: String, message: String },
    /// 403 restricted_resource: a capability is missing.
    #[error("Notion refused access to {what} (403 {code}): {message}. Give the integration the needed capability (Read content / Read comments / Read user information) in its settings")]
    Forbidden { what: String, code: String, message: String },
    /// 400 and other non-retryable client errors.
    #[error("Notion rejected the request for {what} ({status} {code}): {message}")]
    BadRequest { what: String, status: u16, code: String, message: String },
    /// Retries exhausted on 429/529/5xx/network errors.
    #[error("Notion kept failing for {what} after {attempts} attempts over {elapsed:?}: {last}")]
    Exhausted { what: String, attempts: u32, elapsed: Duration, last: String },
    /// The body was not the JSON we expected.
    #[error("Notion returned a response for {what} that could not be read: {message}")]
    Decode { what: String, message: String },
    /// A create whose answer was lost (timeout, dropped connection, 5xx): Notion may or may not
    /// have done it. Never re-sent blindly; the caller looks at what exists first.
    #[error("Notion may or may not have done {what}: its answer was lost ({reason})")]
    Unsure { what: String, reason: String },
    /// A linked database view: it has no data sources of its own.
    #[error("{what} is a linked database view (its data lives in another database)")]
    LinkedDatabase { what: String },
}

impl NotionError {
    /// Errors the next run might not see (rate limits, outages, network).
    pub fn is_transient(&self) -> bool {
        matches!(self, NotionError::Exhausted { .. } | NotionError::Unsure { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, NotionError::NotFound { .. })
    }

    /// Errors that doom the whole run (no point trying other pages).
    pub fn is_fatal(&self) -> bool {
        matches!(self, NotionError::Unauthorized)
    }
}
