//! The status page: server-rendered HTML from the binary, readable without JavaScript. It asks for a
//! token first (kept in an `HttpOnly`, `SameSite=Strict` cookie), lists the workspaces the token
//! may see, and shows one page per workspace. It keeps itself current: a small script listens to
//! `/events` (server-sent events, one per change) and swaps in the page's new content; without
//! JavaScript, the page refreshes itself every 10 seconds.

use super::App;
use super::api::{ApiError, authenticate, presented, status_word};
use crate::workspace::access::{AccessStore, Token};
use crate::workspace::store::{SqliteStore, WorkspaceStore};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::Arc;

/// The cookie holding the page's token.
pub const COOKIE: &str = "gitsync_token";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str =
    "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1f24}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #d8dee4;vertical-align:top}
code{font-size:.9em}.ok{color:#1a7f37}.attention{color:#9a6700}.failed,.failing{color:#cf222e}.muted{color:#57606a}
form{margin:2rem 0}input[type=password]{width:28rem;padding:.3rem}";

const SCRIPT: &str = "(function(){if(!window.EventSource)return;var s=new EventSource('/events');
s.onmessage=function(){fetch(location.href,{credentials:'same-origin'}).then(function(r){return r.text()}).then(function(t){
var d=new DOMParser().parseFromString(t,'text/html');var m=d.getElementById('main');if(m){document.getElementById('main').replaceWith(m)}})}})();";

fn html(title: &str, main: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width\"><title>{} · gitsync</title><style>{STYLE}</style><noscript><meta http-equiv=refresh content=10></noscript></head><body><div id=main>{main}</div><script>{SCRIPT}</script></body></html>",
        esc(title)
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-frame-options"), "DENY"),
            (
                header::HeaderName::from_static("content-security-policy"),
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'",
            ),
        ],
        body,
    )
        .into_response()
}

fn login_form(message: Option<&str>) -> Response {
    let note = message.map_or(String::new(), |m| format!("<p class=failed>{}</p>", esc(m)));
    let mut r = html(
        "sign in",
        &format!(
            "<h1>gitsync</h1>{note}<form method=post action=/><label>API token<br><input type=password name=token autocomplete=off autofocus></label> <button>Open</button></form><p class=muted>Make a token with <code>gitsync --data DIR token create --as \"Name &lt;email&gt;\"</code>.</p>"
        ),
    );
    if message.is_some() {
        *r.status_mut() = StatusCode::UNAUTHORIZED;
    }
    r
}

/// The token of a page request, if it carries a valid one.
async fn viewer(app: &App, headers: &HeaderMap) -> Result<Option<Token>, ApiError> {
    if presented(headers).is_none() {
        return Ok(None);
    }
    match authenticate(app, headers).await {
        Ok(t) => Ok(Some(t)),
        Err(e) if e_is_unauthorized(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

fn e_is_unauthorized(e: &ApiError) -> bool {
    e.status_code() == StatusCode::UNAUTHORIZED
}

pub async fn index(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(token) = viewer(&app, &headers).await? else {
        return Ok(login_form(None));
    };
    let app2 = app.clone();
    let all = tokio::task::spawn_blocking(move || {
        app2.data
            .workspaces()
            .map(|all| all.into_iter().map(|w| (app2.runner(&w.id), w)).collect::<Vec<_>>())
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    let mut rows = String::new();
    for (r, w) in all.iter().filter(|(_, w)| token.may_read(&w.id)) {
        let word = status_word(r.as_deref());
        let last = r
            .as_ref()
            .and_then(|r| r.last_pass())
            .map_or("no pass yet".to_string(), |p| format!("{} at {}", p.outcome, p.at));
        let _ = write!(
            rows,
            "<tr><td><a href=\"/workspaces/{id}\">{id}</a></td><td class={word}>{word}</td><td>{}</td></tr>",
            esc(&last),
            id = esc(&w.id)
        );
    }
    Ok(html(
        "workspaces",
        &format!(
            "<h1>gitsync</h1><p class=muted>signed in as {}</p><table><tr><th>workspace</th><th>state</th><th>last pass</th></tr>{rows}</table><form method=post action=/logout><button>Sign out</button></form>",
            esc(&token.author)
        ),
    ))
}

/// The token form's answer: a valid token is set as the page's cookie.
pub async fn login(State(app): State<Arc<App>>, req: Request) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(req.into_body(), 4096)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "the form is over 4 KiB"))?;
    let form = String::from_utf8_lossy(&bytes);
    let token = form
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(|v| percent_decode(v).trim().to_string())
        .unwrap_or_default();
    // Only token characters go into a cookie (no `;` or line breaks smuggled in).
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Ok(login_form(Some("That is not a gitsync token.")));
    }
    let root = app.data.root().to_path_buf();
    let t2 = token.clone();
    let found = tokio::task::spawn_blocking(move || AccessStore::open(&root)?.authenticate(&t2))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    if found.is_none() {
        return Ok(login_form(Some("The token is unknown or revoked.")));
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (
                header::SET_COOKIE,
                format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"),
            ),
        ],
    )
        .into_response())
}

pub async fn logout() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
            ),
        ],
    )
        .into_response()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub async fn workspace(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(ws): Path<String>,
) -> Result<Response, ApiError> {
    let Some(token) = viewer(&app, &headers).await? else {
        return Ok(login_form(None));
    };
    if !token.may_read(&ws) {
        let mut r = html(
            "forbidden",
            "<h1>gitsync</h1><p class=failed>This token is not for that workspace.</p><p><a href=/>All workspaces</a></p>",
        );
        *r.status_mut() = StatusCode::FORBIDDEN;
        return Ok(r);
    }
    let app2 = app.clone();
    let ws2 = ws.clone();
    let Some(runner) = tokio::task::spawn_blocking(move || app2.runner(&ws2))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
    else {
        let mut r = html(
            "not found",
            "<h1>gitsync</h1><p class=failed>No such workspace.</p><p><a href=/>All workspaces</a></p>",
        );
        *r.status_mut() = StatusCode::NOT_FOUND;
        return Ok(r);
    };
    let dir = runner.dir.clone();
    let (status, log, conflicts) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let store = SqliteStore::open(&dir)?;
        Ok((crate::workspace::status(&store)?, store.log(200)?, store.conflicts()?))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    let mut main = format!("<p><a href=/>All workspaces</a></p><h1>{}</h1>", esc(&ws));
    let word = status_word(Some(&runner));
    let _ = write!(main, "<p>state: <span id=state class={word}>{word}</span></p><table>");
    let row = |k: &str, v: &str| format!("<tr><th>{k}</th><td>{v}</td></tr>");
    main.push_str(&row(
        "connection",
        &match (&status.repository, &status.branch) {
            (Some(r), Some(b)) => format!("<code>{}</code>, branch <code>{}</code>", esc(r), esc(b)),
            _ => "not connected".into(),
        },
    ));
    main.push_str(&row(
        "last applied commit",
        &status
            .last_applied
            .as_deref()
            .map_or("none yet".into(), |c| format!("<code>{}</code>", esc(c))),
    ));
    main.push_str(&row(
        "last pass",
        &runner.last_pass().map_or("none yet".into(), |p| {
            format!(
                "<span class={}>{}</span> at {} ({} ms): {}",
                esc(&p.outcome),
                esc(&p.outcome),
                esc(&p.at),
                p.duration_ms,
                esc(&p.summary)
            )
        }),
    ));
    main.push_str(&row("resources", &status.resources.to_string()));
    main.push_str("</table>");
    let _ = write!(main, "<h2>Queued changes ({})</h2>", status.queued.len());
    if status.queued.is_empty() {
        main.push_str("<p class=muted>nothing queued</p>");
    } else {
        main.push_str("<table id=queued><tr><th>#</th><th>change</th><th>by</th><th>at</th><th>note</th></tr>");
        for q in &status.queued {
            let _ = write!(
                main,
                "<tr><td>{}</td><td>{} {} {}</td><td>{}</td><td>{}</td><td class=attention>{}</td></tr>",
                q.seq,
                esc(&q.op),
                esc(&q.kind),
                esc(&q.slug),
                esc(&q.author),
                esc(&q.at),
                esc(q.set_aside.as_deref().map_or("", |w| w))
            );
        }
        main.push_str("</table>");
    }
    let _ = write!(main, "<h2>Conflicts kept ({})</h2>", conflicts.len());
    if !conflicts.is_empty() {
        main.push_str("<table><tr><th>#</th><th>resource</th><th>Git's version</th><th>kept</th></tr>");
        for c in &conflicts {
            let _ = write!(
                main,
                "<tr><td>{}</td><td>{} {}</td><td><code>{}</code> by {}</td><td>{} by {}</td></tr>",
                c.id,
                esc(&c.kind),
                esc(&c.slug),
                esc(&c.commit[..c.commit.len().min(10)]),
                esc(&c.git_author),
                esc(&c.kept_op),
                esc(&c.kept_author)
            );
        }
        main.push_str("</table>");
    }
    let skipped: Vec<_> = log
        .iter()
        .filter(|e| e.outcome.starts_with("skipped: "))
        .take(50)
        .collect();
    let _ = write!(main, "<h2>Files skipped as invalid ({})</h2>", skipped.len());
    if !skipped.is_empty() {
        main.push_str("<table><tr><th>file</th><th>commit</th><th>diagnostics</th></tr>");
        for e in skipped {
            let _ = write!(
                main,
                "<tr><td>{} {}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&e.kind),
                esc(&e.slug),
                esc(e.commit.as_deref().map_or("-", |c| &c[..c.len().min(10)])),
                esc(&e.outcome["skipped: ".len()..])
            );
        }
        main.push_str("</table>");
    }
    main.push_str("<h2>Change log</h2><table id=log><tr><th>at</th><th>direction</th><th>resource</th><th>commit</th><th>by</th><th>outcome</th></tr>");
    for e in log.iter().take(50) {
        let _ = write!(
            main,
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            esc(&e.at),
            esc(&e.direction),
            esc(&e.kind),
            esc(&e.slug),
            esc(e.commit.as_deref().map_or("-", |c| &c[..c.len().min(10)])),
            esc(&e.author),
            esc(&e.outcome)
        );
    }
    main.push_str("</table>");
    Ok(html(&ws, &main))
}

/// Server-sent events: one `changed` event whenever something the page shows changed (a pass ended,
/// a change was stored or queued), and a comment every 15 s to keep proxies from closing it. Ends
/// when the service stops, so shutdown is not held up.
pub async fn events(State(app): State<Arc<App>>, headers: HeaderMap) -> Result<Response, ApiError> {
    authenticate(&app, &headers).await?;
    let changes = app.changes.subscribe();
    let stop = app.stop.clone();
    let stream = futures_util::stream::unfold((changes, stop, true), |(mut changes, mut stop, first)| async move {
        if first {
            return Some((
                Ok::<_, std::convert::Infallible>("retry: 2000\n\n".to_string()),
                (changes, stop, false),
            ));
        }
        if *stop.borrow() {
            return None;
        }
        tokio::select! {
            r = changes.changed() => match r {
                Ok(()) => Some((Ok("data: changed\n\n".to_string()), (changes, stop, false))),
                Err(_) => None,
            },
            _ = stop.changed() => None,
            _ = tokio::time::sleep(std::time::Duration::from_secs(15)) => Some((Ok(": keep-alive\n\n".to_string()), (changes, stop, false))),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_forms_decode() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(percent_decode("gst_ab%5Fc+d%zz%4"), "gst_ab_c d%zz%4");
    }
}
