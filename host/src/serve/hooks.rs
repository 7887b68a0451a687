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

/// `sha256=<hex>` of `body` under `secret`: what GitHub sends in `X-Hub-Signature-256`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
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

/// The branch a push event is about (`ref: refs/heads/<branch>`), if the body says one.
pub fn pushed_branch(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("ref")?.as_str()?.strip_prefix("refs/heads/").map(String::from)
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
        assert_eq!(pushed_branch(body).as_deref(), Some("main"));
        assert_eq!(pushed_branch(br#"{"ref":"refs/tags/v1"}"#), None);
        assert_eq!(pushed_branch(b"not json"), None);
    }
}
