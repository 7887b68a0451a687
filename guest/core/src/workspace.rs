//! What changes do to a workspace (docs/sync.md): the files of a commit coming in from Git (INBOUND),
//! a change made in the workspace itself (`workspace put`), and the text a workspace change is
//! written as (OUTBOUND). The workspace holds canonical YAML with real ids; Git may hold aliases.
//!
//! The host gathers the data — the workspace's sources, destinations and resources, the files of a
//! commit — and a component runs these functions; the host applies what they return.

use crate::diag::{Code, Diagnostic, Severity, codes};
use crate::layout::{self, Kind};
use crate::parse::parse_file_with;
use crate::resource::*;
use std::collections::{HashMap, HashSet};

/// A source or destination of the workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub name: String,
    pub kind: String,
}

/// A resource the workspace holds: its kind, slug and canonical YAML.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub kind: Kind,
    pub slug: String,
    pub yaml: String,
}

/// The workspace as a plan needs it.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub id: String,
    /// The configured sub-folder holding the resource folders (empty: the repository root).
    pub base: String,
    pub sources: Vec<Endpoint>,
    pub destinations: Vec<Endpoint>,
    pub held: Vec<Held>,
}

/// What a file does to the workspace.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The workspace already holds exactly this.
    Unchanged,
    /// Store this canonical YAML (references hold real ids).
    Apply(String),
    /// Not applied; the findings say why.
    Skipped(Vec<Diagnostic>),
    /// Read, but it cannot be written back as canonical YAML (the reason).
    Unwritable(String),
}

/// What one commit's files do to the workspace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InboundPlan {
    /// One entry per resource file of the layout.
    pub planned: Vec<Planned>,
    /// Files that look meant as resources but are not resource files of the layout (a sub-folder,
    /// `.yml`): the findings `validate` reports for them, so a pass does not skip them silently.
    pub ignored: Vec<Diagnostic>,
}

/// One file's plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub path: String,
    pub kind: Kind,
    pub slug: String,
    pub outcome: Outcome,
}

impl State {
    /// The workspace's manifest as a resource, for the alias resolution.
    fn manifest(&self) -> Resource {
        let entries = |list: &[Endpoint]| {
            list.iter()
                .map(|e| ManifestEntry {
                    id: Text::bare(e.id.clone()),
                    name: Some(e.name.clone()),
                    kind: Some(e.kind.clone()),
                })
                .collect()
        };
        Resource {
            path: layout::manifest_path(&self.id),
            slug: self.id.clone(),
            body: ResourceBody::Manifest(Manifest {
                workspace: self.id.clone(),
                sources: entries(&self.sources),
                destinations: entries(&self.destinations),
                has_read_only_header: true,
            }),
            spans: Vec::new(),
        }
    }

    fn held_yaml(&self) -> HashMap<(Kind, &str), &str> {
        self.held
            .iter()
            .map(|h| ((h.kind, h.slug.as_str()), h.yaml.as_str()))
            .collect()
    }
}

/// A resource's own kind, from where its file sits in the layout.
fn kind_of(r: &Resource, base: &str) -> Option<Kind> {
    placed(&r.path, base).map(|(kind, _)| kind)
}

/// The kind and slug a path has in the layout, its slug valid or not (`models/Orders.yaml` is the
/// model `Orders`, which `validate` rejects with GS108); none outside the layout.
fn placed(path: &str, base: &str) -> Option<(Kind, String)> {
    match layout::classify(path, base) {
        layout::Placement::Resource { kind, slug, .. } => Some((Kind::of_file(&kind)?, slug)),
        _ => None,
    }
}

fn errors(diags: &[Diagnostic]) -> Vec<Diagnostic> {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .cloned()
        .collect()
}

/// A resource the workspace holds, standing in for its file when the references of changed files
/// are checked: what a reference to it needs is that it exists (its kind and slug). Relationships
/// are parsed in full when a through chain among the changed files needs their real ends.
fn stand_in(h: &Held, base: &str) -> Option<Resource> {
    let model = |kind| {
        ResourceBody::Model(Model {
            kind,
            name: None,
            source: None,
            query_type: None,
            raw_sql: None,
            table_name: None,
            dbt_model: None,
            is_schema: None,
            primary_key: None,
            primary_label: None,
            secondary_label: None,
            event_timestamp_column: None,
        })
    };
    let body = match h.kind {
        Kind::Model => model(ModelKind::Model),
        Kind::ParentModel => model(ModelKind::ParentModel),
        Kind::RelatedModel => model(ModelKind::RelatedModel),
        Kind::EventModel => model(ModelKind::EventModel),
        Kind::Contract => ResourceBody::Contract(Contract {
            name: None,
            description: None,
            on_undeclared_schema: EventAction::AllowEvent,
        }),
        Kind::Sync | Kind::Relationship | Kind::Event => return None,
    };
    Some(Resource {
        path: layout::join(base, &layout::path_of(h.kind, &h.slug).ok()?),
        slug: h.slug.clone(),
        body,
        spans: Vec::new(),
    })
}

/// What a source or destination may be, wherever it is added from (the CLI, the API): an id of 1 to
/// 200 characters without spaces or control characters, a name of 1 to 200 characters without
/// control characters, a type of 1 to 64 lowercase letters, digits, `-` or `_`. The message says
/// which field is wrong and what it may be.
pub fn check_endpoint(id: &str, name: &str, kind: &str) -> Result<(), String> {
    let printable = |s: &str| !s.chars().any(char::is_control);
    if id.is_empty() || id.chars().count() > 200 || id.contains(char::is_whitespace) || !printable(id) {
        return Err(format!(
            "id `{}` must be 1 to 200 characters without spaces",
            id.escape_debug().to_string().chars().take(60).collect::<String>()
        ));
    }
    if name.trim().is_empty() || name.chars().count() > 200 || !printable(name) {
        return Err(format!(
            "the name of `{}` must be 1 to 200 characters on one line ({} given)",
            id,
            name.chars().count()
        ));
    }
    if kind.is_empty()
        || kind.len() > 64
        || !kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "the type of `{}` must be 1 to 64 lowercase letters, digits, `-` or `_` (like `postgres`, `salesforce`)",
            id
        ));
    }
    Ok(())
}

/// INBOUND: what the changed files of one commit (repository paths with their bytes) do to the
/// workspace, given the workspace's alias file at that commit. Each file is parsed, its source and
/// destination resolved through the alias file against the workspace's own ids, its references
/// checked against what the workspace holds (and the other files of the commit), and rendered
/// with real ids. Files outside the layout, manifests and alias files are left out; files that look
/// meant as resources but break the layout are `ignored`, with their findings.
pub fn plan_inbound(state: &State, files: &[(String, Vec<u8>)], aliases: Option<&(String, Vec<u8>)>) -> InboundPlan {
    let held = state.held_yaml();
    let (mut out, candidates, ignored) = read(state, &held, files);
    if candidates.is_empty() {
        return InboundPlan { planned: out, ignored };
    }
    let alias_file = aliases.map(|a| parse_file_with(&a.0, &a.1, &state.base, false));
    // An alias file that cannot be read is the reason its aliases do not resolve: say that, not
    // "add an alias".
    let alias_errors = alias_file.as_ref().map(|p| errors(&p.diagnostics)).unwrap_or_default();
    let alias_map = alias_file.and_then(|p| p.resource).filter(|_| alias_errors.is_empty());
    let mut skipped: HashMap<String, Vec<Diagnostic>> = HashMap::new();
    let ids = resolve_ids(state, alias_map, &alias_errors, &candidates, &mut skipped);
    check_references(state, &candidates, &mut skipped);
    for (resource, kind) in candidates {
        let outcome = match skipped.remove(&resource.path) {
            Some(errs) => Outcome::Skipped(errs),
            None => with_real_ids(resource.clone(), &ids, &held, kind),
        };
        out.push(Planned {
            path: resource.path,
            kind,
            slug: resource.slug,
            outcome,
        });
    }
    InboundPlan { planned: out, ignored }
}

/// The files read: those the workspace holds byte for byte (canonical, valid when stored: nothing
/// to check; after a resync that is every file) and those that do not parse are planned already;
/// the rest are the candidates.
fn read(
    state: &State,
    held: &HashMap<(Kind, &str), &str>,
    files: &[(String, Vec<u8>)],
) -> (Vec<Planned>, Vec<(Resource, Kind)>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut candidates = Vec::new();
    let mut ignored = Vec::new();
    for (path, bytes) in files {
        if let Some((kind, slug)) = layout::locate(path, &state.base)
            && held.get(&(kind, slug.as_str())).map(|y| y.as_bytes()) == Some(&bytes[..])
        {
            out.push(Planned {
                path: path.clone(),
                kind,
                slug,
                outcome: Outcome::Unchanged,
            });
            continue;
        }
        let p = parse_file_with(path, bytes, &state.base, false);
        let Some(resource) = p.resource else {
            // A resource file (its slug valid or not, as `validate` reports it) is skipped with its
            // findings; a file that breaks the layout is ignored with them.
            match placed(&p.path, &state.base) {
                Some((kind, slug)) => out.push(Planned {
                    path: p.path,
                    kind,
                    slug,
                    outcome: Outcome::Skipped(p.diagnostics),
                }),
                None => ignored.extend(p.diagnostics),
            }
            continue;
        };
        let Some(kind) = kind_of(&resource, &state.base) else {
            continue;
        };
        let errs = errors(&p.diagnostics);
        if errs.is_empty() {
            candidates.push((resource, kind));
        } else {
            out.push(Planned {
                path: p.path,
                kind,
                slug: resource.slug,
                outcome: Outcome::Skipped(errs),
            });
        }
    }
    (out, candidates, ignored)
}

/// Sources and destinations, through this workspace's alias file to its own ids: (path, field) → id.
/// What does not resolve is recorded against its file.
fn resolve_ids(
    state: &State,
    alias_map: Option<Resource>,
    alias_errors: &[Diagnostic],
    candidates: &[(Resource, Kind)],
    skipped: &mut HashMap<String, Vec<Diagnostic>>,
) -> HashMap<(String, String), String> {
    let mut for_aliases = vec![state.manifest()];
    for_aliases.extend(alias_map);
    for_aliases.extend(candidates.iter().map(|(r, _)| r.clone()));
    let mut ids = HashMap::new();
    if let Some(res) = crate::aliases::resolve(&for_aliases)
        .into_iter()
        .find(|r| r.workspace == state.id)
    {
        for d in errors(&res.diagnostics) {
            let unresolved = d.code == codes::UNRESOLVED_SOURCE.id || d.code == codes::UNRESOLVED_DESTINATION.id;
            let d = match alias_errors.first() {
                Some(broken) if unresolved => Diagnostic::custom(
                    broken.code.clone(),
                    Severity::Error,
                    &d.path,
                    d.span,
                    format!(
                        "cannot resolve it: {} has an error ({} at {}:{}: {})",
                        broken.path, broken.code, broken.span.line, broken.span.column, broken.message
                    ),
                )
                .help(format!(
                    "fix {} first; the file is applied by the next pass after that",
                    broken.path
                )),
                _ => d,
            };
            skipped.entry(d.path.clone()).or_default().push(d);
        }
        for r in res.references {
            if let Some(id) = r.id {
                ids.insert((r.path, r.field), id);
            }
        }
    }
    ids
}

/// References between resources: the candidates checked together with stand-ins for what the
/// workspace holds; errors are recorded against the candidates' files.
fn check_references(state: &State, candidates: &[(Resource, Kind)], skipped: &mut HashMap<String, Vec<Diagnostic>>) {
    let in_batch: HashSet<(Kind, &str)> = candidates.iter().map(|(r, k)| (*k, r.slug.as_str())).collect();
    let needs_relationships = candidates.iter().any(|(_, k)| *k == Kind::Relationship);
    let mut context: Vec<Resource> = candidates.iter().map(|(r, _)| r.clone()).collect();
    for h in state
        .held
        .iter()
        .filter(|h| !in_batch.contains(&(h.kind, h.slug.as_str())))
    {
        if h.kind == Kind::Relationship && needs_relationships {
            // A through chain is checked against the relationships' real ends.
            let Ok(path) = layout::path_of(h.kind, &h.slug) else {
                continue;
            };
            let path = layout::join(&state.base, &path);
            context.extend(parse_file_with(&path, h.yaml.as_bytes(), &state.base, false).resource);
        } else {
            context.extend(stand_in(h, &state.base));
        }
    }
    let batch_paths: HashSet<&str> = candidates.iter().map(|(r, _)| r.path.as_str()).collect();
    for d in crate::deps::check(&context)
        .into_iter()
        .chain(crate::contracts::check(&context))
    {
        if d.severity == Severity::Error && batch_paths.contains(d.path.as_str()) {
            skipped.entry(d.path.clone()).or_default().push(d);
        }
    }
}

/// A candidate as the workspace holds it: real ids instead of aliases, rendered canonically.
fn with_real_ids(
    mut resource: Resource,
    ids: &HashMap<(String, String), String>,
    held: &HashMap<(Kind, &str), &str>,
    kind: Kind,
) -> Outcome {
    let id_of = |field: &str| ids.get(&(resource.path.clone(), field.to_string())).cloned();
    let (source_id, destination_id) = (id_of("source"), id_of("destination"));
    match &mut resource.body {
        ResourceBody::Model(m) => {
            if let (Some(src), Some(id)) = (&mut m.source, source_id) {
                src.value = id;
            }
        }
        ResourceBody::Sync(s) => {
            if let (Some(dst), Some(id)) = (&mut s.destination, destination_id) {
                dst.value = id;
            }
        }
        _ => {}
    }
    match crate::render::render(&resource) {
        Ok(yaml) if held.get(&(kind, resource.slug.as_str())) == Some(&yaml.as_str()) => Outcome::Unchanged,
        Ok(yaml) => Outcome::Apply(yaml),
        Err(e) => Outcome::Unwritable(e),
    }
}

/// `workspace put`: a resource written by a person for the workspace itself, at `path` (its place in
/// the layout). It must parse, and its source, destination and model must name what the workspace
/// holds — real ids, not aliases.
/// Emits GS301, GS302, GS401.
pub fn plan_put(state: &State, path: &str, bytes: &[u8]) -> Planned {
    let (kind, slug) = layout::locate(path, &state.base).unwrap_or((Kind::Model, String::new()));
    let parsed = parse_file_with(path, bytes, &state.base, false);
    let mut diags = parsed.diagnostics;
    let Some(resource) = parsed.resource else {
        return Planned {
            path: path.to_string(),
            kind,
            slug,
            outcome: Outcome::Skipped(diags),
        };
    };
    let mut check = |text: &Option<Text>, known: Vec<&str>, code: Code, what: &str, fix: &str| {
        if let Some(t) = text
            && !known.contains(&t.value.as_str())
        {
            diags.push(
                Diagnostic::new(
                    code,
                    path,
                    t.span,
                    format!("{what} `{}` does not exist in this workspace", t.value),
                )
                .label("the workspace uses real ids, not aliases")
                .help(if known.is_empty() {
                    fix.to_string()
                } else {
                    format!("use one of: {}", known.join(", "))
                }),
            );
        }
    };
    fn ids(list: &[Endpoint]) -> Vec<&str> {
        list.iter().map(|e| e.id.as_str()).collect()
    }
    match &resource.body {
        ResourceBody::Model(m) => check(
            &m.source,
            ids(&state.sources),
            codes::UNRESOLVED_SOURCE,
            "source",
            "add one with `gitsync workspace add-source`",
        ),
        ResourceBody::Sync(s) => {
            check(
                &s.destination,
                ids(&state.destinations),
                codes::UNRESOLVED_DESTINATION,
                "destination",
                "add one with `gitsync workspace add-destination`",
            );
            let models: Vec<&str> = state
                .held
                .iter()
                .filter(|h| h.kind == Kind::Model)
                .map(|h| h.slug.as_str())
                .collect();
            check(
                &s.model,
                models,
                codes::UNKNOWN_MODEL,
                "model",
                "create it first with `gitsync workspace put model`",
            );
        }
        _ => {}
    }
    // A put is a change even when the content is what the workspace holds: it is queued as made.
    let outcome = if diags.iter().any(|d| d.severity == Severity::Error) {
        Outcome::Skipped(diags)
    } else {
        match crate::render::render(&resource) {
            Ok(yaml) => Outcome::Apply(yaml),
            Err(e) => Outcome::Unwritable(e),
        }
    };
    Planned {
        path: path.to_string(),
        kind,
        slug,
        outcome,
    }
}

/// OUTBOUND: the text to write at `path` for the workspace's canonical `yaml`, keeping the alias the
/// file in Git (`existing`) uses for its source or destination when, through the workspace's alias
/// file (`aliases`), it resolves to the same id the workspace holds (docs/sync.md: never overwrite
/// `aliased-postgres` with the id it stands for). None: write `yaml` as it is.
pub fn keep_aliases(
    state: &State,
    path: &str,
    yaml: &str,
    existing: &[u8],
    aliases: &(String, Vec<u8>),
) -> Option<String> {
    if existing == yaml.as_bytes() {
        return None;
    }
    let value_in = |r: &Resource| match &r.body {
        ResourceBody::Model(m) => m.source.as_ref().map(|t| t.value.clone()),
        ResourceBody::Sync(s) => s.destination.as_ref().map(|t| t.value.clone()),
        _ => None,
    };
    let in_git = parse_file_with(path, existing, &state.base, false).resource?;
    let in_file = value_in(&in_git)?;
    // What the workspace holds, parsed from its canonical YAML under the same path.
    let mut mine = parse_file_with(path, yaml.as_bytes(), &state.base, false).resource?;
    let id = value_in(&mine)?;
    if in_file == id {
        return None;
    }
    let alias_file = parse_file_with(&aliases.0, &aliases.1, &state.base, false);
    // An alias file that cannot be read cannot say what the file's value stands for: keep the value
    // rather than replace a shared alias with this workspace's id.
    let readable = errors(&alias_file.diagnostics).is_empty();
    if let (true, Some(alias_map)) = (readable, alias_file.resource) {
        let resolution = crate::aliases::resolve(&[state.manifest(), alias_map, in_git]);
        let resolves_to_same = resolution.iter().filter(|r| r.workspace == state.id).any(|r| {
            r.references
                .iter()
                .any(|x| x.path == path && x.value == in_file && x.id.as_deref() == Some(id.as_str()))
        });
        if !resolves_to_same {
            return None;
        }
    }
    match &mut mine.body {
        ResourceBody::Model(m) => m.source.as_mut()?.value = in_file,
        ResourceBody::Sync(s) => s.destination.as_mut()?.value = in_file,
        _ => return None,
    }
    crate::render::render(&mine).ok()
}

/// `workspace delete`: what deleting the `kind` resource `slug` would break among the other resources
/// the workspace holds — a sync's model, a relationship's schema models, a through relationship's
/// steps, a contract's events. Empty: nothing refers to it.
/// Emits GS401, GS402, GS403, GS404, GS501 (as they would stand after the delete).
pub fn plan_delete(state: &State, kind: Kind, slug: &str) -> Vec<Diagnostic> {
    let Ok(target) = layout::path_of(kind, slug).map(|p| layout::join(&state.base, &p)) else {
        return Vec::new();
    };
    let all: Vec<Resource> = state
        .held
        .iter()
        .filter_map(|h| {
            let path = layout::join(&state.base, &layout::path_of(h.kind, &h.slug).ok()?);
            parse_file_with(&path, h.yaml.as_bytes(), &state.base, false).resource
        })
        .collect();
    let without: Vec<Resource> = all.iter().filter(|r| r.path != target).cloned().collect();
    let check = |resources: &[Resource]| -> Vec<Diagnostic> {
        let mut found = crate::deps::check(resources);
        // Event schemas are compiled by the contracts check: only when a contract goes.
        if kind == Kind::Contract {
            found.extend(crate::contracts::check(resources));
        }
        found
    };
    let key = |d: &Diagnostic| (d.path.clone(), d.code.clone(), d.message.clone());
    let before: HashSet<_> = check(&all).iter().map(key).collect();
    check(&without)
        .into_iter()
        .filter(|d| d.severity == Severity::Error && d.path != target && !before.contains(&key(d)))
        .collect()
}

/// `workspace remove-source` / `remove-destination`: the resources the workspace holds that name
/// source or destination `id` (`kind`: `source` or `destination`), each a GS301 / GS302 finding at
/// the field naming it, as a `put` of that resource would get once `id` is gone. Empty when nothing
/// uses it (or `kind` is neither).
pub fn plan_remove_endpoint(state: &State, kind: &str, id: &str) -> Vec<Diagnostic> {
    let mut without = state.clone();
    let (code, users) = match kind {
        "source" => {
            without.sources.retain(|e| e.id != id);
            (codes::UNRESOLVED_SOURCE, Kind::Model)
        }
        "destination" => {
            without.destinations.retain(|e| e.id != id);
            (codes::UNRESOLVED_DESTINATION, Kind::Sync)
        }
        _ => return Vec::new(),
    };
    state
        .held
        .iter()
        .filter(|h| h.kind == users)
        .filter_map(|h| {
            let path = layout::join(&state.base, &layout::path_of(h.kind, &h.slug).ok()?);
            match plan_put(&without, &path, h.yaml.as_bytes()).outcome {
                Outcome::Skipped(found) => Some(found),
                _ => None,
            }
        })
        .flatten()
        .filter(|d| d.code == code.id)
        .collect()
}

/// The workspace's manifest as it is written to Git (`manifest-<id>.yaml`).
pub fn render_manifest(state: &State) -> Result<String, String> {
    crate::render::render(&state.manifest())
}

/// The one-line form of a finding that INBOUND records as the reason a file was skipped.
pub fn summary(d: &Diagnostic) -> String {
    let help = d.help.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
    format!("{} at {}:{}: {}{help}", d.code, d.span.line, d.span.column, d.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            id: "staging".into(),
            base: String::new(),
            sources: vec![Endpoint {
                id: "pg-1".into(),
                name: "PG".into(),
                kind: "postgres".into(),
            }],
            destinations: vec![Endpoint {
                id: "sf-1".into(),
                name: "SF".into(),
                kind: "salesforce".into(),
            }],
            held: vec![],
        }
    }

    const MODEL: &str = "name: Orders\nsource: pg\ntype: table\ntableName: public.orders\nprimaryKey: id\n";

    #[test]
    fn removing_a_used_source_names_each_model_that_uses_it() {
        let mut s = state();
        s.sources.push(Endpoint {
            id: "spare".into(),
            name: "Spare".into(),
            kind: "postgres".into(),
        });
        for (slug, source) in [("orders", "pg-1"), ("users", "pg-1"), ("events", "spare")] {
            s.held.push(Held {
                kind: Kind::Model,
                slug: slug.into(),
                yaml: format!(
                    "name: {slug}\nsource: {source}\ntype: table\ntableName: public.{slug}\nprimaryKey: id\n"
                ),
            });
        }
        let users = plan_remove_endpoint(&s, "source", "pg-1");
        let at: Vec<(&str, &str, u32)> = users
            .iter()
            .map(|d| (d.path.as_str(), d.code.as_ref(), d.span.line))
            .collect();
        assert_eq!(
            at,
            [("models/orders.yaml", "GS301", 2), ("models/users.yaml", "GS301", 2)],
            "{users:?}"
        );
        assert!(users[0].message.contains("`pg-1`"), "{}", users[0].message);
        assert!(plan_remove_endpoint(&s, "destination", "sf-1").is_empty());
        assert!(plan_remove_endpoint(&s, "source", "nowhere").is_empty());
        assert!(plan_remove_endpoint(&s, "model", "pg-1").is_empty());
    }

    #[test]
    fn an_aliased_source_is_applied_with_the_real_id() {
        let aliases = ("aliases-staging.yaml".to_string(), b"sources:\n  pg: pg-1\n".to_vec());
        let files = vec![("models/orders.yaml".to_string(), MODEL.as_bytes().to_vec())];
        let plan = plan_inbound(&state(), &files, Some(&aliases)).planned;
        assert_eq!(plan.len(), 1);
        let Outcome::Apply(yaml) = &plan[0].outcome else {
            panic!("{plan:?}")
        };
        assert!(yaml.contains("source: pg-1\n"), "{yaml}");
        assert_eq!((plan[0].kind, plan[0].slug.as_str()), (Kind::Model, "orders"));
        // Held as is: unchanged, without parsing.
        let mut s = state();
        s.held.push(Held {
            kind: Kind::Model,
            slug: "orders".into(),
            yaml: yaml.clone(),
        });
        let files = vec![("models/orders.yaml".to_string(), yaml.as_bytes().to_vec())];
        assert_eq!(
            plan_inbound(&s, &files, Some(&aliases)).planned[0].outcome,
            Outcome::Unchanged
        );
    }

    #[test]
    fn files_that_break_the_layout_are_reported_as_validate_reports_them() {
        let files = vec![
            ("models/Orders.yaml".to_string(), MODEL.as_bytes().to_vec()),
            ("models/my orders.yaml".to_string(), b"{".to_vec()),
            ("models/nested/orders.yaml".to_string(), MODEL.as_bytes().to_vec()),
            ("README.md".to_string(), b"# hi".to_vec()),
        ];
        let plan = plan_inbound(&state(), &files, None);
        let skipped: Vec<(Kind, &str, Vec<&str>)> = plan
            .planned
            .iter()
            .map(|p| {
                let Outcome::Skipped(d) = &p.outcome else {
                    panic!("{p:?}")
                };
                (p.kind, p.slug.as_str(), d.iter().map(|d| &*d.code).collect())
            })
            .collect();
        assert_eq!(
            skipped,
            vec![
                (Kind::Model, "Orders", vec!["GS108"]),
                (Kind::Model, "my orders", vec!["GS108", "GS002"]),
            ]
        );
        let ignored: Vec<(&str, &str)> = plan.ignored.iter().map(|d| (&*d.code, d.path.as_str())).collect();
        assert_eq!(ignored, vec![("GS112", "models/nested/orders.yaml")]);
    }

    #[test]
    fn a_sync_of_a_model_the_workspace_lacks_is_skipped_with_gs401() {
        let files = vec![(
            "syncs/orders-to-sf.yaml".to_string(),
            b"model: orders\ndestination: sf-1\nconfig: {}\n".to_vec(),
        )];
        let plan = plan_inbound(&state(), &files, None).planned;
        let Outcome::Skipped(d) = &plan[0].outcome else {
            panic!("{plan:?}")
        };
        assert_eq!(&*d[0].code, "GS401");
        // With the model held, it applies.
        let mut s = state();
        s.held.push(Held {
            kind: Kind::Model,
            slug: "orders".into(),
            yaml: MODEL.into(),
        });
        assert!(matches!(
            plan_inbound(&s, &files, None).planned[0].outcome,
            Outcome::Apply(_)
        ));
    }

    #[test]
    fn put_wants_real_ids() {
        let plan = plan_put(&state(), "models/orders.yaml", MODEL.as_bytes());
        let Outcome::Skipped(d) = &plan.outcome else {
            panic!("{plan:?}")
        };
        assert_eq!(&*d[0].code, "GS301");
        assert_eq!(d[0].message, "source `pg` does not exist in this workspace");
        assert_eq!(d[0].help.as_deref(), Some("use one of: pg-1"));
        let plan = plan_put(
            &state(),
            "models/orders.yaml",
            MODEL.replace("pg\n", "pg-1\n").as_bytes(),
        );
        assert!(matches!(plan.outcome, Outcome::Apply(_)), "{plan:?}");
    }

    #[test]
    fn a_delete_that_would_leave_a_sync_without_its_model_says_so() {
        let mut s = state();
        s.held.push(Held {
            kind: Kind::Model,
            slug: "orders".into(),
            yaml: MODEL.into(),
        });
        s.held.push(Held {
            kind: Kind::Sync,
            slug: "orders-to-sf".into(),
            yaml: "model: orders\ndestination: sf-1\nconfig: {}\n".into(),
        });
        let broken = plan_delete(&s, Kind::Model, "orders");
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert_eq!(
            (&*broken[0].code, broken[0].path.as_str()),
            ("GS401", "syncs/orders-to-sf.yaml")
        );
        assert!(plan_delete(&s, Kind::Sync, "orders-to-sf").is_empty());
    }

    #[test]
    fn a_broken_alias_file_is_named_as_the_reason_and_its_aliases_are_kept() {
        let broken = ("aliases-staging.yaml".to_string(), b"sources:\n  pg: [pg-1\n".to_vec());
        let files = vec![("models/orders.yaml".to_string(), MODEL.as_bytes().to_vec())];
        let plan = plan_inbound(&state(), &files, Some(&broken)).planned;
        let Outcome::Skipped(d) = &plan[0].outcome else {
            panic!("{plan:?}")
        };
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(&*d[0].code, "GS002");
        assert!(
            d[0].message
                .starts_with("cannot resolve it: aliases-staging.yaml has an error (GS002 at "),
            "{}",
            d[0].message
        );
        // OUTBOUND does not replace the alias the shared file uses with this workspace's id.
        let mine = MODEL.replace("pg\n", "pg-1\n").replace("Orders", "Orders v2");
        let kept = keep_aliases(&state(), "models/orders.yaml", &mine, MODEL.as_bytes(), &broken).unwrap();
        assert!(kept.contains("source: pg\n") && kept.contains("Orders v2"), "{kept}");
    }

    #[test]
    fn outbound_keeps_an_alias_that_resolves_to_the_same_id() {
        let aliases = ("aliases-staging.yaml".to_string(), b"sources:\n  pg: pg-1\n".to_vec());
        let mine = MODEL.replace("pg\n", "pg-1\n").replace("Orders", "Orders v2");
        let kept = keep_aliases(&state(), "models/orders.yaml", &mine, MODEL.as_bytes(), &aliases).unwrap();
        assert!(kept.contains("source: pg\n") && kept.contains("Orders v2"), "{kept}");
        // An alias to another id is not kept.
        let other = ("aliases-staging.yaml".to_string(), b"sources:\n  pg: pg-2\n".to_vec());
        assert_eq!(
            keep_aliases(&state(), "models/orders.yaml", &mine, MODEL.as_bytes(), &other),
            None
        );
    }
}
