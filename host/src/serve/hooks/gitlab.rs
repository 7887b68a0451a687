//! GitLab: the secret itself in `X-Gitlab-Token`, the event in `X-Gitlab-Event` (`Push Hook`; a
//! tag push is `Tag Push Hook`), the delivery id in `X-Gitlab-Event-UUID`.

use super::{Proof, Provider};

pub const GITLAB: Provider = Provider {
    name: "gitlab",
    proof: Proof::Token {
        header: "x-gitlab-token",
    },
    event_header: Some("x-gitlab-event"),
    push_events: &["Push Hook"],
    ping_events: &[],
    delivery_header: "x-gitlab-event-uuid",
};
