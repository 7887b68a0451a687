//! Tokens, sessions and webhook secrets, in SQL both backends run (see `sql.rs`).
//!
//! A token is 256 random bits, shown once and stored only as its SHA-256 (a token is not a password:
//! with that much entropy a fast hash is enough, and lookups stay cheap). The changes made with a
//! token are authored by the person it was created for. A webhook secret must be kept as it is: the
//! service computes the HMAC of each delivery with it.

use super::sql::{Conn, Row, Val, vals};
use super::*;
use crate::secret::{constant_time_eq, random_hex};
use anyhow::{Result, bail};
use sha2::{Digest, Sha256};

/// The access records on a backend's connection.
pub struct SqlAccess<C: Conn> {
    pub(super) conn: C,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A token row selected as `id, hash, author, scopes, read_only, created_at`, with its hash.
fn token(r: &Row) -> Result<(Token, Vec<u8>)> {
    let scopes = r.text(3)?;
    Ok((
        Token {
            id: r.text(0)?,
            author: r.text(2)?,
            scopes: scopes.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
            read_only: r.int(4)? != 0,
            created_at: r.text(5)?,
        },
        r.bytes(1)?,
    ))
}

/// The token a secret's hash found, if the stored hash is the same (compared in constant time).
fn matching(found: Option<Row>, wanted: &[u8]) -> Result<Option<Token>> {
    let Some(row) = found else { return Ok(None) };
    let (t, stored) = token(&row)?;
    Ok(constant_time_eq(&stored, wanted).then_some(t))
}

impl<C: Conn> AccessStore for SqlAccess<C> {
    fn create_token(&mut self, author: &Author, scopes: &[String], read_only: bool) -> Result<Created> {
        for s in scopes {
            check_id(s)?;
        }
        let id = format!("tok_{}", random_hex(6)?);
        let secret = format!("gst_{}", random_hex(32)?);
        let created_at =
            self.conn.write(|db| {
                // Whole seconds: `2026-12-07T02:31:58Z`.
                let now = db.now()?;
                let created_at = format!("{}Z", now.split('.').next().unwrap_or(&now).trim_end_matches('Z'));
                db.exec(
                "INSERT INTO tokens (id, hash, author, scopes, read_only, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                vals![&id, hash(&secret), author.to_string(), scopes.join(","), read_only, &created_at],
            )?;
                Ok(created_at)
            })?;
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
        self.conn.read(|db| {
            db.query(
                "SELECT id, hash, author, scopes, read_only, created_at FROM tokens ORDER BY created_at, id",
                &[],
            )?
            .iter()
            .map(|r| Ok(token(r)?.0))
            .collect()
        })
    }

    fn authenticate(&self, secret: &str) -> Result<Option<Token>> {
        let wanted = hash(secret);
        let found = self.conn.read(|db| {
            db.first(
                "SELECT id, hash, author, scopes, read_only, created_at FROM tokens WHERE hash = ?1",
                vals![wanted.clone()],
            )
        })?;
        matching(found, &wanted)
    }

    fn create_session(&mut self, token_id: &str, ttl: std::time::Duration) -> Result<String> {
        let now = unix_now();
        let secret = format!("{SESSION_PREFIX}{}", random_hex(32)?);
        self.conn.write(|db| {
            db.exec("DELETE FROM sessions WHERE expires_at <= ?1", vals![now])?;
            db.exec(
                "INSERT INTO sessions (hash, token_id, expires_at) VALUES (?1, ?2, ?3)",
                vals![hash(&secret), token_id, now + ttl.as_secs() as i64],
            )?;
            Ok(())
        })?;
        Ok(secret)
    }

    fn session(&self, secret: &str) -> Result<Option<Token>> {
        let wanted = hash(secret);
        let found = self.conn.read(|db| {
            db.first(
                "SELECT t.id, s.hash, t.author, t.scopes, t.read_only, t.created_at
                 FROM sessions s JOIN tokens t ON t.id = s.token_id
                 WHERE s.hash = ?1 AND s.expires_at > ?2",
                vals![wanted.clone(), unix_now()],
            )
        })?;
        matching(found, &wanted)
    }

    fn end_session(&mut self, secret: &str) -> Result<()> {
        self.conn.write(|db| {
            db.exec("DELETE FROM sessions WHERE hash = ?1", vals![hash(secret)])
                .map(|_| ())
        })
    }

    fn revoke(&mut self, id: &str) -> Result<()> {
        self.conn.write(|db| {
            db.exec("DELETE FROM sessions WHERE token_id = ?1", vals![id])?;
            if db.exec("DELETE FROM tokens WHERE id = ?1", vals![id])? == 0 {
                bail!("no token `{id}`; `gitsync token list` shows them");
            }
            Ok(())
        })
    }

    fn set_webhook_secret(&mut self, workspace: &str, given: Option<String>) -> Result<String> {
        let secret = match given {
            Some(s) if s.len() < 16 => bail!(
                "a webhook secret needs at least 16 characters (this one has {})",
                s.len()
            ),
            Some(s) => s,
            None => random_hex(32)?,
        };
        self.conn.write(|db| {
            db.exec(
                "INSERT INTO webhook_secrets (workspace, secret) VALUES (?1, ?2)
                 ON CONFLICT (workspace) DO UPDATE SET secret = excluded.secret",
                vals![workspace, &secret],
            )
        })?;
        Ok(secret)
    }

    fn webhook_secret(&self, workspace: &str) -> Result<Option<String>> {
        self.conn.read(|db| {
            db.first(
                "SELECT secret FROM webhook_secrets WHERE workspace = ?1",
                vals![workspace],
            )?
            .map(|r| r.text(0))
            .transpose()
        })
    }
}
