//! One writer per workspace, branch and path. Every OUTBOUND commit says which store of the
//! workspace made it (`Gitsync-Instance`) and, when the workspace lives in a sub-folder, which one
//! (`Gitsync-Path`). A second store with the same workspace id — another data directory connected to
//! the same branch and path — would take the first one's commits for its own, undo its changes and
//! rewrite its manifest on every pass. So `connect` refuses a branch and path another store writes,
//! and a pass that finds the newest commit of its workspace made by another store stops; `--take-over`
//! makes this store the writer (for when the other one is gone for good).

use super::Connection;
use super::inbound::{Trailers, trailers};
use anyhow::{Result, bail};

/// How far back `connect` looks for the workspace's last commit.
const LOOK_BACK: usize = 10_000;

/// The trailers naming this store as the writer, for a commit message.
pub fn trailer_lines(conn: &Connection) -> String {
    let mut lines = format!("Gitsync-Instance: {}\n", conn.instance);
    if !conn.base.is_empty() {
        lines.push_str(&format!("Gitsync-Path: {}\n", conn.base));
    }
    lines
}

/// Whether trailers `t` are of a commit of this workspace, at this path.
fn ours_to_judge(conn: &Connection, t: &Trailers) -> bool {
    t.workspace.as_deref() == Some(conn.id.as_str())
        && t.direction.as_deref() == Some("OUTBOUND")
        && t.path.as_deref().unwrap_or("") == conn.base
}

/// The store that made the newest commit of this workspace among `commits` (newest last), if it
/// says: (its instance id, the commit).
pub fn newest(
    conn: &Connection,
    repo: &git2::Repository,
    commits: &[git2::Oid],
) -> Result<Option<(String, git2::Oid)>> {
    for id in commits.iter().rev() {
        let t = trailers(repo.find_commit(*id)?.message().unwrap_or_default());
        if ours_to_judge(conn, &t) {
            return Ok(t.instance.map(|i| (i, *id)));
        }
    }
    Ok(None)
}

/// The store that wrote the workspace last on the branch at `head` (looking back at most 10,000
/// commits), if one says.
pub fn on_branch(conn: &Connection, repo: &git2::Repository, head: git2::Oid) -> Result<Option<(String, git2::Oid)>> {
    let mut walk = repo.revwalk()?;
    walk.push(head)?;
    walk.simplify_first_parent()?;
    for id in walk.take(LOOK_BACK) {
        let id = id?;
        let t = trailers(repo.find_commit(id)?.message().unwrap_or_default());
        if ours_to_judge(conn, &t) {
            return Ok(t.instance.map(|i| (i, id)));
        }
    }
    Ok(None)
}

/// Stop when the writer found is another store.
pub fn refuse_another(conn: &Connection, found: Option<(String, git2::Oid)>, doing: &str) -> Result<()> {
    let Some((other, commit)) = found else { return Ok(()) };
    if other == conn.instance {
        return Ok(());
    }
    let path = if conn.base.is_empty() {
        String::new()
    } else {
        format!(", path `{}`", conn.base)
    };
    bail!(
        "another gitsync writes workspace `{}` on branch `{}`{path}: commit {} was made by its store {other} (this one is {}). \
         Two writers would undo each other's changes, so {doing}; nothing queued is lost.\n\
         Stop the other one, or connect one of them to another branch or path. If the other one is gone for good, \
         make this one the writer with `--take-over` (`gitsync connect … --take-over`, or `gitsync sync --take-over`).",
        conn.id,
        conn.branch,
        &commit.to_string()[..10],
        conn.instance
    )
}

/// An empty commit on the checkout's branch saying this store writes the workspace from now on.
pub fn claim(repo: &git2::Repository, conn: &Connection, by: &crate::author::Author) -> Result<git2::Oid> {
    let head = repo.head()?.peel_to_commit()?;
    let sig = git2::Signature::now(&by.name, &by.email)?;
    let message = format!(
        "gitsync: workspace {} is written by this store from now on\n\nGitsync-Direction: OUTBOUND\nGitsync-Workspace: {}\n{}",
        conn.id,
        conn.id,
        trailer_lines(conn)
    );
    Ok(repo.commit(Some("HEAD"), &sig, &sig, &message, &head.tree()?, &[&head])?)
}
