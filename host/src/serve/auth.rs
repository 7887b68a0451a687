//! Who is asking: extractors that handlers name in their signature instead of checking by hand.
//!
//! - [`Caller`]: an API request, `Authorization: Bearer <token>` (the scheme in any case). The status
//!   page's cookie is not taken here, so a page on another site cannot make a signed-in browser act
//!   through the API.
//! - [`Reader`] / [`Writer`]: a request on workspace `{ws}` by a token that may read / write it: 401
//!   without a valid token, 403 for another workspace's token (or a write with a read-only one), 404
//!   for a workspace that does not exist (said only to a token that may see every one).
//! - [`Viewer`]: a status-page request, by its session cookie (or a bearer token: a script watching
//!   `/events`); none when signed out.
//!
//! Tokens and sessions are looked up on the one connection to `access.db` the service keeps open
//! (a revocation from the command line is seen by the next request).

use super::App;
use super::error::{ApiError, blocking};
use super::runner::Runner;
use crate::store::Token;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use cookie::{Cookie, SameSite};
use std::collections::HashMap;
use std::sync::Arc;

/// The cookie holding the status page's session (never the API token).
pub const SESSION_COOKIE: &str = "gitsync_session";

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
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A cookie of the status page: private to it (`HttpOnly`), sent back only to this site
/// (`SameSite=Strict`), only over HTTPS when `secure`; it ends after `max_age` (zero: now).
pub fn page_cookie(name: &str, value: String, secure: bool, max_age: Option<std::time::Duration>) -> String {
    let mut c = Cookie::build((name.to_string(), value))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/");
    if secure {
        c = c.secure(true);
    }
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(
            i64::try_from(age.as_secs()).unwrap_or(i64::MAX),
        ));
    }
    c.build().to_string()
}

/// An API request's token.
pub struct Caller(pub Token);

impl FromRequestParts<Arc<App>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Caller, ApiError> {
        token_of(app, bearer(&parts.headers)).await.map(Caller)
    }
}

/// A request on workspace `{ws}` by a token that may read it.
pub struct Reader {
    pub ws: String,
    pub runner: Arc<Runner>,
}

/// A request on workspace `{ws}` by a token that may change it.
pub struct Writer {
    pub token: Token,
    pub ws: String,
    pub runner: Arc<Runner>,
}

impl FromRequestParts<Arc<App>> for Reader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Reader, ApiError> {
        let (_, ws, runner) = on_workspace(parts, app, false).await?;
        Ok(Reader { ws, runner })
    }
}

impl FromRequestParts<Arc<App>> for Writer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Writer, ApiError> {
        let (token, ws, runner) = on_workspace(parts, app, true).await?;
        Ok(Writer { token, ws, runner })
    }
}

async fn on_workspace(
    parts: &mut Parts,
    app: &Arc<App>,
    write: bool,
) -> Result<(Token, String, Arc<Runner>), ApiError> {
    let Caller(token) = Caller::from_request_parts(parts, app).await?;
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
        .await
        .map_err(|e| ApiError::bad_request("bad_path", e.body_text()))?;
    let ws = params.get("ws").cloned().unwrap_or_default();
    if !token.may_read(&ws) {
        return Err(ApiError::forbidden(format!("this token is not for workspace `{ws}`")));
    }
    if write && !token.may_write(&ws) {
        return Err(ApiError::forbidden("this token is read-only"));
    }
    let (app2, ws2) = (app.clone(), ws.clone());
    let runner = blocking(move || Ok(app2.runner(&ws2))).await?;
    let runner = runner.ok_or_else(|| ApiError::not_found("no_workspace", format!("no workspace `{ws}` here")))?;
    Ok((token, ws, runner))
}

/// A status-page request's token, if it is signed in.
pub struct Viewer(pub Option<Token>);

impl FromRequestParts<Arc<App>> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Viewer, ApiError> {
        let found = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(session) => {
                let app = app.clone();
                blocking(move || Ok(app.access(|a| a.session(&session))?)).await?
            }
            None => match bearer(&parts.headers) {
                Some(secret) => lookup(app, secret).await?,
                None => None,
            },
        };
        Ok(Viewer(found))
    }
}

/// The token `secret` stands for, if any.
async fn lookup(app: &Arc<App>, secret: String) -> Result<Option<Token>, ApiError> {
    let app = app.clone();
    blocking(move || Ok(app.access(|a| a.authenticate(&secret))?)).await
}

async fn token_of(app: &Arc<App>, secret: Option<String>) -> Result<Token, ApiError> {
    let Some(secret) = secret else {
        return Err(ApiError::unauthorized(
            "send `Authorization: Bearer <token>` (`gitsync token create` makes one)",
        ));
    };
    lookup(app, secret)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is unknown or revoked"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_by_name_and_written_with_their_attributes() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "gitsync_session_old=x; gitsync_csrf=abc".parse().unwrap(),
        );
        h.append(header::COOKIE, "gitsync_session=gss_1".parse().unwrap());
        assert_eq!(cookie(&h, "gitsync_session").as_deref(), Some("gss_1"));
        assert_eq!(cookie(&h, "gitsync_csrf").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "gitsync"), None);
        assert_eq!(
            page_cookie("s", "v".into(), true, Some(std::time::Duration::from_secs(60))),
            "s=v; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=60"
        );
        assert_eq!(
            page_cookie("s", String::new(), false, None),
            "s=; HttpOnly; SameSite=Strict; Path=/"
        );
    }

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "bEaReR  gst_x ".parse().unwrap());
        assert_eq!(bearer(&h).as_deref(), Some("gst_x"));
        h.insert(header::AUTHORIZATION, "Basic gst_x".parse().unwrap());
        assert_eq!(bearer(&h), None);
    }
}
