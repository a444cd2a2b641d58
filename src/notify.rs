//! Notifications: run summary, Discord, health-check pings, JSON webhook.
