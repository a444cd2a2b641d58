//! People of the backup and of the target workspace: a person is kept when the same user (same
//! id, else the same email) is a member of the workspace restored into (`GET /users`, or
//! `GET /users/{id}` one by one when the token may not list users), otherwise written as text
//! with their name, and reported. Names come from the backup (people values, mentions) and,
//! when there is one, from the state file's user list.

use std::collections::{BTreeMap, HashMap};

use futures::TryStreamExt;
use serde_json::Value;

use super::backup::{walk_blocks, Backup};
use crate::ids;
use crate::notion::{NotionClient, NotionError};

#[derive(Debug, Default, Clone)]
pub struct Users {
    /// Canonical backup user id -> target user id.
    pub map: HashMap<String, String>,
    /// Canonical user id -> name.
    pub names: HashMap<String, String>,
}

/// A person as the backup shows them.
#[derive(Debug, Default, Clone)]
struct Seen {
    name: Option<String>,
    email: Option<String>,
}

fn collect_people(v: &Value, out: &mut BTreeMap<String, Seen>) {
    match v {
        Value::Object(o) => {
            if o.get("object").and_then(Value::as_str) == Some("user") {
                if let Some(id) = o.get("id").and_then(Value::as_str) {
                    let e = out.entry(ids::normalize(id)).or_default();
                    if let Some(n) = o.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                        e.name = Some(n.to_string());
                    }
                    if let Some(m) = o.get("person").and_then(|p| p.get("email")).and_then(Value::as_str) {
                        e.email = Some(m.to_lowercase());
                    }
                }
            }
            if o.get("type").and_then(Value::as_str) == Some("mention") {
                if let (Some(id), Some(plain)) = (
                    o.get("mention").and_then(|m| m.get("user")).and_then(|u| u.get("id")).and_then(Value::as_str),
                    o.get("plain_text").and_then(Value::as_str),
                ) {
                    let e = out.entry(ids::normalize(id)).or_default();
                    if e.name.is_none() {
                        e.name = Some(plain.trim_start_matches('@').to_string()).filter(|s| !s.is_empty());
                    }
                }
            }
            o.values().for_each(|x| collect_people(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_people(x, out)),
        _ => {}
    }
}

/// Match the people of `backup` with the target workspace's users. `known_names` are names from
/// the state file (user id -> name).
pub async fn match_users(
    client: &NotionClient,
    backup: &Backup,
    known_names: &BTreeMap<String, String>,
) -> Result<(Users, Vec<String>), NotionError> {
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for n in &backup.nodes {
        if let Some(p) = &n.page {
            collect_people(&p.page, &mut seen);
            for v in p.complete.values() {
                collect_people(v, &mut seen);
            }
            walk_blocks(&p.blocks, &mut |b| collect_people(b, &mut seen));
        }
    }
    let mut users = Users::default();
    for (id, name) in known_names {
        users.names.insert(ids::normalize(id), name.clone());
    }
    for (id, s) in &seen {
        if let Some(n) = &s.name {
            users.names.insert(id.clone(), n.clone());
        }
    }
    let mut warnings = Vec::new();
    // The target's users: the whole list, or one by one.
    let mut target_ids: HashMap<String, String> = HashMap::new();
    let mut target_emails: HashMap<String, String> = HashMap::new();
    match client.list_users().try_collect::<Vec<_>>().await {
        Ok(list) => {
            for u in list {
                target_ids.insert(ids::normalize(&u.id), u.id.clone());
                if let Some(m) = u.person.as_ref().and_then(|p| p.email.as_deref()) {
                    target_emails.insert(m.to_lowercase(), u.id.clone());
                }
            }
        }
        Err(NotionError::Unauthorized) => return Err(NotionError::Unauthorized),
        Err(e) => {
            warnings.push(format!("the list of users could not be read ({e}); people are looked up one by one"));
            for id in seen.keys() {
                match client.get_user(id).await {
                    Ok(u) => {
                        target_ids.insert(ids::normalize(&u.id), u.id.clone());
                    }
                    Err(NotionError::Unauthorized) => return Err(NotionError::Unauthorized),
                    Err(_) => {}
                }
            }
        }
    }
    for (id, s) in &seen {
        if let Some(t) = target_ids.get(id) {
            users.map.insert(id.clone(), t.clone());
        } else if let Some(t) = s.email.as_ref().and_then(|m| target_emails.get(m)) {
            users.map.insert(id.clone(), t.clone());
        }
    }
    Ok((users, warnings))
}
