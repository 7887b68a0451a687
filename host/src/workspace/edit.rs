//! Changes a person makes to a workspace (through the CLI or the service's API): checked and
//! rendered by the `workspace` component with the rules INBOUND applies to a file from Git, stored,
//! and queued for OUTBOUND.

use crate::author::Author;
use crate::store::WorkspaceStore;
use crate::workspace::layout_path;
use anyhow::{Context, Result, bail};
use gitsync_core::diag::Diagnostic;
use gitsync_engine::wit::{self as types, Outcome};
use gitsync_engine::{BuiltinPolicies, WorkspacePolicy};

/// The most a resource may be: what `gitsync validate` reads of a file by default.
pub const MAX_RESOURCE_SIZE: u64 = gitsync_core::layout::MAX_FILE_SIZE;

/// What a change expects of the resource's version (an API client's `If-Match` /
/// `If-None-Match`, the CLI's `--if-version`): a change made on a version that is no longer the
/// resource's is refused, so no one overwrites what they have not seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Whatever is there.
    Any,
    /// The resource exists (`If-Match: *`).
    Exists,
    /// The resource does not exist yet (`If-None-Match: *`): create only.
    Absent,
    /// Its version is one of these.
    OneOf(Vec<String>),
}

impl Expect {
    fn holds(&self, current: Option<&str>) -> bool {
        match self {
            Expect::Any => true,
            Expect::Exists => current.is_some(),
            Expect::Absent => current.is_none(),
            Expect::OneOf(v) => current.is_some_and(|c| v.iter().any(|x| x == c)),
        }
    }
}

/// What a put did.
#[derive(Debug)]
pub enum Put {
    /// Stored (and queued) as this canonical YAML, now at `version`; `created` when the resource
    /// is new.
    Stored {
        created: bool,
        yaml: String,
        version: String,
    },
    /// Not stored: the findings, on the layout path of the resource.
    Invalid(Vec<Diagnostic>),
    /// Not stored: the resource is not at the version expected; its version now (none: it does
    /// not exist).
    Stale { current: Option<String> },
}

/// What a delete did.
#[derive(Debug)]
pub enum Deleted {
    Done,
    /// There is no such resource.
    NotFound,
    /// Not deleted: others use it (a finding at each reference).
    InUse(Vec<Diagnostic>),
    /// Not deleted: it is not at the version expected.
    Stale {
        current: String,
    },
}

/// The error of a resource over [`MAX_RESOURCE_SIZE`].
pub fn too_large(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} is larger than {} MiB, the most a resource file may be (gitsync validate reports larger files as GS003, unread); split it",
        MAX_RESOURCE_SIZE >> 20
    )
}

/// Create or update `kind` `slug` from YAML or JSON `contents` as `author`: it must be at the
/// version `expect`ed, parse, and its references must name what the workspace holds (real ids, not
/// aliases) — checked and written as one step (`WorkspaceStore::lock_edits`).
pub fn put(
    store: &mut dyn WorkspaceStore,
    policy: &WorkspacePolicy,
    kind: &str,
    slug: &str,
    contents: &[u8],
    author: &Author,
    expect: &Expect,
) -> Result<Put> {
    let path = layout_path(kind, slug)?;
    if contents.len() as u64 > MAX_RESOURCE_SIZE {
        return Err(too_large(&format!("{kind} {slug}")));
    }
    let _one_at_a_time = store.lock_edits()?;
    let current = store.get(kind, slug)?.map(|r| r.version());
    if !expect.holds(current.as_deref()) {
        return Ok(Put::Stale { current });
    }
    let state = super::state(store, "", super::Held::Kind("model"))?;
    let source = types::SourceFile {
        path,
        contents: contents.to_vec(),
    };
    let yaml = match policy.plan_put(&state, &source)?.outcome {
        Outcome::Apply(yaml) if yaml.len() as u64 > MAX_RESOURCE_SIZE => {
            return Err(too_large(&format!("{kind} {slug} as YAML")));
        }
        Outcome::Apply(yaml) => yaml,
        Outcome::Unchanged => store.get(kind, slug)?.map(|r| r.yaml).unwrap_or_default(),
        Outcome::Unwritable(e) => bail!("cannot render {kind} {slug}: {e}"),
        Outcome::Skipped(diags) => return Ok(Put::Invalid(diags)),
    };
    let created = current.is_none();
    store.put(kind, slug, &yaml, author)?;
    let version = store.get(kind, slug)?.map(|r| r.version()).unwrap_or_default();
    Ok(Put::Stored { created, yaml, version })
}

/// Delete `kind` `slug` as `author`: it must be at the version `expect`ed, and (unless `force`) no
/// other resource may use it — checked and written as one step (`WorkspaceStore::lock_edits`), so
/// a sync written at the same moment cannot end up pointing at a model that is gone.
pub fn delete(
    store: &mut dyn WorkspaceStore,
    policy: &WorkspacePolicy,
    kind: &str,
    slug: &str,
    author: &Author,
    force: bool,
    expect: &Expect,
) -> Result<Deleted> {
    layout_path(kind, slug)?;
    let _one_at_a_time = store.lock_edits()?;
    let Some(current) = store.get(kind, slug)?.map(|r| r.version()) else {
        return Ok(Deleted::NotFound);
    };
    if !expect.holds(Some(&current)) {
        return Ok(Deleted::Stale { current });
    }
    if !force {
        let state = super::state(store, "", super::Held::All)?;
        let broken = policy.plan_delete(&state, kind, slug)?;
        if !broken.is_empty() {
            return Ok(Deleted::InUse(broken));
        }
    }
    store.delete(kind, slug, author)?;
    Ok(Deleted::Done)
}

/// A resource as JSON: its record and its fields as the schema component reads them (so
/// `jq .resource.name` works); none when the workspace does not hold it.
pub fn get_json(
    store: &dyn WorkspaceStore,
    policies: &BuiltinPolicies,
    kind: &str,
    slug: &str,
) -> Result<Option<serde_json::Value>> {
    layout_path(kind, slug)?;
    let Some(r) = store.get(kind, slug)? else {
        return Ok(None);
    };
    let fields = policies
        .fields_as_json(&r.yaml)?
        .map_err(|e| anyhow::anyhow!("{kind} `{slug}`: {e}"))?;
    let fields: serde_json::Value = serde_json::from_str(&fields).context("the schema component returned no JSON")?;
    Ok(Some(serde_json::json!({
        "kind": r.kind,
        "slug": r.slug,
        "version": r.version(),
        "updated_at": r.updated_at,
        "updated_by": r.updated_by,
        "resource": fields,
    })))
}
