//! The one pagination mechanism for every Notion list endpoint (block children, queries, search,
//! property items). Call sites never loop over cursors themselves: they get a `Stream`.

use futures::stream::{self, BoxStream, StreamExt};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::NotionError;

/// One page of a list response (`{"object":"list","results":[...],"next_cursor":...,"has_more":...}`).
#[derive(Debug, Clone, Deserialize)]
pub struct ListPage<T> {
    /// Required: an answer without `results` (`200 {}`) is not an empty list, it is a broken one.
    pub results: Vec<T>,
    #[serde(default)]
    pub next_cursor: Option<String>,
    #[serde(default)]
    pub has_more: bool,
    /// Set on data source queries that hit the 10,000-row cap.
    #[serde(default)]
    pub request_status: Option<Value>,
    /// The `property_item` envelope of the page-property endpoint (rollup aggregates live here).
    #[serde(default)]
    pub property_item: Option<Value>,
}

impl<T> ListPage<T> {
    /// True when Notion stopped early (`request_status.type == "incomplete"`).
    pub fn is_incomplete(&self) -> bool {
        self.request_status.as_ref().and_then(|s| s.get("type")).and_then(Value::as_str) == Some("incomplete")
    }
}

/// Stream every page of a list endpoint. `fetch(cursor)` requests one page; it is called with
/// `None` first and then with each `next_cursor` until `has_more` is false.
pub fn pages<T, F, Fut>(fetch: F) -> BoxStream<'static, Result<ListPage<T>, NotionError>>
where
    T: DeserializeOwned + Send + 'static,
    F: FnMut(Option<String>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<ListPage<T>, NotionError>> + Send + 'static,
{
    enum S<F> {
        Next(F, Option<String>),
        Done,
    }
    stream::unfold(S::Next(fetch, None), |s| async move {
        match s {
            S::Done => None,
            S::Next(mut fetch, cursor) => match fetch(cursor).await {
                Err(e) => Some((Err(e), S::Done)),
                Ok(page) => match (&page.next_cursor, page.has_more) {
                    (Some(c), true) if !c.is_empty() => {
                        let next = c.clone();
                        Some((Ok(page), S::Next(fetch, Some(next))))
                    }
                    // A list that says there is more but gives no way to get it is incomplete: an
                    // error, never a short list taken for the whole.
                    (_, true) => Some((
                        Err(NotionError::Decode {
                            what: "a list".into(),
                            message:
                                "Notion said has_more without a next_cursor; the list is incomplete and was not used"
                                    .into(),
                        }),
                        S::Done,
                    )),
                    _ => Some((Ok(page), S::Done)),
                },
            },
        }
    })
    .boxed()
}

/// Stream every item of a list endpoint (the flattened [`pages`]).
pub fn items<T, F, Fut>(fetch: F) -> BoxStream<'static, Result<T, NotionError>>
where
    T: DeserializeOwned + Send + 'static,
    F: FnMut(Option<String>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<ListPage<T>, NotionError>> + Send + 'static,
{
    pages(fetch)
        .flat_map(|page| match page {
            Ok(p) => stream::iter(p.results.into_iter().map(Ok).collect::<Vec<_>>()),
            Err(e) => stream::iter(vec![Err(e)]),
        })
        .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    #[tokio::test]
    async fn follows_cursors_until_has_more_is_false() {
        let all: Vec<u32> = items(|cursor: Option<String>| async move {
            let start: u32 = cursor.map(|c| c.parse().unwrap()).unwrap_or(0);
            let end = (start + 100).min(250);
            Ok(ListPage {
                results: (start..end).collect(),
                next_cursor: (end < 250).then(|| end.to_string()),
                has_more: end < 250,
                request_status: None,
                property_item: None,
            })
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(all, (0..250).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn has_more_without_a_cursor_is_an_error_not_a_short_list() {
        let r: Result<Vec<u32>, _> = items(|_c: Option<String>| async move {
            Ok(ListPage {
                results: vec![1],
                next_cursor: None,
                has_more: true,
                request_status: None,
                property_item: None,
            })
        })
        .try_collect()
        .await;
        assert!(matches!(r, Err(NotionError::Decode { .. })), "{r:?}");
        let empty: Result<ListPage<u32>, _> = serde_json::from_str("{}");
        assert!(empty.is_err(), "a body without results is not an empty list");
    }

    #[tokio::test]
    async fn stops_on_error() {
        let mut calls = 0;
        let r: Result<Vec<u32>, _> = items(move |_c: Option<String>| {
            calls += 1;
            let n = calls;
            async move {
                if n == 2 {
                    Err(NotionError::Unauthorized)
                } else {
                    Ok(ListPage {
                        results: vec![n],
                        next_cursor: Some("x".into()),
                        has_more: true,
                        request_status: None,
                        property_item: None,
                    })
                }
            }
        })
        .try_collect()
        .await;
        assert!(matches!(r, Err(NotionError::Unauthorized)));
    }
}
