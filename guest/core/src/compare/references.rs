//! GS604: a source or destination that resolved at the base and no longer does, per workspace;
//! and the syncs whose references now resolve to another id.

use super::context::Context;
use crate::aliases::ResolvedReference;
use crate::diag::{Diagnostic, Span, codes};
use crate::resource::*;
use std::collections::HashMap;

/// Emits GS604.
pub(super) fn check(cx: &mut Context) {
    // Found first with shared borrows of the context, recorded after.
    let mut found = Vec::new();
    let mut affects: Vec<(Option<String>, &Resource, String)> = Vec::new();
    for hr in &cx.head_resolutions {
        let Some(br) = cx.base_resolutions.iter().find(|b| b.workspace == hr.workspace) else {
            continue;
        };
        let base_refs: HashMap<(String, &str), &ResolvedReference> = br
            .references
            .iter()
            .map(|r| ((cx.head_path_of(&r.path), r.field.as_str()), r))
            .collect();
        let ws = Some(hr.workspace.clone());
        for r in &hr.references {
            let Some(before) = base_refs.get(&(r.path.clone(), r.field.as_str())) else {
                continue;
            };
            let Some(resource) = cx.head_by_path.get(r.path.as_str()).copied() else {
                continue;
            };
            let users: Vec<&Resource> = match &resource.body {
                ResourceBody::Model(m) if m.kind == ModelKind::Model => cx.syncs_using(&resource.slug),
                ResourceBody::Sync(_) => vec![resource],
                _ => vec![],
            };
            match (&before.id, &r.id) {
                (Some(old_id), None) => {
                    found.push(no_longer_resolves(
                        hr.workspace.as_str(),
                        resource,
                        before,
                        r,
                        old_id,
                        &users,
                    ));
                    for s in users {
                        affects.push((
                            ws.clone(),
                            s,
                            format!("its {} `{}` no longer resolves", r.field, r.value),
                        ));
                    }
                }
                (Some(old_id), Some(new_id)) if old_id != new_id => {
                    for s in users {
                        let why = format!(
                            "its {} `{}` now resolves to `{new_id}` (was `{old_id}`)",
                            r.field, r.value
                        );
                        affects.push((ws.clone(), s, why));
                    }
                }
                _ => {}
            }
        }
    }
    cx.diagnostics.extend(found);
    for (ws, sync, why) in affects {
        cx.affect(&ws, sync, why);
    }
}

fn no_longer_resolves(
    workspace: &str,
    resource: &Resource,
    before: &ResolvedReference,
    r: &ResolvedReference,
    old_id: &str,
    users: &[&Resource],
) -> Diagnostic {
    let span = match &resource.body {
        ResourceBody::Model(m) => m.source.as_ref().map(|t| t.span),
        ResourceBody::Sync(s) => s.destination.as_ref().map(|t| t.span),
        _ => None,
    }
    .unwrap_or(Span::file_start());
    let why = if before.value != r.value {
        format!("it was changed from `{}`", before.value)
    } else {
        format!("the alias or manifest entry behind it changed in workspace `{workspace}`")
    };
    let names: Vec<&str> = users.iter().map(|s| s.slug.as_str()).collect();
    Diagnostic::new(
        codes::BREAKING_REFERENCE,
        &r.path,
        span,
        format!(
            "{} `{}` resolved to `{old_id}` at the base but no longer resolves in workspace `{workspace}`",
            r.field, r.value
        ),
    )
    .label(why)
    .help(format!(
        "keep an alias `{}` in aliases-{workspace}.yaml pointing at an id from manifest-{workspace}.yaml{}",
        r.value,
        if names.is_empty() {
            String::new()
        } else {
            format!("; affected syncs: {}", names.join(", "))
        }
    ))
    .workspace(workspace)
}
