//! The workspace: what a person does with it (`edit`), the sync engine that keeps it and a Git branch
//! in step (`sync`, docs/sync.md), on a store opened through `crate::store`.

pub mod edit;
pub mod sync;

use crate::store::{EndpointKind, WorkspaceStore};
use anyhow::Result;
use gitsync_engine::wit::{Endpoint, HeldResource, WorkspaceState};

/// The repository path of a resource of `kind` with `slug` (an event's slug is `<contract>/<event>`),
/// by the layout's one rule (gitsync-core's `layout`); an error names what is wrong.
pub fn layout_path(kind: &str, slug: &str) -> Result<String> {
    gitsync_core::layout::resource_path(kind, slug).map_err(anyhow::Error::msg)
}

/// A source or destination that may be added (gitsync-core's rule): the message says which field is
/// wrong and what it may be.
pub fn check_endpoint(e: &crate::store::Endpoint) -> Result<()> {
    gitsync_core::workspace::check_endpoint(&e.id, &e.name, &e.kind).map_err(anyhow::Error::msg)
}

/// What removing a source or destination came to.
pub enum Removed {
    /// There is none with that id.
    NotFound,
    /// Resources use it (a finding at each field naming it); nothing was removed.
    InUse(Vec<gitsync_core::diag::Diagnostic>),
    Done,
}

/// Remove source or destination `id` of the workspace in `store`, unless a resource uses it (a model's
/// `source`, a sync's `destination`) and `force` is not given. The manifest the next pass writes
/// no longer lists it.
pub fn remove_endpoint(
    store: &mut dyn WorkspaceStore,
    policy: &gitsync_engine::WorkspacePolicy<'_>,
    kind: EndpointKind,
    id: &str,
    force: bool,
) -> Result<Removed> {
    let _one_at_a_time = store.lock_edits()?;
    if !store.endpoints(kind)?.iter().any(|e| e.id == id) {
        return Ok(Removed::NotFound);
    }
    if !force {
        let state = state(store, "", Held::All)?;
        let users = policy.plan_remove_endpoint(&state, kind.noun(), id)?;
        if !users.is_empty() {
            return Ok(Removed::InUse(users));
        }
    }
    store.remove_endpoint(kind, id)?;
    Ok(Removed::Done)
}

/// Which resources a plan needs to see.
pub enum Held<'a> {
    Nothing,
    All,
    /// Those of one kind (`model`, …).
    Kind(&'a str),
}

/// The workspace as the `workspace` component plans with it: its id, the configured path `base`,
/// its sources and destinations, and the resources `held` names.
pub fn state(store: &dyn WorkspaceStore, base: &str, held: Held) -> Result<WorkspaceState> {
    let endpoints = |kind| -> Result<Vec<Endpoint>> {
        Ok(store
            .endpoints(kind)?
            .into_iter()
            .map(|e| Endpoint {
                id: e.id,
                name: e.name,
                kind: e.kind,
            })
            .collect())
    };
    let held = match held {
        Held::Nothing => Vec::new(),
        Held::All => store.list(None)?,
        Held::Kind(kind) => store.list(Some(kind))?,
    };
    Ok(WorkspaceState {
        id: store.workspace_id()?,
        path: base.to_string(),
        sources: endpoints(EndpointKind::Source)?,
        destinations: endpoints(EndpointKind::Destination)?,
        held: held
            .into_iter()
            .map(|r| HeldResource {
                kind: r.kind,
                slug: r.slug,
                yaml: r.yaml,
            })
            .collect(),
    })
}

/// Where a workspace stands: what `gitsync status --format json` prints and the service's status
/// route returns.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    pub workspace: String,
    /// The repository URL, credentials redacted.
    pub repository: Option<String>,
    pub branch: Option<String>,
    pub path: Option<String>,
    pub last_applied: Option<String>,
    /// Queued changes, without their content (`workspace get` shows it).
    pub queued: Vec<crate::store::QueuedChange>,
    pub conflicts: usize,
    pub resources: usize,
}

pub fn status(store: &dyn WorkspaceStore) -> Result<Status> {
    let mut queued = store.outbound_queue()?;
    for q in &mut queued {
        q.yaml = None;
    }
    Ok(Status {
        workspace: store.workspace_id()?,
        repository: store.setting("repo")?.map(|u| sync::redact(&u)),
        branch: store.setting("branch")?,
        path: store.setting("path")?,
        last_applied: store.last_applied()?,
        queued,
        conflicts: store.conflicts()?.len(),
        resources: store.list(None)?.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_paths() {
        assert_eq!(layout_path("model", "orders").unwrap(), "models/orders.yaml");
        assert_eq!(
            layout_path("event", "web/signup-web-default").unwrap(),
            "events/contracts/web/signup-web-default.yaml"
        );
        assert!(layout_path("event", "signup").is_err());
        assert!(layout_path("model", "../etc/passwd").is_err());
        assert!(layout_path("audience", "x").is_err());
    }
}
