//! Alias maps and the resolution of sources and destinations, per workspace (docs/resources.md, "Resolution").

use crate::diag::{Diagnostic, Span, codes};
use crate::resource::*;
use crate::suggest::closest;
use std::collections::{BTreeMap, HashMap};

/// A reference (a model's `source`, a sync's `destination`) and the id it resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedReference {
    pub path: String,
    pub field: String,
    pub value: String,
    pub id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resolution {
    pub workspace: String,
    pub references: Vec<ResolvedReference>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Source,
    Destination,
}

impl Side {
    fn noun(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Side::Source => "sources",
            Side::Destination => "destinations",
        }
    }
}

/// One workspace's names: its manifest ids and its aliases.
struct Names<'a> {
    id: &'a str,
    sources: Vec<&'a str>,
    destinations: Vec<&'a str>,
    source_aliases: HashMap<&'a str, &'a str>,
    destination_aliases: HashMap<&'a str, &'a str>,
}

impl<'a> Names<'a> {
    fn ids(&self, side: Side) -> &[&'a str] {
        match side {
            Side::Source => &self.sources,
            Side::Destination => &self.destinations,
        }
    }
    fn aliases(&self, side: Side) -> &HashMap<&'a str, &'a str> {
        match side {
            Side::Source => &self.source_aliases,
            Side::Destination => &self.destination_aliases,
        }
    }
    fn knows(&self, side: Side, value: &str) -> bool {
        self.ids(side).contains(&value) || self.aliases(side).contains_key(value)
    }
}

/// Resolve every reference in every workspace. A workspace is a manifest; an alias file without
/// one gets a resolution of its own holding only the warning about it.
/// Emits GS203, GS204.
pub fn resolve(resources: &[Resource]) -> Vec<Resolution> {
    let manifests: Vec<&Manifest> = resources.iter().filter_map(Resource::as_manifest).collect();
    let alias_files: BTreeMap<&str, (&Resource, &AliasMap)> = resources
        .iter()
        .filter_map(|r| r.as_aliases().map(|a| (a.workspace.as_str(), (r, a))))
        .collect();
    let names: Vec<Names> = manifests
        .iter()
        .map(|m| {
            let aliases = alias_files.get(m.workspace.as_str()).map(|(_, a)| *a);
            Names {
                id: &m.workspace,
                sources: m.sources.iter().map(|e| e.id.value.as_str()).collect(),
                destinations: m.destinations.iter().map(|e| e.id.value.as_str()).collect(),
                source_aliases: alias_table(aliases.map(|a| &a.sources)),
                destination_aliases: alias_table(aliases.map(|a| &a.destinations)),
            }
        })
        .collect();

    let mut out = Vec::new();
    for (i, manifest) in manifests.iter().enumerate() {
        let ws = &names[i];
        let others: Vec<&Names> = names.iter().filter(|n| n.id != ws.id).collect();
        let mut diags = Vec::new();
        let manifest_path = resources
            .iter()
            .find(|r| r.as_manifest().is_some_and(|m| m.workspace == manifest.workspace))
            .map(|r| r.path.as_str())
            .unwrap_or_default();
        if !manifest.has_read_only_header {
            diags.push(
                Diagnostic::new(
                    codes::MANIFEST_HEADER,
                    manifest_path,
                    Span::file_start(),
                    "manifest lacks its READ ONLY header",
                )
                .label("gitsync rewrites this file from the workspace")
                .help("add `# READ ONLY: generated from the workspace; edits are overwritten` as the first line"),
            );
        }
        if let Some((file, aliases)) = alias_files.get(ws.id) {
            check_alias_file(file, aliases, ws, &others, &mut diags);
        }
        let mut references = Vec::new();
        for r in resources {
            let (field, side, value) = match &r.body {
                ResourceBody::Model(m) => ("source", Side::Source, m.source.as_ref()),
                ResourceBody::Sync(s) => ("destination", Side::Destination, s.destination.as_ref()),
                _ => continue,
            };
            let Some(value) = value else { continue };
            let id = resolve_one(r, side, value, ws, &others, &mut diags);
            references.push(ResolvedReference {
                path: r.path.clone(),
                field: field.to_string(),
                value: value.value.clone(),
                id,
            });
        }
        for d in &mut diags {
            d.workspace = Some(ws.id.to_string());
        }
        out.push(Resolution {
            workspace: ws.id.to_string(),
            references,
            diagnostics: diags,
        });
    }
    for (workspace, (file, _)) in &alias_files {
        if !names.iter().any(|n| n.id == *workspace) {
            out.push(Resolution {
                workspace: workspace.to_string(),
                references: vec![],
                diagnostics: vec![
                    Diagnostic::new(
                        codes::ALIASES_WITHOUT_MANIFEST,
                        &file.path,
                        Span::file_start(),
                        format!("alias file for workspace `{workspace}`, which has no manifest-{workspace}.yaml"),
                    )
                    .label("its aliases are not checked")
                    .help(format!(
                        "connect workspace `{workspace}` (it writes the manifest), or delete this file"
                    ))
                    .workspace(workspace),
                ],
            });
        }
    }
    out
}

fn alias_table(entries: Option<&Vec<AliasEntry>>) -> HashMap<&str, &str> {
    entries
        .map(|e| {
            e.iter()
                .map(|e| (e.alias.value.as_str(), e.target.value.as_str()))
                .collect()
        })
        .unwrap_or_default()
}

/// Emits GS201, GS202.
fn check_alias_file(file: &Resource, aliases: &AliasMap, ws: &Names, others: &[&Names], diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, (Side, Span)> = HashMap::new();
    for (side, entries) in [
        (Side::Source, &aliases.sources),
        (Side::Destination, &aliases.destinations),
    ] {
        for e in entries {
            if let Some((first_side, first)) = seen.get(e.alias.value.as_str()) {
                diags.push(
                    Diagnostic::new(
                        codes::DUPLICATE_ALIAS,
                        &file.path,
                        e.alias.span,
                        format!("alias `{}` is defined more than once", e.alias.value),
                    )
                    .label(format!("also under `{}` on line {}", first_side.key(), first.line))
                    .help("aliases must be unique across sources and destinations of one file; rename one of them"),
                );
                continue;
            }
            seen.insert(&e.alias.value, (side, e.alias.span));
            let target = e.target.value.as_str();
            if ws.ids(side).contains(&target) {
                continue;
            }
            let other_side = if side == Side::Source {
                Side::Destination
            } else {
                Side::Source
            };
            let help = if ws.ids(other_side).contains(&target) {
                format!(
                    "`{target}` is a {} in this workspace; move the alias under `{}:`",
                    other_side.noun(),
                    other_side.key()
                )
            } else if let Some(near) = closest(target, ws.ids(side).iter().copied()) {
                format!("did you mean `{near}`? (ids are case-sensitive)")
            } else {
                let elsewhere: Vec<&str> = others
                    .iter()
                    .filter(|o| o.ids(side).contains(&target))
                    .map(|o| o.id)
                    .collect();
                if elsewhere.is_empty() {
                    format!(
                        "use a {} id from manifest-{}.yaml: {}",
                        side.noun(),
                        ws.id,
                        list(ws.ids(side))
                    )
                } else {
                    format!(
                        "`{target}` is a {} of workspace {}, not of `{}`; point the alias at one of: {}",
                        side.noun(),
                        quoted(&elsewhere),
                        ws.id,
                        list(ws.ids(side))
                    )
                }
            };
            diags.push(
                Diagnostic::new(
                    codes::UNKNOWN_ALIAS_TARGET,
                    &file.path,
                    e.target.span,
                    format!(
                        "alias `{}` points at {} `{target}`, which is not in workspace `{}`",
                        e.alias.value,
                        side.noun(),
                        ws.id
                    ),
                )
                .label(format!("not in manifest-{}.yaml", ws.id))
                .help(help),
            );
        }
    }
}

/// Emits GS301, GS302.
fn resolve_one(
    r: &Resource,
    side: Side,
    value: &Text,
    ws: &Names,
    others: &[&Names],
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let v = value.value.as_str();
    if let Some(target) = ws.aliases(side).get(v) {
        // A broken alias target is reported once, on the alias file.
        return ws.ids(side).contains(target).then(|| target.to_string());
    }
    if ws.ids(side).contains(&v) {
        return Some(v.to_string());
    }
    let code = if side == Side::Source {
        codes::UNRESOLVED_SOURCE
    } else {
        codes::UNRESOLVED_DESTINATION
    };
    let candidates = ws.ids(side).iter().copied().chain(ws.aliases(side).keys().copied());
    let elsewhere: Vec<&str> = others.iter().filter(|o| o.knows(side, v)).map(|o| o.id).collect();
    let other_side = if side == Side::Source {
        Side::Destination
    } else {
        Side::Source
    };
    let help = if let Some(near) = closest(v, candidates) {
        format!("did you mean `{near}`? (names are case-sensitive)")
    } else if !elsewhere.is_empty() {
        format!(
            "`{v}` exists in {} only; use an alias present in every workspace's alias file (add `{v}: <{} id>` under `{}:` in aliases-{}.yaml)",
            quoted(&elsewhere),
            side.noun(),
            side.key(),
            ws.id
        )
    } else if ws.knows(other_side, v) {
        format!(
            "`{v}` is a {} in workspace `{}`, not a {}",
            other_side.noun(),
            ws.id,
            side.noun()
        )
    } else {
        format!(
            "use a {} id from manifest-{}.yaml ({}) or add an alias for it in aliases-{}.yaml",
            side.noun(),
            ws.id,
            list(ws.ids(side)),
            ws.id
        )
    };
    diags.push(
        Diagnostic::new(
            code,
            &r.path,
            value.span,
            format!("{} `{v}` does not exist in workspace `{}`", side.noun(), ws.id),
        )
        .label(format!("not in manifest-{0}.yaml or aliases-{0}.yaml", ws.id))
        .help(help),
    );
    None
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// At most a few ids, for a help line.
fn list(ids: &[&str]) -> String {
    if ids.is_empty() {
        return "none yet".to_string();
    }
    let mut s = quoted(&ids[..ids.len().min(5)]);
    if ids.len() > 5 {
        s.push_str(&format!(" and {} more", ids.len() - 5));
    }
    s
}
