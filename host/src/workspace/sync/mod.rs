//! The sync engine (docs/sync.md): `connect`, one pass of `sync` (INBOUND, then OUTBOUND, then push with
//! retries) and the full `resync`. The working copy lives in `<data>/checkout`, a cache that is
//! re-cloned when missing; the workspace store is the record of what was applied and what is queued.

mod inbound;
mod remote;
mod writer;

pub use inbound::InboundReport;
pub use remote::{Credentials, redact, set_network_timeouts};

use crate::author::Author;
use crate::store::{Done, QueuedChange, WorkspaceStore};
use crate::workspace::layout_path;
use crate::workspace::{Held, state};
use anyhow::{Context, Result, bail};
use gitsync_core::layout::{self, join};
use gitsync_engine::WorkspacePolicy;
use gitsync_engine::wit as types;
use remote::PushError;
use std::path::{Path, PathBuf};

/// How many times a pass fetches, replays and pushes again when someone else pushed first.
const PUSH_ATTEMPTS: usize = 5;

fn checkout(data: &Path) -> PathBuf {
    data.join("checkout")
}

fn bot() -> Author {
    Author {
        name: "gitsync".into(),
        email: "gitsync@localhost".into(),
    }
}

/// The manifest of the workspace as it stands, rendered by the workspace component.
fn manifest(store: &dyn WorkspaceStore, policy: &WorkspacePolicy) -> Result<(String, String)> {
    let state = state(store, "", Held::Nothing)?;
    let yaml = policy
        .render_manifest(&state)?
        .map_err(|e| anyhow::anyhow!("cannot render the manifest: {e}"))?;
    Ok((layout::manifest_path(&state.id), yaml))
}

/// Stage `paths` (added, changed or removed in the working tree; `None` = everything) and commit
/// if the tree changed. Naming the paths keeps a commit cheap in a repository of 10,000 files.
fn commit_paths(
    repo: &git2::Repository,
    paths: Option<&[String]>,
    author: &Author,
    message: &str,
) -> Result<Option<git2::Oid>> {
    let mut index = repo.index()?;
    match paths {
        None => {
            index.update_all(["*"].iter(), None)?;
            index.add_all(["*"].iter(), git2::IndexAddOption::DEFAULT, None)?;
        }
        Some(paths) => {
            let workdir = repo.workdir().context("the checkout has no working tree")?;
            for p in paths {
                if workdir.join(p).is_file() {
                    index.add_path(Path::new(p))?;
                } else if index.get_path(Path::new(p), 0).is_some() {
                    index.remove_path(Path::new(p))?;
                }
            }
        }
    }
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

/// The checkout's working tree, opened with cap-std: every path stays inside it, so a symbolic link
/// committed to the repository (say `models -> /etc`) cannot make gitsync read or write elsewhere.
struct Tree(cap_std::fs::Dir);

impl Tree {
    fn open(repo: &git2::Repository) -> Result<Tree> {
        let dir = repo.workdir().context("the checkout has no working tree")?;
        let d = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority())
            .with_context(|| format!("cannot open the checkout {}", dir.display()))?;
        Ok(Tree(d))
    }

    fn escape(rel: &str, e: std::io::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "cannot write {rel} in the checkout: {e}; if the repository has a symbolic link on that path, replace it with a folder (gitsync never writes outside the repository)"
        )
    }

    fn write(&self, rel: &str, contents: &[u8]) -> Result<()> {
        if let Some((parent, _)) = rel.rsplit_once('/') {
            self.0.create_dir_all(parent).map_err(|e| Self::escape(rel, e))?;
        }
        if self.0.symlink_metadata(rel).is_ok_and(|m| m.is_symlink()) {
            bail!(
                "cannot write {rel} in the checkout: it is a symbolic link in the repository; replace it with the file"
            );
        }
        self.0.write(rel, contents).map_err(|e| Self::escape(rel, e))
    }

    fn remove(&self, rel: &str) -> Result<()> {
        match self.0.remove_file(rel) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Self::escape(rel, e)),
        }
    }

    /// A regular file's contents; none when missing, not a file, or not reachable inside the tree.
    fn read(&self, rel: &str) -> Option<Vec<u8>> {
        let meta = self.0.symlink_metadata(rel).ok()?;
        if !meta.is_file() {
            return None;
        }
        self.0.read(rel).ok()
    }

    fn is_empty_dir(&self, rel: &str) -> Result<bool> {
        self.0.create_dir_all(rel).map_err(|e| Self::escape(rel, e))?;
        Ok(self.0.read_dir(rel)?.next().is_none())
    }
}

/// Why nothing can be written at `rel` of the checkout, if so: the path, or a folder on it, is not
/// what a resource file needs in the repository. Said before writing, so the cause is named (not a
/// file system error) and the change can be set aside while the rest of the queue goes out.
fn blocked_path(tree: &Tree, repo: &git2::Repository, rel: &str) -> Option<String> {
    let mut prefix = String::new();
    for part in rel.split('/') {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        let Ok(meta) = tree.0.symlink_metadata(&prefix) else {
            return None; // missing: created on write
        };
        let last = prefix.len() == rel.len();
        if meta.is_symlink() {
            return Some(if last {
                format!("`{rel}` is a symbolic link in the repository; replace it with the file (or remove it) in Git")
            } else {
                format!(
                    "`{prefix}` is a symbolic link in the repository, so `{rel}` cannot be written under it; replace the link with a folder in Git"
                )
            });
        }
        if !last && !meta.is_dir() {
            return Some(format!(
                "`{prefix}` is a file in the repository, so `{rel}` cannot be written under it; replace it with a folder in Git"
            ));
        }
        if last && meta.is_dir() {
            let submodule = repo
                .index()
                .ok()
                .and_then(|i| i.get_path(Path::new(rel), 0))
                .is_some_and(|e| e.mode == 0o160000);
            return Some(if submodule {
                format!("`{rel}` is a submodule in the repository; remove the submodule in Git")
            } else {
                format!("`{rel}` is a folder in the repository; move or remove the folder in Git")
            });
        }
    }
    None
}

/// Why the queued `change` cannot be committed at `rel`, if it cannot: its path is blocked, or Git
/// refuses its author (a change queued before `put` checked authors).
fn unwritable(tree: &Tree, repo: &git2::Repository, rel: &str, change: &QueuedChange) -> Option<String> {
    if let Some(why) = blocked_path(tree, repo, rel) {
        return Some(why);
    }
    match Author::parse(&change.author) {
        Ok(a) => git2::Signature::now(&a.name, &a.email)
            .err()
            .map(|e| format!("Git refuses the author `{}`: {}", change.author, e.message())),
        Err(e) => Some(format!("the author `{}` cannot sign a commit: {e}", change.author)),
    }
}

/// How long a pass waits for another one on the same workspace before giving up (milliseconds).
static LOCK_WAIT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How long a pass waits for one already running on the same workspace (the service's, or another
/// command's) before it gives up; zero: give up at once.
pub fn set_lock_wait(wait: std::time::Duration) {
    LOCK_WAIT_MS.store(wait.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
}

/// One pass at a time per workspace: the lock is held until the returned file is dropped (the
/// operating system releases it if the process dies). A pass that finds it taken waits its turn
/// (see `set_lock_wait`), never races the other.
fn lock(data: &Path) -> Result<std::fs::File> {
    let path = data.join("sync.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let wait = lock_wait();
    let start = std::time::Instant::now();
    let mut said = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < wait => {
                if !said {
                    eprintln!("waiting for the pass running on this workspace to finish (at most {wait:?})…");
                    said = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another gitsync pass is running on this workspace ({} is locked{}); wait for it to finish and run again (--lock-wait sets how long to wait)",
                path.display(),
                if wait.is_zero() {
                    String::new()
                } else {
                    format!(", waited {wait:?}")
                }
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
}

fn lock_wait() -> std::time::Duration {
    std::time::Duration::from_millis(LOCK_WAIT_MS.load(std::sync::atomic::Ordering::Relaxed))
}

/// What a pass holds while it runs: this machine's lock on the workspace's folder (its checkout)
/// and the store's lease on the workspace (every process sharing the store), checked before each
/// push.
struct PassLocks {
    _folder: std::fs::File,
    lease: crate::store::PassLease,
}

fn lock_pass(store: &mut dyn WorkspaceStore, data: &Path) -> Result<PassLocks> {
    let folder = lock(data)?;
    let lease = store.lease_pass(lock_wait())?;
    Ok(PassLocks { _folder: folder, lease })
}

/// A workspace's Git connection, as the store holds it.
pub struct Connection {
    pub id: String,
    /// This store's instance id (`WorkspaceStore::instance_id`).
    pub instance: String,
    pub url: String,
    pub branch: String,
    /// The configured sub-folder, without slashes at either end ("" = repository root).
    pub base: String,
    pub creds: Credentials,
}

impl Connection {
    fn load(store: &dyn WorkspaceStore) -> Result<Connection> {
        let Some(url) = store.setting("repo")? else {
            bail!("this workspace is not connected; run `gitsync connect --repo URL --branch B` first");
        };
        Ok(Connection {
            id: store.workspace_id()?,
            instance: store.instance_id()?,
            url,
            branch: store.setting("branch")?.unwrap_or_else(|| "main".into()),
            base: store.setting("path")?.unwrap_or_default(),
            creds: Credentials {
                ssh_key: store.setting("ssh_key")?.map(PathBuf::from),
                ssh_passphrase_env: store.setting("ssh_passphrase_env")?,
                token_env: store.setting("token_env")?,
                user: store.setting("user")?,
            },
        })
    }

    fn shown_url(&self) -> String {
        redact(&self.url)
    }
}

/// The working copy: opened, or cloned again when it is missing (it is only a cache).
/// Git's lock files in the checkout (`index.lock`, `HEAD.lock`, `refs/…/*.lock`, …). Only a pass
/// holding `sync.lock` calls this, so any it finds were left by a pass that was killed: they are
/// removed (the checkout is a cache; the store is the record), and the pass says so.
fn remove_stale_locks(checkout: &Path) -> Result<()> {
    let git_dir = checkout.join(".git");
    let mut todo = vec![git_dir.clone()];
    let mut removed = Vec::new();
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            // Objects are never locked this way; skipping them keeps this cheap on a big clone.
            if kind.is_dir() && entry.file_name() != "objects" {
                todo.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|x| x == "lock") {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove the stale Git lock {}", path.display()))?;
                removed.push(path.strip_prefix(checkout).unwrap_or(&path).display().to_string());
            }
        }
    }
    if !removed.is_empty() {
        removed.sort();
        eprintln!(
            "note: removed Git lock files a killed pass left in the checkout: {}",
            removed.join(", ")
        );
    }
    Ok(())
}

/// Why the checkout cannot be trusted, if so: its HEAD, branch or index cannot be read, or an object
/// of HEAD's tree is missing or broken (a disk fault, an interrupted copy, someone's hand). Only the
/// headers of objects are read, so this stays cheap on a big repository.
fn damaged(repo: &git2::Repository) -> Option<String> {
    let head = match repo.head().and_then(|h| h.peel_to_commit()) {
        Ok(c) => c,
        Err(e) => return Some(format!("its HEAD does not lead to a commit ({})", e.message())),
    };
    if let Err(e) = repo.index().and_then(|mut i| i.read(true)) {
        return Some(format!("its index cannot be read ({})", e.message()));
    }
    let tree = match head.tree() {
        Ok(t) => t,
        Err(e) => return Some(format!("the tree of its HEAD cannot be read ({})", e.message())),
    };
    let odb = match repo.odb() {
        Ok(o) => o,
        Err(e) => return Some(format!("its objects cannot be read ({})", e.message())),
    };
    let mut broken = None;
    let walked = tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if odb.read_header(entry.id()).is_err() {
            broken = Some(format!("{dir}{}", entry.name().unwrap_or("?")));
            return git2::TreeWalkResult::Abort;
        }
        git2::TreeWalkResult::Ok
    });
    match (broken, walked) {
        (Some(path), _) => Some(format!("the object of {path} cannot be read")),
        (None, Err(e)) if e.code() != git2::ErrorCode::User => {
            Some(format!("the tree of its HEAD cannot be read ({})", e.message()))
        }
        _ => None,
    }
}

/// The working copy: opened, or cloned again when it is missing or damaged (it is only a cache: the
/// store holds the workspace and what was applied, so nothing in it is needed).
fn open_checkout(conn: &Connection, data: &Path) -> Result<git2::Repository> {
    let dir = checkout(data);
    remove_stale_locks(&dir)?;
    match git2::Repository::open(&dir) {
        Ok(repo) => match damaged(&repo) {
            None => return Ok(repo),
            Some(why) => eprintln!(
                "note: the checkout {} is damaged: {why}; cloning it again (it is only a cache: the workspace's store holds everything)",
                dir.display()
            ),
        },
        Err(e) if dir.exists() => eprintln!(
            "note: the checkout {} cannot be opened ({}); cloning it again (it is only a cache: the workspace's store holds everything)",
            dir.display(),
            e.message()
        ),
        Err(_) => {}
    }
    let _ = std::fs::remove_dir_all(&dir);
    remote::clone(&conn.url, &conn.branch, &dir, &conn.creds)
        .map_err(|e| anyhow::anyhow!("cannot clone `{}` of {}: {e}", conn.branch, conn.shown_url()))
}

/// Where `connect` connects a workspace to, and how.
pub struct ConnectTo<'a> {
    pub url: &'a str,
    pub branch: &'a str,
    /// The workspace's folder in the repository ("" = the root).
    pub path: &'a str,
    pub creds: &'a Credentials,
    /// Become the writer of the workspace on this branch and path even though another store of it
    /// wrote it last (that one is gone for good).
    pub take_over: bool,
}

/// `gitsync sync --take-over`: make this store the writer of its workspace on the branch — an empty
/// commit saying so, pushed — for when the store that wrote it is gone for good.
pub fn take_over(store: &mut dyn WorkspaceStore, data: &Path) -> Result<()> {
    let conn = Connection::load(store)?;
    let locks = lock_pass(store, data)?;
    let repo = open_checkout(&conn, data)?;
    for _ in 0..PUSH_ATTEMPTS {
        let head = remote::fetch(&repo, &conn.branch, &conn.url, &conn.creds)?;
        reset_to(&repo, head, &conn.branch)?;
        if writer::on_branch(&conn, &repo, head)?.is_none_or(|(w, _)| w == conn.instance) {
            return Ok(());
        }
        writer::claim(&repo, &conn, &bot())?;
        locks.lease.check()?;
        if push_or_explain(&repo, &conn.branch, &conn.creds, 0)? {
            return Ok(());
        }
    }
    bail!(
        "the branch `{}` kept moving: {PUSH_ATTEMPTS} pushes in a row were refused as non-fast-forward; run `gitsync sync --take-over` again",
        conn.branch
    )
}

/// `gitsync connect`: clone, create the folder structure, the manifest and an empty alias file in one
/// commit, push, and remember the connection (the key's path and the names of the variables holding
/// secrets; never a secret).
pub fn connect(
    store: &mut dyn WorkspaceStore,
    policies: &WorkspacePolicy,
    data: &Path,
    to: &ConnectTo,
) -> Result<String> {
    let ConnectTo {
        url,
        branch,
        path,
        creds,
        take_over,
    } = *to;
    let locks = lock_pass(store, data)?;
    if let Some(existing) = store.setting("repo")? {
        bail!("this workspace is already connected to {}", redact(&existing));
    }
    remote::check_url(url)?;
    if let Some(user) = &creds.user
        && !remote::is_plain_user(user)
    {
        bail!(
            "--user `{}` looks like a credential, not a user name; pass the token with --token-env VAR and the user name with --user",
            if user.len() > 8 {
                format!("{}…", &user[..4])
            } else {
                "…".to_string()
            }
        );
    }
    if let Some(key) = &creds.ssh_key
        && !key.is_file()
    {
        bail!("the SSH key {} does not exist", key.display());
    }
    let base = layout::checked_base(path).map_err(anyhow::Error::msg)?;
    let dir = checkout(data);
    let _ = std::fs::remove_dir_all(&dir);
    // One connection to learn what the remote holds: a remote that never answers costs one
    // --network-timeout, and an empty one is told apart before a clone fails on it.
    match remote::branches(url, creds) {
        Err(e) => bail!("cannot clone branch `{branch}` of {}: {e}", redact(url)),
        Ok(heads) if heads.is_empty() => bail!(
            "{} is empty: make an initial commit first (for example a README) so that branch `{branch}` exists",
            redact(url)
        ),
        Ok(_) => {}
    }
    let repo = match remote::clone(url, branch, &dir, creds) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&dir);
            bail!("cannot clone branch `{branch}` of {}: {e}", redact(url));
        }
    };
    let id = store.workspace_id()?;
    let conn = Connection {
        id: id.clone(),
        instance: store.instance_id()?,
        url: url.to_string(),
        branch: branch.to_string(),
        base: base.clone(),
        creds: creds.clone(),
    };
    let head = repo.head()?.peel_to_commit()?.id();
    let writer = writer::on_branch(&conn, &repo, head)?;
    let taking_over = take_over && writer.as_ref().is_some_and(|(w, _)| *w != conn.instance);
    if !take_over && let Err(e) = writer::refuse_another(&conn, writer, "it is not connected") {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    let tree = Tree::open(&repo)?;
    let mut paths = Vec::new();
    for folder in layout::folders() {
        let d = join(&base, folder);
        if tree.is_empty_dir(&d)? {
            let keep = format!("{d}/.gitkeep");
            tree.write(&keep, b"")?;
            paths.push(keep);
        }
    }
    let (manifest_path, yaml) = manifest(store, policies)?;
    tree.write(&manifest_path, yaml.as_bytes())?;
    paths.push(manifest_path.clone());
    let aliases = layout::aliases_path(&id);
    if tree.read(&aliases).is_none() {
        tree.write(&aliases, b"sources: {}\ndestinations: {}\n")?;
        paths.push(aliases.clone());
    }
    let message = format!(
        "gitsync: connect workspace {id}\n\nGitsync-Direction: OUTBOUND\nGitsync-Workspace: {id}\n{}",
        writer::trailer_lines(&conn)
    );
    let mut committed = commit_paths(&repo, Some(&paths), &bot(), &message)?;
    if committed.is_none() && taking_over {
        // Nothing to write, but the branch must say who writes the workspace from now on.
        committed = Some(writer::claim(&repo, &conn, &bot())?);
    }
    if committed.is_some() {
        locks.lease.check()?;
        push_or_explain(&repo, branch, creds, 0)?;
    }
    // One transaction: a kill part-way must not leave a repository without its branch.
    let mut settings = vec![
        ("repo", url.to_string()),
        ("branch", branch.to_string()),
        ("path", base),
    ];
    if let Some(key) = &creds.ssh_key {
        let key = key.canonicalize().unwrap_or_else(|_| key.clone());
        settings.push(("ssh_key", key.to_string_lossy().into_owned()));
    }
    if let Some(v) = &creds.ssh_passphrase_env {
        settings.push(("ssh_passphrase_env", v.clone()));
    }
    if let Some(v) = &creds.token_env {
        settings.push(("token_env", v.clone()));
    }
    if let Some(v) = &creds.user {
        settings.push(("user", v.clone()));
    }
    store.set_settings(&settings)?;
    Ok(match committed {
        Some(c) => format!(
            "connected {id} to {} ({branch}); created the folders, {manifest_path} and {aliases} in {c}\nnext: `gitsync sync` takes in what the branch holds and pushes queued changes\n",
            redact(url)
        ),
        None => format!(
            "connected {id} to {} ({branch}); the folders and files were already there\nnext: `gitsync sync` takes in what the branch holds and pushes queued changes\n",
            redact(url)
        ),
    })
}

/// A push that is not a non-fast-forward: succeed, or explain what to do.
fn push_or_explain(repo: &git2::Repository, branch: &str, creds: &Credentials, queued: usize) -> Result<bool> {
    match remote::push(repo, branch, creds) {
        Ok(()) => Ok(true),
        Err(PushError::NonFastForward) => Ok(false),
        Err(e) => Err(explain(e, branch, queued)),
    }
}

/// What to tell about a push that failed (not a non-fast-forward).
fn explain(e: PushError, branch: &str, queued: usize) -> anyhow::Error {
    match e {
        PushError::NonFastForward => anyhow::anyhow!("the branch `{branch}` moved while pushing; {}", kept(queued)),
        PushError::Protected(said) => anyhow::anyhow!(
            "Protected branch update failed - Changes must be made through a pull request\n\
             the remote refused the push to `{branch}`: {said}\n\
             Either connect the workspace to an unprotected branch and promote its changes to `{branch}` with pull requests,\n\
             or allow gitsync (the account or app it pushes as) to bypass the protection of `{branch}`.\n\
             {}",
            kept(queued)
        ),
        PushError::Refused(said) => {
            anyhow::anyhow!("the remote refused the push to `{branch}`: {said}\n{}", kept(queued))
        }
        PushError::Other(said) => anyhow::anyhow!("push to `{branch}` failed: {said}\n{}", kept(queued)),
    }
}

fn kept(queued: usize) -> String {
    if queued == 1 {
        "1 queued change is kept and goes out on the next `gitsync sync`.".to_string()
    } else {
        format!("{queued} queued changes are kept and go out on the next `gitsync sync`.")
    }
}

/// What one `gitsync sync` pass did.
#[derive(Debug, Default, serde::Serialize)]
pub struct PassReport {
    pub inbound: InboundReport,
    /// Commits pushed (one per workspace change, plus a manifest rewrite when needed).
    pub pushed: usize,
    /// Queued changes that left their file as it was.
    pub unchanged: usize,
    /// Pushes refused as non-fast-forward and retried after a fetch and replay.
    pub retries: usize,
    /// Queued changes that could not be written: they stay queued (`gitsync status`).
    pub set_aside: Vec<SetAside>,
    pub head: String,
}

/// A queued change a pass could not write, and why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SetAside {
    pub seq: i64,
    pub op: String,
    pub kind: String,
    pub slug: String,
    pub author: String,
    pub reason: String,
}

impl PassReport {
    /// Something a person should look at: skipped files, conflicts or changes set aside.
    pub fn needs_attention(&self) -> bool {
        !self.inbound.skipped.is_empty() || !self.inbound.conflicts.is_empty() || !self.set_aside.is_empty()
    }

    pub fn human(&self, branch: &str) -> String {
        let i = &self.inbound;
        let mut out = String::new();
        if i.commits == 0 {
            out.push_str("INBOUND: nothing new\n");
        } else if i.whole_tree {
            out.push_str(&format!(
                "INBOUND: the branch as it stands: {} applied, {} unchanged, {} skipped, {} conflict{}\n",
                i.applied,
                i.unchanged,
                i.skipped.len(),
                i.conflicts.len(),
                plural(i.conflicts.len())
            ));
        } else {
            out.push_str(&format!(
                "INBOUND: {} commit{}: {} applied, {} unchanged, {} skipped, {} conflict{}\n",
                i.commits,
                plural(i.commits),
                i.applied,
                i.unchanged,
                i.skipped.len(),
                i.conflicts.len(),
                plural(i.conflicts.len())
            ));
        }
        for s in &i.skipped {
            out.push_str(&format!(
                "  skipped {} {} (commit {} by {}): {}\n",
                s.kind,
                s.slug,
                short(&s.commit),
                s.author,
                s.reason
            ));
        }
        for c in &i.conflicts {
            out.push_str(&format!(
                "  conflict #{}: {} {} changed in the workspace by {} and in Git by {} ({}); Git won, the workspace version is kept: `gitsync conflicts --show {}`\n",
                c.id,
                c.kind,
                c.slug,
                c.kept_author,
                c.git_author,
                short(&c.commit),
                c.id
            ));
        }
        if i.revisited > 0 {
            out.push_str(&format!(
                "  {} file{} valid at the branch head taken in again (a reference now resolves, or the alias file changed)\n",
                i.revisited,
                plural(i.revisited)
            ));
        }
        if i.recovered > 0 {
            out.push_str(&format!(
                "  {} queued change{} had been pushed by an interrupted pass; marked done\n",
                i.recovered,
                plural(i.recovered)
            ));
        }
        if self.pushed == 0 {
            out.push_str("OUTBOUND: nothing to push\n");
        } else {
            out.push_str(&format!(
                "OUTBOUND: pushed {} commit{} to {branch}{}\n",
                self.pushed,
                plural(self.pushed),
                if self.retries > 0 {
                    format!(
                        " after {} retr{} (the branch had moved)",
                        self.retries,
                        if self.retries == 1 { "y" } else { "ies" }
                    )
                } else {
                    String::new()
                }
            ));
        }
        for a in &self.set_aside {
            out.push_str(&format!(
                "  set aside change #{} ({} {} {} by {}): {}; it stays queued and goes out with the first pass after that (or `gitsync workspace delete {} {}` drops it)\n",
                a.seq, a.op, a.kind, a.slug, a.author, a.reason, a.kind, a.slug
            ));
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

/// The text to write at `rel` for the workspace's `yaml`: the workspace component keeps an alias the
/// file in Git already uses when it resolves to the same id (docs/sync.md: never overwrite
/// `aliased-postgres`).
fn outbound_text(
    policy: &WorkspacePolicy,
    store: &dyn WorkspaceStore,
    conn: &Connection,
    tree: &Tree,
    rel: &str,
    yaml: &str,
) -> Result<String> {
    let (Some(existing), Some(aliases)) = (tree.read(rel), tree.read(&layout::aliases_path(&conn.id))) else {
        return Ok(yaml.to_string());
    };
    if existing == yaml.as_bytes() {
        return Ok(yaml.to_string());
    }
    let aliases = types::SourceFile {
        path: layout::aliases_path(&conn.id),
        contents: aliases,
    };
    let state = state(store, &conn.base, Held::Nothing)?;
    Ok(policy
        .keep_aliases(&state, rel, yaml, &existing, &aliases)?
        .unwrap_or_else(|| yaml.to_string()))
}

/// Write one queued change into the checkout and commit it as its author. Returns the commit, if
/// the change altered the file.
fn commit_change(
    policies: &WorkspacePolicy,
    store: &dyn WorkspaceStore,
    conn: &Connection,
    repo: &git2::Repository,
    change: &QueuedChange,
) -> Result<Option<git2::Oid>> {
    let tree = Tree::open(repo)?;
    let rel = join(&conn.base, &layout_path(&change.kind, &change.slug)?);
    if change.op == "put" {
        let yaml = change.yaml.clone().unwrap_or_default();
        let yaml = outbound_text(policies, store, conn, &tree, &rel, &yaml)?;
        tree.write(&rel, yaml.as_bytes())?;
    } else {
        tree.remove(&rel)?;
    }
    let verb = if change.op == "put" { "update" } else { "delete" };
    let uid = change
        .uid
        .as_deref()
        .map_or(String::new(), |u| format!("Gitsync-Change-Id: {u}\n"));
    let message = format!(
        "{verb} {} {}\n\nGitsync-Direction: OUTBOUND\nGitsync-Workspace: {}\nGitsync-Resource: {}/{}\nGitsync-Change: {}\n{uid}{}",
        change.kind,
        change.slug,
        conn.id,
        change.kind,
        change.slug,
        change.seq,
        writer::trailer_lines(conn)
    );
    commit_paths(repo, Some(&[rel]), &Author::parse(&change.author)?, &message)
}

/// Rewrite the manifest from the workspace (edits made in Git are overwritten).
fn commit_manifest(
    policies: &WorkspacePolicy,
    store: &dyn WorkspaceStore,
    conn: &Connection,
    repo: &git2::Repository,
) -> Result<Option<git2::Oid>> {
    let (path, yaml) = manifest(store, policies)?;
    Tree::open(repo)?.write(&path, yaml.as_bytes())?;
    let message = format!(
        "rewrite {path} from the workspace\n\nGitsync-Direction: OUTBOUND\nGitsync-Workspace: {}\nGitsync-Resource: manifest/{}\n{}",
        conn.id,
        conn.id,
        writer::trailer_lines(conn)
    );
    commit_paths(repo, Some(&[path]), &bot(), &message)
}

fn reset_to(repo: &git2::Repository, head: git2::Oid, branch: &str) -> Result<()> {
    let commit = repo.find_commit(head)?;
    repo.reference(
        &format!("refs/heads/{branch}"),
        head,
        true,
        "gitsync: reset to the remote branch",
    )?;
    repo.set_head(&format!("refs/heads/{branch}"))?;
    repo.reset(commit.as_object(), git2::ResetType::Hard, None)?;
    Ok(())
}

/// `gitsync sync`: one pass, as a pipeline — fetch, INBOUND (plan and apply each new commit, in its
/// own transaction), plan OUTBOUND (the queue), commit (one commit per change, then the manifest),
/// push, record. A push refused because the branch moved starts the pipeline again from the fetch:
/// the new commits are applied and the queue replayed on top (never a force push). The queue is
/// emptied only for changes the remote has.
pub fn sync(store: &mut dyn WorkspaceStore, policy: &WorkspacePolicy, data: &Path) -> Result<PassReport> {
    let conn = Connection::load(store)?;
    let locks = lock_pass(store, data)?;
    let repo = open_checkout(&conn, data)?;
    let mut report = PassReport::default();
    let mut refusals = 0;
    for _ in 0..PUSH_ATTEMPTS + MAX_REFUSED {
        let head = remote::fetch(&repo, &conn.branch, &conn.url, &conn.creds)?;
        inbound::run(policy, store, &conn, &repo, head, &mut report.inbound)?;
        reset_to(&repo, head, &conn.branch)?;
        let queue = store.outbound_queue()?;
        let committed = commit_outbound(policy, store, &conn, &repo, &queue)?;
        match push(&repo, &conn, &committed, queue.len(), &locks.lease)? {
            Pushed::Yes => {
                record(store, &committed, &mut report)?;
                return Ok(report);
            }
            Pushed::Moved => {
                report.retries += 1;
                if report.retries >= PUSH_ATTEMPTS {
                    break;
                }
            }
            Pushed::Refused(said) => {
                refusals += 1;
                if refusals > MAX_REFUSED {
                    bail!(
                        "the remote refused {refusals} pushes in a row: {said}\n{}",
                        kept(queue.len())
                    );
                }
                set_aside_refused(store, &repo, &conn, &committed, &said)?;
            }
        }
    }
    bail!(
        "the branch `{}` kept moving: {PUSH_ATTEMPTS} pushes in a row were refused as non-fast-forward; the queued changes are kept; run `gitsync sync` again",
        conn.branch
    )
}

/// What OUTBOUND committed in the checkout: per queued change its commit (empty when the change left
/// its file as it was), how many commits there are, and the new head.
struct Committed {
    done: Vec<(i64, Done)>,
    set_aside: Vec<SetAside>,
    commits: usize,
    head: git2::Oid,
}

/// OUTBOUND: each queued change committed as its author, then the manifest rewritten.
fn commit_outbound(
    policy: &WorkspacePolicy,
    store: &dyn WorkspaceStore,
    conn: &Connection,
    repo: &git2::Repository,
    queue: &[QueuedChange],
) -> Result<Committed> {
    let mut done = Vec::new();
    let mut set_aside: Vec<SetAside> = Vec::new();
    let mut commits = 0;
    let tree = Tree::open(repo)?;
    for change in queue {
        // A change the remote refused stays out until a later change of its resource supersedes it.
        if let Some(reason) = change.set_aside.as_deref().filter(|r| r.starts_with(REFUSED)) {
            match queue
                .iter()
                .find(|q| q.seq > change.seq && q.kind == change.kind && q.slug == change.slug)
            {
                Some(later) => done.push((change.seq, Done::Superseded(later.seq))),
                None => set_aside.push(SetAside {
                    seq: change.seq,
                    op: change.op.clone(),
                    kind: change.kind.clone(),
                    slug: change.slug.clone(),
                    author: change.author.clone(),
                    reason: reason.to_string(),
                }),
            }
            continue;
        }
        let rel = join(&conn.base, &layout_path(&change.kind, &change.slug)?);
        let blocked = unwritable(&tree, repo, &rel, change);
        // A delete where no resource file can be leaves nothing to delete.
        let outcome = if change.op == "delete" && blocked_path(&tree, repo, &rel).is_some() {
            Done::NoChange
        } else if let Some(reason) = blocked {
            set_aside.push(SetAside {
                seq: change.seq,
                op: change.op.clone(),
                kind: change.kind.clone(),
                slug: change.slug.clone(),
                author: change.author.clone(),
                reason,
            });
            continue;
        } else {
            let commit = commit_change(policy, store, conn, repo, change)?;
            commits += usize::from(commit.is_some());
            commit.map_or(Done::NoChange, |c| Done::Commit(c.to_string()))
        };
        // Changes of this resource set aside earlier are moot now that a later one went out.
        set_aside.retain(|a| {
            let moot = a.kind == change.kind && a.slug == change.slug;
            if moot {
                done.push((a.seq, Done::Superseded(change.seq)));
            }
            !moot
        });
        done.push((change.seq, outcome));
    }
    commits += usize::from(commit_manifest(policy, store, conn, repo)?.is_some());
    crate::failpoint::hit("after-commit");
    Ok(Committed {
        done,
        set_aside,
        commits,
        head: repo.head()?.peel_to_commit()?.id(),
    })
}

/// How a pass's push went.
enum Pushed {
    Yes,
    /// The branch moved meanwhile: fetch and replay.
    Moved,
    /// The remote refused something in the commits (a hook, push protection): what it said.
    Refused(String),
}

/// Push what was committed, if anything.
fn push(
    repo: &git2::Repository,
    conn: &Connection,
    committed: &Committed,
    queued: usize,
    lease: &crate::store::PassLease,
) -> Result<Pushed> {
    if committed.commits == 0 {
        return Ok(Pushed::Yes);
    }
    crate::failpoint::hit("before-push");
    // A pass that lost the workspace to another process pushes nothing.
    lease.check()?;
    match remote::push(repo, &conn.branch, &conn.creds) {
        Ok(()) => {
            crate::failpoint::hit("after-push");
            Ok(Pushed::Yes)
        }
        Err(PushError::Refused(said)) => Ok(Pushed::Refused(said)),
        Err(PushError::NonFastForward) => Ok(Pushed::Moved),
        Err(e) => Err(explain(e, &conn.branch, queued)),
    }
}

/// What a change the remote refused is set aside with (its reason starts so).
const REFUSED: &str = "refused by the remote:";

/// Passes in a row that may each set aside one refused change before the pass gives up.
const MAX_REFUSED: usize = 10;

/// The remote refused the push: find the first change whose commit it refuses — pushing the
/// commits one at a time, each with those before it (those go out, and the next attempt marks them
/// done by their trailers) — and set that change aside with what the remote said, so the rest of
/// the queue goes out. It stays queued until a later change of the same resource supersedes it.
fn set_aside_refused(
    store: &mut dyn WorkspaceStore,
    repo: &git2::Repository,
    conn: &Connection,
    committed: &Committed,
    said: &str,
) -> Result<()> {
    for (seq, done) in &committed.done {
        let Done::Commit(c) = done else { continue };
        match remote::push_commit(repo, git2::Oid::from_str(c)?, &conn.branch, &conn.creds) {
            Ok(()) => continue,
            Err(PushError::Refused(why)) => {
                store.set_aside(
                    *seq,
                    &format!("{REFUSED} {why}; change the resource and the new version goes out instead"),
                )?;
                return Ok(());
            }
            // The branch moved, or the connection failed: the next attempt starts over.
            Err(_) => return Ok(()),
        }
    }
    bail!("the remote refused the push, though it takes each change's commit on its own: {said}")
}

/// Record the pass: the queued changes the remote now has leave the queue, with their commits.
fn record(store: &mut dyn WorkspaceStore, committed: &Committed, report: &mut PassReport) -> Result<()> {
    report.unchanged = committed.done.iter().filter(|(_, d)| *d == Done::NoChange).count();
    report.pushed = committed.commits;
    for a in &committed.set_aside {
        store.set_aside(a.seq, &a.reason)?;
    }
    report.set_aside = committed.set_aside.clone();
    store.complete(&committed.done, &committed.head.to_string())?;
    report.head = committed.head.to_string();
    Ok(())
}

/// Whether the branch on the remote moved past the last commit this workspace applied (a cheap
/// look at the remote's refs, nothing fetched): when it did, a pass has something to take in.
pub fn remote_moved(store: &dyn WorkspaceStore) -> Result<bool> {
    let conn = Connection::load(store)?;
    let head = remote::remote_head(&conn.url, &conn.branch, &conn.creds)?;
    Ok(head.map(|h| h.to_string()) != store.last_applied()?)
}

/// The time of the last commit this workspace applied (seconds since the epoch), from its checkout.
pub fn last_applied_time(store: &dyn WorkspaceStore, data: &Path) -> Result<Option<i64>> {
    let Some(last) = store.last_applied()? else {
        return Ok(None);
    };
    let Ok(repo) = git2::Repository::open(checkout(data)) else {
        return Ok(None);
    };
    Ok(repo
        .find_commit(git2::Oid::from_str(&last)?)
        .ok()
        .map(|c| c.time().seconds()))
}

/// What `gitsync resync` is about to do, said before it does it.
pub fn resync_warning(store: &dyn WorkspaceStore) -> Result<String> {
    let conn = Connection::load(store)?;
    Ok(format!(
        "Full resync of workspace {}: every resource is written to `{}` of {} in one commit, then the branch is applied back to the workspace.\nChanges in Git that have not been applied yet (run `gitsync sync` first to take them in) may be overwritten.\n",
        conn.id,
        conn.branch,
        conn.shown_url()
    ))
}

/// What a full resync did.
#[derive(Debug, Default, serde::Serialize)]
pub struct ResyncReport {
    pub commit: Option<String>,
    pub written: usize,
    /// Resources whose path in the repository cannot hold their file: not written; their queued
    /// changes stay queued.
    pub not_written: Vec<SetAside>,
    pub retries: usize,
    pub inbound: InboundReport,
}

/// `gitsync resync`: write every resource (and the manifest) in one commit, push, then apply the
/// branch's tree back to the workspace. The queue goes out with the commit.
pub fn resync(
    store: &mut dyn WorkspaceStore,
    policies: &WorkspacePolicy,
    data: &Path,
    author: &Author,
    progress: &mut dyn FnMut(&str),
) -> Result<ResyncReport> {
    let conn = Connection::load(store)?;
    let locks = lock_pass(store, data)?;
    let repo = open_checkout(&conn, data)?;
    let mut report = ResyncReport::default();
    for attempt in 0..PUSH_ATTEMPTS {
        progress(&format!("fetching `{}`", conn.branch));
        let head = remote::fetch(&repo, &conn.branch, &conn.url, &conn.creds)?;
        reset_to(&repo, head, &conn.branch)?;
        let tree = Tree::open(&repo)?;
        // The queue's last entry before the store is read: changes made after it stay queued.
        let queue = store.outbound_queue()?;
        let upto = queue.last().map_or(0, |q| q.seq);
        // A resource changed more than once since the last pass: its earlier versions get their own
        // commits first (as a pass would make them, each by its person), so every version anyone
        // wrote stays in the branch's history; the resync commit holds the last.
        for (i, q) in queue.iter().enumerate() {
            let superseded = queue[i + 1..].iter().any(|l| l.kind == q.kind && l.slug == q.slug);
            let rel = join(&conn.base, &layout_path(&q.kind, &q.slug)?);
            if superseded && q.set_aside.is_none() && unwritable(&tree, &repo, &rel, q).is_none() {
                commit_change(policies, store, &conn, &repo, q)?;
            }
        }
        let resources = store.list(None)?;
        progress(&format!("writing {} resources", resources.len()));
        let mut paths = Vec::with_capacity(resources.len() + 1);
        report.not_written.clear();
        for r in &resources {
            let rel = join(&conn.base, &layout_path(&r.kind, &r.slug)?);
            if let Some(reason) = blocked_path(&tree, &repo, &rel) {
                report.not_written.push(SetAside {
                    seq: 0,
                    op: "put".into(),
                    kind: r.kind.clone(),
                    slug: r.slug.clone(),
                    author: r.updated_by.clone(),
                    reason,
                });
                continue;
            }
            let yaml = if matches!(r.kind.as_str(), "model" | "sync") {
                outbound_text(policies, store, &conn, &tree, &rel, &r.yaml)?
            } else {
                r.yaml.clone()
            };
            tree.write(&rel, yaml.as_bytes())?;
            paths.push(rel);
        }
        // The workspace as it is, deletions included: a resource deleted in the workspace (its
        // delete still queued) is deleted on the branch, not brought back by the apply-back.
        let held: std::collections::HashSet<(&str, &str)> =
            resources.iter().map(|r| (r.kind.as_str(), r.slug.as_str())).collect();
        let mut deleted = 0;
        for q in store
            .outbound_queue()?
            .iter()
            .filter(|q| q.seq <= upto && q.op == "delete")
        {
            if held.contains(&(q.kind.as_str(), q.slug.as_str())) {
                continue;
            }
            let rel = join(&conn.base, &layout_path(&q.kind, &q.slug)?);
            if blocked_path(&tree, &repo, &rel).is_none() && tree.read(&rel).is_some() {
                tree.remove(&rel)?;
                deleted += 1;
                paths.push(rel);
            }
        }
        let (manifest_path, yaml) = manifest(store, policies)?;
        tree.write(&manifest_path, yaml.as_bytes())?;
        paths.push(manifest_path);
        let message = format!(
            "full resync of workspace {}\n\n{} resources written from the workspace{}.\n\nGitsync-Direction: OUTBOUND\nGitsync-Workspace: {}\nGitsync-Resource: *\n{}",
            conn.id,
            resources.len() - report.not_written.len(),
            match deleted {
                0 => String::new(),
                1 => ", 1 deleted as it was there".to_string(),
                n => format!(", {n} deleted as they were there"),
            },
            conn.id,
            writer::trailer_lines(&conn)
        );
        let commit = commit_paths(&repo, Some(&paths), author, &message)?;
        report.written = resources.len() - report.not_written.len();
        if commit.is_some() || repo.head()?.peel_to_commit()?.id() != head {
            progress("pushing the resync commit");
            crate::failpoint::hit("before-push");
            locks.lease.check()?;
            if !push_or_explain(&repo, &conn.branch, &conn.creds, store.outbound_queue()?.len())? {
                report.retries = attempt + 1;
                continue;
            }
        }
        let new_head = repo.head()?.peel_to_commit()?;
        // The queued changes of resources not written stay queued, set aside with the reason.
        let mut kept = Vec::new();
        for q in store.outbound_queue()?.iter().filter(|q| q.seq <= upto) {
            if let Some(n) = report.not_written.iter().find(|n| n.kind == q.kind && n.slug == q.slug) {
                store.set_aside(q.seq, &n.reason)?;
                kept.push(q.seq);
            }
        }
        store.resynced(&new_head.id().to_string(), &author.to_string(), upto, &kept)?;
        report.commit = commit.map(|c| c.to_string());
        crate::failpoint::hit("before-apply-back");
        progress("applying the branch back to the workspace");
        inbound::apply_tree(policies, store, &conn, &repo, &new_head, true, &mut report.inbound)?;
        return Ok(report);
    }
    bail!(
        "the branch `{}` kept moving: {PUSH_ATTEMPTS} pushes in a row were refused as non-fast-forward; nothing changed in the workspace; run `gitsync resync` again",
        conn.branch
    )
}
