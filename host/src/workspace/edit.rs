//! Changes a person makes to a workspace (through the CLI or the service's API): checked and
//! rendered by the `workspace` component with the rules INBOUND applies to a file from Git, stored,
//! and queued for OUTBOUND.

use super::store::{Author, WorkspaceStore, layout_path};
use anyhow::{Context, Result, bail};
use gitsync_core::diag::Diagnostic;
use gitsync_engine::wit::{self as types, Outcome};
use gitsync_engine::{BuiltinPolicies, WorkspacePolicy};

/// The most a resource may be: what `gitsync validate` reads of a file by default.
pub const MAX_RESOURCE_SIZE: u64 = gitsync_core::layout::MAX_FILE_SIZE;

/// What a put did.
#[derive(Debug)]
pub enum Put {
    /// Stored (and queued) as this canonical YAML; `created` when the resource is new.
    Stored { created: bool, yaml: String },
    /// Not stored: the findings, on the layout path of the resource.
    Invalid(Vec<Diagnostic>),
}

/// The error of a resource over [`MAX_RESOURCE_SIZE`].
pub fn too_large(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} is larger than {} MiB, the most a resource file may be (gitsync validate reports larger files as GS003, unread); split it",
        MAX_RESOURCE_SIZE >> 20
    )
}

/// Create or update `kind` `slug` from YAML or JSON `contents` as `author`: it must parse, and its
/// references must name what the workspace holds (real ids, not aliases).
pub fn put(
    store: &mut dyn WorkspaceStore,
    policy: &WorkspacePolicy,
    kind: &str,
    slug: &str,
    contents: &[u8],
    author: &Author,
) -> Result<Put> {
    let path = layout_path(kind, slug)?;
    if contents.len() as u64 > MAX_RESOURCE_SIZE {
        return Err(too_large(&format!("{kind} {slug}")));
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
    let created = store.get(kind, slug)?.is_none();
    store.put(kind, slug, &yaml, author)?;
    Ok(Put::Stored { created, yaml })
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
        "updated_at": r.updated_at,
        "updated_by": r.updated_by,
        "resource": fields,
    })))
}
