//! Lists come a page at a time: `?limit=N` (1 to 1000, 100 when not given) and `?cursor=C`, where C
//! is what the previous page's `Link: <…>; rel="next"` header carried (RFC 8288, as GitHub's API
//! does). The body stays a plain JSON array; no `Link` header means the last page.

use super::error::{ApiError, ApiResult, json_response};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use base64::Engine as _;
use serde::Serialize;
use std::collections::HashMap;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The largest page a client may ask for.
pub const MAX_LIMIT: usize = 1000;

/// What a client asked for.
pub struct Page {
    pub limit: usize,
    /// The key of the last item of the previous page.
    pub after: Option<String>,
}

impl Page {
    /// `limit` and `cursor` from the query; 400 when either is not one.
    pub fn from_query(q: &HashMap<String, String>, default: usize) -> Result<Page, ApiError> {
        let limit = match q.get("limit") {
            None => default,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request("bad_limit", format!("`limit` is a number from 1 to {MAX_LIMIT}"))
                })?,
        };
        let after = match q.get("cursor") {
            None => None,
            Some(c) => Some(
                B64.decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "bad_cursor",
                            "`cursor` is not one this service gave; use the `Link` header of the previous page",
                        )
                    })?,
            ),
        };
        Ok(Page { limit, after })
    }

    /// The answer for one page of `items`, which are in the order of their `key` (ascending): the
    /// ones after the cursor, at most `limit`, and the link to the next page when more follow.
    pub fn answer<T: Serialize>(&self, uri: &Uri, items: Vec<T>, key: impl Fn(&T) -> String) -> ApiResult {
        let rest: Vec<T> = match &self.after {
            Some(after) => items.into_iter().filter(|i| key(i) > *after).collect(),
            None => items,
        };
        self.answer_page(uri, rest, key)
    }

    /// The answer for `items`, the ones after the cursor already (in order), of which at most
    /// `limit` are sent.
    pub fn answer_page<T: Serialize>(&self, uri: &Uri, mut items: Vec<T>, key: impl Fn(&T) -> String) -> ApiResult {
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let next = if more { items.last().map(&key) } else { None };
        let mut res = json_response(
            StatusCode::OK,
            serde_json::to_value(&items).map_err(ApiError::internal)?,
        );
        if let Some(next) = next {
            let mut query: Vec<(String, String)> = uri
                .query()
                .map(|q| {
                    form_urlencoded::parse(q.as_bytes())
                        .filter(|(k, _)| k != "cursor" && k != "limit")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect()
                })
                .unwrap_or_default();
            query.push(("limit".into(), self.limit.to_string()));
            query.push(("cursor".into(), B64.encode(next)));
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish();
            if let Ok(v) = HeaderValue::from_str(&format!("<{}?{query}>; rel=\"next\"", uri.path())) {
                res.headers_mut().insert(header::LINK, v);
            }
        }
        Ok(res)
    }
}

/// A number as a key that sorts as the number does.
pub fn number_key(n: i64) -> String {
    format!("{:020}", n.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_each_other_to_the_end() {
        let uri: Uri = "/api/v1/workspaces/w/resources?kind=model".parse().unwrap();
        let items: Vec<String> = (0..5).map(|i| format!("m{i}")).collect();
        let mut q = HashMap::from([("limit".to_string(), "2".to_string())]);
        let mut seen = Vec::new();
        loop {
            let page = Page::from_query(&q, 100).unwrap();
            let res = page.answer(&uri, items.clone(), |s| s.clone()).unwrap();
            let link = res.headers().get(header::LINK).map(|v| v.to_str().unwrap().to_string());
            let body = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap()
                .block_on(axum::body::to_bytes(res.into_body(), 1 << 20))
                .unwrap();
            let got: Vec<String> = serde_json::from_slice(&body).unwrap();
            seen.extend(got);
            let Some(link) = link else { break };
            assert!(
                link.starts_with("</api/v1/workspaces/w/resources?kind=model&limit=2&cursor="),
                "{link}"
            );
            let cursor = link.split("cursor=").nth(1).unwrap().split('>').next().unwrap();
            q.insert("cursor".into(), cursor.to_string());
        }
        assert_eq!(seen, items);
        assert!(Page::from_query(&HashMap::from([("limit".into(), "0".into())]), 100).is_err());
        assert!(Page::from_query(&HashMap::from([("cursor".into(), "!!".into())]), 100).is_err());
    }
}
