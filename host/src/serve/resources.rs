//! `/api/v1/workspaces/{ws}/resources…`: the workspace's resources, read and changed as a person
//! would in a UI. A change is checked by the workspace component with the rules INBOUND applies to
//! a file from Git, stored, and queued: the next pass pushes it as its author's commit.

use super::App;
use super::auth::{Reader, Writer};
use super::error::{ApiError, ApiResult, blocking, body, json_response, malformed_json};
use super::paging::Page;
use super::runner::Kick;
use crate::author::Author;
use crate::workspace::edit;
use crate::workspace::layout_path;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// The most a resource body may be.
pub const MAX_RESOURCE_BODY: usize = 1 << 20;

/// `{kind}` and `{*slug}` of a resource route.
#[derive(serde::Deserialize)]
pub struct At {
    kind: String,
    slug: String,
}

/// Kind and slug checked by the layout's rules before anything is touched: 400 when wrong.
fn checked(kind: &str, slug: &str) -> Result<(), ApiError> {
    layout_path(kind, slug)
        .map(|_| ())
        .map_err(|e| ApiError::bad_request("bad_path", e.to_string()))
}

fn no_resource(kind: &str, slug: &str, ws: &str) -> ApiError {
    ApiError::not_found("no_resource", format!("no {kind} `{slug}` in workspace `{ws}`"))
}

/// The workspace's resources (of `?kind=` only, when given), by kind and slug.
pub async fn list(w: Reader, uri: Uri, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let page = Page::from_query(&q, 100)?;
    let kind = q.get("kind").cloned();
    if let Some(k) = &kind {
        layout_path(k, "x").map_err(|e| ApiError::bad_request("bad_kind", e.to_string()))?;
    }
    let ws = w.runner.clone();
    let mut list = blocking(move || Ok(ws.open()?.list(kind.as_deref())?)).await?;
    list.sort_by(|a, b| (&a.kind, &a.slug).cmp(&(&b.kind, &b.slug)));
    let list: Vec<serde_json::Value> = list
        .into_iter()
        .map(|r| json!({"kind": r.kind, "slug": r.slug, "updated_at": r.updated_at, "updated_by": r.updated_by}))
        .collect();
    page.answer(&uri, list, |r| {
        format!(
            "{}\u{0}{}",
            r["kind"].as_str().unwrap_or_default(),
            r["slug"].as_str().unwrap_or_default()
        )
    })
}

/// `ETag: "<version>"` on an answer.
fn with_etag(mut res: Response, version: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{version}\"")) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

/// What a write expects of the resource's version (RFC 9110): `If-Match: "<version>"` (or a list,
/// or `*`: it exists) and `If-None-Match: *` (create only). A weak tag never matches.
fn expectation(headers: &HeaderMap) -> Result<edit::Expect, ApiError> {
    let text = |name: header::HeaderName| -> Result<Option<String>, ApiError> {
        headers
            .get(&name)
            .map(|v| {
                v.to_str()
                    .map(|s| s.trim().to_string())
                    .map_err(|_| ApiError::bad_request("bad_precondition", format!("`{name}` is not text")))
            })
            .transpose()
    };
    if let Some(m) = text(header::IF_MATCH)? {
        if m == "*" {
            return Ok(edit::Expect::Exists);
        }
        let tags = m
            .split(',')
            .map(str::trim)
            .filter(|t| !t.starts_with("W/"))
            .map(|t| t.trim_matches('"').to_string())
            .collect();
        return Ok(edit::Expect::OneOf(tags));
    }
    match text(header::IF_NONE_MATCH)? {
        None => Ok(edit::Expect::Any),
        Some(n) if n == "*" => Ok(edit::Expect::Absent),
        Some(_) => Err(ApiError::bad_request(
            "bad_precondition",
            "a write takes `If-None-Match: *` (create only) or `If-Match: \"<version>\"`",
        )),
    }
}

/// 412: the resource is not at the version the client expects; nothing changed.
fn stale(kind: &str, slug: &str, current: Option<&str>) -> ApiError {
    ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "precondition_failed",
        match current {
            Some(v) => format!(
                "{kind} {slug} is at version \"{v}\", not the one your request expects; nothing was changed: GET it again and make your change on that"
            ),
            None => format!("{kind} {slug} does not exist; nothing was changed"),
        },
    )
}

pub async fn get(State(app): State<Arc<App>>, w: Reader, Path(at): Path<At>) -> ApiResult {
    checked(&at.kind, &at.slug)?;
    let (ws, app2) = (w.runner.clone(), app.clone());
    let (k, s) = (at.kind.clone(), at.slug.clone());
    let found = blocking(move || Ok(edit::get_json(ws.open()?.as_ref(), &app2.policies, &k, &s)?)).await?;
    match found {
        Some(v) => {
            let version = v["version"].as_str().unwrap_or_default().to_string();
            Ok(with_etag(json_response(StatusCode::OK, v), &version))
        }
        None => Err(no_resource(&at.kind, &at.slug, &w.ws)),
    }
}

/// The media type of a request, lowercased, without its parameters.
fn media_type(req: &Request) -> String {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/yaml")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

pub async fn put(State(app): State<Arc<App>>, w: Writer, Path(at): Path<At>, req: Request) -> ApiResult {
    checked(&at.kind, &at.slug)?;
    let expect = expectation(req.headers())?;
    let content_type = media_type(&req);
    let bytes = body(req.into_body(), MAX_RESOURCE_BODY).await?;
    match content_type.as_str() {
        "application/json" => {
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| malformed_json(&e))?;
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" | "text/plain" => {}
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("`{other}`: send the resource as application/json or application/yaml"),
            ));
        }
    }
    let author = Author::parse(&w.token.author)?;
    let (ws, app2) = (w.runner.clone(), app.clone());
    let (k, s) = (at.kind.clone(), at.slug.clone());
    let outcome = blocking(move || {
        let mut store = ws.open()?;
        let put = edit::put(store.as_mut(), &app2.policy, &k, &s, &bytes, &author, &expect)?;
        let view = match &put {
            edit::Put::Stored { .. } => edit::get_json(store.as_ref(), &app2.policies, &k, &s)?,
            edit::Put::Invalid(_) | edit::Put::Stale { .. } => None,
        };
        let (seq, _) = store.queue_mark()?;
        Ok((put, view, seq))
    })
    .await?;
    match outcome {
        (edit::Put::Stored { created, version, .. }, Some(view), seq) => {
            w.runner.saw(seq);
            w.runner.kick(Kick::Changed);
            app.publish();
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok(with_etag(json_response(status, view), &version))
        }
        (edit::Put::Stale { current }, _, _) => Err(stale(&at.kind, &at.slug, current.as_deref())),
        (edit::Put::Invalid(diags), _, _) => {
            let syntax = diags.iter().any(|d| {
                d.code == gitsync_core::diag::codes::YAML_SYNTAX.id
                    || d.code == gitsync_core::diag::codes::INVALID_UTF8.id
            });
            let err = if syntax {
                ApiError::bad_request("malformed", "the body does not parse as YAML or JSON")
            } else {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    format!("{} {} is not valid; nothing was stored", at.kind, at.slug),
                )
            };
            Err(err.with_findings(diags.iter().map(crate::report::finding).collect()))
        }
        (edit::Put::Stored { .. }, None, _) => {
            Err(ApiError::internal("the resource was stored but cannot be read back"))
        }
    }
}

pub async fn delete(
    State(app): State<Arc<App>>,
    w: Writer,
    Path(at): Path<At>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult {
    checked(&at.kind, &at.slug)?;
    let expect = expectation(&headers)?;
    let force = q.get("force").is_some_and(|v| v == "true" || v == "1");
    let author = Author::parse(&w.token.author)?;
    let (ws, app2) = (w.runner.clone(), app.clone());
    let (k, s) = (at.kind.clone(), at.slug.clone());
    let outcome = blocking(move || {
        let mut store = ws.open()?;
        let deleted = edit::delete(store.as_mut(), &app2.policy, &k, &s, &author, force, &expect)?;
        Ok((deleted, store.queue_mark()?.0))
    })
    .await?;
    match outcome {
        (edit::Deleted::NotFound, _) => Err(no_resource(&at.kind, &at.slug, &w.ws)),
        (edit::Deleted::Stale { current }, _) => Err(stale(&at.kind, &at.slug, Some(&current))),
        (edit::Deleted::InUse(broken), _) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "in_use",
            format!(
                "{} {} is still used; change or delete those first, or add ?force=true",
                at.kind, at.slug
            ),
        )
        .with_findings(broken.iter().map(crate::report::finding).collect())),
        (edit::Deleted::Done, seq) => {
            w.runner.saw(seq);
            w.runner.kick(Kick::Changed);
            app.publish();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}
