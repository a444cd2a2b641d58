//! The read endpoints this tool uses, as typed methods on [`NotionClient`]. List endpoints return
//! streams built on [`super::paginate`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Deserialize;

use futures::stream::{BoxStream, StreamExt};
use futures::TryStreamExt;
use reqwest::Method;
use serde_json::{json, Value};

use super::model::{Block, BotUser, DataSource, Database, Page, PropertyKind, PropertyValue, User};
use super::paginate::{self, ListPage};
use super::{NotionClient, NotionError};
use crate::ids;

/// Which listed pages keep their raw JSON.
pub type KeepRaw = Arc<dyn Fn(&Page) -> bool + Send + Sync>;

/// Page objects hold at most this many items of title/rich_text/relation/people.
const TRUNCATION_LIMIT: usize = 25;

/// A string from Notion (an id, a property id) as one URL path segment, sent the way the official
/// SDK sends it (`@notionhq/client` builds `pages/${page_id}/properties/${property_id}` and lets
/// the WHATWG URL parser encode what a path cannot hold).
///
/// Property ids come back from Notion already percent-encoded (`cg%7D~`), and Notion answers a
/// double-encoded id with 404 (notion-sdk-js PR #402): a `%` that starts an escape stays as it
/// is, and every character a path segment may hold goes out unchanged (`~`, `!`, `*`, `(`, `'`,
/// `:`, `@`, ...). What a path cannot hold is encoded as the URL parser encodes it: space, `"`,
/// `<`, `>`, `` ` ``, `{`, `}`, control characters and non-ASCII (UTF-8 bytes). Where the SDK
/// would send a broken request, the character is encoded so that Notion, which decodes the
/// segment once, gets back the id as it returned it: `/` (a new segment for the SDK), `?` and `#`
/// (the start of the query or fragment), `\` (a `/` to the URL parser), tab and newline (dropped
/// by the URL parser) and a `%` that does not start an escape. Never form encoding: it writes a
/// space as `+`, which a path keeps as a plus sign.
pub fn path_segment(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        let escape_start = c == b'%' && b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit();
        let keep = escape_start
            || (c.is_ascii_graphic()
                && !matches!(c, b'"' | b'#' | b'<' | b'>' | b'?' | b'`' | b'{' | b'}' | b'/' | b'\\' | b'%'));
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// A property id as a `filter_properties` query value: the SDK percent-decodes each id
/// (`decodeURIComponent`) before the query string encodes it again, so `cg%7D~` goes out as
/// `cg%7D%7E`, not `cg%257D%7E`. An id that does not decode to UTF-8 is sent as returned.
pub fn filter_property_value(property_id: &str) -> String {
    percent_encoding::percent_decode_str(property_id)
        .decode_utf8()
        .map(|d| d.into_owned())
        .unwrap_or_else(|_| property_id.to_string())
}

impl NotionClient {
    pub async fn users_me(&self) -> Result<BotUser, NotionError> {
        self.request(Method::GET, "/users/me", &[], None, "the integration's bot user").await
    }

    pub async fn get_user(&self, id: &str) -> Result<User, NotionError> {
        self.request(Method::GET, &format!("/users/{}", path_segment(id)), &[], None, &format!("user {id}")).await
    }

    pub async fn get_database(&self, id: &str) -> Result<Database, NotionError> {
        let what = format!("database {}", ids::dashed(id));
        match self.request(Method::GET, &format!("/databases/{}", path_segment(id)), &[], None, &what).await {
            Err(NotionError::BadRequest { message, .. }) if is_linked_message(&message) => {
                Err(NotionError::LinkedDatabase { what })
            }
            Err(NotionError::NotFound { message, .. }) if is_linked_message(&message) => {
                Err(NotionError::LinkedDatabase { what })
            }
            other => other,
        }
    }

    pub async fn get_data_source(&self, id: &str) -> Result<DataSource, NotionError> {
        let what = format!("data source {}", ids::dashed(id));
        self.request(Method::GET, &format!("/data_sources/{}", path_segment(id)), &[], None, &what).await
    }

    /// A page object (its raw JSON kept for `page.json`).
    pub async fn get_page(&self, id: &str) -> Result<Page, NotionError> {
        let what = format!("page {}", ids::dashed(id));
        let v: Value = self.request(Method::GET, &format!("/pages/{}", path_segment(id)), &[], None, &what).await?;
        Page::from_json(v).map_err(|e| NotionError::Decode { what, message: e.to_string() })
    }

    /// The page object exactly as the API returned it.
    pub async fn get_page_raw(&self, id: &str) -> Result<Value, NotionError> {
        let what = format!("page {}", ids::dashed(id));
        self.request(Method::GET, &format!("/pages/{}", path_segment(id)), &[], None, &what).await
    }

    /// One block (its raw JSON kept for `page.json`).
    pub async fn get_block(&self, id: &str) -> Result<Block, NotionError> {
        let what = format!("block {}", ids::dashed(id));
        let v: Value = self.request(Method::GET, &format!("/blocks/{}", path_segment(id)), &[], None, &what).await?;
        Block::from_json(v).map_err(|e| NotionError::Decode { what, message: e.to_string() })
    }

    /// Direct children of a block or page, every page of them.
    pub fn block_children(&self, id: &str) -> BoxStream<'static, Result<Block, NotionError>> {
        let client = self.clone();
        let path = format!("/blocks/{}/children", path_segment(id));
        let what = format!("children of block {}", ids::dashed(id));
        paginate::items(move |cursor: Option<String>| {
            let (client, path, what) = (client.clone(), path.clone(), what.clone());
            async move {
                let mut q = vec![("page_size", "100".to_string())];
                if let Some(c) = cursor {
                    q.push(("start_cursor", c));
                }
                let raw = client.request::<ListPage<Value>>(Method::GET, &path, &q, None, &what).await?;
                decode_list(raw, &what, Block::from_json)
            }
        })
    }

    /// One window of a data source query: pages of results for `body` (filter/sorts), each page
    /// object holding only the properties `filter_properties` names (all when empty).
    fn query_pages(
        &self,
        data_source_id: &str,
        body: Value,
        filter_properties: &[String],
        keep_raw: KeepRaw,
    ) -> BoxStream<'static, Result<ListPage<Page>, NotionError>> {
        let client = self.clone();
        let path = format!("/data_sources/{}/query", path_segment(data_source_id));
        let what = format!("query of data source {}", ids::dashed(data_source_id));
        let query: Vec<(&'static str, String)> =
            filter_properties.iter().map(|p| ("filter_properties", filter_property_value(p))).collect();
        paginate::pages(move |cursor: Option<String>| {
            let (client, path, what, keep) = (client.clone(), path.clone(), what.clone(), keep_raw.clone());
            let query = query.clone();
            let mut body = body.clone();
            async move {
                body["page_size"] = json!(100);
                if let Some(c) = cursor {
                    body["start_cursor"] = json!(c);
                }
                let raw = client.request::<ListPage<Value>>(Method::POST, &path, &query, Some(&body), &what).await?;
                decode_list(raw, &what, |v| {
                    let mut p = Page::deserialize(&v)?;
                    if keep(&p) {
                        p.raw = Some(v.to_string());
                    }
                    Ok(p)
                })
            }
        })
    }

    /// Every page (row) of a data source, complete even beyond Notion's 10,000-row query cap:
    /// results are sorted by `created_time` ascending, and when a window comes back incomplete
    /// the query restarts with `created_time on_or_after` the last seen value, deduplicating by
    /// id. Order: ascending creation time.
    pub async fn query_all(&self, data_source_id: &str) -> Result<Vec<Page>, NotionError> {
        self.query_all_keeping(data_source_id, Arc::new(|_: &Page| true)).await
    }

    /// [`Self::query_all`], keeping the raw JSON only of the pages `keep_raw` selects (the raw
    /// JSON of thousands of unchanged rows is not worth holding).
    pub async fn query_all_keeping(&self, data_source_id: &str, keep_raw: KeepRaw) -> Result<Vec<Page>, NotionError> {
        self.query_all_with(data_source_id, &[], keep_raw).await
    }

    /// [`Self::query_all_keeping`] with each page object trimmed to the properties whose ids
    /// `filter_properties` lists (ids as Notion returned them; all properties when empty).
    pub async fn query_all_with(
        &self,
        data_source_id: &str,
        filter_properties: &[String],
        keep_raw: KeepRaw,
    ) -> Result<Vec<Page>, NotionError> {
        let sorts = json!([{"timestamp": "created_time", "direction": "ascending"}]);
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut body = json!({ "sorts": sorts });
            if let Some(a) = &after {
                body["filter"] = json!({"timestamp": "created_time", "created_time": {"on_or_after": a}});
            }
            let mut stream = self.query_pages(data_source_id, body, filter_properties, keep_raw.clone());
            let mut incomplete = false;
            let mut new_in_window = 0usize;
            while let Some(page) = stream.try_next().await? {
                incomplete |= page.is_incomplete();
                for p in page.results {
                    if seen.insert(ids::normalize(&p.id)) {
                        new_in_window += 1;
                        out.push(p);
                    }
                }
            }
            if !incomplete {
                return Ok(out);
            }
            let last = out.last().map(|p| p.created_time.clone());
            if new_in_window == 0 || last.is_none() || last == after {
                // More than a whole window of rows share one created_time: nothing more can be
                // listed this way. Say so instead of pretending the list is complete.
                return Err(NotionError::BadRequest {
                    what: format!("query of data source {}", ids::dashed(data_source_id)),
                    status: 0,
                    code: "query_result_limit_reached".into(),
                    message: "more than 10,000 rows share one created_time; the rest cannot be listed".into(),
                });
            }
            tracing::debug!(
                data_source_id,
                rows = out.len(),
                "query hit the row cap; continuing after the last created_time"
            );
            after = last;
        }
    }

    /// `POST /search` with `body` (query, filter, sort), every result as raw JSON.
    pub fn search(&self, body: Value) -> BoxStream<'static, Result<Value, NotionError>> {
        let client = self.clone();
        paginate::items(move |cursor: Option<String>| {
            let client = client.clone();
            let mut body = body.clone();
            async move {
                body["page_size"] = json!(100);
                if let Some(c) = cursor {
                    body["start_cursor"] = json!(c);
                }
                client.request::<ListPage<Value>>(Method::POST, "/search", &[], Some(&body), "search").await
            }
        })
    }

    /// Every item of one page property (`GET /pages/{id}/properties/{prop}`), for values that
    /// page objects truncate.
    pub fn property_items(&self, page_id: &str, property_id: &str) -> BoxStream<'static, Result<Value, NotionError>> {
        let client = self.clone();
        let path = format!("/pages/{}/properties/{}", path_segment(page_id), path_segment(property_id));
        let what = format!("property {property_id} of page {}", ids::dashed(page_id));
        paginate::pages(move |cursor: Option<String>| {
            let (client, path, what) = (client.clone(), path.clone(), what.clone());
            async move {
                let mut q = vec![("page_size", "100".to_string())];
                if let Some(c) = cursor {
                    q.push(("start_cursor", c));
                }
                let v: Value = client.request(Method::GET, &path, &q, None, &what).await?;
                // Simple types answer with one property_item, not a list.
                if v.get("object").and_then(Value::as_str) == Some("property_item") {
                    return Ok(ListPage {
                        results: vec![v],
                        next_cursor: None,
                        has_more: false,
                        request_status: None,
                        property_item: None,
                    });
                }
                serde_json::from_value::<ListPage<Value>>(v)
                    .map_err(|e| NotionError::Decode { what: what.clone(), message: e.to_string() })
            }
        })
        .map_ok(|p| futures::stream::iter(p.results.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    /// Complete the property values that page objects cut at 25 items (relation with
    /// `has_more`, and people/title/rich_text holding 25 or more) through the page-property
    /// endpoint, in `page` itself.
    ///
    /// Returns, for every property it completed (keyed by its name, as in `page.properties`),
    /// the whole value in the shape a page object would hold it without truncation, for restore:
    /// `{"id", "type": "relation", "relation": [{"id"}, ...], "has_more": false}`,
    /// `{"id", "type": "people", "people": [user, ...]}`, and `{"id", "type": "title" |
    /// "rich_text", "<type>": [rich text, ...]}`. Empty when nothing was truncated.
    pub async fn complete_truncated_properties(&self, page: &mut Page) -> Result<BTreeMap<String, Value>, NotionError> {
        let page_id = page.id.clone();
        let truncated: Vec<(String, String, PropertyKind)> = page
            .properties
            .iter()
            .filter_map(|(name, prop)| {
                let pid = prop.id.clone()?;
                let cut = match &prop.kind {
                    PropertyKind::Relation { has_more, ids } => *has_more || ids.len() >= TRUNCATION_LIMIT,
                    PropertyKind::People(v) => v.len() >= TRUNCATION_LIMIT,
                    PropertyKind::Title(v) | PropertyKind::RichText(v) => v.len() >= TRUNCATION_LIMIT,
                    _ => false,
                };
                cut.then(|| (name.clone(), pid, prop.kind.clone()))
            })
            .collect();
        let mut complete = BTreeMap::new();
        for (name, pid, kind) in truncated {
            let items: Vec<Value> = self.property_items(&page_id, &pid).try_collect().await?;
            let Some((whole, kind)) = merge_property_items(&pid, &kind, &items) else { continue };
            page.properties.insert(name.clone(), PropertyValue { id: Some(pid), kind });
            complete.insert(name, whole);
        }
        Ok(complete)
    }
}

/// Turn a list of raw objects into typed ones that keep their raw JSON.
fn decode_list<T>(
    page: ListPage<Value>,
    what: &str,
    f: impl Fn(Value) -> Result<T, serde_json::Error>,
) -> Result<ListPage<T>, NotionError> {
    let results = page
        .results
        .into_iter()
        .map(|v| f(v).map_err(|e| NotionError::Decode { what: what.to_string(), message: e.to_string() }))
        .collect::<Result<Vec<T>, NotionError>>()?;
    Ok(ListPage {
        results,
        next_cursor: page.next_cursor,
        has_more: page.has_more,
        request_status: page.request_status,
        property_item: page.property_item,
    })
}

/// Rebuild a property value from the items of the page-property endpoint: the whole value as a
/// page object would hold it (raw JSON) and its typed form.
fn merge_property_items(property_id: &str, kind: &PropertyKind, items: &[Value]) -> Option<(Value, PropertyKind)> {
    let field = match kind {
        PropertyKind::Relation { .. } => "relation",
        PropertyKind::People(_) => "people",
        PropertyKind::Title(_) => "title",
        PropertyKind::RichText(_) => "rich_text",
        _ => return None,
    };
    let values: Vec<Value> = items.iter().filter_map(|i| i.get(field).cloned()).collect();
    let mut whole = json!({"id": property_id, "type": field, field: values});
    if field == "relation" {
        whole["has_more"] = json!(false);
    }
    match (kind, PropertyKind::from_value(&whole)) {
        (PropertyKind::Relation { .. }, PropertyKind::Relation { ids, .. }) => {
            Some((whole, PropertyKind::Relation { ids, has_more: false }))
        }
        (_, PropertyKind::Unknown { .. }) => None,
        (_, k) => Some((whole, k)),
    }
}

fn is_linked_message(m: &str) -> bool {
    let m = m.to_ascii_lowercase();
    m.contains("linked database") || m.contains("does not contain any data sources accessible")
}

impl NotionClient {
    /// The views of a database (`GET /views?database_id=`), raw JSON; for a linked database view
    /// they name the data source it shows.
    pub fn views(&self, database_id: &str) -> BoxStream<'static, Result<Value, NotionError>> {
        let client = self.clone();
        let id = database_id.to_string();
        let what = format!("views of database {}", ids::dashed(database_id));
        paginate::items(move |cursor: Option<String>| {
            let (client, id, what) = (client.clone(), id.clone(), what.clone());
            async move {
                let mut q = vec![("database_id", id), ("page_size", "100".to_string())];
                if let Some(c) = cursor {
                    q.push(("start_cursor", c));
                }
                client.request::<ListPage<Value>>(Method::GET, "/views", &q, None, &what).await
            }
        })
    }

    /// Unresolved comments on a page or block (`GET /comments?block_id=`), raw JSON.
    pub fn comments(&self, block_id: &str) -> BoxStream<'static, Result<Value, NotionError>> {
        let client = self.clone();
        let id = block_id.to_string();
        let what = format!("comments of {}", ids::dashed(block_id));
        paginate::items(move |cursor: Option<String>| {
            let (client, id, what) = (client.clone(), id.clone(), what.clone());
            async move {
                let mut q = vec![("block_id", id), ("page_size", "100".to_string())];
                if let Some(c) = cursor {
                    q.push(("start_cursor", c));
                }
                client.request::<ListPage<Value>>(Method::GET, "/comments", &q, None, &what).await
            }
        })
    }

    /// Every user of the workspace (`GET /users`), for resolving names of people and authors.
    /// Personal access tokens cannot call this; callers treat an error as "names unknown".
    pub fn list_users(&self) -> BoxStream<'static, Result<User, NotionError>> {
        let client = self.clone();
        paginate::items(move |cursor: Option<String>| {
            let client = client.clone();
            async move {
                let mut q = vec![("page_size", "100".to_string())];
                if let Some(c) = cursor {
                    q.push(("start_cursor", c));
                }
                client.request::<ListPage<User>>(Method::GET, "/users", &q, None, "the list of users").await
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: property ids were form-encoded a second time (`cg%7D~` went out as
    /// `cg%257D%7E`), and Notion answers that with 404, so every page with a relation, people,
    /// title or rich text of more than 25 items failed on every run.
    #[test]
    fn property_id_goes_into_the_path_as_notion_returned_it() {
        for id in ["cg%7D~", "title", "%3AUPp", "BJXS", "wZ%3C%40", "a!*'()~", "n:@;=+$,&", "x|^[]y"] {
            assert_eq!(path_segment(id), id);
        }
        assert_eq!(path_segment("1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988"), "1f2e3d4c-5b6a-7988-1f2e-3d4c5b6a7988");
    }

    /// What a path segment cannot hold: encoded as the SDK's URL parser encodes it, or, where the
    /// SDK's request would break, so that Notion's single decoding gives back the id.
    #[test]
    fn unsafe_property_ids_still_make_a_request_notion_accepts() {
        let cases = [
            ("a b", "a%20b"),
            ("é€", "%C3%A9%E2%82%AC"),
            ("a\"<>`{}b", "a%22%3C%3E%60%7B%7Db"),
            ("a/b", "a%2Fb"),
            ("a?b", "a%3Fb"),
            ("a#b", "a%23b"),
            ("a\\b", "a%5Cb"),
            ("a\tb\n", "a%09b%0A"),
            ("100%", "100%25"),
            ("%zz%4", "%25zz%254"),
            ("%7d", "%7d"),
        ];
        for (id, sent) in cases {
            assert_eq!(path_segment(id), sent, "{id:?}");
            // Notion decodes the segment once and must get the id back.
            let decoded = percent_encoding::percent_decode_str(sent).decode_utf8().unwrap();
            if !id.contains('%') {
                assert_eq!(decoded, id, "{id:?}");
            }
        }
    }

    #[test]
    fn filter_properties_values_are_decoded_once_like_the_sdk() {
        assert_eq!(filter_property_value("cg%7D~"), "cg}~");
        assert_eq!(filter_property_value("title"), "title");
        assert_eq!(filter_property_value("%3AUPp"), ":UPp");
        assert_eq!(filter_property_value("a%FFb"), "a%FFb", "not UTF-8 once decoded: sent as returned");
    }

    #[test]
    fn merges_relation_items() {
        let items: Vec<Value> = (0..40)
            .map(|i| json!({"object":"property_item","type":"relation","relation":{"id": format!("r{i}")}}))
            .collect();
        let (whole, k) =
            merge_property_items("rel%3A", &PropertyKind::Relation { ids: vec![], has_more: true }, &items).unwrap();
        assert_eq!(whole["relation"].as_array().unwrap().len(), 40);
        assert_eq!((whole["id"].as_str(), whole["has_more"].as_bool()), (Some("rel%3A"), Some(false)));
        match k {
            PropertyKind::Relation { ids, has_more } => {
                assert_eq!(ids.len(), 40);
                assert!(!has_more);
            }
            other => panic!("{other:?}"),
        }
    }
}
