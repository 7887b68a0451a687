//! The access records of a data directory: `<data>/access.db` (the rules are `access.rs`'s).

use super::access::SqlAccess;
use super::sql::{Conn, Db};
use super::*;
use anyhow::Result;
use rusqlite::Connection;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, author TEXT NOT NULL, scopes TEXT NOT NULL,
    read_only INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_secrets (workspace TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    hash BLOB PRIMARY KEY, token_id TEXT NOT NULL, expires_at INTEGER NOT NULL);
";

/// Tokens, sessions and webhook secrets in SQLite.
pub type SqliteAccess = SqlAccess<AccessConn>;

pub struct AccessConn {
    db: Connection,
}

impl Conn for AccessConn {
    fn read<T>(&self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        f(&mut &self.db)
    }

    fn write<T>(&mut self, f: impl FnOnce(&mut dyn Db) -> Result<T>) -> Result<T> {
        super::sqlite::write(&mut self.db, f)
    }
}

impl SqliteAccess {
    /// Open (or create) the access records of data directory `data`.
    pub fn open(data: &Path) -> Result<SqliteAccess> {
        super::private::folder(data)?;
        let db = super::sqlite::open_database(&data.join("access.db"), std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(SqlAccess {
            conn: AccessConn { db },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::constant_time_eq;

    #[test]
    fn a_token_is_found_by_its_secret_only_and_is_gone_once_revoked() {
        let dir = std::env::temp_dir().join(format!("gitsync-access-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = SqliteAccess::open(&dir).unwrap();
        let ada = Author::parse("Ada <ada@example.com>").unwrap();
        let c = store.create_token(&ada, &["staging".into()], true).unwrap();
        assert_eq!(c.secret.len(), 4 + 64);
        let t = store.authenticate(&c.secret).unwrap().unwrap();
        assert_eq!((t.author.as_str(), t.read_only), ("Ada <ada@example.com>", true));
        assert!(t.may_read("staging") && !t.may_read("production") && !t.may_write("staging"));
        assert!(store.authenticate("gst_0000").unwrap().is_none());
        // Only the hash is kept.
        for file in ["access.db", "access.db-wal"] {
            let raw = std::fs::read(dir.join(file)).unwrap_or_default();
            assert!(!raw.windows(c.secret.len()).any(|w| w == c.secret.as_bytes()), "{file}");
        }
        store.revoke(&c.token.id).unwrap();
        assert!(store.authenticate(&c.secret).unwrap().is_none());
        assert!(store.revoke(&c.token.id).is_err());
        assert!(
            constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd") && !constant_time_eq(b"a", b"ab")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_session_is_its_own_secret_and_ends_at_sign_out_expiry_or_revocation() {
        let dir = std::env::temp_dir().join(format!("gitsync-sessions-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut store = SqliteAccess::open(&dir).unwrap();
        let ada = Author::parse("Ada <ada@example.com>").unwrap();
        let c = store.create_token(&ada, &[], false).unwrap();
        let day = std::time::Duration::from_secs(86_400);
        let s = store.create_session(&c.token.id, day).unwrap();
        assert!(s.starts_with(SESSION_PREFIX) && s != c.secret);
        assert_eq!(store.session(&s).unwrap().unwrap().id, c.token.id);
        // The session is not a token, nor the token a session.
        assert!(store.authenticate(&s).unwrap().is_none());
        assert!(store.session(&c.secret).unwrap().is_none());
        store.end_session(&s).unwrap();
        assert!(store.session(&s).unwrap().is_none());
        let gone = store.create_session(&c.token.id, std::time::Duration::ZERO).unwrap();
        assert!(store.session(&gone).unwrap().is_none(), "expired");
        let s2 = store.create_session(&c.token.id, day).unwrap();
        store.revoke(&c.token.id).unwrap();
        assert!(store.session(&s2).unwrap().is_none(), "its token revoked");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
