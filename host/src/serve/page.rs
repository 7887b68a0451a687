//! The status page: server-rendered HTML from the binary, readable without JavaScript. It asks for a
//! token first (kept in an `HttpOnly`, `SameSite=Strict` cookie), lists the workspaces the token
//! may see, and shows one page per workspace. It keeps itself current: a small script listens to
//! `/events` (server-sent events, one per change) and swaps in the page's new content; without
//! JavaScript, the page refreshes itself every 10 seconds.

use super::App;
use super::api::{ApiError, attention_reason, authenticate_page, cookie, status_word};
use crate::workspace::access::{AccessStore, Token};
use crate::workspace::store::{SqliteStore, WorkspaceStore};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::Arc;

/// The cookie holding the page's session (never the API token).
pub const COOKIE: &str = "gitsync_session";
/// The cookie holding the page's anti-forgery value; each form carries the same value, and a form
/// posted without it (as one from another site would be) is refused.
const CSRF_COOKIE: &str = "gitsync_csrf";

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
code{font-size:.9em}.ok{color:#1a7f37}.attention{color:#9a6700}.failed,.failing{color:#cf222e}.muted{color:#57606a}.reason{font-size:.85em;color:#57606a}
table.diff td{font:13px/1.4 ui-monospace,monospace;white-space:pre;width:50%}td.del{background:#ffebe9}td.ins{background:#dafbe1}
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

/// The anti-forgery value of this browser: the one its cookie holds, or a new one (and the cookie to
/// set, for the answer).
fn csrf(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, CSRF_COOKIE).filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())) {
        Some(v) => (v, None),
        None => {
            let v = crate::workspace::access::random_hex(16).unwrap_or_default();
            let set = format!("{CSRF_COOKIE}={v}; HttpOnly; SameSite=Strict; Path=/");
            (v, Some(set))
        }
    }
}

/// A page with a form: the form carries the anti-forgery value, the answer sets its cookie if new.
fn with_csrf(mut page: Response, set: Option<String>) -> Response {
    if let Some(set) = set
        && let Ok(v) = header::HeaderValue::from_str(&set)
    {
        page.headers_mut().append(header::SET_COOKIE, v);
    }
    page
}

fn login_form(headers: &HeaderMap, message: Option<&str>) -> Response {
    let note = message.map_or(String::new(), |m| format!("<p class=failed>{}</p>", esc(m)));
    let (value, set) = csrf(headers);
    let mut r = html(
        "sign in",
        &format!(
            "<h1>gitsync</h1>{note}<form method=post action=/><input type=hidden name=csrf value={value}><label>API token<br><input type=password name=token autocomplete=off autofocus></label> <button>Open</button></form><p class=muted>Make a token with <code>gitsync --data DIR token create --as \"Name &lt;email&gt;\"</code>.</p>"
        ),
    );
    if message.is_some() {
        *r.status_mut() = StatusCode::UNAUTHORIZED;
    }
    with_csrf(r, set)
}

/// Whether a form post comes from this service's own page: a browser says where a request comes
/// from (`Sec-Fetch-Site`, `Origin`); a page on another site — another port of the same host
/// included — is refused, and so is a form without this browser's anti-forgery value.
fn from_own_page(app: &App, headers: &HeaderMap, form_csrf: Option<&str>) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return false;
    }
    if let Some(origin) = get("origin") {
        let host = get("host").unwrap_or_default();
        let same_host = origin
            .split_once("://")
            .is_some_and(|(scheme, rest)| (scheme == "http" || scheme == "https") && rest == host);
        // Behind a proxy that passes its own Host on, the page's origin is the public address.
        let public = app
            .opts
            .public_url
            .as_deref()
            .is_some_and(|u| u.trim_end_matches('/') == origin);
        if !same_host && !public {
            return false;
        }
    }
    match (cookie(headers, CSRF_COOKIE), form_csrf) {
        (Some(ours), Some(given)) => crate::workspace::access::constant_time_eq(ours.as_bytes(), given.as_bytes()),
        _ => false,
    }
}

fn cross_site() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_site",
        "this form did not come from this service's own page; open the page and try again",
    )
}

/// The token of a page request, if it carries a valid one.
async fn viewer(app: &App, headers: &HeaderMap) -> Result<Option<Token>, ApiError> {
    match authenticate_page(app, headers).await {
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
        return Ok(login_form(&headers, None));
    };
    let app2 = app.clone();
    let all = tokio::task::spawn_blocking(move || {
        app2.data
            .workspaces()
            .map(|all| all.into_iter().map(|w| (app2.runner(&w.id), w)).collect::<Vec<_>>())
    })
    .await
    .map_err(ApiError::internal)??;
    let mut rows = String::new();
    for (r, w) in all.iter().filter(|(_, w)| token.may_read(&w.id)) {
        let word = status_word(r.as_deref());
        let last = r
            .as_ref()
            .and_then(|r| r.last_pass())
            .map_or("no pass yet".to_string(), |p| format!("{} at {}", p.outcome, p.at));
        // Why it needs attention, beside the state, not only the word.
        let why = attention_reason(r.as_deref()).map_or(String::new(), |reason| {
            format!("<div class=reason>{}</div>", esc(&reason))
        });
        let _ = write!(
            rows,
            "<tr><td><a href=\"/workspaces/{id}\">{id}</a></td><td class={word}>{word}{why}</td><td>{}</td></tr>",
            esc(&last),
            id = esc(&w.id)
        );
    }
    let (value, set) = csrf(&headers);
    Ok(with_csrf(
        html(
            "workspaces",
            &format!(
                "<h1>gitsync</h1><p class=muted>signed in as {}</p><table><tr><th>workspace</th><th>state</th><th>last pass</th></tr>{rows}</table><form method=post action=/logout><input type=hidden name=csrf value={value}><button>Sign out</button></form>",
                esc(&token.author)
            ),
        ),
        set,
    ))
}

/// The rows of a side-by-side view of `left` and `right`: lines both have on one row, a run of lines
/// only one has beside the run the other has in its place (`del` left, `ins` right).
fn side_by_side(left: &str, right: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (left.lines().collect(), right.lines().collect());
    let cell = |class: &str, line: Option<&&str>| match line {
        Some(l) => format!("<td class={class}>{}</td>", esc(l)),
        None => "<td></td>".to_string(),
    };
    let mut rows = String::new();
    let (mut gone, mut came) = (Vec::new(), Vec::new());
    let flush = |rows: &mut String, gone: &mut Vec<&str>, came: &mut Vec<&str>| {
        for i in 0..gone.len().max(came.len()) {
            let _ = write!(
                rows,
                "<tr>{}{}</tr>",
                cell("del", gone.get(i)),
                cell("ins", came.get(i))
            );
        }
        gone.clear();
        came.clear();
    };
    for (op, line) in line_diff(&a, &b) {
        match op {
            Op::Both => {
                flush(&mut rows, &mut gone, &mut came);
                let _ = write!(rows, "<tr>{0}{0}</tr>", cell("same", Some(&line)));
            }
            Op::Left => gone.push(line),
            Op::Right => came.push(line),
        }
    }
    flush(&mut rows, &mut gone, &mut came);
    rows
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Both,
    Left,
    Right,
}

/// The lines of `a` and `b` as a longest-common-subsequence diff. Resource files are small; past a
/// few thousand lines each side is shown whole instead.
fn line_diff<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<(Op, &'a str)> {
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return a
            .iter()
            .map(|l| (Op::Left, *l))
            .chain(b.iter().map(|l| (Op::Right, *l)))
            .collect();
    }
    let mut t = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            t[i][j] = if a[i] == b[j] {
                t[i + 1][j + 1] + 1
            } else {
                t[i + 1][j].max(t[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push((Op::Both, a[i]));
            i += 1;
            j += 1;
        } else if t[i + 1][j] >= t[i][j + 1] {
            out.push((Op::Left, a[i]));
            i += 1;
        } else {
            out.push((Op::Right, b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| (Op::Left, *l)));
    out.extend(b[j..].iter().map(|l| (Op::Right, *l)));
    out
}

/// The cookie's attributes: private to the page, sent back only to this site, and only over HTTPS
/// when the service is reached that way (`--public-url https://…`).
fn cookie_attributes(app: &App) -> &'static str {
    if app
        .opts
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        "HttpOnly; SameSite=Strict; Path=/; Secure"
    } else {
        "HttpOnly; SameSite=Strict; Path=/"
    }
}

/// The token form's answer: for a valid token, a new session, whose secret is the page's cookie.
pub async fn login(State(app): State<Arc<App>>, req: Request) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let bytes = super::api::body(req.into_body(), 4096).await?;
    let field = |name: &str| {
        form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    if !from_own_page(&app, &headers, field("csrf").as_deref()) {
        return Err(cross_site());
    }
    let token = field("token").unwrap_or_default();
    // Only token characters go into a cookie (no `;` or line breaks smuggled in).
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Ok(login_form(&headers, Some("That is not a gitsync token.")));
    }
    let root = app.data.root().to_path_buf();
    let ttl = app.opts.session_ttl;
    let session = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<String>> {
        let mut store = AccessStore::open(&root)?;
        match store.authenticate(&token)? {
            Some(t) => Ok(Some(store.create_session(&t.id, ttl)?)),
            None => Ok(None),
        }
    })
    .await
    .map_err(ApiError::internal)??;
    let Some(session) = session else {
        return Ok(login_form(&headers, Some("The token is unknown or revoked.")));
    };
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "{COOKIE}={session}; {}; Max-Age={}",
                    cookie_attributes(&app),
                    ttl.as_secs()
                ),
            ),
        ],
    )
        .into_response())
}

/// Sign-out, from the page's own form only: the session ends (its cookie, kept elsewhere, opens
/// nothing any more) and the cookie is cleared.
pub async fn logout(State(app): State<Arc<App>>, req: Request) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let bytes = super::api::body(req.into_body(), 4096).await?;
    let csrf = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.into_owned());
    if !from_own_page(&app, &headers, csrf.as_deref()) {
        return Err(cross_site());
    }
    if let Some(session) = cookie(&headers, COOKIE) {
        let root = app.data.root().to_path_buf();
        tokio::task::spawn_blocking(move || AccessStore::open(&root)?.end_session(&session))
            .await
            .map_err(ApiError::internal)??;
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; {}; Max-Age=0", cookie_attributes(&app)),
            ),
        ],
    )
        .into_response())
}

pub async fn workspace(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(ws): Path<String>,
) -> Result<Response, ApiError> {
    let Some(token) = viewer(&app, &headers).await? else {
        return Ok(login_form(&headers, None));
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
        .map_err(ApiError::internal)?
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
        // Each kept conflict with the version the workspace holds now (Git's, unless changed since).
        let mut conflicts = Vec::new();
        for c in store.conflicts()? {
            let now = store.get(&c.kind, &c.slug)?.map(|r| r.yaml);
            conflicts.push((c, now));
        }
        Ok((crate::workspace::status(&store)?, store.log(200)?, conflicts))
    })
    .await
    .map_err(ApiError::internal)??;
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
    for (c, now) in &conflicts {
        // As a reviewer reads a conflict: the two versions side by side, what differs marked.
        let _ = write!(
            main,
            "<h3 id=conflict-{id}>#{id} {} {}</h3><p>Git's version (<code>{}</code> by {}) won; the workspace's {} by {} is kept: <code>gitsync conflicts --show {id}</code></p>",
            esc(&c.kind),
            esc(&c.slug),
            esc(&c.commit[..c.commit.len().min(10)]),
            esc(&c.git_author),
            if c.kept_op == "delete" { "delete" } else { "change" },
            esc(&c.kept_author),
            id = c.id
        );
        let _ = write!(
            main,
            "<table class=diff><tr><th>Git's version, in the workspace now</th><th>the workspace's version, kept</th></tr>{}</table>",
            side_by_side(now.as_deref().unwrap_or(""), c.kept_yaml.as_deref().unwrap_or(""))
        );
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
    authenticate_page(&app, &headers).await?;
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
    fn a_conflict_is_shown_side_by_side() {
        let git = "name: Orders\ntype: table\nprimaryKey: git_id\n";
        let kept = "name: Orders\ntype: table\nprimaryKey: workspace_id\nextra: x\n";
        assert_eq!(
            side_by_side(git, kept),
            "<tr><td class=same>name: Orders</td><td class=same>name: Orders</td></tr>\
             <tr><td class=same>type: table</td><td class=same>type: table</td></tr>\
             <tr><td class=del>primaryKey: git_id</td><td class=ins>primaryKey: workspace_id</td></tr>\
             <tr><td></td><td class=ins>extra: x</td></tr>"
        );
        assert_eq!(
            side_by_side("<b>", ""),
            "<tr><td class=del>&lt;b&gt;</td><td></td></tr>"
        );
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
