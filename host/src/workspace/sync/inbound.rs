//! INBOUND: commits on the branch since the last one applied, planned file by file by the
//! `workspace` component and applied to the workspace one commit per transaction.
//!
//! For each commit the host reads the changed files, the workspace's alias file at that commit and
//! what the workspace holds; the component parses each file, resolves its `source`/`destination` for
//! this workspace, checks its references and renders it with real ids — the form the workspace
//! stores — or says why it is skipped. The host applies the plan.

use super::Connection;
use crate::store::{Applied, Done, Inbound, InboundCommit, WorkspaceStore};
use anyhow::Result;
use gitsync_core::layout::Kind;
use gitsync_core::workspace::summary;
use gitsync_engine::WorkspacePolicy;
use gitsync_engine::wit::{self as types, Outcome};

/// (kind, slug, what INBOUND does to it).
type Judged = (String, String, Inbound);

/// The (kind, slug) of a repository path in this workspace's layout, from the path alone (a deleted
/// file has no content to parse).
pub fn layout_of(conn: &Connection, path: &str) -> Option<(String, String)> {
    gitsync_core::layout::locate(path, &conn.base).map(|(kind, slug)| (kind.name().to_string(), slug))
}

/// Whether `validate` would look at this path: a resource file of the layout, or one that looks meant
/// as one (a bad file name, a sub-folder, `.yml`). Such files are planned, so the pass reports what
/// `validate` reports instead of skipping them silently.
fn in_layout(conn: &Connection, path: &str) -> bool {
    !matches!(
        gitsync_core::layout::classify(path, &conn.base),
        gitsync_core::layout::Placement::Ignored
    )
}

/// Where a finding about a file that is not read is logged: its resource, or the file itself.
fn subject(conn: &Connection, path: &str) -> (String, String) {
    match gitsync_core::layout::classify(path, &conn.base) {
        gitsync_core::layout::Placement::Resource { kind, slug, .. } => match Kind::of_file(&kind) {
            Some(kind) => (kind.name().to_string(), slug),
            None => ("file".to_string(), path.to_string()),
        },
        _ => ("file".to_string(), path.to_string()),
    }
}

/// A symbolic link where `validate` would read a file: skipped with its GS011.
fn link(conn: &Connection, path: &str) -> Judged {
    let (kind, slug) = subject(conn, path);
    (
        kind,
        slug,
        Inbound::Skipped(summary(&crate::checks::repo::symlink(path))),
    )
}

/// Judge changed files (repository paths with their contents at one commit) for this workspace:
/// the workspace component plans each (see gitsync-core's `workspace`), given the workspace's alias
/// file at that commit, if there is one, and what the workspace holds.
pub fn judge(
    policy: &WorkspacePolicy,
    store: &dyn WorkspaceStore,
    conn: &Connection,
    files: Vec<types::SourceFile>,
    aliases: Option<types::SourceFile>,
) -> Result<Vec<Judged>> {
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let state = crate::workspace::state(store, &conn.base, crate::workspace::Held::All)?;
    let plan = match policy.plan_inbound(&state, &files, aliases.as_ref()) {
        Ok(plan) => plan,
        Err(failure) => return judge_apart(policy, conn, &state, files, aliases, failure),
    };
    Ok(judged(conn, plan))
}

/// The component stopped on a batch (out of memory or time on some file, say a few aliases of one
/// huge value): the files it stops on alone are skipped with GS009 and its reason, as `validate`
/// reports them, and the rest are judged together, so one file cannot stop every pass. When the
/// component stops even with no file, or on no file alone, the failure is not a file's: the pass
/// stops, as before.
fn judge_apart(
    policy: &WorkspacePolicy,
    conn: &Connection,
    state: &types::WorkspaceState,
    files: Vec<types::SourceFile>,
    aliases: Option<types::SourceFile>,
    failure: gitsync_engine::PolicyFailure,
) -> Result<Vec<Judged>> {
    if policy.plan_inbound(state, &[], aliases.as_ref()).is_err() {
        return Err(failure.into());
    }
    let (mut failed, mut rest) = (Vec::new(), Vec::new());
    for f in files {
        match policy.plan_inbound(state, std::slice::from_ref(&f), aliases.as_ref()) {
            Ok(_) => rest.push(f),
            Err(e) => failed.push((f.path, e)),
        }
    }
    if failed.is_empty() {
        return Err(failure.into());
    }
    let mut out: Vec<Judged> = failed
        .iter()
        .map(|(path, e)| {
            let (kind, slug) = subject(conn, path);
            (kind, slug, Inbound::Skipped(summary(&e.diagnostic(path))))
        })
        .collect();
    if !rest.is_empty() {
        out.extend(judged(conn, policy.plan_inbound(state, &rest, aliases.as_ref())?));
    }
    Ok(out)
}

/// What a plan says of each file.
fn judged(conn: &Connection, plan: gitsync_engine::wit::InboundPlan) -> Vec<Judged> {
    let ignored = plan.ignored.iter().map(|d| {
        let (kind, slug) = subject(conn, &d.path);
        (kind, slug, Inbound::Skipped(summary(d)))
    });
    plan.planned
        .into_iter()
        .map(|p| {
            let what = match p.outcome {
                Outcome::Unchanged => Inbound::Unchanged,
                Outcome::Apply(yaml) => Inbound::Apply(yaml),
                Outcome::Skipped(diags) => Inbound::Skipped(diags.iter().map(summary).collect::<Vec<_>>().join("; ")),
                Outcome::Unwritable(why) => Inbound::Skipped(format!("cannot be rendered: {why}")),
            };
            (p.kind, p.slug, what)
        })
        .chain(ignored)
        .collect()
}

/// Resource files larger than this are reported, not read (as `gitsync validate`'s default).
const MAX_FILE_SIZE: usize = gitsync_core::layout::MAX_FILE_SIZE as usize;

/// A file of a commit, as INBOUND sees it.
enum Blob {
    Contents(Vec<u8>),
    TooLarge(usize),
    Link,
    /// Absent or not a file (a submodule): not a resource file, as `validate` sees it.
    None,
}

fn blob_at(repo: &git2::Repository, tree: &git2::Tree, path: &str) -> Blob {
    match tree.get_path(std::path::Path::new(path)) {
        Ok(entry) => blob_of(repo, entry.id(), entry.filemode()),
        Err(_) => Blob::None,
    }
}

/// The blob `id` (mode `mode`) as INBOUND reads it. Looked up by id, never by path: libgit2 does not
/// cache trees over 4 KiB, so a lookup by path re-parses a 5,000-entry folder every time.
fn blob_of(repo: &git2::Repository, id: git2::Oid, mode: i32) -> Blob {
    if mode == i32::from(git2::FileMode::Link) {
        return Blob::Link;
    }
    if mode == i32::from(git2::FileMode::Commit) {
        return Blob::None;
    }
    match repo.find_blob(id) {
        Ok(blob) if blob.size() > MAX_FILE_SIZE => Blob::TooLarge(blob.size()),
        Ok(blob) => Blob::Contents(blob.content().to_vec()),
        Err(_) => Blob::None,
    }
}

/// Emits GS003 (as the reason a file was skipped).
fn too_large(size: usize) -> Inbound {
    Inbound::Skipped(format!(
        "{}: file is {:.1} MiB, over the {} MiB limit; it was not read (split it)",
        gitsync_core::diag::codes::FILE_TOO_LARGE.id,
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
    /// `Gitsync-Change-Id`: the queued change's own id.
    pub change_id: Option<String>,
    /// `Gitsync-Instance`: which store of the workspace wrote it.
    pub instance: Option<String>,
    /// `Gitsync-Path`: the workspace's folder in the repository (none: the root).
    pub path: Option<String>,
}

pub fn trailers(message: &str) -> Trailers {
    let mut t = Trailers {
        direction: None,
        workspace: None,
        change: None,
        change_id: None,
        instance: None,
        path: None,
    };
    if let Ok(found) = git2::message_trailers_strs(message) {
        for (key, value) in found.iter() {
            match key {
                "Gitsync-Direction" => t.direction = Some(value.to_string()),
                "Gitsync-Workspace" => t.workspace = Some(value.to_string()),
                "Gitsync-Change" => t.change = value.parse().ok(),
                "Gitsync-Change-Id" => t.change_id = Some(value.to_string()),
                "Gitsync-Instance" => t.instance = Some(value.to_string()),
                "Gitsync-Path" => t.path = Some(value.to_string()),
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
    pub conflicts: Vec<crate::store::Conflict>,
    /// Queued changes found already pushed by an earlier, interrupted pass.
    pub recovered: usize,
    /// Files taken in at the branch head though their content did not change: skipped before for
    /// a reference that now resolves, or resolved anew through a changed alias file.
    pub revisited: usize,
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
    let mut judged = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        let path = format!("{dir}{}", String::from_utf8_lossy(entry.name_bytes()));
        if entry.kind() == Some(git2::ObjectType::Blob) && in_layout(conn, &path) {
            read_into(conn, repo, path, entry.id(), entry.filemode(), &mut files, &mut judged);
        }
        git2::TreeWalkResult::Ok
    })?;
    Ok((files, judged))
}

/// Read one file of the layout into `files` (to be planned), or judge it here when it cannot be read.
fn read_into(
    conn: &Connection,
    repo: &git2::Repository,
    path: String,
    id: git2::Oid,
    mode: i32,
    files: &mut Vec<types::SourceFile>,
    judged: &mut Vec<Judged>,
) {
    match blob_of(repo, id, mode) {
        Blob::Contents(contents) => files.push(types::SourceFile { path, contents }),
        Blob::TooLarge(size) => {
            let (kind, slug) = subject(conn, &path);
            judged.push((kind, slug, too_large(size)));
        }
        Blob::Link => judged.push(link(conn, &path)),
        Blob::None => {}
    }
}

/// Apply the whole tree of `commit` as one INBOUND change set.
pub fn apply_tree(
    policies: &WorkspacePolicy,
    store: &mut dyn WorkspaceStore,
    conn: &Connection,
    repo: &git2::Repository,
    commit: &git2::Commit,
    keep_queued: bool,
    report: &mut InboundReport,
) -> Result<()> {
    let tree = commit.tree()?;
    let (files, mut changes) = tree_files(conn, repo, &tree)?;
    changes.extend(judge(policies, store, conn, files, alias_file(conn, repo, &tree))?);
    if keep_queued {
        // A resync's apply-back never overwrites a change made in the workspace after the resync read
        // it: that change is still queued and goes out with the next pass.
        let queued: std::collections::HashSet<(String, String)> =
            store.outbound_queue()?.into_iter().map(|q| (q.kind, q.slug)).collect();
        for (kind, slug, what) in &mut changes {
            if queued.contains(&(kind.clone(), slug.clone())) {
                *what = Inbound::Ignored(
                    "changed in the workspace while the resync ran; it goes out with the next pass".into(),
                );
            }
        }
    }
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

/// What the workspace last took in from the branch, path by path: the file at the last applied
/// commit, or as a later commit of the pass changed it. A commit's first-parent diff is measured
/// against its own parent; when that line does not pass through the last applied commit (a branch
/// that merged `main` in, then fast-forwarded onto it), the diff shows files "changing" to what the
/// workspace already had. Those are no change — applying them would invent a conflict.
struct Seen<'r> {
    repo: &'r git2::Repository,
    base: git2::Tree<'r>,
    /// Folders of `base`, parsed once (libgit2 does not cache big trees).
    folders: std::collections::HashMap<String, Option<git2::Tree<'r>>>,
    changed: std::collections::HashMap<String, Option<git2::Oid>>,
}

impl<'r> Seen<'r> {
    fn new(repo: &'r git2::Repository, base: git2::Tree<'r>) -> Seen<'r> {
        Seen {
            repo,
            base,
            folders: Default::default(),
            changed: Default::default(),
        }
    }

    fn at_base(&mut self, path: &str) -> Option<git2::Oid> {
        let Some((folder, name)) = path.rsplit_once('/') else {
            return self.base.get_name(path).map(|e| e.id());
        };
        if !self.folders.contains_key(folder) {
            let tree = match self.base.get_path(std::path::Path::new(folder)) {
                Ok(e) => self.repo.find_tree(e.id()).ok(),
                Err(_) => None,
            };
            self.folders.insert(folder.to_string(), tree);
        }
        self.folders[folder]
            .as_ref()
            .and_then(|t| t.get_name(name))
            .map(|e| e.id())
    }

    /// Whether `path` becoming `now` (none: deleted) changes what the workspace last took in;
    /// remembers `now` when it does.
    fn changes(&mut self, path: &str, now: Option<git2::Oid>) -> bool {
        let before = match self.changed.get(path) {
            Some(before) => *before,
            None => self.at_base(path),
        };
        if before == now {
            return false;
        }
        self.changed.insert(path.to_string(), now);
        true
    }
}

/// INBOUND every commit after the last applied one up to `head`, along the first-parent line (a
/// merge brings in everything it merged, attributed to whoever merged it). This workspace's own
/// OUTBOUND commits are not re-applied; one that carries a queued change still in the queue means
/// an earlier pass pushed and then died: the change is marked done with that commit.
pub fn run(
    policies: &WorkspacePolicy,
    store: &mut dyn WorkspaceStore,
    conn: &Connection,
    repo: &git2::Repository,
    head: git2::Oid,
    report: &mut InboundReport,
) -> Result<()> {
    let Some(last) = store.last_applied()? else {
        // First pass after connect: take in what the branch already holds.
        return apply_tree(policies, store, conn, repo, &repo.find_commit(head)?, false, report);
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
    // The newest commit of this workspace decides who writes it: another store's, and the pass stops
    // before it applies or pushes anything.
    super::writer::refuse_another(conn, super::writer::newest(conn, repo, &ids)?, "this pass stops")?;
    let mut seen = Seen::new(repo, repo.find_commit(last)?.tree()?);
    let mut aliases_changed = false;
    for id in ids {
        let commit = repo.find_commit(id)?;
        let t = trailers(commit.message().unwrap_or_default());
        let own = t.workspace.as_deref() == Some(conn.id.as_str()) && t.direction.as_deref() == Some("OUTBOUND");

        // The queue as it was before this commit's own change is marked done: content a queued
        // change carries is this workspace's, even once it leaves the queue below.
        let queued_before = if own { store.outbound_queue()? } else { Vec::new() };
        if own {
            let queued = &queued_before;
            // The commit is this change's only when its id says so too: a store restored from a
            // backup numbers its changes again, and an older commit with the same number is not
            // the new change's.
            let done: Vec<(i64, Done)> = t
                .change
                .filter(|seq| {
                    queued
                        .iter()
                        .any(|q| q.seq == *seq && (q.uid.is_none() || q.uid == t.change_id))
                })
                .map(|seq| (seq, Done::Commit(id.to_string())))
                .into_iter()
                .collect();
            report.recovered += done.len();
            store.complete(&done, &id.to_string())?;
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
            let Some(path) = delta.new_file().path_bytes().map(String::from_utf8_lossy) else {
                continue;
            };
            let path = path.as_ref();
            let new = delta.new_file();
            let now = (delta.status() != git2::Delta::Deleted).then(|| new.id());
            if !seen.changes(path, now) {
                continue;
            }
            if *path == gitsync_core::layout::aliases_path(&conn.id) {
                aliases_changed = true;
            }
            if *path == gitsync_core::layout::manifest_path(&conn.id) {
                changes.push((
                    "manifest".to_string(),
                    conn.id.clone(),
                    Inbound::Ignored("the manifest is read-only in Git; rewritten from the workspace".into()),
                ));
                continue;
            }
            if delta.status() == git2::Delta::Deleted {
                if let Some((kind, slug)) = layout_of(conn, path) {
                    changes.push((kind, slug, Inbound::DeletedInGit));
                }
                continue;
            }
            if !in_layout(conn, path) {
                continue;
            }
            read_into(
                conn,
                repo,
                path.to_string(),
                new.id(),
                i32::from(new.mode()),
                &mut files,
                &mut changes,
            );
        }
        if own {
            // Trailers alone do not make a commit ours (a cherry-pick keeps them): what this
            // workspace wrote is what it holds, or what its queue still carries. Anything else in
            // the commit is applied like any commit's content; its deletes and manifest are ours.
            files.retain(|f| {
                layout_of(conn, &f.path).is_none_or(|(kind, slug)| {
                    store.get(&kind, &slug).ok().flatten().map(|r| r.yaml.into_bytes()) != Some(f.contents.clone())
                })
            });
            if files.is_empty() {
                continue;
            }
            let queued = &queued_before;
            let foreign: Vec<Judged> = judge(policies, store, conn, files, alias_file(conn, repo, &tree))?
                .into_iter()
                .filter(|(kind, slug, what)| match what {
                    Inbound::Apply(yaml) => !queued
                        .iter()
                        .any(|q| q.kind == *kind && q.slug == *slug && q.yaml.as_deref() == Some(yaml.as_str())),
                    _ => false,
                })
                .collect();
            if foreign.is_empty() {
                continue;
            }
            changes = foreign;
        } else {
            changes.extend(judge(policies, store, conn, files, alias_file(conn, repo, &tree))?);
        }
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
    revisit(policies, store, conn, repo, head, aliases_changed, report)
}

/// After the new commits: files valid at the branch head are in the workspace, though their content
/// did not change — one skipped before for a reference that now resolves (a sync pushed before its
/// model, in the same push or an earlier one), or, when the alias file changed, every model and
/// sync (their `source` / `destination` resolve anew). They are judged together at the head and the
/// ones now valid and different are applied; a resource with queued changes is left to them.
fn revisit(
    policies: &WorkspacePolicy,
    store: &mut dyn WorkspaceStore,
    conn: &Connection,
    repo: &git2::Repository,
    head: git2::Oid,
    aliases_changed: bool,
    report: &mut InboundReport,
) -> Result<()> {
    let mut wanted: std::collections::BTreeSet<(String, String)> = report
        .skipped
        .iter()
        .map(|s| (s.kind.clone(), s.slug.clone()))
        .collect();
    // Files skipped by earlier passes: the change log says which.
    wanted.extend(
        store
            .log(REVISIT_LOOK_BACK)?
            .into_iter()
            .filter(|e| e.direction == "INBOUND" && e.outcome.starts_with("skipped: "))
            .map(|e| (e.kind, e.slug)),
    );
    let commit = repo.find_commit(head)?;
    let tree = commit.tree()?;
    if aliases_changed {
        for f in tree_files(conn, repo, &tree)?.0 {
            if let Some((kind, slug)) = layout_of(conn, &f.path)
                && (kind == "model" || kind == "sync")
            {
                wanted.insert((kind, slug));
            }
        }
    }
    let queued: std::collections::HashSet<(String, String)> =
        store.outbound_queue()?.into_iter().map(|q| (q.kind, q.slug)).collect();
    let mut files = Vec::new();
    for (kind, slug) in wanted {
        if queued.contains(&(kind.clone(), slug.clone())) {
            continue;
        }
        let Ok(rel) = crate::workspace::layout_path(&kind, &slug) else {
            continue;
        };
        let path = gitsync_core::layout::join(&conn.base, &rel);
        if let Blob::Contents(contents) = blob_at(repo, &tree, &path) {
            files.push(types::SourceFile { path, contents });
        }
    }
    if files.is_empty() {
        return Ok(());
    }
    let changes: Vec<Judged> = judge(policies, store, conn, files, alias_file(conn, repo, &tree))?
        .into_iter()
        .filter(|(_, _, what)| matches!(what, Inbound::Apply(_)))
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let c = InboundCommit {
        commit: head.to_string(),
        author: author_of(&commit),
        changes,
        quiet_unchanged: true,
    };
    let applied = store.apply_inbound(&c)?;
    report.revisited += applied.applied;
    report.applied += applied.applied;
    report.conflicts.extend(applied.conflicts);
    // What is in the workspace now no longer needs attention.
    report.skipped.retain(|s| {
        !c.changes
            .iter()
            .any(|(kind, slug, _)| *kind == s.kind && *slug == s.slug)
    });
    Ok(())
}

/// How many change-log entries a pass looks through for files skipped earlier.
const REVISIT_LOOK_BACK: usize = 2000;
