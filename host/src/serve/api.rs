//! The HTTP routes (docs/serve.md): the API under `/api/v1` (bearer tokens), the webhooks under
//! `/hooks` (signatures), the status page, `/metrics` and `/healthz`. Every error is
//! `{"error": {"code", "message", "request_id"}}` with a fitting status; bodies are bounded. What
//! went wrong inside (paths, a database's words) goes to the log under the request id, never to the
//! client.

use super::hooks::{self, Provider};
use super::runner::Kick;
use super::{App, page};
use crate::workspace::access::{AccessStore, Token};
use crate::workspace::edit;
use crate::workspace::store::{Author, Endpoint, EndpointKind, SqliteStore, WorkspaceStore, layout_path};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The most a resource body may be.
pub const MAX_RESOURCE_BODY: usize = 1 << 20;
/// How much of a webhook delivery is kept to read its branch from (the rest is only signed).
const HOOK_KEPT: usize = 1 << 20;
/// Other bodies (sources, destinations, the page's token form) are small.
const MAX_SMALL_BODY: usize = 64 << 10;

tokio::task_local! {
    /// The id of the request being answered (`X-Request-Id`), for errors and the log.
    static REQUEST_ID: String;
}

/// An error as the API answers it.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    diagnostics: Option<Vec<Value>>,
    /// For the log only: what failed inside.
    detail: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            diagnostics: None,
            detail: None,
        }
    }

    pub fn status_code(&self) -> StatusCode {
        self.status
    }

    /// Something failed inside the service: the client is told so and given the request id; the
    /// detail goes to the log under that id.
    pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError {
            detail: Some(e.to_string()),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the service could not do this; its log has the detail under this request id",
            )
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let id = REQUEST_ID.try_with(String::clone).ok();
        if let Some(detail) = &self.detail {
            tracing::error!(request_id = id.as_deref().unwrap_or("-"), "internal error: {detail}");
        }
        let mut body = json!({"error": {"code": self.code, "message": self.message, "request_id": id}});
        if let Some(d) = self.diagnostics {
            body["diagnostics"] = Value::Array(d);
        }
        (self.status, axum::Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn json_response(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// Run blocking work (SQLite, Git, components) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request's work stopped unexpectedly: {e}")))?
}

/// Read a body of at most `limit` bytes: 413 beyond, 408 when it does not arrive in time.
pub(crate) async fn body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| body_error(&e, limit))
}

/// What a body that could not be read gets: 408 past its deadline, else 413.
fn body_error(e: &axum::Error, limit: usize) -> ApiError {
    // The body layers each wrap the error: look through all of them.
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(t) = c.downcast_ref::<super::http::TooSlow>() {
            return ApiError::new(StatusCode::REQUEST_TIMEOUT, "too_slow", t.to_string());
        }
        cause = c.source();
    }
    too_large(limit)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the body is over the {} KiB limit", limit >> 10),
    )
}

/// Read a webhook body of at most `limit` bytes as it arrives: each piece goes to `signer` (when
/// it is signed), and only the first [`HOOK_KEPT`] bytes are kept, so a large delivery costs no
/// more memory than a small one.
async fn hook_body(body: Body, limit: usize, mut signer: Option<&mut hooks::Signer>) -> Result<Vec<u8>, ApiError> {
    use http_body::Body as _;
    let mut body = body;
    let (mut kept, mut total) = (Vec::new(), 0usize);
    while let Some(frame) = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| body_error(&e, limit))?;
        let Some(data) = frame.data_ref() else { continue };
        total += data.len();
        if total > limit {
            return Err(too_large(limit));
        }
        if let Some(s) = signer.as_deref_mut() {
            s.update(data);
        }
        let room = HOOK_KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
    }
    Ok(kept)
}

pub fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/api/v1/workspaces", get(list_workspaces))
        .route("/api/v1/workspaces/{ws}/status", get(status))
        .route("/api/v1/workspaces/{ws}/resources", get(list_resources))
        .route(
            "/api/v1/workspaces/{ws}/resources/{kind}/{*slug}",
            get(get_resource).put(put_resource).delete(delete_resource),
        )
        .route("/api/v1/workspaces/{ws}/sources", post(add_source))
        .route("/api/v1/workspaces/{ws}/destinations", post(add_destination))
        .route("/api/v1/workspaces/{ws}/log", get(log))
        .route("/api/v1/workspaces/{ws}/conflicts", get(conflicts))
        .route("/api/v1/workspaces/{ws}/sync", post(start_sync))
        .route("/api/v1/workspaces/{ws}/resync", post(start_resync))
        .route("/hooks/{provider}/{ws}", post(webhook))
        .route("/", get(page::index).post(page::login))
        .route("/workspaces/{ws}", get(page::workspace))
        .route("/events", get(page::events))
        .route("/logout", put(page::logout).post(page::logout))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }));
    api.fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), count))
        .layer(middleware::from_fn(super::drain::drain_unread))
        .layer(middleware::from_fn({
            let timeout = app.opts.body_timeout;
            move |req, next| super::http::body_deadline(timeout, req, next)
        }))
        .layer(middleware::from_fn(request_id))
        .with_state(app)
}

/// Give each request an id (`X-Request-Id` on the answer; in error bodies and the log), and log a
/// line per request at debug level: id, client address, method, path, status, time taken.
async fn request_id(req: Request, next: Next) -> Response {
    let id = format!(
        "req_{}",
        crate::workspace::access::random_hex(8).unwrap_or_else(|_| "0".repeat(16))
    );
    let client = req
        .extensions()
        .get::<super::http::Client>()
        .map_or_else(|| "-".to_string(), |c| c.0.to_string());
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let started = std::time::Instant::now();
    let mut res = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    tracing::debug!(
        request_id = %id,
        client,
        %method,
        path,
        status = res.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such route; the API is under /api/v1 (docs/serve.md)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Count every request by route and status, and log the ones refused.
async fn count(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    // Counted, not logged one line each (an attack's thousands of refusals would drown the log);
    // a failure of the service's own is logged where it happens, under the request id.
    app.metrics.request(&route, status);
    if status >= 500 {
        let id = REQUEST_ID.try_with(String::clone).unwrap_or_default();
        tracing::warn!(%method, route, status, request_id = id, "request failed");
    }
    res
}

/// The token of `Authorization: Bearer <token>`; the scheme is matched in any case (RFC 9110).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string())
}

/// The value of cookie `name`, if the request carries it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        .map(String::from)
}

/// The token of an API request: `Authorization: Bearer` only. The status page's cookie is not
/// taken here, so a page on another site cannot make a signed-in browser write through the API.
pub async fn authenticate(app: &App, headers: &HeaderMap) -> Result<Token, ApiError> {
    token_of(app, bearer(headers)).await
}

/// The token of a status-page request: its session cookie, or a bearer token (a script watching
/// `/events`).
pub async fn authenticate_page(app: &App, headers: &HeaderMap) -> Result<Token, ApiError> {
    let Some(session) = cookie(headers, page::COOKIE) else {
        return token_of(app, bearer(headers)).await;
    };
    let root = app.data.root().to_path_buf();
    let found = blocking(move || Ok(AccessStore::open(&root)?.session(&session)?)).await?;
    found.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the session has ended; sign in again",
        )
    })
}

async fn token_of(app: &App, secret: Option<String>) -> Result<Token, ApiError> {
    let Some(secret) = secret else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send `Authorization: Bearer <token>` (`gitsync token create` makes one)",
        ));
    };
    let root = app.data.root().to_path_buf();
    let found = blocking(move || Ok(AccessStore::open(&root)?.authenticate(&secret)?)).await?;
    found.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the token is unknown or revoked",
        )
    })
}

/// The workspace `ws`, for this request's token: 401, 403 (another workspace's token, or a write
/// with a read-only one), 404 (no such workspace, said only to a token that may see every one).
async fn authorize(
    app: &Arc<App>,
    headers: &HeaderMap,
    ws: &str,
    write: bool,
) -> Result<(Token, Arc<super::runner::Runner>), ApiError> {
    let token = authenticate(app, headers).await?;
    if !token.may_read(ws) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("this token is not for workspace `{ws}`"),
        ));
    }
    if write && !token.may_write(ws) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token is read-only",
        ));
    }
    let app2 = app.clone();
    let ws2 = ws.to_string();
    let runner = blocking(move || Ok(app2.runner(&ws2))).await?;
    let runner = runner.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "no_workspace",
            format!("no workspace `{ws}` here"),
        )
    })?;
    Ok((token, runner))
}

async fn list_workspaces(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    let token = authenticate(&app, &headers).await?;
    let app2 = app.clone();
    let list = blocking(move || {
        Ok(app2
            .data
            .workspaces()?
            .into_iter()
            .filter(|w| token.may_read(&w.id))
            .map(|w| {
                let r = app2.runner(&w.id);
                json!({"id": w.id, "status": status_word(r.as_deref()), "reason": attention_reason(r.as_deref())})
            })
            .collect::<Vec<Value>>())
    })
    .await?;
    Ok(json_response(StatusCode::OK, Value::Array(list)))
}

/// Why a workspace needs attention or is failing: its last pass's one-line summary (none when it is
/// fine, running, or has had no pass).
pub fn attention_reason(r: Option<&super::runner::Runner>) -> Option<String> {
    let (last, running) = r?.snapshot();
    last.filter(|p| !running && p.outcome != "ok").map(|p| p.summary)
}

/// One word for a workspace's state: `running`, `idle` (last pass fine or none yet), `attention`,
/// `failing`.
pub fn status_word(r: Option<&super::runner::Runner>) -> &'static str {
    let Some(r) = r else { return "idle" };
    let (last, running) = r.snapshot();
    if running {
        return "running";
    }
    match last.map(|p| p.outcome) {
        Some(o) if o == "failed" => "failing",
        Some(o) if o == "attention" => "attention",
        _ => "idle",
    }
}

async fn status(State(app): State<Arc<App>>, headers: HeaderMap, Path(ws): Path<String>) -> ApiResult {
    let (_, runner) = authorize(&app, &headers, &ws, false).await?;
    let dir = runner.dir.clone();
    // The pass state first, the store after: a client told "not running" then reads a store that
    // holds everything the last pass recorded (the other order could show a pass ended with its
    // changes still queued).
    let (last, running) = runner.snapshot();
    let s = blocking(move || Ok(crate::workspace::status(&SqliteStore::open(&dir)?)?)).await?;
    let mut v = serde_json::to_value(&s).map_err(ApiError::internal)?;
    v["last_pass"] = serde_json::to_value(last).map_err(ApiError::internal)?;
    v["running"] = Value::Bool(running);
    Ok(json_response(StatusCode::OK, v))
}

async fn list_resources(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (_, runner) = authorize(&app, &headers, &ws, false).await?;
    let kind = q.get("kind").cloned();
    if let Some(k) = &kind {
        layout_path(k, "x").map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_kind", e.to_string()))?;
    }
    let dir = runner.dir.clone();
    let list = blocking(move || Ok(SqliteStore::open(&dir)?.list(kind.as_deref())?)).await?;
    let list: Vec<Value> = list
        .into_iter()
        .map(|r| json!({"kind": r.kind, "slug": r.slug, "updated_at": r.updated_at, "updated_by": r.updated_by}))
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(list)))
}

/// Kind and slug checked by the layout's rules before anything is touched: 400 when wrong.
fn checked(kind: &str, slug: &str) -> Result<(), ApiError> {
    layout_path(kind, slug)
        .map(|_| ())
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "bad_path", e.to_string()))
}

async fn get_resource(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((ws, kind, slug)): Path<(String, String, String)>,
) -> ApiResult {
    let (_, runner) = authorize(&app, &headers, &ws, false).await?;
    checked(&kind, &slug)?;
    let (dir, app2) = (runner.dir.clone(), app.clone());
    let (k, s) = (kind.clone(), slug.clone());
    let found = blocking(move || Ok(edit::get_json(&SqliteStore::open(&dir)?, &app2.policies, &k, &s)?)).await?;
    match found {
        Some(v) => Ok(json_response(StatusCode::OK, v)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_resource",
            format!("no {kind} `{slug}` in workspace `{ws}`"),
        )),
    }
}

/// A JSON body that does not parse: 400 with serde's line and column.
fn malformed_json(e: &serde_json::Error) -> ApiError {
    let mut err = ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed",
        format!("the body is not valid JSON: {e}"),
    );
    err.diagnostics = Some(vec![json!({
        "code": "GS002",
        "severity": "error",
        "message": format!("the body is not valid JSON: {e}"),
        "path": "<body>",
        "line": e.line(),
        "column": e.column(),
    })]);
    err
}

async fn put_resource(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((ws, kind, slug)): Path<(String, String, String)>,
    req: Request,
) -> ApiResult {
    let (token, runner) = authorize(&app, &headers, &ws, true).await?;
    checked(&kind, &slug)?;
    let bytes = body(req.into_body(), MAX_RESOURCE_BODY).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/yaml")
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/json" => {
            serde_json::from_slice::<Value>(&bytes).map_err(|e| malformed_json(&e))?;
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
    let author = Author::parse(&token.author)?;
    let (dir, app2) = (runner.dir.clone(), app.clone());
    let (k, s) = (kind.clone(), slug.clone());
    let outcome = blocking(move || {
        let mut store = SqliteStore::open(&dir)?;
        let put = edit::put(&mut store, &app2.policy, &k, &s, &bytes, &author)?;
        let view = match &put {
            edit::Put::Stored { .. } => edit::get_json(&store, &app2.policies, &k, &s)?,
            edit::Put::Invalid(_) => None,
        };
        let (seq, _) = store.queue_mark()?;
        Ok((put, view, seq))
    })
    .await?;
    match outcome {
        (edit::Put::Stored { created, .. }, Some(view), seq) => {
            runner.saw(seq);
            runner.kick(Kick::Changed);
            app.publish();
            Ok(json_response(
                if created { StatusCode::CREATED } else { StatusCode::OK },
                view,
            ))
        }
        (edit::Put::Invalid(diags), _, _) => {
            let syntax = diags.iter().any(|d| {
                d.code == gitsync_core::diag::codes::YAML_SYNTAX.id
                    || d.code == gitsync_core::diag::codes::INVALID_UTF8.id
            });
            let mut err = if syntax {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    "the body does not parse as YAML or JSON",
                )
            } else {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid",
                    format!("{kind} {slug} is not valid; nothing was stored"),
                )
            };
            err.diagnostics = Some(diags.iter().map(crate::report::finding).collect());
            Err(err)
        }
        (edit::Put::Stored { .. }, None, _) => {
            Err(ApiError::internal("the resource was stored but cannot be read back"))
        }
    }
}

async fn delete_resource(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((ws, kind, slug)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (token, runner) = authorize(&app, &headers, &ws, true).await?;
    checked(&kind, &slug)?;
    let force = q.get("force").is_some_and(|v| v == "true" || v == "1");
    let author = Author::parse(&token.author)?;
    let (dir, app2) = (runner.dir.clone(), app.clone());
    let (k, s) = (kind.clone(), slug.clone());
    let outcome = blocking(move || {
        let mut store = SqliteStore::open(&dir)?;
        if store.get(&k, &s)?.is_none() {
            return Ok(None);
        }
        if !force {
            let state = crate::workspace::state(&store, "", crate::workspace::Held::All)?;
            let broken = app2.policy.plan_delete(&state, &k, &s).map_err(anyhow::Error::from)?;
            if !broken.is_empty() {
                return Ok(Some(Err(broken)));
            }
        }
        store.delete(&k, &s, &author)?;
        Ok(Some(Ok(store.queue_mark()?.0)))
    })
    .await?;
    match outcome {
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_resource",
            format!("no {kind} `{slug}` in workspace `{ws}`"),
        )),
        Some(Err(broken)) => {
            let mut err = ApiError::new(
                StatusCode::CONFLICT,
                "in_use",
                format!("{kind} {slug} is still used; change or delete those first, or add ?force=true"),
            );
            err.diagnostics = Some(broken.iter().map(crate::report::finding).collect());
            Err(err)
        }
        Some(Ok(seq)) => {
            runner.saw(seq);
            runner.kick(Kick::Changed);
            app.publish();
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

#[derive(serde::Deserialize)]
struct NewEndpoint {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

async fn add_endpoint(app: Arc<App>, headers: HeaderMap, ws: String, kind: EndpointKind, req: Request) -> ApiResult {
    let (_, runner) = authorize(&app, &headers, &ws, true).await?;
    let bytes = body(req.into_body(), MAX_SMALL_BODY).await?;
    let e: NewEndpoint = serde_json::from_slice(&bytes).map_err(|e| malformed_json(&e))?;
    let dir = runner.dir.clone();
    let endpoint = Endpoint {
        id: e.id.clone(),
        name: e.name.clone(),
        kind: e.kind.clone(),
    };
    endpoint
        .check()
        .map_err(|why| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", why))?;
    let added = blocking(move || {
        let mut store = SqliteStore::open(&dir)?;
        if store.endpoints(kind)?.iter().any(|x| x.id == endpoint.id) {
            return Ok(false);
        }
        store.add_endpoint(kind, &endpoint)?;
        Ok(true)
    })
    .await?;
    if !added {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "exists",
            format!("`{}` already exists", e.id),
        ));
    }
    // The manifest changes: a pass rewrites it.
    runner.kick(Kick::Changed);
    app.publish();
    Ok(json_response(
        StatusCode::CREATED,
        json!({"id": e.id, "name": e.name, "type": e.kind}),
    ))
}

async fn add_source(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(ws): Path<String>,
    req: Request,
) -> ApiResult {
    add_endpoint(app, headers, ws, EndpointKind::Source, req).await
}

async fn add_destination(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(ws): Path<String>,
    req: Request,
) -> ApiResult {
    add_endpoint(app, headers, ws, EndpointKind::Destination, req).await
}

async fn log(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let (_, runner) = authorize(&app, &headers, &ws, false).await?;
    let limit = match q.get("limit") {
        None => 50,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_limit",
                    "`limit` is a number from 1 to 1000",
                )
            })?,
    };
    let dir = runner.dir.clone();
    let entries = blocking(move || Ok(SqliteStore::open(&dir)?.log(limit)?)).await?;
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_value(entries).map_err(ApiError::internal)?,
    ))
}

async fn conflicts(State(app): State<Arc<App>>, headers: HeaderMap, Path(ws): Path<String>) -> ApiResult {
    let (_, runner) = authorize(&app, &headers, &ws, false).await?;
    let dir = runner.dir.clone();
    let all = blocking(move || Ok(SqliteStore::open(&dir)?.conflicts()?)).await?;
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_value(all).map_err(ApiError::internal)?,
    ))
}

async fn start_sync(State(app): State<Arc<App>>, headers: HeaderMap, Path(ws): Path<String>) -> ApiResult {
    let (_, runner) = authorize(&app, &headers, &ws, true).await?;
    runner.kick(Kick::Now);
    Ok(json_response(StatusCode::ACCEPTED, json!({"started": "sync"})))
}

async fn start_resync(State(app): State<Arc<App>>, headers: HeaderMap, Path(ws): Path<String>) -> ApiResult {
    let (_, runner) = authorize(&app, &headers, &ws, true).await?;
    runner.kick(Kick::Resync);
    Ok(json_response(StatusCode::ACCEPTED, json!({"started": "resync"})))
}

/// `POST /hooks/{github,gitlab,generic}/{ws}`: a valid delivery for the connected branch starts a
/// pass; another branch, a ping or a redelivery starts nothing; a bad or missing signature is 401.
async fn webhook(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((provider, ws)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let Some(p) = Provider::parse(&provider) else {
        return Err(not_found().await);
    };
    let result = hook(&app, &headers, p, &ws, req).await;
    let word = match &result {
        Ok((_, word, _)) => *word,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => "bad_signature",
        Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        Err(_) => "refused",
    };
    app.metrics.webhook(p.name(), word);
    let (started, word, event) = result?;
    let mut answer = json!({"started": started, "result": word});
    if let Some(event) = event {
        answer["event"] = json!(event);
    }
    Ok(json_response(StatusCode::ACCEPTED, answer))
}

async fn hook(
    app: &Arc<App>,
    headers: &HeaderMap,
    p: Provider,
    ws: &str,
    req: Request,
) -> Result<(bool, &'static str, Option<String>), ApiError> {
    let root = app.data.root().to_path_buf();
    let ws2 = ws.to_string();
    let secret = blocking(move || Ok(AccessStore::open(&root)?.webhook_secret(&ws2)?)).await?;
    let unauthorized = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "bad_signature",
            "missing or wrong signature (set the secret with `gitsync webhook secret`)",
        )
    };
    // A workspace without a secret (or none at all) answers as a wrong signature does: nothing about
    // which workspaces exist is told to an unsigned request.
    let Some(secret) = secret else {
        return Err(unauthorized());
    };
    let header_name = match p {
        Provider::GitHub => "x-hub-signature-256",
        Provider::GitLab => "x-gitlab-token",
        Provider::Generic => "x-signature",
    };
    // Checked before the body is read where the header alone can be (GitLab's token, a signature
    // header that is missing or malformed); a signature over the body as it arrives.
    let given = headers.get(header_name).map(HeaderValue::as_bytes);
    let limit = app.opts.max_webhook_body;
    let bytes = match p {
        Provider::GitLab => {
            if !hooks::verify(p, &secret, given, b"") {
                return Err(unauthorized());
            }
            hook_body(req.into_body(), limit, None).await?
        }
        Provider::GitHub | Provider::Generic => {
            let Some(given) = given.filter(|g| g.len() == 71 && g.starts_with(b"sha256=")) else {
                return Err(unauthorized());
            };
            let mut signer = hooks::Signer::new(&secret);
            let bytes = hook_body(req.into_body(), limit, Some(&mut signer)).await?;
            if !crate::workspace::access::constant_time_eq(given, signer.finish().as_bytes()) {
                return Err(unauthorized());
            }
            bytes
        }
    };
    let app2 = app.clone();
    let ws2 = ws.to_string();
    let Some(runner) = blocking(move || Ok(app2.runner(&ws2))).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_workspace",
            format!("no workspace `{ws}` here"),
        ));
    };
    let event = headers
        .get("x-github-event")
        .or_else(|| headers.get("x-gitlab-event"))
        .and_then(|v| v.to_str().ok());
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let pushed = match hooks::classify(p, event, content_type, &bytes) {
        hooks::Event::Ping => return Ok((false, "ping", None)),
        hooks::Event::Ignored(what) => return Ok((false, "ignored", Some(what))),
        hooks::Event::Push { branch } => branch,
    };
    let delivery = headers
        .get("x-github-delivery")
        .or_else(|| headers.get("x-gitlab-event-uuid"))
        .or_else(|| headers.get("x-delivery"))
        .and_then(|v| v.to_str().ok())
        .map(|d| format!("{}:{ws}:{d}", p.name()));
    if let Some(d) = &delivery
        && app.seen_delivery(d)
    {
        return Ok((false, "redelivery", None));
    }
    let dir = runner.dir.clone();
    let branch = blocking(move || Ok(SqliteStore::open(&dir)?.setting("branch")?)).await?;
    match (pushed, branch) {
        (Some(pushed), Some(ours)) if pushed != ours => Ok((false, "other_branch", None)),
        _ => {
            runner.kick(Kick::Now);
            Ok((true, "started", None))
        }
    }
}

/// `/metrics` on the service's address: the series name every workspace, so it takes a token for
/// every workspace (`--metrics-listen` serves them without one on an address of their own).
async fn metrics(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let token = authenticate(&app, &headers).await?;
    if !token.scopes.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "metrics cover every workspace: use a token without --scope, or scrape --metrics-listen",
        ));
    }
    Ok(metrics_text(&app))
}

fn metrics_text(app: &App) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        app.metrics.render(),
    )
        .into_response()
}

/// What `--metrics-listen` serves: `/metrics` without a token, nothing else.
pub fn metrics_router(app: Arc<App>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move { metrics_text(&app) }),
        )
        .fallback(not_found)
        .with_state(app)
}
