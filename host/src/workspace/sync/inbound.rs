//! INBOUND: commits on the branch since the last one applied, judged file by file by the policy
//! components and applied to the workspace one commit per transaction.
//!
//! A changed file is parsed by the schema component, its `source`/`destination` resolved for this
//! workspace by the aliases component (against the alias file of that commit and the workspace's
//! own sources and destinations), its references checked by the deps and contracts components
//! against what the workspace holds, and then rendered with real ids — the form the workspace stores.

use super::{Connection, manifest_resource};
use crate::workspace::store::{Applied, Inbound, InboundCommit, WorkspaceStore, layout_path};
use anyhow::Result;
use gitsync_core::diag::{Diagnostic, Severity};
use gitsync_core::layout::join;
use gitsync_engine::BuiltinPolicies;
use gitsync_engine::wit as types;
use std::collections::{HashMap, HashSet};

/// (kind, slug, what INBOUND does to it).
type Judged = (String, String, Inbound);

/// The store kind of a parsed resource, from its path in the layout; none for manifests and alias
/// files.
pub fn store_kind(conn: &Connection, r: &types::Resource) -> Option<&'static str> {
    use gitsync_core::layout::{Kind, Placement, classify};
    match classify(&r.path, &conn.base) {
        Placement::Resource { kind, .. } => Kind::of_file(&kind).map(Kind::name),
        _ => None,
    }
}

/// The (kind, slug) of a repository path in this workspace's layout, from the path alone (a deleted
/// file has no content to parse).
pub fn layout_of(conn: &Connection, path: &str) -> Option<(String, String)> {
    gitsync_core::layout::locate(path, &conn.base).map(|(kind, slug)| (kind.name().to_string(), slug))
}

fn empty_model(kind: types::ModelKind) -> types::Model {
    types::Model {
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
    }
}

fn text(value: &str, span: types::Span) -> types::Text {
    types::Text {
        value: value.to_string(),
        span,
    }
}

fn summary(d: &Diagnostic) -> String {
    let help = d.help.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
    format!("{} at {}:{}: {}{help}", d.code, d.span.line, d.span.column, d.message)
}

/// Judge changed files (repository paths with their contents at one commit) for this workspace.
/// `aliases` is the workspace's alias file at that commit, if there is one.
pub fn judge(
    policies: &BuiltinPolicies,
    store: &dyn WorkspaceStore,
    conn: &Connection,
    files: Vec<types::SourceFile>,
    aliases: Option<types::SourceFile>,
) -> Result<Vec<Judged>> {
    let mut out = Vec::new();
    if files.is_empty() {
        return Ok(out);
    }
    let stored = store.list(None)?;
    let held: HashMap<(&str, &str), &str> = stored
        .iter()
        .map(|s| ((s.kind.as_str(), s.slug.as_str()), s.yaml.as_str()))
        .collect();
    // A file byte-for-byte what the workspace holds (canonical, valid when stored) needs no check:
    // after a resync that is every file.
    let mut batch = Vec::with_capacity(files.len() + 1);
    for f in files {
        match layout_of(conn, &f.path) {
            Some((kind, slug))
                if held.get(&(kind.as_str(), slug.as_str())).map(|y| y.as_bytes()) == Some(&f.contents[..]) =>
            {
                out.push((kind, slug, Inbound::Unchanged));
            }
            _ => batch.push(f),
        }
    }
    if batch.is_empty() {
        return Ok(out);
    }
    batch.extend(aliases.clone());
    let parsed = policies.parse(&conn.base, &batch)?;
    let mut alias_map = None;
    let mut candidates: Vec<(types::Resource, &'static str)> = Vec::new();
    let mut errors: HashMap<String, Vec<String>> = HashMap::new();
    for (file, p) in batch.iter().zip(parsed) {
        let is_alias_file = aliases.as_ref().is_some_and(|a| a.path == file.path);
        let Some(resource) = p.resource else {
            if !is_alias_file && let Some((kind, slug)) = layout_of(conn, &file.path) {
                let why: Vec<String> = p.diagnostics.iter().map(summary).collect();
                out.push((kind, slug, Inbound::Skipped(why.join("; "))));
            }
            continue;
        };
        if is_alias_file {
            alias_map = Some(resource);
            continue;
        }
        let Some(kind) = store_kind(conn, &resource) else {
            continue;
        };
        let errs: Vec<String> = p
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(summary)
            .collect();
        if !errs.is_empty() {
            out.push((
                kind.to_string(),
                resource.slug.clone(),
                Inbound::Skipped(errs.join("; ")),
            ));
            continue;
        }
        candidates.push((resource, kind));
    }

    // References: aliases for this workspace, then models, schema models, relationships, contracts.
    let manifest = manifest_resource(store, &conn.id)?;
    let mut for_aliases = vec![manifest];
    for_aliases.extend(alias_map);
    for_aliases.extend(candidates.iter().map(|(r, _)| r.clone()));
    let resolution = policies
        .resolve(&for_aliases)?
        .into_iter()
        .find(|r| r.workspace == conn.id);
    let mut ids: HashMap<(String, String), String> = HashMap::new();
    if let Some(res) = resolution {
        for d in res.diagnostics {
            if d.severity == Severity::Error {
                errors.entry(d.path.clone()).or_default().push(summary(&d));
            }
        }
        for r in res.references {
            if let Some(id) = r.id {
                ids.insert((r.path, r.field), id);
            }
        }
    }
    let in_batch: HashSet<(String, String)> = candidates
        .iter()
        .map(|(r, k)| (k.to_string(), r.slug.clone()))
        .collect();
    let mut context: Vec<types::Resource> = candidates.iter().map(|(r, _)| r.clone()).collect();
    let needs_relationships = candidates
        .iter()
        .any(|(r, _)| matches!(r.body, types::ResourceBody::Relationship(_)));
    let mut relationship_files = Vec::new();
    for s in &stored {
        if in_batch.contains(&(s.kind.clone(), s.slug.clone())) {
            continue;
        }
        let path = join(&conn.base, &layout_path(&s.kind, &s.slug)?);
        let model = |k| types::ResourceBody::Model(empty_model(k));
        let body = match s.kind.as_str() {
            "model" => model(types::ModelKind::Model),
            "parent-model" => model(types::ModelKind::ParentModel),
            "related-model" => model(types::ModelKind::RelatedModel),
            "event-model" => model(types::ModelKind::EventModel),
            "contract" => types::ResourceBody::Contract(types::Contract {
                name: None,
                description: None,
                on_undeclared_schema: types::EventAction::AllowEvent,
                field_spans: Vec::new(),
            }),
            // A through chain is checked against the relationships' real ends.
            "relationship" if needs_relationships => {
                relationship_files.push(types::SourceFile {
                    path,
                    contents: s.yaml.clone().into_bytes(),
                });
                continue;
            }
            _ => continue,
        };
        context.push(types::Resource {
            path,
            slug: s.slug.clone(),
            body,
        });
    }
    if !relationship_files.is_empty() {
        let parsed = policies.parse(&conn.base, &relationship_files)?;
        context.extend(parsed.into_iter().filter_map(|p| p.resource));
    }
    let batch_paths: HashSet<&str> = candidates.iter().map(|(r, _)| r.path.as_str()).collect();
    let (deps, contracts) = std::thread::scope(|s| {
        let d = s.spawn(|| policies.check_deps(&context));
        (
            d.join().expect("deps thread panicked"),
            policies.check_contracts(&context),
        )
    });
    for d in deps?.into_iter().chain(contracts?) {
        if d.severity == Severity::Error && batch_paths.contains(d.path.as_str()) {
            errors.entry(d.path.clone()).or_default().push(summary(&d));
        }
    }

    for (mut resource, kind) in candidates {
        if let Some(errs) = errors.get(&resource.path) {
            out.push((kind.to_string(), resource.slug, Inbound::Skipped(errs.join("; "))));
            continue;
        }
        // The workspace holds real ids, not aliases.
        match &mut resource.body {
            types::ResourceBody::Model(m) => {
                if let (Some(src), Some(id)) = (&m.source, ids.get(&(resource.path.clone(), "source".into()))) {
                    m.source = Some(text(id, src.span));
                }
            }
            types::ResourceBody::Sync(s) => {
                if let (Some(dst), Some(id)) = (&s.destination, ids.get(&(resource.path.clone(), "destination".into())))
                {
                    s.destination = Some(text(id, dst.span));
                }
            }
            _ => {}
        }
        let what = match policies.render(&resource)? {
            Ok(yaml) => match held.get(&(kind, resource.slug.as_str())) {
                Some(current) if *current == yaml => Inbound::Unchanged,
                _ => Inbound::Apply(yaml),
            },
            Err(e) => Inbound::Skipped(format!("cannot be rendered: {e}")),
        };
        out.push((kind.to_string(), resource.slug, what));
    }
    Ok(out)
}

/// Resource files larger than this are reported, not read (as `gitsync validate`'s default).
const MAX_FILE_SIZE: usize = 8 << 20;

/// A file of a commit, as INBOUND sees it.
enum Blob {
    Contents(Vec<u8>),
    TooLarge(usize),
    /// Absent, a symbolic link or not a file: not a resource file.
    None,
}

fn blob_at(repo: &git2::Repository, tree: &git2::Tree, path: &str) -> Blob {
    let Ok(entry) = tree.get_path(std::path::Path::new(path)) else {
        return Blob::None;
    };
    if entry.filemode() == i32::from(git2::FileMode::Link) {
        return Blob::None;
    }
    match repo.find_blob(entry.id()) {
        Ok(blob) if blob.size() > MAX_FILE_SIZE => Blob::TooLarge(blob.size()),
        Ok(blob) => Blob::Contents(blob.content().to_vec()),
        Err(_) => Blob::None,
    }
}

fn too_large(size: usize) -> Inbound {
    Inbound::Skipped(format!(
        "GS003: file is {:.1} MiB, over the {} MiB limit; it was not read (split it)",
        size as f64 / 1048576.0,
        MAX_FILE_SIZE >> 20
    ))
}

fn alias_file(conn: &Connection, repo: &git2::Repository, tree: &git2::Tree) -> Option<types::SourceFile> {
    let path = gitsync_core::layout::aliases_path(&conn.id);
    match blob_at(repo, tree, &path) {
        Blob::Contents(contents) => Some(types::SourceFile { path, contents }),
        _ => None,
    }
}

fn author_of(c: &git2::Commit) -> String {
    let a = c.author();
    format!("{} <{}>", a.name().unwrap_or("unknown"), a.email().unwrap_or("unknown"))
}

/// Trailers gitsync writes: direction, workspace, resource, and the queue entry a commit carries.
pub struct Trailers {
    pub direction: Option<String>,
    pub workspace: Option<String>,
    pub change: Option<i64>,
}

pub fn trailers(message: &str) -> Trailers {
    let mut t = Trailers {
        direction: None,
        workspace: None,
        change: None,
    };
    if let Ok(found) = git2::message_trailers_strs(message) {
        for (key, value) in found.iter() {
            match key {
                "Gitsync-Direction" => t.direction = Some(value.to_string()),
                "Gitsync-Workspace" => t.workspace = Some(value.to_string()),
                "Gitsync-Change" => t.change = value.parse().ok(),
                _ => {}
            }
        }
    }
    t
}

/// What INBOUND did in one pass.
#[derive(Debug, Default, serde::Serialize)]
pub struct InboundReport {
    /// The whole tree was taken in (first pass after connect, or a resync applying the branch back).
    pub whole_tree: bool,
    pub commits: usize,
    pub applied: usize,
    pub unchanged: usize,
    pub skipped: Vec<Skipped>,
    pub conflicts: Vec<crate::workspace::store::Conflict>,
    /// Queued changes found already pushed by an earlier, interrupted pass.
    pub recovered: usize,
}

#[derive(Debug, serde::Serialize)]
pub struct Skipped {
    pub kind: String,
    pub slug: String,
    pub commit: String,
    pub author: String,
    pub reason: String,
}

impl InboundReport {
    fn add(&mut self, c: &InboundCommit, a: Applied) {
        // Commits that touch nothing of this workspace (another workspace's files, a README) are
        // recorded as applied but not counted.
        if !c.changes.is_empty() {
            self.commits += 1;
        }
        self.applied += a.applied;
        self.unchanged += a.unchanged;
        self.conflicts.extend(a.conflicts);
        for (kind, slug, what) in &c.changes {
            if let Inbound::Skipped(reason) = what {
                self.skipped.push(Skipped {
                    kind: kind.clone(),
                    slug: slug.clone(),
                    commit: c.commit.clone(),
                    author: c.author.clone(),
                    reason: reason.clone(),
                });
            }
        }
    }
}

/// Every resource file of `tree` (for the first pass after connect and for a full resync), and the
/// ones too large to read.
fn tree_files(
    conn: &Connection,
    repo: &git2::Repository,
    tree: &git2::Tree,
) -> Result<(Vec<types::SourceFile>, Vec<Judged>)> {
    let mut files = Vec::new();
    let mut large = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        let path = format!("{dir}{}", entry.name().unwrap_or_default());
        if entry.kind() == Some(git2::ObjectType::Blob)
            && let Some((kind, slug)) = layout_of(conn, &path)
        {
            match blob_at(repo, tree, &path) {
                Blob::Contents(contents) => files.push(types::SourceFile { path, contents }),
                Blob::TooLarge(size) => large.push((kind, slug, too_large(size))),
                Blob::None => {}
            }
        }
        git2::TreeWalkResult::Ok
    })?;
    Ok((files, large))
}

/// Apply the whole tree of `commit` as one INBOUND change set.
pub fn apply_tree(
    policies: &BuiltinPolicies,
    store: &mut dyn WorkspaceStore,
    conn: &Connection,
    repo: &git2::Repository,
    commit: &git2::Commit,
    report: &mut InboundReport,
) -> Result<()> {
    let tree = commit.tree()?;
    let (files, mut changes) = tree_files(conn, repo, &tree)?;
    changes.extend(judge(policies, store, conn, files, alias_file(conn, repo, &tree))?);
    let c = InboundCommit {
        commit: commit.id().to_string(),
        author: author_of(commit),
        changes,
        quiet_unchanged: true,
    };
    let a = store.apply_inbound(&c)?;
    report.add(&c, a);
    report.whole_tree = true;
    Ok(())
}

/// INBOUND every commit after the last applied one up to `head`, along the first-parent line (a
/// merge brings in everything it merged, attributed to whoever merged it). This workspace's own
/// OUTBOUND commits are not re-applied; one that carries a queued change still in the queue means
/// an earlier pass pushed and then died: the change is marked done with that commit.
pub fn run(
    policies: &BuiltinPolicies,
    store: &mut dyn WorkspaceStore,
    conn: &Connection,
    repo: &git2::Repository,
    head: git2::Oid,
    report: &mut InboundReport,
) -> Result<()> {
    let Some(last) = store.last_applied()? else {
        // First pass after connect: take in what the branch already holds.
        return apply_tree(policies, store, conn, repo, &repo.find_commit(head)?, report);
    };
    let last = git2::Oid::from_str(&last)?;
    if last == head {
        return Ok(());
    }
    if repo.find_commit(last).is_err() || !repo.graph_descendant_of(head, last)? {
        anyhow::bail!(
            "the history of `{}` was rewritten: the last commit applied ({last}) is no longer on it; run `gitsync resync` to make the branch and the workspace agree again",
            conn.branch
        );
    }
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.hide(last)?;
    walk.simplify_first_parent()?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)?;
    let ids: Vec<git2::Oid> = walk.collect::<Result<_, _>>()?;
    for id in ids {
        let commit = repo.find_commit(id)?;
        let t = trailers(commit.message().unwrap_or_default());
        if t.workspace.as_deref() == Some(conn.id.as_str()) && t.direction.as_deref() == Some("OUTBOUND") {
            let queued = store.outbound_queue()?;
            let done: Vec<(i64, String)> = t
                .change
                .filter(|seq| queued.iter().any(|q| q.seq == *seq))
                .map(|seq| (seq, id.to_string()))
                .into_iter()
                .collect();
            report.recovered += done.len();
            store.complete(&done, &id.to_string())?;
            continue;
        }
        let tree = commit.tree()?;
        let parent_tree = match commit.parents().next() {
            Some(p) => Some(p.tree()?),
            None => None,
        };
        let diff = repo.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None)?;
        let mut files = Vec::new();
        let mut changes = Vec::new();
        for delta in diff.deltas() {
            let Some(path) = delta.new_file().path().and_then(|p| p.to_str()) else {
                continue;
            };
            if *path == gitsync_core::layout::manifest_path(&conn.id) {
                changes.push((
                    "manifest".to_string(),
                    conn.id.clone(),
                    Inbound::Ignored("the manifest is read-only in Git; rewritten from the workspace".into()),
                ));
                continue;
            }
            let Some((kind, slug)) = layout_of(conn, path) else {
                continue;
            };
            if delta.status() == git2::Delta::Deleted {
                changes.push((kind, slug, Inbound::DeletedInGit));
                continue;
            }
            match blob_at(repo, &tree, path) {
                Blob::Contents(contents) => files.push(types::SourceFile {
                    path: path.to_string(),
                    contents,
                }),
                Blob::TooLarge(size) => changes.push((kind, slug, too_large(size))),
                Blob::None => {}
            }
        }
        changes.extend(judge(policies, store, conn, files, alias_file(conn, repo, &tree))?);
        let c = InboundCommit {
            commit: id.to_string(),
            author: author_of(&commit),
            changes,
            quiet_unchanged: false,
        };
        let a = store.apply_inbound(&c)?;
        report.add(&c, a);
        crate::failpoint::hit("inbound-commit-applied");
    }
    Ok(())
}
