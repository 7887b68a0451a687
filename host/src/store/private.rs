//! The data directory holds tokens' hashes, webhook secrets and every workspace's content: it and
//! every database file in it are private to the user the service runs as (0700 folders, 0600 files;
//! SQLite gives its `-wal` and `-shm` files the mode of the database file). Folders and files made by
//! an older version are tightened when they are next opened.

use anyhow::{Context, Result};
use std::path::Path;

/// Create `dir` (and any missing parent) readable by the owner only; tighten it if it exists.
pub(crate) fn folder(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        tighten(dir, 0o700)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(())
}

/// Before SQLite opens `db`: create it empty and private if it is missing (SQLite then gives its
/// journal files the same mode), or tighten it and its journal files if they exist.
pub(crate) fn database(db: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        if !db.exists() {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(db)
                .with_context(|| format!("cannot create {}", db.display()))?;
        }
        tighten(db, 0o600)?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            tighten(Path::new(&name), 0o600)?;
        }
    }
    Ok(())
}

/// Take group and other permissions away from `path` when it has any (its owner's are kept).
#[cfg(unix)]
fn tighten(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // A journal file may go between a look and a change (another connection closed): nothing to do.
    let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
    let now = match std::fs::metadata(path) {
        Ok(m) => m.permissions().mode(),
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if now & 0o077 != 0 {
        match std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
            Err(e) if !gone(&e) => {
                return Err(e).with_context(|| format!("cannot make {} private (chmod {mode:o})", path.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_and_old_files_end_private() {
        let base = std::env::temp_dir().join(format!("gitsync-private-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("data/workspaces/w");
        folder(&dir).unwrap();
        assert_eq!((mode(&base.join("data")), mode(&dir)), (0o700, 0o700));
        let db = dir.join("workspace.db");
        database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        // Made world-readable by an older version: tightened, journal files included.
        let wal = dir.join("workspace.db-wal");
        std::fs::write(&wal, b"").unwrap();
        for p in [&db, &wal, &dir] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        folder(&dir).unwrap();
        database(&db).unwrap();
        assert_eq!((mode(&dir), mode(&db), mode(&wal)), (0o700, 0o600, 0o600));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
