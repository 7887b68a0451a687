//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, the event in
//! `X-GitHub-Event` (`push`; `ping` when the webhook is made), the delivery id in
//! `X-GitHub-Delivery`. The payload is JSON, or (GitHub's default content type) a form whose
//! `payload` field holds it.

use super::{Proof, Provider};

pub const GITHUB: Provider = Provider {
    name: "github",
    proof: Proof::HmacSha256 {
        header: "x-hub-signature-256",
    },
    event_header: Some("x-github-event"),
    push_events: &["push"],
    ping_events: &["ping"],
    delivery_header: "x-github-delivery",
};
