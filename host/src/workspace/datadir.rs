//! A data directory holds any number of workspaces, each in `workspaces/<id>/` (its store, its Git
//! checkout, its pass lock). A workspace made before data directories held several lives at the
//! directory's root (`workspace.db`, `checkout/`): it is found there and opened as it is — nothing is
//! moved, so an older data directory keeps working and an older gitsync still reads it.

use super::store::{SqliteStore, WorkspaceStore};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// One workspace of a data directory: its id and the folder its store and checkout live in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub id: String,
    pub dir: PathBuf,
}

/// A data directory (`--data DIR`).
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

/// A workspace id names `manifest-<id>.yaml` and a folder: letters, digits, `-` or `_`.
pub fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 100 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        bail!("workspace id `{id}` must be 1 to 100 letters, digits, `-` or `_` (it names manifest-{id}.yaml)");
    }
    Ok(())
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn folder(&self, id: &str) -> PathBuf {
        self.root.join("workspaces").join(id)
    }

    /// Every workspace, by id.
    pub fn workspaces(&self) -> Result<Vec<Located>> {
        let mut found = Vec::new();
        if self.root.join("workspace.db").is_file() {
            let id = SqliteStore::open(&self.root)?.workspace_id()?;
            found.push(Located {
                id,
                dir: self.root.clone(),
            });
        }
        let folder = self.root.join("workspaces");
        if folder.is_dir() {
            for entry in std::fs::read_dir(&folder).with_context(|| format!("cannot list {}", folder.display()))? {
                let entry = entry?;
                let Some(id) = entry.file_name().to_str().map(String::from) else {
                    continue;
                };
                if check_id(&id).is_ok() && entry.path().join("workspace.db").is_file() {
                    found.push(Located { id, dir: entry.path() });
                }
            }
        }
        found.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(found)
    }

    /// The workspace `id`, or the only one when `id` is none.
    pub fn pick(&self, id: Option<&str>) -> Result<Located> {
        let all = self.workspaces()?;
        let names = || all.iter().map(|w| w.id.as_str()).collect::<Vec<_>>().join(", ");
        match id {
            Some(id) => match all.iter().find(|w| w.id == id) {
                Some(w) => Ok(w.clone()),
                None if all.is_empty() => bail!(
                    "no workspace `{id}` in {}: it holds none; create it with `gitsync --data {} workspace init {id}`",
                    self.root.display(),
                    self.root.display()
                ),
                None => bail!(
                    "no workspace `{id}` in {} (it holds: {}); pick one with --workspace, or create it with `workspace init {id}`",
                    self.root.display(),
                    names()
                ),
            },
            None => match all.as_slice() {
                [one] => Ok(one.clone()),
                [] => bail!(
                    "no workspace in {}; create one with `gitsync --data {} workspace init ID`",
                    self.root.display(),
                    self.root.display()
                ),
                _ => bail!(
                    "{} holds {} workspaces ({}); pick one with --workspace ID (or GITSYNC_WORKSPACE)",
                    self.root.display(),
                    all.len(),
                    names()
                ),
            },
        }
    }

    /// Open the workspace `id` (or the only one).
    pub fn open(&self, id: Option<&str>) -> Result<(Located, SqliteStore)> {
        let w = self.pick(id)?;
        let store = SqliteStore::open(&w.dir)?;
        Ok((w, store))
    }

    /// Add a workspace: a new store in `workspaces/<id>/`.
    pub fn init(&self, id: &str) -> Result<(Located, SqliteStore)> {
        check_id(id)?;
        if self.workspaces()?.iter().any(|w| w.id == id) {
            bail!(
                "{} already holds workspace `{id}`; pick it with --workspace {id}",
                self.root.display()
            );
        }
        let dir = self.folder(id);
        super::private::folder(&self.root)?;
        super::private::folder(&self.root.join("workspaces"))?;
        let store = SqliteStore::init(&dir, id)?;
        Ok((
            Located {
                id: id.to_string(),
                dir,
            },
            store,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gitsync-datadir-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_workspace_at_the_root_opens_beside_new_ones() {
        let root = scratch("legacy");
        // What a data directory written before several workspaces looks like.
        SqliteStore::init(&root, "old").unwrap();
        let data = DataDir::new(&root);
        assert_eq!(data.pick(None).unwrap().dir, root);
        data.init("new").unwrap();
        let ids: Vec<String> = data.workspaces().unwrap().into_iter().map(|w| w.id).collect();
        assert_eq!(ids, ["new", "old"]);
        assert!(
            data.pick(None)
                .unwrap_err()
                .to_string()
                .contains("holds 2 workspaces (new, old)")
        );
        assert_eq!(data.pick(Some("old")).unwrap().dir, root);
        assert_eq!(data.pick(Some("new")).unwrap().dir, root.join("workspaces/new"));
        assert!(
            data.init("old")
                .err()
                .unwrap()
                .to_string()
                .contains("already holds workspace `old`")
        );
        assert!(data.init("../x").is_err());
        let _ = std::fs::remove_dir_all(&root);
    }
}
