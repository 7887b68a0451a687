//! The status page: server-rendered HTML from the binary, readable without JavaScript. It asks for a
//! token first and opens a session for it (an `HttpOnly`, `SameSite=Strict` cookie that is never
//! the token itself), lists the workspaces the token may see, and shows one page per workspace. It
//! keeps itself current: a small script listens to `/events` (server-sent events, one per change)
//! and swaps in the page's new content; without JavaScript, the page refreshes itself every 10 s.
//!
//! The HTML is built with maud, which escapes every value it is given: text from a workspace (a
//! slug, a commit message, a kept YAML) cannot become markup.

use super::App;
use super::auth::{SESSION_COOKIE as COOKIE, Viewer, cookie, page_cookie};
use super::error::{ApiError, blocking, body};
use super::workspaces::{attention_reason, status_word};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::sync::Arc;

/// The cookie holding the page's anti-forgery value; each form carries the same value, and a form
/// posted without it (as one from another site would be) is refused.
const CSRF_COOKIE: &str = "gitsync_csrf";

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

/// A whole page: `main` inside the page's frame, with the headers every page is sent with.
fn page(status: StatusCode, title: &str, main: Markup) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width";
                title { (title) " · gitsync" }
                style { (PreEscaped(STYLE)) }
                noscript { meta http-equiv="refresh" content="10"; }
            }
            body {
                div id="main" { (main) }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::HeaderName::from_static("x-frame-options"), "DENY"),
            (
                header::HeaderName::from_static("content-security-policy"),
                "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'",
            ),
        ],
        body.into_string(),
    )
        .into_response()
}

/// The anti-forgery value of this browser: the one its cookie holds, or a new one (and the cookie to
/// set, for the answer).
fn csrf(headers: &HeaderMap) -> (String, Option<String>) {
    match cookie(headers, CSRF_COOKIE).filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit())) {
        Some(v) => (v, None),
        None => {
            let v = crate::secret::random_hex(16).unwrap_or_default();
            let set = page_cookie(CSRF_COOKIE, v.clone(), false, None);
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
    let (value, set) = csrf(headers);
    let status = if message.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let main = html! {
        h1 { "gitsync" }
        @if let Some(m) = message { p class="failed" { (m) } }
        form method="post" action="/" {
            input type="hidden" name="csrf" value=(value);
            label { "API token" br; input type="password" name="token" autocomplete="off" autofocus; }
            " "
            button { "Open" }
        }
        p class="muted" { "Make a token with " code { "gitsync --data DIR token create --as \"Name <email>\"" } "." }
    };
    with_csrf(page(status, "sign in", main), set)
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
        (Some(ours), Some(given)) => crate::secret::constant_time_eq(ours.as_bytes(), given.as_bytes()),
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

/// A field of a form body.
fn field(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim().to_string())
}

pub async fn index(
    State(app): State<Arc<App>>,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(token) = viewer else {
        return Ok(login_form(&headers, None));
    };
    let app2 = app.clone();
    let all = blocking(move || {
        Ok(app2
            .store
            .workspaces()?
            .into_iter()
            .map(|w| (app2.runner(&w.id), w))
            .collect::<Vec<_>>())
    })
    .await?;
    let (value, set) = csrf(&headers);
    let main = html! {
        h1 { "gitsync" }
        p class="muted" { "signed in as " (token.author) }
        table {
            tr { th { "workspace" } th { "state" } th { "last pass" } }
            @for (r, w) in all.iter().filter(|(_, w)| token.may_read(&w.id)) {
                @let word = status_word(r.as_deref());
                tr {
                    td { a href={ "/workspaces/" (w.id) } { (w.id) } }
                    // Why it needs attention, beside the state, not only the word.
                    td class=(word) {
                        (word)
                        @if let Some(reason) = attention_reason(r.as_deref()) { div class="reason" { (reason) } }
                    }
                    td {
                        @match r.as_ref().and_then(|r| r.last_pass()) {
                            Some(p) => { (p.outcome) " at " (p.at) }
                            None => { "no pass yet" }
                        }
                    }
                }
            }
        }
        form method="post" action="/logout" {
            input type="hidden" name="csrf" value=(value);
            button { "Sign out" }
        }
    };
    Ok(with_csrf(page(StatusCode::OK, "workspaces", main), set))
}

/// A side-by-side view of `left` and `right`: lines both have on one row, a run of lines only one
/// has beside the run the other has in its place (`del` left, `ins` right).
fn side_by_side(left: &str, right: &str) -> Markup {
    let (a, b): (Vec<&str>, Vec<&str>) = (left.lines().collect(), right.lines().collect());
    // Rows of (left cell, right cell): a cell is its class and line, or empty.
    type Row<'a> = (Option<(&'static str, &'a str)>, Option<(&'static str, &'a str)>);
    fn flush<'a>(rows: &mut Vec<Row<'a>>, gone: &mut Vec<&'a str>, came: &mut Vec<&'a str>) {
        for i in 0..gone.len().max(came.len()) {
            rows.push((gone.get(i).map(|l| ("del", *l)), came.get(i).map(|l| ("ins", *l))));
        }
        gone.clear();
        came.clear();
    }
    let mut rows: Vec<Row<'_>> = Vec::new();
    let (mut gone, mut came) = (Vec::new(), Vec::new());
    for (op, line) in line_diff(&a, &b) {
        match op {
            Op::Both => {
                flush(&mut rows, &mut gone, &mut came);
                rows.push((Some(("same", line)), Some(("same", line))));
            }
            Op::Left => gone.push(line),
            Op::Right => came.push(line),
        }
    }
    flush(&mut rows, &mut gone, &mut came);
    html! {
        @for (l, r) in rows {
            tr {
                @for cell in [l, r] {
                    @match cell {
                        Some((class, line)) => td class=(class) { (line) },
                        None => td {},
                    }
                }
            }
        }
    }
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

/// Whether the session cookie is `Secure`: when the service is reached over HTTPS —
/// `--public-url https://…`, or `X-Forwarded-Proto: https` from a `--trusted-proxy` (from anyone
/// else the header proves nothing and is ignored).
fn over_https(app: &App, req: &Request) -> bool {
    let public_https = app
        .opts
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    let proxied_https = req
        .extensions()
        .get::<super::http::Client>()
        .is_some_and(|c| app.opts.trusted_proxies.contains(&c.0.ip()))
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    public_https || proxied_https
}

/// The token form's answer: for a valid token, a new session, whose secret is the page's cookie.
pub async fn login(State(app): State<Arc<App>>, req: Request) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let secure = over_https(&app, &req);
    let form = body(req.into_body(), 4096).await?;
    if !from_own_page(&app, &headers, field(&form, "csrf").as_deref()) {
        return Err(cross_site());
    }
    let token = field(&form, "token").unwrap_or_default();
    // Only token characters go into a cookie (no `;` or line breaks smuggled in).
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Ok(login_form(&headers, Some("That is not a gitsync token.")));
    }
    let ttl = app.opts.session_ttl;
    let app2 = app.clone();
    let session = blocking(move || {
        Ok(app2.access(|a| match a.authenticate(&token)? {
            Some(t) => Ok(Some(a.create_session(&t.id, ttl)?)),
            None => Ok(None),
        })?)
    })
    .await?;
    let Some(session) = session else {
        return Ok(login_form(&headers, Some("The token is unknown or revoked.")));
    };
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (header::SET_COOKIE, page_cookie(COOKIE, session, secure, Some(ttl))),
        ],
    )
        .into_response())
}

/// Sign-out, from the page's own form only: the session ends (its cookie, kept elsewhere, opens
/// nothing any more) and the cookie is cleared.
pub async fn logout(State(app): State<Arc<App>>, req: Request) -> Result<Response, ApiError> {
    let headers = req.headers().clone();
    let secure = over_https(&app, &req);
    let form = body(req.into_body(), 4096).await?;
    if !from_own_page(&app, &headers, field(&form, "csrf").as_deref()) {
        return Err(cross_site());
    }
    if let Some(session) = cookie(&headers, COOKIE) {
        let app2 = app.clone();
        blocking(move || Ok(app2.access(|a| a.end_session(&session))?)).await?;
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/".to_string()),
            (
                header::SET_COOKIE,
                page_cookie(COOKIE, String::new(), secure, Some(std::time::Duration::ZERO)),
            ),
        ],
    )
        .into_response())
}

/// A short commit id.
fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

pub async fn workspace(
    State(app): State<Arc<App>>,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
    Path(ws): Path<String>,
) -> Result<Response, ApiError> {
    let Some(token) = viewer else {
        return Ok(login_form(&headers, None));
    };
    let back = html! { p { a href="/" { "All workspaces" } } };
    if !token.may_read(&ws) {
        let main = html! { h1 { "gitsync" } p class="failed" { "This token is not for that workspace." } (back) };
        return Ok(page(StatusCode::FORBIDDEN, "forbidden", main));
    }
    let (app2, ws2) = (app.clone(), ws.clone());
    let Some(runner) = blocking(move || Ok(app2.runner(&ws2))).await? else {
        let main = html! { h1 { "gitsync" } p class="failed" { "No such workspace." } (back) };
        return Ok(page(StatusCode::NOT_FOUND, "not found", main));
    };
    let wr = runner.clone();
    let (status, log, conflicts) = blocking(move || {
        let store = wr.open()?;
        // Each kept conflict with the version the workspace holds now (Git's, unless changed since).
        let mut conflicts = Vec::new();
        for c in store.conflicts()? {
            let now = store.get(&c.kind, &c.slug)?.map(|r| r.yaml);
            conflicts.push((c, now));
        }
        Ok((crate::workspace::status(store.as_ref())?, store.log(200)?, conflicts))
    })
    .await?;
    let word = status_word(Some(&runner));
    let skipped: Vec<_> = log
        .iter()
        .filter_map(|e| e.outcome.strip_prefix("skipped: ").map(|why| (e, why)))
        .take(50)
        .collect();
    let main = html! {
        (back)
        h1 { (ws) }
        p { "state: " span id="state" class=(word) { (word) } }
        table {
            tr { th { "connection" } td {
                @match (&status.repository, &status.branch) {
                    (Some(r), Some(b)) => { code { (r) } ", branch " code { (b) } }
                    _ => { "not connected" }
                }
            } }
            tr { th { "last applied commit" } td {
                @match &status.last_applied { Some(c) => code { (c) }, None => "none yet" }
            } }
            tr { th { "last pass" } td {
                @match runner.last_pass() {
                    Some(p) => { span class=(p.outcome) { (p.outcome) } " at " (p.at) " (" (p.duration_ms) " ms): " (p.summary) }
                    None => "none yet",
                }
            } }
            tr { th { "resources" } td { (status.resources) } }
        }
        h2 { "Queued changes (" (status.queued.len()) ")" }
        @if status.queued.is_empty() {
            p class="muted" { "nothing queued" }
        } @else {
            table id="queued" {
                tr { th { "#" } th { "change" } th { "by" } th { "at" } th { "note" } }
                @for q in &status.queued {
                    tr {
                        td { (q.seq) }
                        td { (q.op) " " (q.kind) " " (q.slug) }
                        td { (q.author) }
                        td { (q.at) }
                        td class="attention" { (q.set_aside.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        h2 { "Conflicts kept (" (conflicts.len()) ")" }
        @for (c, now) in &conflicts {
            // As a reviewer reads a conflict: the two versions side by side, what differs marked.
            h3 id={ "conflict-" (c.id) } { "#" (c.id) " " (c.kind) " " (c.slug) }
            p {
                "Git's version (" code { (short(&c.commit)) } " by " (c.git_author) ") won; the workspace's "
                (if c.kept_op == "delete" { "delete" } else { "change" }) " by " (c.kept_author) " is kept: "
                code { "gitsync conflicts --show " (c.id) }
            }
            table class="diff" {
                tr { th { "Git's version, in the workspace now" } th { "the workspace's version, kept" } }
                (side_by_side(now.as_deref().unwrap_or(""), c.kept_yaml.as_deref().unwrap_or("")))
            }
        }
        h2 { "Files skipped as invalid (" (skipped.len()) ")" }
        @if !skipped.is_empty() {
            table {
                tr { th { "file" } th { "commit" } th { "diagnostics" } }
                @for (e, why) in &skipped {
                    tr {
                        td { (e.kind) " " (e.slug) }
                        td { code { (e.commit.as_deref().map_or("-", short)) } }
                        td { (why) }
                    }
                }
            }
        }
        h2 { "Change log" }
        table id="log" {
            tr { th { "at" } th { "direction" } th { "resource" } th { "commit" } th { "by" } th { "outcome" } }
            @for e in log.iter().take(50) {
                tr {
                    td { (e.at) }
                    td { (e.direction) }
                    td { (e.kind) " " (e.slug) }
                    td { code { (e.commit.as_deref().map_or("-", short)) } }
                    td { (e.author) }
                    td { (e.outcome) }
                }
            }
        }
    };
    Ok(page(StatusCode::OK, &ws, main))
}

/// Server-sent events: one `changed` event whenever something the page shows changed (a pass ended,
/// a change was stored or queued), and a comment every 15 s to keep proxies from closing it. Ends
/// when the service stops, so shutdown is not held up.
pub async fn events(State(app): State<Arc<App>>, Viewer(viewer): Viewer) -> Result<Response, ApiError> {
    if viewer.is_none() {
        return Err(ApiError::unauthorized(
            "sign in on the page first, or send `Authorization: Bearer <token>`",
        ));
    }

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
            side_by_side(git, kept).into_string(),
            "<tr><td class=\"same\">name: Orders</td><td class=\"same\">name: Orders</td></tr>\
             <tr><td class=\"same\">type: table</td><td class=\"same\">type: table</td></tr>\
             <tr><td class=\"del\">primaryKey: git_id</td><td class=\"ins\">primaryKey: workspace_id</td></tr>\
             <tr><td></td><td class=\"ins\">extra: x</td></tr>"
        );
    }

    #[test]
    fn text_from_a_workspace_is_escaped() {
        assert_eq!(
            side_by_side("<script>alert('x')</script>", "a & \"b\"").into_string(),
            "<tr><td class=\"del\">&lt;script&gt;alert('x')&lt;/script&gt;</td><td class=\"ins\">a &amp; &quot;b&quot;</td></tr>"
        );
    }
}
