//! The pull-request check (docs/check.md): what a change from a base revision to a head revision breaks,
//! and which syncs it affects, per workspace.

use crate::aliases::{ResolvedReference, resolve};
use crate::diag::{Diagnostic, Span, codes};
use crate::resource::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
    Renamed,
}

/// A file that differs between the base and the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedFile {
    /// The path at the head (for a deleted file: the path it had).
    pub path: String,
    /// The path at the base, for a renamed file.
    pub old_path: Option<String>,
    pub kind: ChangeKind,
}

/// A sync the change affects, in one workspace (none when the repository has no manifest).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AffectedSync {
    pub workspace: Option<String>,
    pub sync: String,
    pub path: String,
    pub reasons: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub diagnostics: Vec<Diagnostic>,
    pub affected: Vec<AffectedSync>,
}

struct Side<'a> {
    models: HashMap<&'a str, &'a Resource>,
    schema_models: HashMap<&'a str, &'a Resource>,
    relationships: HashMap<&'a str, &'a Resource>,
    syncs: Vec<&'a Resource>,
}

impl<'a> Side<'a> {
    fn new(resources: &'a [Resource]) -> Side<'a> {
        let mut side = Side {
            models: HashMap::new(),
            schema_models: HashMap::new(),
            relationships: HashMap::new(),
            syncs: vec![],
        };
        for r in resources {
            match &r.body {
                ResourceBody::Model(m) if m.kind == ModelKind::Model => {
                    side.models.insert(&r.slug, r);
                }
                ResourceBody::Model(_) => {
                    side.schema_models.insert(&r.slug, r);
                }
                ResourceBody::Relationship(_) => {
                    side.relationships.insert(&r.slug, r);
                }
                ResourceBody::Sync(_) => side.syncs.push(r),
                _ => {}
            }
        }
        side
    }
}

fn stem(path: &str) -> &str {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.strip_suffix(".yaml").unwrap_or(file)
}

/// Compare `base` with `head` given the files that changed between them.
/// Emits GS601, GS602, GS603, GS604, GS605, GS609.
pub fn compare(base: &[Resource], head: &[Resource], changes: &[ChangedFile]) -> Comparison {
    let (b, h) = (Side::new(base), Side::new(head));
    let mut diags = Vec::new();
    // slug at the base -> slug at the head, for renamed resource files.
    let renamed: HashMap<&str, &str> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Renamed)
        .filter_map(|c| c.old_path.as_deref().map(|old| (stem(old), stem(&c.path))))
        .collect();
    let renamed_paths: HashMap<&str, &str> = changes
        .iter()
        .filter(|c| c.kind == ChangeKind::Renamed)
        .filter_map(|c| c.old_path.as_deref().map(|old| (old, c.path.as_str())))
        .collect();
    let head_path_of =
        |base_path: &str| -> String { renamed_paths.get(base_path).copied().unwrap_or(base_path).to_string() };

    // Per workspace, syncs affected and why. Syncs are shared by every workspace of the branch.
    let head_resolutions = resolve(head);
    let base_resolutions = resolve(base);
    let mut workspaces: Vec<Option<String>> = head_resolutions
        .iter()
        .filter(|r| {
            head.iter()
                .any(|x| x.as_manifest().is_some_and(|m| m.workspace == r.workspace))
        })
        .map(|r| Some(r.workspace.clone()))
        .collect();
    if workspaces.is_empty() {
        workspaces.push(None);
    }
    let mut affected: BTreeMap<(Option<String>, String), (String, BTreeSet<String>)> = BTreeMap::new();
    let mut affect = |ws: &Option<String>, sync: &Resource, reason: String| {
        affected
            .entry((ws.clone(), sync.slug.clone()))
            .or_insert_with(|| (sync.path.clone(), BTreeSet::new()))
            .1
            .insert(reason);
    };
    // Indexes, so that a 10,000-file repository is not scanned once per resource.
    let mut by_model: HashMap<&str, Vec<&Resource>> = HashMap::new();
    for s in &h.syncs {
        if let Some(m) = s.as_sync().and_then(|x| x.model.as_ref()) {
            by_model.entry(m.value.as_str()).or_default().push(s);
        }
    }
    let syncs_using = |model: &str| -> Vec<&Resource> { by_model.get(model).cloned().unwrap_or_default() };
    let head_by_path: HashMap<&str, &Resource> = head.iter().map(|r| (r.path.as_str(), r)).collect();

    // 1. Models deleted or renamed while a sync still uses them.
    for (slug, model) in &b.models {
        if h.models.contains_key(slug) {
            continue;
        }
        for s in syncs_using(slug) {
            let sync = s.as_sync().unwrap();
            let span = sync.model.as_ref().map_or(Span::file_start(), |m| m.span);
            let (message, help) = match renamed.get(slug).filter(|n| h.models.contains_key(**n)) {
                Some(new) => (
                    format!(
                        "model `{slug}` was renamed to `{new}`, but sync `{}` still uses `{slug}`",
                        s.slug
                    ),
                    format!("change this line to `model: {new}` (renaming a model file changes its slug)"),
                ),
                None => (
                    format!("model `{slug}` was deleted, but sync `{}` still uses it", s.slug),
                    format!("restore {} or point the sync at another model", model.path),
                ),
            };
            diags.push(
                Diagnostic::new(codes::BREAKING_MODEL_REMOVED, &s.path, span, message)
                    .label("this sync breaks")
                    .help(help),
            );
            for ws in &workspaces {
                affect(ws, s, format!("its model `{slug}` is gone"));
            }
        }
    }
    // 2. Schema models deleted while a relationship uses them; 3. relationships deleted while a
    // through relationship uses them.
    for slug in b.schema_models.keys() {
        if h.schema_models.contains_key(slug) {
            continue;
        }
        for r in h.relationships.values() {
            let refs: Vec<&Text> = match r.as_relationship() {
                Some(Relationship::Direct(d)) => [&d.from.slug, &d.to.slug].into_iter().flatten().collect(),
                Some(Relationship::Through(t)) => [&t.from_slug, &t.to_slug].into_iter().flatten().collect(),
                None => vec![],
            };
            for t in refs.into_iter().filter(|t| t.value == *slug) {
                diags.push(
                    Diagnostic::new(
                        codes::BREAKING_SCHEMA_MODEL_REMOVED,
                        &r.path,
                        t.span,
                        format!(
                            "schema model `{slug}` was {}, but relationship `{}` still uses it",
                            gone_word(renamed.get(slug)),
                            r.slug
                        ),
                    )
                    .help(rename_help(renamed.get(slug), "slug")),
                );
            }
        }
    }
    for slug in b.relationships.keys() {
        if h.relationships.contains_key(slug) {
            continue;
        }
        for r in h.relationships.values() {
            let Some(Relationship::Through(t)) = r.as_relationship() else {
                continue;
            };
            for step in t.through.iter().filter(|s| s.value == *slug) {
                diags.push(
                    Diagnostic::new(
                        codes::BREAKING_RELATIONSHIP_REMOVED,
                        &r.path,
                        step.span,
                        format!(
                            "relationship `{slug}` was {}, but through relationship `{}` still uses it",
                            gone_word(renamed.get(slug)),
                            r.slug
                        ),
                    )
                    .help(rename_help(renamed.get(slug), "entry")),
                );
            }
        }
    }

    // 4. References that resolved at the base and no longer do, per workspace.
    for hr in &head_resolutions {
        let Some(br) = base_resolutions.iter().find(|b| b.workspace == hr.workspace) else {
            continue;
        };
        let base_refs: HashMap<(String, &str), &ResolvedReference> = br
            .references
            .iter()
            .map(|r| ((head_path_of(&r.path), r.field.as_str()), r))
            .collect();
        let ws = Some(hr.workspace.clone());
        for r in &hr.references {
            let Some(before) = base_refs.get(&(r.path.clone(), r.field.as_str())) else {
                continue;
            };
            let resource = head_by_path.get(r.path.as_str()).copied();
            let Some(resource) = resource else { continue };
            let users: Vec<&Resource> = match &resource.body {
                ResourceBody::Model(m) if m.kind == ModelKind::Model => syncs_using(&resource.slug),
                ResourceBody::Sync(_) => vec![resource],
                _ => vec![],
            };
            match (&before.id, &r.id) {
                (Some(old_id), None) => {
                    let span = match &resource.body {
                        ResourceBody::Model(m) => m.source.as_ref().map(|t| t.span),
                        ResourceBody::Sync(s) => s.destination.as_ref().map(|t| t.span),
                        _ => None,
                    }
                    .unwrap_or(Span::file_start());
                    let why = if before.value != r.value {
                        format!("it was changed from `{}`", before.value)
                    } else {
                        format!(
                            "the alias or manifest entry behind it changed in workspace `{}`",
                            hr.workspace
                        )
                    };
                    let names: Vec<&str> = users.iter().map(|s| s.slug.as_str()).collect();
                    let mut d = Diagnostic::new(
                        codes::BREAKING_REFERENCE,
                        &r.path,
                        span,
                        format!(
                            "{} `{}` resolved to `{old_id}` at the base but no longer resolves in workspace `{}`",
                            r.field, r.value, hr.workspace
                        ),
                    )
                    .label(why)
                    .help(format!(
                        "keep an alias `{}` in aliases-{}.yaml pointing at an id from manifest-{}.yaml{}",
                        r.value,
                        hr.workspace,
                        hr.workspace,
                        if names.is_empty() {
                            String::new()
                        } else {
                            format!("; affected syncs: {}", names.join(", "))
                        }
                    ));
                    d.workspace = Some(hr.workspace.clone());
                    diags.push(d);
                    for s in &users {
                        affect(&ws, s, format!("its {} `{}` no longer resolves", r.field, r.value));
                    }
                }
                (Some(old_id), Some(new_id)) if old_id != new_id => {
                    for s in &users {
                        affect(
                            &ws,
                            s,
                            format!(
                                "its {} `{}` now resolves to `{new_id}` (was `{old_id}`)",
                                r.field, r.value
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    // 5. A model's primary key changed while syncs use it.
    for (slug, hm) in &h.models {
        let base_slug = renamed
            .iter()
            .find(|(_, new)| **new == *slug)
            .map_or(*slug, |(old, _)| *old);
        let Some(bm) = b.models.get(base_slug) else { continue };
        let (Some(old), Some(new)) = (
            bm.as_model().and_then(|m| m.primary_key.as_ref()),
            hm.as_model().and_then(|m| m.primary_key.as_ref()),
        ) else {
            continue;
        };
        let users = syncs_using(slug);
        if old.value == new.value || users.is_empty() {
            continue;
        }
        let names: Vec<&str> = users.iter().map(|s| s.slug.as_str()).collect();
        diags.push(
            Diagnostic::new(
                codes::PRIMARY_KEY_CHANGED,
                &hm.path,
                new.span,
                format!("primary key of model `{slug}` changed from `{}` to `{}` while syncs use it", old.value, new.value),
            )
            .label(format!("used by {}", names.join(", ")))
            .help("syncs match rows by primary key: expect their next run to treat every row as new; pause them or reset their state"),
        );
        for ws in &workspaces {
            for s in &users {
                affect(ws, s, format!("the primary key of model `{slug}` changed"));
            }
        }
    }

    // Files the change touches directly: syncs and the models they use, and manifests.
    for c in changes {
        match crate::parse::classify(&c.path, "") {
            _ if c.kind == ChangeKind::Deleted => {}
            crate::parse::Placement::Resource {
                kind: crate::parse::FileKind::Manifest { workspace },
                ..
            } => {
                diags.push(
                    Diagnostic::new(codes::MANIFEST_EDITED, &c.path, Span::file_start(), format!("manifest of workspace `{workspace}` edited"))
                        .label("read-only: your change will be overwritten")
                        .help("add sources and destinations in the workspace; use aliases-<workspace>.yaml to name them in Git")
                        .workspace(&workspace),
                );
            }
            _ => {}
        }
        let Some(resource) = head_by_path.get(c.path.as_str()).copied() else {
            continue;
        };
        match &resource.body {
            ResourceBody::Sync(_) => {
                for ws in &workspaces {
                    affect(ws, resource, change_reason(c));
                }
            }
            ResourceBody::Model(m) if m.kind == ModelKind::Model => {
                for s in syncs_using(&resource.slug) {
                    for ws in &workspaces {
                        affect(ws, s, format!("its model `{}` {}", resource.slug, change_verb(c)));
                    }
                }
            }
            _ => {}
        }
    }
    let affected = affected
        .into_iter()
        .map(|((workspace, sync), (path, reasons))| AffectedSync {
            workspace,
            sync,
            path,
            reasons: reasons.into_iter().collect(),
        })
        .collect();
    Comparison {
        diagnostics: diags,
        affected,
    }
}

fn gone_word(renamed_to: Option<&&str>) -> String {
    match renamed_to {
        Some(new) => format!("renamed to `{new}`"),
        None => "deleted".to_string(),
    }
}

fn rename_help(renamed_to: Option<&&str>, what: &str) -> String {
    match renamed_to {
        Some(new) => format!("change this {what} to `{new}`"),
        None => "restore the deleted file, or change this reference".to_string(),
    }
}

fn change_verb(c: &ChangedFile) -> &'static str {
    match c.kind {
        ChangeKind::Added => "was added",
        ChangeKind::Modified => "changed",
        ChangeKind::Deleted => "was deleted",
        ChangeKind::Renamed => "was renamed",
    }
}

fn change_reason(c: &ChangedFile) -> String {
    match (&c.kind, &c.old_path) {
        (ChangeKind::Renamed, Some(old)) => format!("its file was renamed from {old}"),
        (ChangeKind::Added, _) => "it is new".to_string(),
        _ => "its file changed".to_string(),
    }
}
