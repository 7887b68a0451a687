//! Talking to the remote: credentials, clone, fetch and push, with errors that never carry a secret.
//! Only the key file's path and the names of environment variables are stored; secrets are read
//! from the environment when a connection needs them.

use anyhow::{Context, Result, bail};
use base64::Engine;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// How to authenticate to the remote: what the workspace stores (no secret values).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// An SSH private key file.
    pub ssh_key: Option<PathBuf>,
    /// The environment variable holding the key's passphrase.
    pub ssh_passphrase_env: Option<String>,
    /// The environment variable holding an HTTPS token.
    pub token_env: Option<String>,
    /// The user name sent with the token over HTTPS when the URL names none (`--user`; GitHub
    /// Enterprise with full user names, Bitbucket app passwords and GitLab deploy tokens need the
    /// real one). Not a secret. Without either, the token goes as `x-access-token`.
    pub user: Option<String>,
}

impl Credentials {
    fn env(var: &str) -> Result<String, git2::Error> {
        std::env::var(var).map_err(|_| {
            git2::Error::from_str(&format!(
                "environment variable {var} is not set; set it to the secret before running gitsync"
            ))
        })
    }

    fn callback(
        &self,
        tried: &mut u32,
        username: Option<&str>,
        allowed: git2::CredentialType,
    ) -> Result<git2::Cred, git2::Error> {
        // libgit2 asks again after a refusal; a second refusal is final.
        *tried += 1;
        if *tried > 2 {
            return Err(git2::Error::from_str(
                "the remote refused the credentials (check the key or token and its access to the repository)",
            ));
        }
        if allowed.contains(git2::CredentialType::USERNAME) {
            return git2::Cred::username(username.unwrap_or("git"));
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            let Some(key) = &self.ssh_key else {
                return Err(git2::Error::from_str(
                    "the remote wants an SSH key: connect with --ssh-key FILE (and --ssh-passphrase-env VAR if it has a passphrase)",
                ));
            };
            if self.ssh_passphrase_env.is_none() && key_is_encrypted(key) {
                return Err(git2::Error::from_str(&format!(
                    "the SSH key {} is protected by a passphrase: connect with --ssh-passphrase-env VAR and put the passphrase in that variable",
                    key.display()
                )));
            }
            let passphrase = self.ssh_passphrase_env.as_deref().map(Self::env).transpose()?;
            return git2::Cred::ssh_key(username.unwrap_or("git"), None, key, passphrase.as_deref());
        }
        if allowed.contains(git2::CredentialType::USER_PASS_PLAINTEXT) {
            let Some(var) = &self.token_env else {
                return Err(git2::Error::from_str(
                    "the remote wants a token: connect with --token-env VAR and put the token in that variable",
                ));
            };
            let token = Self::env(var)?;
            let user = username
                .map(percent_decoded)
                .or_else(|| self.user.clone())
                .unwrap_or_else(|| "x-access-token".to_string());
            return git2::Cred::userpass_plaintext(&user, &token);
        }
        Err(git2::Error::from_str(
            "the remote asks for a kind of authentication gitsync does not offer (use an SSH key or an HTTPS token)",
        ))
    }
}

/// `scheme://user:secret@host/…` → `scheme://user:***@host/…`, and a token where the user name
/// goes → `scheme://***@host/…`: for anything shown or stored.
pub fn redact(url: &str) -> String {
    match userinfo(url) {
        None => url.to_string(),
        Some(u) => {
            let shown = match u.user {
                user if is_plain_user(user) && u.password.is_some() => format!("{user}:***"),
                user if is_plain_user(user) => user.to_string(),
                _ => "***".to_string(),
            };
            format!("{}://{shown}@{}", u.scheme, u.after)
        }
    }
}

/// The credentials part of a URL (`scheme://user[:password]@host/…`), split.
struct UserInfo<'a> {
    scheme: &'a str,
    user: &'a str,
    password: Option<&'a str>,
    /// What follows the `@`: the host and the rest.
    after: &'a str,
}

/// A URL's userinfo, read the way a person may have typed it: the text before the first `@` is
/// userinfo when it holds no `/`, or when a `:` comes before its first `/` (a password with a `/`
/// in it, `user:pa/ss@host`); a path that merely contains `@` (`host/x@y.git`) has none.
fn userinfo(url: &str) -> Option<UserInfo<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let at = rest.find('@')?;
    let before = &rest[..at];
    let slash = before.find('/');
    let colon = before.find(':');
    let is_userinfo = match (slash, colon) {
        (None, _) => true,
        (Some(s), Some(c)) => c < s,
        (Some(_), None) => false,
    };
    if !is_userinfo {
        return None;
    }
    let (user, password) = match before.split_once(':') {
        Some((user, password)) => (user, Some(password)),
        None => (before, None),
    };
    Some(UserInfo {
        scheme,
        user,
        password,
        after: &rest[at + 1..],
    })
}

/// A user name as SSH and Git hosts use them — `git`, `deploy-bot`, or a full name such as GitHub
/// Enterprise's `hightouch123@github.hightouch.com` (in a URL, `%40` for the `@`) — not a token put
/// where the user name goes (`ghp_…`, `glpat-…`, or anything long without the marks of a name).
pub fn is_plain_user(user: &str) -> bool {
    const TOKEN_PREFIXES: [&str; 8] = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-"];
    let user = percent_decoded(user);
    let full_name = user.contains('@');
    !user.is_empty()
        && user.len() <= if full_name { 100 } else { 32 }
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'@' | b'+'))
        && !TOKEN_PREFIXES.iter().any(|p| user.starts_with(p))
}

/// `%40` → `@` and the like (a user name in a URL); text that is not percent-encoded stays as is.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

/// Refuse URLs that carry a secret: a password, or a token in place of the user name. It would end
/// up in the store, in the checkout's Git config and in messages.
pub fn check_url(url: &str) -> Result<()> {
    let Some(u) = userinfo(url) else { return Ok(()) };
    if u.password.is_some() {
        bail!(
            "the repository URL {} contains a password; remove it and pass the token with --token-env VAR instead",
            redact(url)
        );
    }
    if !is_plain_user(u.user) {
        bail!(
            "the repository URL {} carries a credential where the user name goes; remove it and pass the token with --token-env VAR instead",
            redact(url)
        );
    }
    Ok(())
}

/// git2's message, with any URL in it redacted and what to do next when we know it.
/// The network timeouts in force (connect, idle), for messages.
static TIMEOUTS: std::sync::OnceLock<(std::time::Duration, std::time::Duration)> = std::sync::OnceLock::new();

/// Every fetch, push and clone gives up when the remote takes longer than `connect` to accept the
/// connection or stays silent for `idle` (libgit2's server timeouts; a remote that accepts and never
/// answers would otherwise hold the pass, and `sync.lock`, forever). Call before any thread starts.
pub fn set_network_timeouts(connect: std::time::Duration, idle: std::time::Duration) {
    let ms = |d: std::time::Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX).max(1);
    // SAFETY: called once from the command line's entry, before any thread is spawned, as git2
    // requires for these process-wide settings.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(ms(connect));
        let _ = git2::opts::set_server_timeout_in_milliseconds(ms(idle));
    }
    let _ = TIMEOUTS.set((connect, idle));
}

fn message(e: &git2::Error) -> String {
    let text = e
        .message()
        .split(' ')
        .map(|w| if w.contains("://") { redact(w) } else { w.to_string() })
        .collect::<Vec<_>>()
        .join(" ");
    if e.code() == git2::ErrorCode::Timeout || text.contains("timed out") {
        let (connect, idle) = TIMEOUTS.get().copied().unwrap_or_default();
        return format!(
            "{text}: the remote did not answer in time (connect timeout {connect:?}, idle timeout {idle:?}); check the URL and the network, or raise --connect-timeout / --network-timeout"
        );
    }
    if text.contains("Unable to extract public key from private key") {
        return format!(
            "{text}; the SSH key could not be opened: when it has a passphrase, check that the variable named by --ssh-passphrase-env holds it (libssh2 reports a wrong passphrase as an unsupported format)"
        );
    }
    if text.contains("unknown remote ssh hostkey") {
        format!(
            "{text}; the server's host key is not in ~/.ssh/known_hosts: check its fingerprint, then add it (for example `ssh-keyscan -p PORT HOST >> ~/.ssh/known_hosts`)"
        )
    } else {
        text
    }
}

/// Whether a private key file needs a passphrase: a PEM key marked `ENCRYPTED`, or an OpenSSH key
/// whose cipher is not `none`. Unreadable or unknown files answer no (libssh2 then says why).
fn key_is_encrypted(key: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(key) else {
        return false;
    };
    if text.contains("ENCRYPTED") {
        return true;
    }
    let Some(body) = text
        .split("-----BEGIN OPENSSH PRIVATE KEY-----")
        .nth(1)
        .and_then(|b| b.split("-----END").next())
    else {
        return false;
    };
    // "openssh-key-v1\0", then the cipher's name as a length-prefixed string.
    let body: String = body.split_whitespace().collect();
    let Ok(head) = base64::engine::general_purpose::STANDARD.decode(body) else {
        return false;
    };
    let Some(rest) = head.strip_prefix(b"openssh-key-v1\0".as_slice()) else {
        return false;
    };
    let (Some(len), Some(name)) = (rest.get(..4), rest.get(4..)) else {
        return false;
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    name.get(..len).is_some_and(|cipher| cipher != b"none")
}

fn callbacks<'a>(creds: &'a Credentials, tried: &'a RefCell<u32>) -> git2::RemoteCallbacks<'a> {
    let mut cb = git2::RemoteCallbacks::new();
    cb.credentials(move |_url, username, allowed| creds.callback(&mut tried.borrow_mut(), username, allowed));
    cb
}

/// Clone `branch` of `url` into `dir`, showing progress on a terminal.
pub fn clone(url: &str, branch: &str, dir: &Path, creds: &Credentials) -> Result<git2::Repository, String> {
    use std::io::{IsTerminal, Write};
    let tried = RefCell::new(0);
    let mut fetch = git2::FetchOptions::new();
    let mut cb = callbacks(creds, &tried);
    if std::io::stderr().is_terminal() {
        let mut last = 0;
        cb.transfer_progress(move |p| {
            let total = p.total_objects().max(1);
            let percent = p.received_objects() * 100 / total;
            if percent != last {
                last = percent;
                eprint!(
                    "\rcloning: {percent}% of {total} objects ({} KiB)",
                    p.received_bytes() / 1024
                );
                if p.received_objects() == p.total_objects() {
                    eprintln!();
                }
                let _ = std::io::stderr().flush();
            }
            true
        });
    }
    fetch.remote_callbacks(cb);
    git2::build::RepoBuilder::new()
        .branch(branch)
        .fetch_options(fetch)
        .clone(url, dir)
        .map_err(|e| message(&e))
}

/// The branches of the remote (names without `refs/heads/`), asked over one connection without
/// fetching anything: how `connect` tells an unreachable remote, an empty one and a good one apart
/// before it clones.
pub fn branches(url: &str, creds: &Credentials) -> Result<Vec<String>, String> {
    let tried = RefCell::new(0);
    let mut remote = git2::Remote::create_detached(url).map_err(|e| message(&e))?;
    remote
        .connect_auth(git2::Direction::Fetch, Some(callbacks(creds, &tried)), None)
        .map_err(|e| message(&e))?;
    Ok(remote
        .list()
        .map_err(|e| message(&e))?
        .iter()
        .filter_map(|h| h.name().strip_prefix("refs/heads/").map(String::from))
        .collect())
}

/// The commit `branch` points at on the remote (none: no such branch), asked without fetching
/// anything: what a poll compares with the last commit applied.
pub fn remote_head(url: &str, branch: &str, creds: &Credentials) -> Result<Option<git2::Oid>> {
    let tried = RefCell::new(0);
    let mut remote = git2::Remote::create_detached(url)?;
    remote
        .connect_auth(git2::Direction::Fetch, Some(callbacks(creds, &tried)), None)
        .map_err(|e| anyhow::anyhow!("cannot reach {}: {}", redact(url), message(&e)))?;
    let wanted = format!("refs/heads/{branch}");
    Ok(remote.list()?.iter().find(|h| h.name() == wanted).map(|h| h.oid()))
}

/// Fetch `branch` into `refs/remotes/origin/<branch>` and return its commit.
pub fn fetch(repo: &git2::Repository, branch: &str, url: &str, creds: &Credentials) -> Result<git2::Oid> {
    let tried = RefCell::new(0);
    let mut opts = git2::FetchOptions::new();
    opts.remote_callbacks(callbacks(creds, &tried));
    let mut remote = repo.find_remote("origin")?;
    remote
        .fetch(
            &[format!("+refs/heads/{branch}:refs/remotes/origin/{branch}")],
            Some(&mut opts),
            None,
        )
        .map_err(|e| anyhow::anyhow!("cannot fetch `{branch}` from {}: {}", redact(url), message(&e)))?;
    // Fetching a branch the remote no longer has leaves the old remote-tracking ref in place; a pass
    // that trusted it would push the branch back into existence. Ask what the remote advertised.
    let wanted = format!("refs/heads/{branch}");
    if !remote.list()?.iter().any(|head| head.name() == wanted) {
        bail!(
            "branch `{branch}` no longer exists on {}: it was deleted there. Nothing was pushed and the queued changes are kept.\n\
             Recreate it (for example `git push origin <commit>:refs/heads/{branch}`), or connect the workspace to another branch.",
            redact(url)
        );
    }
    let head = repo
        .find_reference(&format!("refs/remotes/origin/{branch}"))
        .and_then(|r| r.peel_to_commit())
        .with_context(|| format!("branch `{branch}` is gone from {}", redact(url)))?;
    Ok(head.id())
}

/// Why a push did not land.
#[derive(Debug)]
pub enum PushError {
    /// Someone pushed first: fetch, replay, retry.
    NonFastForward,
    /// Branch protection (or another server-side rule) refused the update.
    Protected(String),
    /// The remote took the connection and refused what was pushed (a pre-receive hook, push
    /// protection finding a secret): something in the commits, not the push as such.
    Refused(String),
    Other(String),
}

/// Push the local branch to the remote one, never forced.
pub fn push(repo: &git2::Repository, branch: &str, creds: &Credentials) -> Result<(), PushError> {
    push_refspec(repo, &format!("refs/heads/{branch}:refs/heads/{branch}"), creds)
}

/// Push commit `commit` (and those before it) to the remote's `branch`, never forced: how a pass
/// finds which of its commits the remote refuses.
pub fn push_commit(
    repo: &git2::Repository,
    commit: git2::Oid,
    branch: &str,
    creds: &Credentials,
) -> Result<(), PushError> {
    const PROBE: &str = "refs/gitsync/probe";
    repo.reference(PROBE, commit, true, "gitsync: which commit the remote refuses")
        .map_err(|e| PushError::Other(message(&e)))?;
    let pushed = push_refspec(repo, &format!("{PROBE}:refs/heads/{branch}"), creds);
    if let Ok(mut r) = repo.find_reference(PROBE) {
        let _ = r.delete();
    }
    pushed
}

fn push_refspec(repo: &git2::Repository, refspec: &str, creds: &Credentials) -> Result<(), PushError> {
    let tried = RefCell::new(0);
    let status: RefCell<Option<String>> = RefCell::new(None);
    let remote_says = RefCell::new(String::new());
    let result = {
        let mut cb = callbacks(creds, &tried);
        cb.push_update_reference(|_, s| {
            if let Some(s) = s {
                *status.borrow_mut() = Some(s.to_string());
            }
            Ok(())
        });
        cb.sideband_progress(|bytes| {
            remote_says.borrow_mut().push_str(&String::from_utf8_lossy(bytes));
            true
        });
        let mut opts = git2::PushOptions::new();
        opts.remote_callbacks(cb);
        let mut remote = repo.find_remote("origin").map_err(|e| PushError::Other(message(&e)))?;
        remote.push(&[refspec], Some(&mut opts))
    };
    let said = remote_says.into_inner();
    let protected = |said: &str| said.contains("Protected branch") || said.contains("protected branch");
    // Another client's push landed while ours was in flight: the remote took our pack, then found
    // the branch no longer where we said it was ("cannot lock ref 'refs/heads/main': is at X but
    // expected Y"). The same as a non-fast-forward: fetch, replay, push again.
    let moved = |s: &str| {
        s.contains("fetch first")
            || s.contains("non-fast-forward")
            || s.contains("cannot lock ref")
            || s.contains("but expected")
    };
    match (result, status.into_inner()) {
        (Ok(()), None) => Ok(()),
        (Err(e), _) if e.code() == git2::ErrorCode::NotFastForward => Err(PushError::NonFastForward),
        (Ok(()), Some(s)) | (Err(_), Some(s)) if protected(&said) || protected(&s) => {
            Err(PushError::Protected(remote_lines(&said, &s)))
        }
        (Ok(()), Some(s)) if moved(&s) || moved(&said) => Err(PushError::NonFastForward),
        (Ok(()), Some(s)) => Err(PushError::Refused(remote_lines(&said, &s))),
        (Err(e), _) => {
            let m = message(&e);
            if m.contains("cannot push non-fastforwardable") || moved(&m) || moved(&said) {
                Err(PushError::NonFastForward)
            } else if protected(&said) {
                Err(PushError::Protected(remote_lines(&said, &m)))
            } else {
                Err(PushError::Other(remote_lines(&said, &m)))
            }
        }
    }
}

/// What the remote printed, then its status for the ref.
fn remote_lines(said: &str, status: &str) -> String {
    let lines: Vec<&str> = said.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if lines.is_empty() {
        status.to_string()
    } else {
        format!("{status} (the remote said: {})", lines.join(" / "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_redacted_and_refused() {
        assert_eq!(
            redact("https://bot:s3cret@github.com/acme/config.git"),
            "https://bot:***@github.com/acme/config.git"
        );
        assert_eq!(
            redact("ssh://git@github.com/acme/config.git"),
            "ssh://git@github.com/acme/config.git"
        );
        assert_eq!(redact("file:///srv/git/a.git"), "file:///srv/git/a.git");
        // A token as the user name, a password with a `/` in it, and a path that only holds an `@`.
        let token = "https://ghp_0123456789abcdefghijklmnopqrstuvwxyzAB@github.com/acme/config.git";
        assert_eq!(redact(token), "https://***@github.com/acme/config.git");
        assert!(!check_url(token).unwrap_err().to_string().contains("ghp_"));
        let slash = "https://user:pa/ss@host/x.git";
        assert_eq!(redact(slash), "https://user:***@host/x.git");
        assert!(!check_url(slash).unwrap_err().to_string().contains("pa/ss"));
        assert!(check_url("https://host/team@2/x.git").is_ok());
        assert!(check_url("ssh://deploy-bot@host/x.git").is_ok());
        assert_eq!(
            redact("https://x-access-token:abc@host/x"),
            "https://x-access-token:***@host/x"
        );
        let e = check_url("https://bot:s3cret@github.com/a.git")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("--token-env"), "{e}");
    }

    #[test]
    fn full_user_names_are_user_names_and_tokens_are_not() {
        for user in [
            "git",
            "deploy-bot",
            "hightouch123%40github.hightouch.com",
            "ada+ci@example.com",
            "gitlab+deploy-token-7",
        ] {
            assert!(is_plain_user(user), "{user}");
        }
        for token in [
            "ghp_0123456789abcdefghij",
            "glpat-abc",
            "gldt-abc",
            "a:b",
            "x y",
            &"a".repeat(33),
        ] {
            assert!(!is_plain_user(token), "{token}");
        }
        assert!(check_url("https://hightouch123%40github.hightouch.com@ghe.example.com/acme/config.git").is_ok());
        assert_eq!(
            percent_decoded("hightouch123%40github.hightouch.com"),
            "hightouch123@github.hightouch.com"
        );
        assert_eq!(percent_decoded("100%"), "100%");
    }

    #[test]
    fn tokens_come_from_the_named_variable_only() {
        let creds = Credentials {
            token_env: Some("GITSYNC_TEST_TOKEN_UNSET_VARIABLE".into()),
            ..Credentials::default()
        };
        let mut tried = 0;
        let e = creds
            .callback(&mut tried, None, git2::CredentialType::USER_PASS_PLAINTEXT)
            .err()
            .unwrap();
        assert!(
            e.message().contains("GITSYNC_TEST_TOKEN_UNSET_VARIABLE is not set"),
            "{}",
            e.message()
        );
        let none = Credentials::default();
        let e = none
            .callback(&mut 0, None, git2::CredentialType::SSH_KEY)
            .err()
            .unwrap();
        assert!(e.message().contains("--ssh-key"), "{}", e.message());
        let mut tried = 2;
        assert!(
            none.callback(&mut tried, None, git2::CredentialType::USERNAME).is_err(),
            "a third ask is a refusal"
        );
    }
}
