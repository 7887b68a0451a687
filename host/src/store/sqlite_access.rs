//! Tokens, sessions and webhook secrets of a data directory, in `<data>/access.db`.
//!
//! A token is 256 random bits, shown once and stored only as its SHA-256 (a token is not a password:
//! with that much entropy a fast hash is enough, and lookups stay cheap). The changes made with a
//! token are authored by the person it was created for. A webhook secret must be kept as it is: the
//! service computes the HMAC of each delivery with it.

use super::*;
use crate::secret::{constant_time_eq, random_hex};
use anyhow::{Context, Result, bail};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, hash BLOB NOT NULL UNIQUE, author TEXT NOT NULL, scopes TEXT NOT NULL,
    read_only INTEGER NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_secrets (workspace TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    hash BLOB PRIMARY KEY, token_id TEXT NOT NULL, expires_at INTEGER NOT NULL);
";

pub struct SqliteAccess {
    db: Connection,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

impl SqliteAccess {
    /// Open (or create) the access records of data directory `data`.
    pub fn open(data: &Path) -> Result<SqliteAccess> {
        super::private::folder(data)?;
        let path = data.join("access.db");
        super::private::database(&path)?;
        let db = Connection::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "FULL")?;
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(SqliteAccess { db })
    }

    fn row(r: &rusqlite::Row) -> rusqlite::Result<(Token, Vec<u8>)> {
        let scopes: String = r.get(3)?;
        Ok((
            Token {
                id: r.get(0)?,
                author: r.get(2)?,
                scopes: scopes.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
                read_only: r.get(4)?,
                created_at: r.get(5)?,
            },
            r.get(1)?,
        ))
    }
}

impl AccessStore for SqliteAccess {
    /// A new token for `author`, limited to `scopes` (none: every workspace).
    fn create_token(&mut self, author: &Author, scopes: &[String], read_only: bool) -> Result<Created> {
        for s in scopes {
            check_id(s)?;
        }
        let id = format!("tok_{}", random_hex(6)?);
        let secret = format!("gst_{}", random_hex(32)?);
        let created_at: String = self
            .db
            .query_row("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', 'now')", [], |r| r.get(0))?;
        self.db.execute(
            "INSERT INTO tokens (id, hash, author, scopes, read_only, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                id,
                hash(&secret),
                author.to_string(),
                scopes.join(","),
                read_only,
                created_at
            ],
        )?;
        Ok(Created {
            token: Token {
                id,
                author: author.to_string(),
                scopes: scopes.to_vec(),
                read_only,
                created_at,
            },
            secret,
        })
    }

    fn tokens(&self) -> Result<Vec<Token>> {
        let mut q = self
            .db
            .prepare("SELECT id, hash, author, scopes, read_only, created_at FROM tokens ORDER BY created_at, id")?;
        let rows = q.query_map([], Self::row)?;
        Ok(rows.map(|r| r.map(|(t, _)| t)).collect::<rusqlite::Result<_>>()?)
    }

    /// The token `secret` stands for, if it is one.
    fn authenticate(&self, secret: &str) -> Result<Option<Token>> {
        let wanted = hash(secret);
        let found = self
            .db
            .query_row(
                "SELECT id, hash, author, scopes, read_only, created_at FROM tokens WHERE hash = ?1",
                params![wanted],
                Self::row,
            )
            .optional()?;
        Ok(found
            .filter(|(_, stored)| constant_time_eq(stored, &wanted))
            .map(|(t, _)| t))
    }

    /// A new session of token `token_id` for `ttl`: its secret, shown once (the cookie's value).
    fn create_session(&mut self, token_id: &str, ttl: std::time::Duration) -> Result<String> {
        let now = unix_now();
        self.db
            .execute("DELETE FROM sessions WHERE expires_at <= ?1", params![now])?;
        let secret = format!("{SESSION_PREFIX}{}", random_hex(32)?);
        self.db.execute(
            "INSERT INTO sessions (hash, token_id, expires_at) VALUES (?1, ?2, ?3)",
            params![hash(&secret), token_id, now + ttl.as_secs() as i64],
        )?;
        Ok(secret)
    }

    /// The token of session `secret`, if it is current and its token not revoked.
    fn session(&self, secret: &str) -> Result<Option<Token>> {
        let wanted = hash(secret);
        let found = self
            .db
            .query_row(
                "SELECT t.id, s.hash, t.author, t.scopes, t.read_only, t.created_at
                 FROM sessions s JOIN tokens t ON t.id = s.token_id
                 WHERE s.hash = ?1 AND s.expires_at > ?2",
                params![wanted, unix_now()],
                Self::row,
            )
            .optional()?;
        Ok(found
            .filter(|(_, stored)| constant_time_eq(stored, &wanted))
            .map(|(t, _)| t))
    }

    /// End session `secret` (sign-out); nothing when there is none.
    fn end_session(&mut self, secret: &str) -> Result<()> {
        self.db
            .execute("DELETE FROM sessions WHERE hash = ?1", params![hash(secret)])?;
        Ok(())
    }

    fn revoke(&mut self, id: &str) -> Result<()> {
        self.db
            .execute("DELETE FROM sessions WHERE token_id = ?1", params![id])?;
        if self.db.execute("DELETE FROM tokens WHERE id = ?1", params![id])? == 0 {
            bail!("no token `{id}`; `gitsync token list` shows them");
        }
        Ok(())
    }

    /// Set workspace `workspace`'s webhook secret: `given`, or a new random one. Returns it.
    fn set_webhook_secret(&mut self, workspace: &str, given: Option<String>) -> Result<String> {
        let secret = match given {
            Some(s) if s.len() < 16 => bail!(
                "a webhook secret needs at least 16 characters (this one has {})",
                s.len()
            ),
            Some(s) => s,
            None => random_hex(32)?,
        };
        self.db.execute(
            "INSERT INTO webhook_secrets (workspace, secret) VALUES (?1, ?2)
             ON CONFLICT (workspace) DO UPDATE SET secret = excluded.secret",
            params![workspace, secret],
        )?;
        Ok(secret)
    }

    fn webhook_secret(&self, workspace: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_row(
                "SELECT secret FROM webhook_secrets WHERE workspace = ?1",
                params![workspace],
                |r| r.get(0),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
