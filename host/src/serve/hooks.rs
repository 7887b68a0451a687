//! Webhook deliveries: who sent them (signatures, compared in constant time) and which branch they
//! are about. Nothing else in a payload is trusted: a valid delivery only starts a pass, which
//! fetches.

use crate::workspace::access::constant_time_eq;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The providers whose push events start a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    /// `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
    GitHub,
    /// `X-Gitlab-Token: <secret>`.
    GitLab,
    /// `X-Signature: sha256=<hex HMAC-SHA256(secret, body)>`.
    Generic,
}

impl Provider {
    pub fn name(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::Generic => "generic",
        }
    }

    pub fn parse(name: &str) -> Option<Provider> {
        match name {
            "github" => Some(Provider::GitHub),
            "gitlab" => Some(Provider::GitLab),
            "generic" => Some(Provider::Generic),
            _ => None,
        }
    }
}

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
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut s = Signer::new(secret);
    s.update(body);
    s.finish()
}

/// Whether a delivery carries a valid signature: `header` is the provider's header value, if sent.
pub fn verify(provider: Provider, secret: &str, header: Option<&[u8]>, body: &[u8]) -> bool {
    let Some(given) = header else {
        return false;
    };
    match provider {
        Provider::GitLab => constant_time_eq(given, secret.as_bytes()),
        Provider::GitHub | Provider::Generic => constant_time_eq(given, sign(secret, body).as_bytes()),
    }
}

/// What a signed delivery is about, from its provider's event header and its payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Event {
    /// Something was pushed: to `branch`, or to a branch the payload does not name (a generic
    /// delivery need not say; the pass fetches and sees).
    Push { branch: Option<String> },
    /// GitHub's `ping`, sent when a webhook is made: answered, nothing to do.
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

/// Read a delivery. `event` is the provider's event header (`X-GitHub-Event`, `X-Gitlab-Event`);
/// a form-encoded body (GitHub's default content type) carries the JSON in its `payload` field.
pub fn classify(provider: Provider, event: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Event {
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
    match (provider, event) {
        (Provider::GitHub, Some("push")) | (Provider::GitLab, Some("Push Hook")) | (Provider::Generic, _) => push(),
        (Provider::GitHub, Some("ping")) => Event::Ping,
        (Provider::GitHub, Some(other)) | (Provider::GitLab, Some(other)) => Event::Ignored(other.to_string()),
        (Provider::GitHub, None) => Event::Ignored("no X-GitHub-Event header".into()),
        (Provider::GitLab, None) => Event::Ignored("no X-Gitlab-Event header".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(verify(
            Provider::GitHub,
            "s3cret-s3cret-s3cret",
            Some(good.as_bytes()),
            body
        ));
        assert!(verify(
            Provider::Generic,
            "s3cret-s3cret-s3cret",
            Some(good.as_bytes()),
            body
        ));
        assert!(!verify(
            Provider::GitHub,
            "s3cret-s3cret-s3cret",
            Some(good.as_bytes()),
            b"{}"
        ));
        assert!(!verify(Provider::GitHub, "other", Some(good.as_bytes()), body));
        assert!(!verify(Provider::GitHub, "s3cret-s3cret-s3cret", None, body));
        assert!(verify(Provider::GitLab, "tok", Some(b"tok"), body));
        assert!(!verify(Provider::GitLab, "tok", Some(b"tok2"), body));
    }

    #[test]
    fn a_large_delivery_is_read_from_its_start() {
        // Only the first part is kept: the JSON does not parse, its first `ref` is still found.
        let start = br#"{"ref": "refs/heads/main", "before": "0000", "commits": [{"id": "ab"#;
        assert_eq!(
            classify(Provider::GitHub, Some("push"), Some("application/json"), start),
            Event::Push {
                branch: Some("main".into())
            }
        );
        let tag = br#"{"ref":"refs/tags/v2","commits":["#;
        assert_eq!(
            classify(Provider::GitHub, Some("push"), None, tag),
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
        assert_eq!(classify(Provider::GitHub, Some("push"), json, body), main());
        assert_eq!(classify(Provider::GitLab, Some("Push Hook"), json, body), main());
        assert_eq!(classify(Provider::Generic, None, json, body), main());
        assert_eq!(
            classify(Provider::Generic, None, None, b"anything"),
            Event::Push { branch: None }
        );
        assert_eq!(classify(Provider::GitHub, Some("ping"), json, b"{}"), Event::Ping);
        assert_eq!(
            classify(Provider::GitHub, Some("issues"), json, body),
            Event::Ignored("issues".into())
        );
        assert_eq!(
            classify(Provider::GitLab, Some("Tag Push Hook"), json, body),
            Event::Ignored("Tag Push Hook".into())
        );
        assert_eq!(
            classify(Provider::GitHub, Some("push"), json, br#"{"ref":"refs/tags/v1"}"#),
            Event::Ignored("tag push".into())
        );
        assert_eq!(
            classify(Provider::GitHub, None, json, body),
            Event::Ignored("no X-GitHub-Event header".into())
        );
        // GitHub's default content type: the JSON is the form's `payload` field.
        let form = b"payload=%7B%22ref%22%3A%22refs%2Fheads%2Fdevelop%22%7D";
        assert_eq!(
            classify(
                Provider::GitHub,
                Some("push"),
                Some("application/x-www-form-urlencoded"),
                form
            ),
            Event::Push {
                branch: Some("develop".into())
            }
        );
    }
}
