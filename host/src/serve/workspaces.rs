//! `/api/v1/workspaces…`: the workspaces a token may see, where each stands, its log and kept
//! conflicts, and the passes asked for through the API (runs).

use super::App;
use super::auth::{Caller, Reader, Writer};
use super::error::{ApiError, ApiResult, blocking, body, json_response, malformed_json};
use super::paging::{Page, number_key};
use super::runner::Runner;
use crate::author::Author;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub async fn list(
    State(app): State<Arc<App>>,
    Caller(token): Caller,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult {
    let page = Page::from_query(&q, 100)?;
    let app2 = app.clone();
    let list = blocking(move || {
        Ok(app2
            .store
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
    page.answer(&uri, list, |w| w["id"].as_str().unwrap_or_default().to_string())
}

/// Why a workspace needs attention or is failing: its last pass's one-line summary (none when it is
/// fine, running, or has had no pass).
pub fn attention_reason(r: Option<&Runner>) -> Option<String> {
    let (last, running) = r?.snapshot();
    last.filter(|p| !running && p.outcome != "ok").map(|p| p.summary)
}

/// One word for a workspace's state: `running`, `idle` (last pass fine or none yet), `attention`,
/// `failing`.
pub fn status_word(r: Option<&Runner>) -> &'static str {
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

pub async fn status(w: Reader) -> ApiResult {
    let ws = w.runner.clone();
    // The pass state first, the store after: a client told "not running" then reads a store that
    // holds everything the last pass recorded (the other order could show a pass ended with its
    // changes still queued).
    let (last, running) = w.runner.snapshot();
    let s = blocking(move || Ok(crate::workspace::status(ws.open()?.as_ref())?)).await?;
    let mut v = serde_json::to_value(&s).map_err(ApiError::internal)?;
    v["last_pass"] = serde_json::to_value(last).map_err(ApiError::internal)?;
    v["running"] = Value::Bool(running);
    // With replicas sharing the store: the one that runs this workspace's passes.
    if let Some(owner) = w.runner.owner() {
        v["served_by"] = Value::String(owner);
    }
    Ok(json_response(StatusCode::OK, v))
}

/// The change log, newest first.
pub async fn log(w: Reader, uri: Uri, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let page = Page::from_query(&q, 50)?;
    let before = match &page.after {
        Some(seq) => Some(
            seq.parse::<i64>()
                .map_err(|_| ApiError::bad_request("bad_cursor", "`cursor` is not one this service gave"))?,
        ),
        None => None,
    };
    let (ws, limit) = (w.runner.clone(), page.limit + 1);
    let entries = blocking(move || Ok(ws.open()?.log_before(before, limit)?)).await?;
    page.answer_page(&uri, entries, |e| e.seq.to_string())
}

/// The losing versions of conflicts, kept, oldest first.
pub async fn conflicts(w: Reader, uri: Uri, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let page = Page::from_query(&q, 100)?;
    let ws = w.runner.clone();
    let all = blocking(move || Ok(ws.open()?.conflicts()?)).await?;
    page.answer(&uri, all, |c| number_key(c.id))
}

/// `202 Accepted` for a run, with where to follow it.
fn accepted(ws: &str, run: &super::runner::Run) -> ApiResult {
    let mut res = json_response(
        StatusCode::ACCEPTED,
        json!({"run": run.id, "started": run.kind, "state": run.state}),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/workspaces/{ws}/runs/{}", run.id)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// `POST …/sync`: a pass, now. The answer names its run.
pub async fn sync(w: Writer) -> ApiResult {
    let run = w.runner.ask(false, &w.token.author, None);
    accepted(&w.ws, &run)
}

/// `POST …/resync` with `{"confirm": true}`: a full resync (every resource written to the branch in
/// one commit, authored by the token's person), then the branch applied back.
pub async fn resync(w: Writer, req: Request) -> ApiResult {
    let bytes = body(req.into_body(), 4096).await?;
    let confirmed = if bytes.iter().all(u8::is_ascii_whitespace) {
        false
    } else {
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| malformed_json(&e))?;
        v.get("confirm") == Some(&Value::Bool(true))
    };
    if !confirmed {
        return Err(ApiError::bad_request(
            "confirm_required",
            "a full resync rewrites every resource on the branch in one commit: send {\"confirm\": true} to go ahead",
        ));
    }
    let author = Author::parse(&w.token.author)?;
    let run = w.runner.ask(true, &w.token.author, Some(author));
    accepted(&w.ws, &run)
}

/// The runs asked for since the service started, oldest first.
pub async fn runs(w: Reader, uri: Uri, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    let page = Page::from_query(&q, 100)?;
    page.answer(&uri, w.runner.runs(), |r| number_key(r.seq as i64))
}

/// `GET …/runs/{run}`: where a run stands; its pass once it has ended.
pub async fn run(w: Reader, Path(params): Path<HashMap<String, String>>) -> ApiResult {
    let id = params.get("run").cloned().unwrap_or_default();
    match w.runner.run(&id) {
        Some(run) => Ok(json_response(
            StatusCode::OK,
            serde_json::to_value(run).map_err(ApiError::internal)?,
        )),
        None => Err(ApiError::not_found(
            "no_run",
            format!(
                "no run `{id}` in workspace `{}`: runs are kept while the service runs (the last 1000 per workspace)",
                w.ws
            ),
        )),
    }
}
