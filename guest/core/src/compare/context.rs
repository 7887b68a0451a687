//! What the rules of the pull-request check share: both sides indexed by slug, the renames, the
//! syncs of each model, the workspaces, and the findings and affected syncs found so far.

use super::{AffectedSync, ChangeKind, ChangedFile, Comparison};
use crate::aliases::{Resolution, resolve};
use crate::diag::Diagnostic;
use crate::resource::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One side of the change (the base or the head), indexed.
pub(super) struct Side<'a> {
    pub models: HashMap<&'a str, &'a Resource>,
    pub schema_models: HashMap<&'a str, &'a Resource>,
    pub relationships: HashMap<&'a str, &'a Resource>,
    pub syncs: Vec<&'a Resource>,
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

pub(super) struct Context<'a> {
    pub base: Side<'a>,
    pub head: Side<'a>,
    pub changes: &'a [ChangedFile],
    /// Slug at the base → slug at the head, for renamed resource files.
    pub renamed: HashMap<&'a str, &'a str>,
    /// Path at the base → path at the head, for renamed files.
    renamed_paths: HashMap<&'a str, &'a str>,
    pub base_resolutions: Vec<Resolution>,
    pub head_resolutions: Vec<Resolution>,
    /// The workspaces the head has (none: the repository has no manifest).
    pub workspaces: Vec<Option<String>>,
    /// Syncs of the head by the model they use, so a 10,000-file repository is not scanned once per
    /// resource.
    by_model: HashMap<&'a str, Vec<&'a Resource>>,
    pub head_by_path: HashMap<&'a str, &'a Resource>,
    pub diagnostics: Vec<Diagnostic>,
    affected: BTreeMap<(Option<String>, String), (String, BTreeSet<String>)>,
}

impl<'a> Context<'a> {
    pub fn new(base: &'a [Resource], head: &'a [Resource], changes: &'a [ChangedFile]) -> Context<'a> {
        let renames = || {
            changes
                .iter()
                .filter(|c| c.kind == ChangeKind::Renamed)
                .filter_map(|c| c.old_path.as_deref().map(|old| (old, c.path.as_str())))
        };
        let head_resolutions = resolve(head);
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
        let head_side = Side::new(head);
        let mut by_model: HashMap<&str, Vec<&Resource>> = HashMap::new();
        for s in &head_side.syncs {
            if let Some(m) = s.as_sync().and_then(|x| x.model.as_ref()) {
                by_model.entry(m.value.as_str()).or_default().push(s);
            }
        }
        Context {
            base: Side::new(base),
            head: head_side,
            changes,
            renamed: renames().map(|(old, new)| (stem(old), stem(new))).collect(),
            renamed_paths: renames().collect(),
            base_resolutions: resolve(base),
            head_resolutions,
            workspaces,
            by_model,
            head_by_path: head.iter().map(|r| (r.path.as_str(), r)).collect(),
            diagnostics: Vec::new(),
            affected: BTreeMap::new(),
        }
    }

    /// The path a base file has at the head (renamed, or the same).
    pub fn head_path_of(&self, base_path: &str) -> String {
        self.renamed_paths
            .get(base_path)
            .copied()
            .unwrap_or(base_path)
            .to_string()
    }

    /// The syncs of the head that use model `model`.
    pub fn syncs_using(&self, model: &str) -> Vec<&'a Resource> {
        self.by_model.get(model).cloned().unwrap_or_default()
    }

    /// Record that the change affects `sync` in workspace `ws`, and why.
    pub fn affect(&mut self, ws: &Option<String>, sync: &Resource, reason: String) {
        self.affected
            .entry((ws.clone(), sync.slug.clone()))
            .or_insert_with(|| (sync.path.clone(), BTreeSet::new()))
            .1
            .insert(reason);
    }

    /// Record that the change affects `sync` in every workspace.
    pub fn affect_everywhere(&mut self, sync: &Resource, reason: String) {
        for ws in self.workspaces.clone() {
            self.affect(&ws, sync, reason.clone());
        }
    }

    pub fn finish(self) -> Comparison {
        let affected = self
            .affected
            .into_iter()
            .map(|((workspace, sync), (path, reasons))| AffectedSync {
                workspace,
                sync,
                path,
                reasons: reasons.into_iter().collect(),
            })
            .collect();
        Comparison {
            diagnostics: self.diagnostics,
            affected,
        }
    }
}

/// "renamed to `x`" or "deleted".
pub(super) fn gone_word(renamed_to: Option<&&str>) -> String {
    match renamed_to {
        Some(new) => format!("renamed to `{new}`"),
        None => "deleted".to_string(),
    }
}

pub(super) fn rename_help(renamed_to: Option<&&str>, what: &str) -> String {
    match renamed_to {
        Some(new) => format!("change this {what} to `{new}`"),
        None => "restore the deleted file, or change this reference".to_string(),
    }
}
