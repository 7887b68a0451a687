//! Any other sender (a CI job, Gitea, a script): `X-Signature: sha256=<hex HMAC-SHA256(secret,
//! body)>`, the delivery id in `X-Delivery`; every delivery is a push, of the branch its JSON
//! `ref` names, or of one it does not name (the pass fetches and sees).

use super::{Proof, Provider};

pub const GENERIC: Provider = Provider {
    name: "generic",
    proof: Proof::HmacSha256 { header: "x-signature" },
    event_header: None,
    push_events: &[],
    ping_events: &[],
    delivery_header: "x-delivery",
};
