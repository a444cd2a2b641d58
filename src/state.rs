//! The versioned `sync-state.json`, written atomically.
