//! What the service answers when a request cannot be done: `{"error": {"code", "message",
//! "request_id"}}` with a fitting status (and the findings, for a resource that is not valid). What
//! went wrong inside (paths, a database's words) goes to the log under the request id, never to the
//! client.

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

tokio::task_local! {
    /// The id of the request being answered (`X-Request-Id`), for errors and the log.
    pub(super) static REQUEST_ID: String;
}

/// The id of the request being answered, if any.
pub(super) fn request_id() -> Option<String> {
    REQUEST_ID.try_with(String::clone).ok()
}

/// An error as the API answers it.
#[derive(Debug)]
pub struct ApiError {
    pub(super) status: StatusCode,
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

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// The answer for a route that does not exist.
    pub fn no_route() -> ApiError {
        ApiError::not_found("not_found", "no such route; the API is under /api/v1 (docs/serve.md)")
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// The findings that explain the error (each as `check --format json` writes one).
    pub fn with_findings(mut self, findings: Vec<Value>) -> ApiError {
        self.diagnostics = Some(findings);
        self
    }

    /// Something failed inside the service: the client is told so and given the request id; the
    /// detail goes to the log under that id.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
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
        if crate::store::unavailable(&e) {
            // Not the request's fault, nor a bug: the store is away for a moment.
            return ApiError {
                detail: Some(format!("{e:#}")),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the store cannot be reached just now; send the request again in a few seconds",
                )
            };
        }
        ApiError::internal(format!("{e:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let id = request_id();
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

pub type ApiResult = Result<Response, ApiError>;

pub fn json_response(status: StatusCode, v: Value) -> Response {
    (status, axum::Json(v)).into_response()
}

/// Run blocking work (SQLite, Git, components) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the request's work stopped unexpectedly: {e}")))?
}

/// Read a body of at most `limit` bytes: 413 beyond, 408 when it does not arrive in time.
pub async fn body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| body_error(&e, limit))
}

/// What a body that could not be read gets: 408 past its deadline, else 413.
pub fn body_error(e: &axum::Error, limit: usize) -> ApiError {
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

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!("the body is over the {} KiB limit", limit >> 10),
    )
}

/// A JSON body that does not parse: 400, with the finding at serde's line and column.
pub fn malformed_json(e: &serde_json::Error) -> ApiError {
    let message = format!("the body is not valid JSON: {e}");
    let finding = json!({
        "code": gitsync_core::diag::codes::YAML_SYNTAX.id,
        "severity": "error",
        "message": message,
        "path": "<body>",
        "line": e.line(),
        "column": e.column(),
    });
    ApiError::bad_request("malformed", message).with_findings(vec![finding])
}
