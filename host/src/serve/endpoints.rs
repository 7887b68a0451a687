//! `/api/v1/workspaces/{ws}/sources…` and `…/destinations…`: what models read from and syncs write
//! to. A change to them changes the workspace's manifest, which the next pass writes to Git. One
//! still used (a model's `source`, a sync's `destination`) is not removed unless forced.

use super::App;
use super::auth::{Reader, Writer};
use super::error::{ApiError, ApiResult, blocking, body, json_response, malformed_json};
use super::paging::Page;
use super::runner::Kick;
use crate::store::{Endpoint, EndpointKind};
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

/// A source or destination is a few short fields.
const MAX_BODY: usize = 64 << 10;

#[derive(serde::Deserialize)]
struct NewEndpoint {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

fn view(e: &Endpoint) -> serde_json::Value {
    json!({"id": e.id, "name": e.name, "type": e.kind})
}

async fn list(w: Reader, kind: EndpointKind, uri: &Uri, q: &HashMap<String, String>) -> ApiResult {
    let page = Page::from_query(q, 100)?;
    let ws = w.runner.clone();
    let mut all = blocking(move || Ok(ws.open()?.endpoints(kind)?)).await?;
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let all: Vec<serde_json::Value> = all.iter().map(view).collect();
    page.answer(uri, all, |e| e["id"].as_str().unwrap_or_default().to_string())
}

pub async fn list_sources(w: Reader, uri: Uri, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    list(w, EndpointKind::Source, &uri, &q).await
}

pub async fn list_destinations(w: Reader, uri: Uri, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    list(w, EndpointKind::Destination, &uri, &q).await
}

async fn add(app: Arc<App>, w: Writer, kind: EndpointKind, req: Request) -> ApiResult {
    let bytes = body(req.into_body(), MAX_BODY).await?;
    let e: NewEndpoint = serde_json::from_slice(&bytes).map_err(|e| malformed_json(&e))?;
    let endpoint = Endpoint {
        id: e.id,
        name: e.name,
        kind: e.kind,
    };
    crate::workspace::check_endpoint(&endpoint)
        .map_err(|why| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", why.to_string()))?;
    let ws = w.runner.clone();
    let stored = endpoint.clone();
    let added = blocking(move || {
        let mut store = ws.open()?;
        if store.endpoints(kind)?.iter().any(|x| x.id == stored.id) {
            return Ok(false);
        }
        store.add_endpoint(kind, &stored)?;
        Ok(true)
    })
    .await?;
    if !added {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("{} `{}` already exists", kind.noun(), endpoint.id),
        ));
    }
    // The manifest changes: a pass rewrites it.
    w.runner.kick(Kick::Changed);
    app.publish();
    Ok(json_response(StatusCode::CREATED, view(&endpoint)))
}

pub async fn add_source(State(app): State<Arc<App>>, w: Writer, req: Request) -> ApiResult {
    add(app, w, EndpointKind::Source, req).await
}

pub async fn add_destination(State(app): State<Arc<App>>, w: Writer, req: Request) -> ApiResult {
    add(app, w, EndpointKind::Destination, req).await
}

/// `DELETE …/{sources,destinations}/{id}[?force=true]`.
async fn remove(
    app: Arc<App>,
    w: Writer,
    kind: EndpointKind,
    params: HashMap<String, String>,
    q: HashMap<String, String>,
) -> ApiResult {
    let id = params.get("id").cloned().unwrap_or_default();
    let force = q.get("force").is_some_and(|v| v == "true" || v == "1");
    let (ws, app2, id2) = (w.runner.clone(), app.clone(), id.clone());
    let outcome = blocking(move || {
        Ok(crate::workspace::remove_endpoint(
            ws.open()?.as_mut(),
            &app2.policy,
            kind,
            &id2,
            force,
        )?)
    })
    .await?;
    match outcome {
        crate::workspace::Removed::NotFound => Err(ApiError::not_found(
            "no_endpoint",
            format!("no {} `{id}` in workspace `{}`", kind.noun(), w.ws),
        )),
        crate::workspace::Removed::InUse(users) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "in_use",
            format!(
                "{} `{id}` is still used; change or delete those first, or add ?force=true",
                kind.noun()
            ),
        )
        .with_findings(users.iter().map(crate::report::finding).collect())),
        crate::workspace::Removed::Done => {
            w.runner.kick(Kick::Changed);
            app.publish();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

type Params = Path<HashMap<String, String>>;
type Q = Query<HashMap<String, String>>;

pub async fn remove_source(State(app): State<Arc<App>>, w: Writer, Path(p): Params, Query(q): Q) -> ApiResult {
    remove(app, w, EndpointKind::Source, p, q).await
}

pub async fn remove_destination(State(app): State<Arc<App>>, w: Writer, Path(p): Params, Query(q): Q) -> ApiResult {
    remove(app, w, EndpointKind::Destination, p, q).await
}
