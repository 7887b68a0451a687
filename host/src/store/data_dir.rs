//! A data directory holds any number of workspaces, each in `workspaces/<id>/` (its store, its Git
//! checkout, its pass lock). A workspace made before data directories held several lives at the
//! directory's root (`workspace.db`, `checkout/`): it is found there and opened as it is — nothing is
//! moved, so an older data directory keeps working and an older gitsync still reads it.

use super::sql::{self, Conn};
use super::sqlite::SqliteStore;
use super::sqlite_access::SqliteAccess;
use super::{AccessStore, Export, Located, Store, WorkspaceStore};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

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

    fn folder(&self, id: &str) -> PathBuf {
        self.root.join("workspaces").join(id)
    }

    /// Every workspace, by id: the one at the root (an older layout) and those in `workspaces/`.
    fn list(&self) -> Result<Vec<Located>> {
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
}

impl Store for DataDir {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn local_root(&self) -> &Path {
        &self.root
    }

    fn workspaces(&self) -> Result<Vec<Located>> {
        self.list()
    }

    fn open(&self, w: &Located) -> Result<Box<dyn WorkspaceStore>> {
        Ok(Box::new(SqliteStore::open(&w.dir)?))
    }

    /// A new store in `workspaces/<id>/`.
    fn create(&self, id: &str) -> Result<(Located, Box<dyn WorkspaceStore>)> {
        check_id(id)?;
        if self.list()?.iter().any(|w| w.id == id) {
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
            Box::new(store),
        ))
    }

    fn access(&self) -> Result<Box<dyn AccessStore>> {
        Ok(Box::new(SqliteAccess::open(&self.root)?))
    }

    fn export(&self) -> Result<Export> {
        let access = SqliteAccess::open(&self.root)?
            .conn
            .read(|db| sql::dump(db, sql::ACCESS_TABLES))?;
        let mut workspaces = Vec::new();
        for w in self.list()? {
            let tables = SqliteStore::open(&w.dir)?
                .conn
                .read(|db| sql::dump(db, sql::WORKSPACE_TABLES))?;
            workspaces.push((w.id, tables));
        }
        Ok(Export { access, workspaces })
    }

    fn import(&self, export: &Export) -> Result<()> {
        for (id, tables) in &export.workspaces {
            self.create(id)?;
            SqliteStore::open(&self.folder(id))?
                .conn
                .write(|db| sql::load(db, sql::WORKSPACE_TABLES, tables))?;
        }
        SqliteAccess::open(&self.root)?
            .conn
            .write(|db| sql::load(db, sql::ACCESS_TABLES, &export.access))
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
        data.create("new").unwrap();
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
            data.create("old")
                .err()
                .unwrap()
                .to_string()
                .contains("already holds workspace `old`")
        );
        assert!(data.create("../x").is_err());
        let _ = std::fs::remove_dir_all(&root);
    }
}
