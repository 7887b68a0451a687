//! The Git side of the sync engine: `connect` (clone, folder structure, manifest, alias file) and the
//! OUTBOUND half of a pass (one commit per queued workspace change, then push). The working copy lives
//! in `<data>/checkout`; resources are written as the schema component rendered them.

use crate::policy::BuiltinPolicies;
use crate::runtime::bindings::types;
use crate::store::{Author, EndpointKind, WorkspaceStore, layout_path};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

const FOLDERS: [&str; 7] = [
    "models",
    "syncs",
    "schema/parent-models",
    "schema/related-models",
    "schema/event-models",
    "schema/model-relationships",
    "events/contracts",
];

fn checkout(data: &Path) -> PathBuf {
    data.join("checkout")
}

fn bot() -> Author {
    Author {
        name: "gitsync".into(),
        email: "gitsync@localhost".into(),
    }
}

fn join(base: &str, rest: &str) -> String {
    if base.is_empty() {
        rest.to_string()
    } else {
        format!("{base}/{rest}")
    }
}

fn failed(f: crate::policy::PolicyFailure) -> anyhow::Error {
    anyhow::anyhow!("policy `{}` failed: {}", f.policy, f.reason)
}

fn text(value: &str) -> types::Text {
    types::Text {
        value: value.to_string(),
        span: types::Span {
            line: 1,
            column: 1,
            end_line: 1,
            end_column: 1,
        },
    }
}

/// The manifest of the workspace as it stands, rendered by the schema component.
fn manifest(store: &dyn WorkspaceStore, policies: &BuiltinPolicies) -> Result<(String, String)> {
    let id = store.workspace_id()?;
    let entries = |kind| -> Result<Vec<types::ManifestEntry>> {
        Ok(store
            .endpoints(kind)?
            .into_iter()
            .map(|e| types::ManifestEntry {
                id: text(&e.id),
                name: Some(e.name),
                kind: Some(e.kind),
            })
            .collect())
    };
    let resource = types::Resource {
        path: format!("manifest-{id}.yaml"),
        slug: id.clone(),
        body: types::ResourceBody::Manifest(types::Manifest {
            workspace: id.clone(),
            sources: entries(EndpointKind::Source)?,
            destinations: entries(EndpointKind::Destination)?,
            has_read_only_header: true,
        }),
    };
    let yaml = policies
        .render(&resource)
        .map_err(failed)?
        .map_err(|e| anyhow::anyhow!("cannot render the manifest: {e}"))?;
    Ok((format!("manifest-{id}.yaml"), yaml))
}

/// Stage everything (additions, changes, deletions) and commit if anything changed.
fn commit_all(repo: &git2::Repository, author: &Author, message: &str) -> Result<Option<git2::Oid>> {
    let mut index = repo.index()?;
    index.update_all(["*"].iter(), None)?;
    index.add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)?;
    index.write()?;
    let tree_id = index.write_tree()?;
    let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
    if parent.as_ref().is_some_and(|p| p.tree_id() == tree_id) {
        return Ok(None);
    }
    let tree = repo.find_tree(tree_id)?;
    let sig = git2::Signature::now(&author.name, &author.email)?;
    let committer = git2::Signature::now(&bot().name, &bot().email)?;
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    Ok(Some(repo.commit(
        Some("HEAD"),
        &sig,
        &committer,
        message,
        &tree,
        &parents,
    )?))
}

fn push(repo: &git2::Repository, branch: &str) -> Result<()> {
    let mut remote = repo.find_remote("origin")?;
    let mut rejected: Option<String> = None;
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.push_update_reference(|_, status| {
        if let Some(s) = status {
            rejected = Some(s.to_string());
        }
        Ok(())
    });
    let mut opts = git2::PushOptions::new();
    opts.remote_callbacks(callbacks);
    remote
        .push(&[format!("refs/heads/{branch}:refs/heads/{branch}")], Some(&mut opts))
        .with_context(|| format!("push to branch `{branch}` failed"))?;
    drop(opts);
    if let Some(reason) = rejected {
        bail!(
            "push to branch `{branch}` was rejected: {reason}; the queued changes are kept and go out on the next `gitsync sync`"
        );
    }
    Ok(())
}

/// `gitsync connect`: clone, create the folder structure, the manifest and an empty alias file in one
/// commit, push, and remember the connection.
pub fn connect(
    store: &mut dyn WorkspaceStore,
    policies: &BuiltinPolicies,
    data: &Path,
    url: &str,
    branch: &str,
    path: &str,
) -> Result<String> {
    if let Some(existing) = store.setting("repo")? {
        bail!("this workspace is already connected to {existing}");
    }
    let base = crate::repo::checked_base(path)?;
    let dir = checkout(data);
    let _ = std::fs::remove_dir_all(&dir);
    let repo = match git2::build::RepoBuilder::new().branch(branch).clone(url, &dir) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            // Tell an empty repository from a missing branch.
            let empty = git2::Repository::init_bare(data.join(".probe"))
                .and_then(|probe| {
                    let mut remote = probe.remote_anonymous(url)?;
                    remote.connect(git2::Direction::Fetch)?;
                    let heads = remote.list()?.len();
                    Ok(heads == 0)
                })
                .unwrap_or(false);
            let _ = std::fs::remove_dir_all(data.join(".probe"));
            if empty {
                bail!(
                    "{url} is empty: make an initial commit first (for example a README) so that branch `{branch}` exists"
                );
            }
            bail!("cannot clone branch `{branch}` of {url}: {}", e.message());
        }
    };
    let id = store.workspace_id()?;
    for folder in FOLDERS {
        let d = dir.join(join(&base, folder));
        std::fs::create_dir_all(&d)?;
        if std::fs::read_dir(&d)?.next().is_none() {
            std::fs::write(d.join(".gitkeep"), "")?;
        }
    }
    let (manifest_path, yaml) = manifest(store, policies)?;
    std::fs::write(dir.join(&manifest_path), yaml)?;
    let aliases = dir.join(format!("aliases-{id}.yaml"));
    if !aliases.exists() {
        std::fs::write(&aliases, "sources: {}\ndestinations: {}\n")?;
    }
    let message = format!("gitsync: connect workspace {id}\n\nGitsync-Direction: OUTBOUND\nGitsync-Workspace: {id}\n");
    let committed = commit_all(&repo, &bot(), &message)?;
    if committed.is_some() {
        push(&repo, branch)?;
    }
    store.set_setting("repo", url)?;
    store.set_setting("branch", branch)?;
    store.set_setting("path", &base)?;
    Ok(match committed {
        Some(c) => format!(
            "connected {id} to {url} ({branch}); created the folders, {manifest_path} and aliases-{id}.yaml in {c}\n"
        ),
        None => format!("connected {id} to {url} ({branch}); the folders and files were already there\n"),
    })
}

/// The OUTBOUND half of `gitsync sync`: fetch, then one commit per queued change (author = the user
/// who made it) with the manifest rewritten, then push. The queue is emptied only after the push.
pub fn outbound(store: &mut dyn WorkspaceStore, policies: &BuiltinPolicies, data: &Path) -> Result<String> {
    let Some(url) = store.setting("repo")? else {
        bail!("this workspace is not connected; run `gitsync connect --repo URL --branch B` first");
    };
    let branch = store.setting("branch")?.unwrap_or_else(|| "main".into());
    let base = store.setting("path")?.unwrap_or_default();
    let id = store.workspace_id()?;
    let dir = checkout(data);
    let repo = git2::Repository::open(&dir)
        .with_context(|| format!("the checkout {} is missing; reconnect", dir.display()))?;
    repo.find_remote("origin")?
        .fetch(&[&branch], None, None)
        .with_context(|| format!("cannot fetch `{branch}` from {url}"))?;
    let upstream = repo.revparse_single(&format!("refs/remotes/origin/{branch}"))?;
    repo.reset(&upstream, git2::ResetType::Hard, None)?;
    let mut done = Vec::new();
    for change in store.outbound_queue()? {
        let path = dir.join(join(&base, &layout_path(&change.kind, &change.slug)?));
        if change.op == "put" {
            let Some(current) = store.get(&change.kind, &change.slug)? else {
                done.push((change.seq, String::new()));
                continue; // deleted since; its delete is queued after it
            };
            std::fs::create_dir_all(path.parent().expect("layout paths have a folder"))?;
            std::fs::write(&path, &current.yaml)?;
        } else if path.exists() {
            std::fs::remove_file(&path)?;
        }
        let (manifest_path, yaml) = manifest(store, policies)?;
        std::fs::write(dir.join(manifest_path), yaml)?;
        let author = Author::parse(&change.author)?;
        let verb = if change.op == "put" { "update" } else { "delete" };
        let message = format!(
            "{verb} {} {}\n\nGitsync-Direction: OUTBOUND\nGitsync-Workspace: {id}\nGitsync-Resource: {}/{}\n",
            change.kind, change.slug, change.kind, change.slug
        );
        let commit = commit_all(&repo, &author, &message)?;
        done.push((change.seq, commit.map(|c| c.to_string()).unwrap_or_default()));
    }
    if done.is_empty() {
        return Ok("nothing to push\n".into());
    }
    push(&repo, &branch)?;
    let commits = done.iter().filter(|(_, c)| !c.is_empty()).count();
    store.complete(&done)?;
    Ok(format!(
        "pushed {commits} commit{} to {branch}\n",
        if commits == 1 { "" } else { "s" }
    ))
}
