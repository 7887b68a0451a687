//! The routes (docs/serve.md), and what every request goes through: an id (`X-Request-Id`, in
//! error bodies and the log), a body deadline, the draining of unread bodies, and counting.
//!
//! - `/api/v1/…`: the API, bearer tokens (`auth`): workspaces, resources, sources and
//!   destinations, runs.
//! - `/hooks/{provider}/{ws}`: webhooks, signatures (`hooks`).
//! - `/`, `/workspaces/{ws}`, `/events`, `/logout`: the status page, its session (`page`).
//! - `/metrics` (a token for every workspace), `/healthz` (alive), `/readyz` (ready to serve).

use super::error::{ApiError, REQUEST_ID, request_id};
use super::{App, auth, endpoints, hooks, page, resources, workspaces};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use std::sync::Arc;

pub fn router(app: Arc<App>) -> Router {
    let routes = Router::new()
        .route("/api/v1/workspaces", get(workspaces::list))
        .route("/api/v1/workspaces/{ws}/status", get(workspaces::status))
        .route("/api/v1/workspaces/{ws}/log", get(workspaces::log))
        .route("/api/v1/workspaces/{ws}/conflicts", get(workspaces::conflicts))
        .route("/api/v1/workspaces/{ws}/sync", post(workspaces::sync))
        .route("/api/v1/workspaces/{ws}/resync", post(workspaces::resync))
        .route("/api/v1/workspaces/{ws}/runs", get(workspaces::runs))
        .route("/api/v1/workspaces/{ws}/runs/{run}", get(workspaces::run))
        .route("/api/v1/workspaces/{ws}/resources", get(resources::list))
        .route(
            "/api/v1/workspaces/{ws}/resources/{kind}/{*slug}",
            get(resources::get).put(resources::put).delete(resources::delete),
        )
        .route(
            "/api/v1/workspaces/{ws}/sources",
            get(endpoints::list_sources).post(endpoints::add_source),
        )
        .route(
            "/api/v1/workspaces/{ws}/sources/{id}",
            axum::routing::delete(endpoints::remove_source),
        )
        .route(
            "/api/v1/workspaces/{ws}/destinations",
            get(endpoints::list_destinations).post(endpoints::add_destination),
        )
        .route(
            "/api/v1/workspaces/{ws}/destinations/{id}",
            axum::routing::delete(endpoints::remove_destination),
        )
        .route("/hooks/{provider}/{ws}", post(hooks::webhook))
        .route("/", get(page::index).post(page::login))
        .route("/workspaces/{ws}", get(page::workspace))
        .route("/events", get(page::events))
        .route("/logout", put(page::logout).post(page::logout))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready));
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(app.clone(), count))
        .layer(middleware::from_fn(super::drain::drain_unread))
        .layer(middleware::from_fn({
            let timeout = app.opts.body_timeout;
            move |req, next| super::http::body_deadline(timeout, req, next)
        }))
        .layer(middleware::from_fn(with_request_id))
        .with_state(app)
}

/// Give each request an id (`X-Request-Id` on the answer; in error bodies and the log), and log a
/// line per request at debug level: id, client address, method, path, status, time taken.
async fn with_request_id(req: Request, next: Next) -> Response {
    let id = format!(
        "req_{}",
        crate::secret::random_hex(8).unwrap_or_else(|_| "0".repeat(16))
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
    ApiError::no_route()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Count every request by route and status; a failure of the service's own is logged as well.
async fn count(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    // Counted, not logged one line each (an attack's thousands of refusals would drown the log).
    app.metrics.request(&route, status);
    if status >= 500 {
        let id = request_id().unwrap_or_default();
        tracing::warn!(%method, route, status, request_id = id, "request failed");
    }
    res
}

/// `/readyz`: 200 when the service can do its work (its databases open, not stopping), else 503
/// with what is wrong — for a load balancer, which should send requests elsewhere meanwhile.
async fn ready(State(app): State<Arc<App>>) -> Response {
    if *app.stop.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping\n").into_response();
    }
    let app2 = app.clone();
    let checked = tokio::task::spawn_blocking(move || app2.ready()).await;
    match checked {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!("not ready: {e:#}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: a store cannot be read; the log says which\n",
            )
                .into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response(),
    }
}

/// `/metrics` on the service's address: the series name every workspace, so it takes a token for
/// every workspace (`--metrics-listen` serves them without one on an address of their own).
async fn metrics(State(app): State<Arc<App>>, auth::Caller(token): auth::Caller) -> Result<Response, ApiError> {
    if !token.scopes.is_empty() {
        return Err(ApiError::forbidden(
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
