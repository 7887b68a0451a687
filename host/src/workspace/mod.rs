//! The workspace: its store (SQLite, behind the `WorkspaceStore` trait) and the sync engine that
//! keeps it and a Git branch in step (docs/sync.md).

pub mod access;
pub mod datadir;
pub mod edit;
mod private;
pub mod store;
pub mod sync;

use anyhow::Result;
use gitsync_engine::wit::{Endpoint, HeldResource, WorkspaceState};
use store::{EndpointKind, WorkspaceStore};

/// What removing a source or destination came to.
pub enum Removed {
    /// There is none with that id.
    NotFound,
    /// Resources use it (a finding at each field naming it); nothing was removed.
    InUse(Vec<gitsync_core::diag::Diagnostic>),
    Done,
}

/// Remove source or destination `id` of the workspace in `dir`, unless a resource uses it (a model's
/// `source`, a sync's `destination`) and `force` is not given. The manifest the next pass writes
/// no longer lists it.
pub fn remove_endpoint(
    dir: &std::path::Path,
    policy: &gitsync_engine::WorkspacePolicy<'_>,
    kind: EndpointKind,
    id: &str,
    force: bool,
) -> Result<Removed> {
    let mut store = store::SqliteStore::open(dir)?;
    let _one_at_a_time = store.lock_edits()?;
    if !store.endpoints(kind)?.iter().any(|e| e.id == id) {
        return Ok(Removed::NotFound);
    }
    if !force {
        let state = state(&store, "", Held::All)?;
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
    pub queued: Vec<store::QueuedChange>,
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
