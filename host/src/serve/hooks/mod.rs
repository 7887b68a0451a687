//! Webhook deliveries: `POST /hooks/{provider}/{ws}`. Who sent them (a signature or token, compared
//! in constant time) and which branch they are about. Nothing else in a payload is trusted: a valid
//! delivery only starts a pass, which fetches.
//!
//! Everything a provider means — its headers, its events, how it signs — is one [`Provider`] value
//! in a file of its own; adding a provider is adding a file and naming it in [`PROVIDERS`].

mod generic;
mod github;
mod gitlab;

use super::App;
use super::error::{ApiError, ApiResult, blocking, body_error, json_response, too_large};
use super::runner::Kick;
use crate::secret::constant_time_eq;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::sync::Arc;

/// What a webhook provider means.
#[derive(Debug)]
pub struct Provider {
    /// Its name in the route (`/hooks/<name>/{ws}`) and in the metrics.
    pub name: &'static str,
    /// How a delivery proves it comes from whoever holds the workspace's secret.
    pub proof: Proof,
    /// The header naming the event; none: every delivery is a push.
    pub event_header: Option<&'static str>,
    /// The events that mean something was pushed.
    pub push_events: &'static [&'static str],
    /// The events sent to test a webhook: answered, nothing to do.
    pub ping_events: &'static [&'static str],
    /// The header carrying the delivery's id (a redelivery repeats it).
    pub delivery_header: &'static str,
}

/// How a delivery is signed.
#[derive(Debug)]
pub enum Proof {
    /// `<header>: sha256=<hex HMAC-SHA256(secret, body)>`.
    HmacSha256 { header: &'static str },
    /// `<header>: <secret>`.
    Token { header: &'static str },
}

/// The providers whose deliveries are taken.
pub const PROVIDERS: &[&Provider] = &[&github::GITHUB, &gitlab::GITLAB, &generic::GENERIC];

impl Provider {
    pub fn named(name: &str) -> Option<&'static Provider> {
        PROVIDERS.iter().copied().find(|p| p.name == name)
    }
}

/// The most a delivery's start that is kept to read its branch from (the rest is only signed).
const KEPT: usize = 1 << 20;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// HMAC-SHA256 of a body as it arrives, piece by piece: a large delivery is checked without being
/// held in memory.
pub struct Signer(Hmac<Sha256>);

impl Signer {
    pub fn new(secret: &str) -> Signer {
        // HMAC accepts keys of any length: this cannot fail.
        Signer(Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length"))
    }

    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    /// `sha256=<hex>`, as GitHub writes it in `X-Hub-Signature-256`.
    pub fn finish(self) -> String {
        format!("sha256={}", hex(&self.0.finalize().into_bytes()))
    }
}

/// `sha256=<hex>` of `body` under `secret`: what GitHub sends in `X-Hub-Signature-256`.
#[cfg(test)]
fn sign(secret: &str, body: &[u8]) -> String {
    let mut s = Signer::new(secret);
    s.update(body);
    s.finish()
}

/// Whether a delivery carries a valid signature: `header` is the provider's header value, if sent.
#[cfg(test)]
fn verify(provider: &Provider, secret: &str, header: Option<&[u8]>, body: &[u8]) -> bool {
    let Some(given) = header else {
        return false;
    };
    match provider.proof {
        Proof::Token { .. } => constant_time_eq(given, secret.as_bytes()),
        Proof::HmacSha256 { .. } => constant_time_eq(given, sign(secret, body).as_bytes()),
    }
}

/// What a signed delivery is about, from its provider's event header and its payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Something was pushed: to `branch`, or to a branch the payload does not name (a generic
    /// delivery need not say; the pass fetches and sees).
    Push { branch: Option<String> },
    /// A test delivery, sent when a webhook is made: answered, nothing to do.
    Ping,
    /// An event that cannot move a branch (issues, stars, comments, tag pushes, …): answered with
    /// what it was, nothing to do.
    Ignored(String),
}

/// The value of the first `"ref": "…"` in the start of a JSON payload (GitHub and GitLab write it
/// first), for a delivery too large to keep whole.
fn first_ref(text: &str) -> Option<String> {
    let at = text.find("\"ref\"")? + 5;
    let rest = text[at..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    let end = rest.find('"')?;
    Some(rest[..end].to_string()).filter(|r| !r.contains('\\'))
}

/// Read a delivery: `event` is the value of the provider's event header; a form-encoded body
/// (GitHub's default content type) carries the JSON in its `payload` field.
pub fn classify(provider: &Provider, event: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Event {
    let form = content_type.is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    let text: String = if form {
        form_urlencoded::parse(body)
            .find(|(k, _)| k == "payload")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    } else {
        String::from_utf8_lossy(body).into_owned()
    };
    // The whole payload, or (a large delivery, of which only the start is kept) its first `ref`.
    let whole: Option<serde_json::Value> = serde_json::from_str(&text).ok();
    let pushed_ref = match &whole {
        Some(v) => v.get("ref").and_then(|r| r.as_str()).map(String::from),
        None => first_ref(&text),
    };
    let push = || match pushed_ref.as_deref() {
        Some(r) => match r.strip_prefix("refs/heads/") {
            Some(branch) => Event::Push {
                branch: Some(branch.to_string()),
            },
            None if r.starts_with("refs/tags/") => Event::Ignored("tag push".into()),
            None => Event::Ignored(format!("push to {r}")),
        },
        None => Event::Push { branch: None },
    };
    let Some(header) = provider.event_header else {
        return push();
    };
    match event {
        Some(e) if provider.push_events.contains(&e) => push(),
        Some(e) if provider.ping_events.contains(&e) => Event::Ping,
        Some(other) => Event::Ignored(other.to_string()),
        None => Event::Ignored(format!("no {} header", display_header(header))),
    }
}

/// `x-github-event` as its provider writes it: `X-GitHub-Event`.
fn display_header(name: &str) -> String {
    name.split('-')
        .map(|w| match w {
            "github" => "GitHub".to_string(),
            "uuid" => "UUID".to_string(),
            _ => {
                let mut c = w.chars();
                c.next()
                    .map_or(String::new(), |f| f.to_ascii_uppercase().to_string() + c.as_str())
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Read a delivery's body of at most `limit` bytes as it arrives: each piece goes to `signer` (when
/// it is signed), and only the first [`KEPT`] bytes are kept, so a large delivery costs no more
/// memory than a small one.
async fn read(body: Body, limit: usize, mut signer: Option<&mut Signer>) -> Result<Vec<u8>, ApiError> {
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
        let room = KEPT.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
    }
    Ok(kept)
}

/// `POST /hooks/{provider}/{ws}`: a valid delivery for the connected branch starts a pass; another
/// branch, a ping, another event or a redelivery starts nothing; a bad or missing signature is 401.
pub async fn webhook(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path((provider, ws)): Path<(String, String)>,
    req: Request,
) -> ApiResult {
    let Some(p) = Provider::named(&provider) else {
        return Err(ApiError::no_route());
    };
    let result = take(&app, &headers, p, &ws, req).await;
    // Each word is one of metrics::WEBHOOK_RESULTS.
    let word = match &result {
        Ok((_, word, _)) => *word,
        Err(e) if e.status == StatusCode::UNAUTHORIZED => "bad_signature",
        Err(e) if e.status == StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        Err(_) => "refused",
    };
    app.metrics.webhook(p.name, word);
    let (started, word, event) = result?;
    let mut answer = json!({"started": started, "result": word});
    if let Some(event) = event {
        answer["event"] = json!(event);
    }
    Ok(json_response(StatusCode::ACCEPTED, answer))
}

async fn take(
    app: &Arc<App>,
    headers: &HeaderMap,
    p: &Provider,
    ws: &str,
    req: Request,
) -> Result<(bool, &'static str, Option<String>), ApiError> {
    let (app2, ws2) = (app.clone(), ws.to_string());
    let secret = blocking(move || Ok(app2.access(|a| a.webhook_secret(&ws2))?)).await?;
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
    // Checked before the body is read where the header alone can be (a token, a signature header
    // that is missing or malformed); a signature over the body as it arrives.
    let limit = app.opts.max_webhook_body;
    let bytes = match p.proof {
        Proof::Token { header } => {
            let given = headers.get(header).map(HeaderValue::as_bytes);
            if !given.is_some_and(|g| constant_time_eq(g, secret.as_bytes())) {
                return Err(unauthorized());
            }
            read(req.into_body(), limit, None).await?
        }
        Proof::HmacSha256 { header } => {
            let given = headers.get(header).map(HeaderValue::as_bytes);
            let Some(given) = given.filter(|g| g.len() == 71 && g.starts_with(b"sha256=")) else {
                return Err(unauthorized());
            };
            let mut signer = Signer::new(&secret);
            let bytes = read(req.into_body(), limit, Some(&mut signer)).await?;
            if !constant_time_eq(given, signer.finish().as_bytes()) {
                return Err(unauthorized());
            }
            bytes
        }
    };
    let (app2, ws2) = (app.clone(), ws.to_string());
    let Some(runner) = blocking(move || Ok(app2.runner(&ws2))).await? else {
        return Err(ApiError::not_found("no_workspace", format!("no workspace `{ws}` here")));
    };
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let event = p.event_header.and_then(value);
    let pushed = match classify(p, event, value(header::CONTENT_TYPE.as_str()), &bytes) {
        Event::Ping => return Ok((false, "ping", None)),
        Event::Ignored(what) => return Ok((false, "ignored", Some(what))),
        Event::Push { branch } => branch,
    };
    if let Some(d) = value(p.delivery_header)
        && app.seen_delivery(&format!("{}:{ws}:{d}", p.name))
    {
        return Ok((false, "redelivery", None));
    }
    let ws = runner.clone();
    let branch = blocking(move || Ok(ws.open()?.setting("branch")?)).await?;
    match (pushed, branch) {
        (Some(pushed), Some(ours)) if pushed != ours => Ok((false, "other_branch", None)),
        _ => {
            runner.kick(Kick::Now);
            Ok((true, "started", None))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use generic::GENERIC;
    use github::GITHUB;
    use gitlab::GITLAB;

    #[test]
    fn github_s_documented_example_signs_as_github_does() {
        // The example of GitHub's "Validating webhook deliveries" page.
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn only_the_right_signature_or_token_is_accepted() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let good = sign("s3cret-s3cret-s3cret", body);
        assert!(verify(&GITHUB, "s3cret-s3cret-s3cret", Some(good.as_bytes()), body));
        assert!(verify(&GENERIC, "s3cret-s3cret-s3cret", Some(good.as_bytes()), body));
        assert!(!verify(&GITHUB, "s3cret-s3cret-s3cret", Some(good.as_bytes()), b"{}"));
        assert!(!verify(&GITHUB, "other", Some(good.as_bytes()), body));
        assert!(!verify(&GITHUB, "s3cret-s3cret-s3cret", None, body));
        assert!(verify(&GITLAB, "tok", Some(b"tok"), body));
        assert!(!verify(&GITLAB, "tok", Some(b"tok2"), body));
    }

    #[test]
    fn a_large_delivery_is_read_from_its_start() {
        // Only the first part is kept: the JSON does not parse, its first `ref` is still found.
        let start = br#"{"ref": "refs/heads/main", "before": "0000", "commits": [{"id": "ab"#;
        assert_eq!(
            classify(&GITHUB, Some("push"), Some("application/json"), start),
            Event::Push {
                branch: Some("main".into())
            }
        );
        let tag = br#"{"ref":"refs/tags/v2","commits":["#;
        assert_eq!(
            classify(&GITHUB, Some("push"), None, tag),
            Event::Ignored("tag push".into())
        );
        assert_eq!(first_ref(r#"{"ref" : "refs/heads/x\"y"}"#), None);
        assert_eq!(first_ref("no ref here"), None);
    }

    #[test]
    fn only_pushes_to_a_branch_are_pushes() {
        let main = || Event::Push {
            branch: Some("main".into()),
        };
        let json = Some("application/json");
        let body = br#"{"ref":"refs/heads/main"}"#;
        assert_eq!(classify(&GITHUB, Some("push"), json, body), main());
        assert_eq!(classify(&GITLAB, Some("Push Hook"), json, body), main());
        assert_eq!(classify(&GENERIC, None, json, body), main());
        assert_eq!(
            classify(&GENERIC, None, None, b"anything"),
            Event::Push { branch: None }
        );
        assert_eq!(classify(&GITHUB, Some("ping"), json, b"{}"), Event::Ping);
        assert_eq!(
            classify(&GITHUB, Some("issues"), json, body),
            Event::Ignored("issues".into())
        );
        assert_eq!(
            classify(&GITLAB, Some("Tag Push Hook"), json, body),
            Event::Ignored("Tag Push Hook".into())
        );
        assert_eq!(
            classify(&GITHUB, Some("push"), json, br#"{"ref":"refs/tags/v1"}"#),
            Event::Ignored("tag push".into())
        );
        assert_eq!(
            classify(&GITHUB, None, json, body),
            Event::Ignored("no X-GitHub-Event header".into())
        );
        // GitHub's default content type: the JSON is the form's `payload` field.
        let form = b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fdevelop%22%7D";
        assert_eq!(
            classify(&GITHUB, Some("push"), Some("application/x-www-form-urlencoded"), form),
            Event::Push {
                branch: Some("develop".into())
            }
        );
    }
}
