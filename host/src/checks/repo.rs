//! Reading a repository's Git Sync files: from the working tree (through cap-std, so nothing outside
//! the folder can be reached) or from a revision (through git2, without checking it out).

use anyhow::{Context, Result};
use cap_std::ambient_authority;
use cap_std::fs::Dir;
use gitsync_core::diag::{Diagnostic, codes};
use gitsync_core::layout::{RESOURCE_FOLDERS, is_root_file, join};
use std::path::Path;

/// A file as read, with its repository-relative `/`-separated path.
pub struct RepoFile {
    pub path: String,
    pub contents: Vec<u8>,
}

#[derive(Default)]
pub struct Listing {
    pub files: Vec<RepoFile>,
    /// Files that were not read (too large, links, unreadable), as findings.
    pub skipped: Vec<Diagnostic>,
}

/// Check `--path` by the layout's rule: relative, no `..`, no backslashes.
pub fn checked_base(base: &str) -> Result<String> {
    gitsync_core::layout::checked_base(base).map_err(anyhow::Error::msg)
}

/// GS003
fn too_large(path: &str, size: u64, max: u64) -> Diagnostic {
    Diagnostic::file_level(
        codes::FILE_TOO_LARGE,
        path,
        format!(
            "file is {:.1} MiB, over the {:.1} MiB limit; it was not read",
            size as f64 / 1048576.0,
            max as f64 / 1048576.0
        ),
    )
    .help("resource files are small; split the content, or raise the limit with --max-file-size")
}

/// GS011
pub(crate) fn symlink(path: &str) -> Diagnostic {
    Diagnostic::file_level(
        codes::SYMBOLIC_LINK,
        path,
        "file is a symbolic link; gitsync reads regular files only, so it was skipped",
    )
    .help("replace the link with the file itself")
}

/// GS010
fn unreadable(path: &str, e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::file_level(codes::UNREADABLE_FILE, path, format!("file cannot be read: {e}"))
        .help("check the file's permissions")
}

/// Read the Git Sync files of a working tree rooted at `dir`.
pub fn read_worktree(dir: &Path, base: &str, max_size: u64) -> Result<Listing> {
    let root = Dir::open_ambient_dir(dir, ambient_authority())
        .with_context(|| format!("cannot open folder {}", dir.display()))?;
    let mut listing = Listing::default();
    for entry in root
        .entries()
        .with_context(|| format!("cannot list {}", dir.display()))?
    {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_root_file(&name) {
            read_entry(&root, &name, &entry.file_type()?, max_size, &mut listing);
        }
    }
    for folder in RESOURCE_FOLDERS {
        let rel = join(base, folder);
        if root.is_dir(&rel) {
            walk(&root, &rel, max_size, &mut listing)?;
        }
    }
    listing.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listing)
}

fn walk(root: &Dir, rel: &str, max_size: u64, listing: &mut Listing) -> Result<()> {
    // Iterative, so a deep folder tree cannot overflow the stack.
    let mut todo = vec![rel.to_string()];
    while let Some(folder) = todo.pop() {
        for entry in root
            .read_dir(&folder)
            .with_context(|| format!("cannot list {folder}"))?
        {
            let entry = entry?;
            let path = format!("{folder}/{}", entry.file_name().to_string_lossy());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                todo.push(path);
            } else {
                read_entry(root, &path, &kind, max_size, listing);
            }
        }
    }
    Ok(())
}

fn read_entry(root: &Dir, path: &str, kind: &cap_std::fs::FileType, max_size: u64, listing: &mut Listing) {
    if kind.is_symlink() {
        listing.skipped.push(symlink(path));
        return;
    }
    if !kind.is_file() {
        return;
    }
    let size = root.metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > max_size {
        listing.skipped.push(too_large(path, size, max_size));
        return;
    }
    match root.read(path) {
        Ok(contents) => listing.files.push(RepoFile {
            path: path.to_string(),
            contents,
        }),
        Err(e) => listing.skipped.push(unreadable(path, e)),
    }
}

/// Read the Git Sync files of revision `rev` of the repository at `dir`, without a checkout.
pub fn read_revision(dir: &Path, rev: &str, base: &str, max_size: u64) -> Result<Listing> {
    let repo = git2::Repository::open(dir).with_context(|| format!("{} is not a Git repository", dir.display()))?;
    let object = repo
        .revparse_single(rev)
        .with_context(|| format!("revision `{rev}` does not exist in {}", dir.display()))?;
    let tree = object
        .peel_to_tree()
        .with_context(|| format!("revision `{rev}` does not name a commit or tree"))?;
    let odb = repo.odb()?;
    let mut listing = Listing::default();
    let mut wanted: Vec<(String, git2::Oid, i32)> = Vec::new();
    for entry in tree.iter() {
        if let Some(name) = entry.name().ok().filter(|n| is_root_file(n)) {
            wanted.push((name.to_string(), entry.id(), entry.filemode()));
        }
    }
    for folder in RESOURCE_FOLDERS {
        let rel = join(base, folder);
        let Ok(entry) = tree.get_path(Path::new(&rel)) else {
            continue;
        };
        let Ok(sub) = repo.find_tree(entry.id()) else { continue };
        sub.walk(git2::TreeWalkMode::PreOrder, |parent, e| {
            if e.kind() == Some(git2::ObjectType::Blob)
                && let Ok(name) = e.name()
            {
                wanted.push((format!("{rel}/{parent}{name}"), e.id(), e.filemode()));
            }
            git2::TreeWalkResult::Ok
        })?;
    }
    for (path, oid, mode) in wanted {
        if mode == i32::from(git2::FileMode::Link) {
            listing.skipped.push(symlink(&path));
            continue;
        }
        // A missing or corrupt object costs that one file (GS010), not the run.
        let size = match odb.read_header(oid) {
            Ok((size, _)) => size,
            Err(e) => {
                listing.skipped.push(unreadable(&path, e.message()));
                continue;
            }
        };
        if size as u64 > max_size {
            listing.skipped.push(too_large(&path, size as u64, max_size));
            continue;
        }
        match repo.find_blob(oid) {
            Ok(blob) => listing.files.push(RepoFile {
                path,
                contents: blob.content().to_vec(),
            }),
            Err(e) => listing.skipped.push(unreadable(&path, e.message())),
        }
    }
    listing.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(listing)
}

/// The files under `.gitsync/` (the config and the repository's plugins) at revision `rev`, by path
/// from the repository root: what `check` takes its configuration from.
pub fn gitsync_folder(dir: &Path, rev: &str) -> Result<Vec<RepoFile>> {
    let repo = git2::Repository::open(dir).with_context(|| format!("{} is not a Git repository", dir.display()))?;
    let tree = repo
        .revparse_single(rev)
        .with_context(|| format!("revision `{rev}` does not exist in {}", dir.display()))?
        .peel_to_tree()
        .with_context(|| format!("revision `{rev}` does not name a commit or tree"))?;
    let mut out = Vec::new();
    let Ok(entry) = tree.get_path(Path::new(".gitsync")) else {
        return Ok(out);
    };
    let Ok(sub) = repo.find_tree(entry.id()) else {
        return Ok(out);
    };
    let mut found = Vec::new();
    sub.walk(git2::TreeWalkMode::PreOrder, |parent, e| {
        // Blobs only: a symbolic link in `.gitsync/` is not followed.
        if e.kind() == Some(git2::ObjectType::Blob)
            && e.filemode() != i32::from(git2::FileMode::Link)
            && let Ok(name) = e.name()
        {
            found.push((format!(".gitsync/{parent}{name}"), e.id()));
        }
        git2::TreeWalkResult::Ok
    })?;
    for (path, oid) in found {
        let blob = repo
            .find_blob(oid)
            .with_context(|| format!("cannot read {path} at `{rev}`"))?;
        out.push(RepoFile {
            path,
            contents: blob.content().to_vec(),
        });
    }
    Ok(out)
}

/// The files that differ between revision `base` and revision `head` (or the working tree, with
/// staged, unstaged and untracked changes), with renames detected.
pub fn changes(dir: &Path, base: &str, head: Option<&str>) -> Result<Vec<gitsync_engine::wit::ChangedFile>> {
    use gitsync_engine::wit::{ChangeKind, ChangedFile};
    let repo = git2::Repository::open(dir).with_context(|| format!("{} is not a Git repository", dir.display()))?;
    let tree = |rev: &str| -> Result<git2::Tree<'_>> {
        let object = repo
            .revparse_single(rev)
            .with_context(|| format!("revision `{rev}` does not exist in {}", dir.display()))?;
        object
            .peel_to_tree()
            .with_context(|| format!("revision `{rev}` does not name a commit or tree"))
    };
    let base_tree = tree(base)?;
    let mut opts = git2::DiffOptions::new();
    opts.include_untracked(true).recurse_untracked_dirs(true);
    let mut diff = match head {
        Some(rev) => repo.diff_tree_to_tree(Some(&base_tree), Some(&tree(rev)?), Some(&mut opts))?,
        None => repo.diff_tree_to_workdir_with_index(Some(&base_tree), Some(&mut opts))?,
    };
    let mut find = git2::DiffFindOptions::new();
    find.renames(true).for_untracked(true);
    diff.find_similar(Some(&mut find))?;
    let path_of = |f: git2::DiffFile| f.path().map(|p| p.to_string_lossy().replace('\\', "/"));
    let mut out = Vec::new();
    for delta in diff.deltas() {
        let (kind, path, old_path) = match delta.status() {
            git2::Delta::Added | git2::Delta::Untracked | git2::Delta::Copied => {
                (ChangeKind::Added, path_of(delta.new_file()), None)
            }
            git2::Delta::Deleted => (ChangeKind::Deleted, path_of(delta.old_file()), None),
            git2::Delta::Renamed => (
                ChangeKind::Renamed,
                path_of(delta.new_file()),
                path_of(delta.old_file()),
            ),
            git2::Delta::Modified | git2::Delta::Typechange => (ChangeKind::Modified, path_of(delta.new_file()), None),
            _ => continue,
        };
        if let Some(path) = path {
            out.push(ChangedFile { path, old_path, kind });
        }
    }
    Ok(out)
}
