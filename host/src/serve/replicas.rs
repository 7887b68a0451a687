//! Several `serve` replicas sharing one store (PostgreSQL): which of them runs each workspace's
//! passes, and how a request taken by one reaches the one that runs them.
//!
//! Every replica computes the same split from the same facts — the replicas alive and the
//! workspaces, both read from the store — so they need no leader. Each workspace goes to the replica
//! that ranks highest for it, no replica taking more than its share: when one joins or leaves, only
//! the workspaces it takes or gives move. A request (a webhook, `POST …/sync`, a resync) is marked
//! in the store before anything else, so the replica that runs the workspace does it even when the
//! one that took it dies; the wake-up the mark sends only saves the wait for the next look. The
//! pass lease keeps passes of one workspace apart while replicas briefly disagree on the split.

use super::App;
use super::runner::Kick;
use crate::store::Replicas;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a replica looks at the store without a wake-up: the safety net for a lost one.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// This replica, as the request handlers and workers use it.
pub struct Coordination {
    /// Its name among the replicas (`--replica-name`).
    pub name: String,
    /// A session for marking requests and recording passes (the look has one of its own, which
    /// waits for wake-ups).
    requests: Mutex<Box<dyn Replicas>>,
}

impl Coordination {
    pub fn new(name: String, requests: Box<dyn Replicas>) -> Coordination {
        Coordination {
            name,
            requests: Mutex::new(requests),
        }
    }

    /// Work with the store's replica records (blocking).
    pub fn with<T>(&self, f: impl FnOnce(&mut dyn Replicas) -> anyhow::Result<T>) -> anyhow::Result<T> {
        f(self.requests.lock().unwrap_or_else(|p| p.into_inner()).as_mut())
    }
}

/// A replica's name when `--replica-name` gives none: the host's name and a random suffix (a
/// restarted replica is a new one; the old name is forgotten a day later).
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "gitsync".into());
    format!(
        "{host}-{}",
        crate::secret::random_hex(3).unwrap_or_else(|_| std::process::id().to_string())
    )
}

/// The split: which replica (of `alive`, sorted) runs each of `workspaces`. Each workspace goes to
/// the replica that ranks it highest among those short of their share; shares differ by one at
/// most.
pub fn split<'a>(alive: &'a [String], workspaces: &[String]) -> BTreeMap<String, &'a str> {
    let mut out = BTreeMap::new();
    if alive.is_empty() {
        return out;
    }
    // Each replica takes `share` workspaces, and `extra` of them one more: no two differ by more
    // than one.
    let (share, extra) = (workspaces.len() / alive.len(), workspaces.len() % alive.len());
    let mut held = vec![0usize; alive.len()];
    let mut full = 0;
    let mut sorted: Vec<&String> = workspaces.iter().collect();
    sorted.sort();
    for ws in sorted {
        let best = (0..alive.len())
            .filter(|&i| held[i] < share || (held[i] == share && full < extra))
            .max_by_key(|&i| (rank(&alive[i], ws), std::cmp::Reverse(i)));
        if let Some(i) = best {
            held[i] += 1;
            if held[i] > share {
                full += 1;
            }
            out.insert(ws.clone(), alive[i].as_str());
        }
    }
    out
}

/// How much `replica` wants `workspace`: the same number on every replica.
fn rank(replica: &str, workspace: &str) -> u64 {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("{replica}\n{workspace}").as_bytes());
    u64::from_be_bytes(d[..8].try_into().expect("8 bytes"))
}

/// Until the service stops: say this replica is alive, split the workspaces, start the passes
/// asked for of those it runs, and show every workspace's last pass whichever replica ran it. At
/// the end, leave, so the others take its workspaces at once. Blocking: runs on a thread of its own.
pub fn look(app: Arc<App>, mut look: Box<dyn Replicas>, name: String, stop: watch::Receiver<bool>) {
    let mut last_look: Option<Instant> = None;
    let mut woken = false;
    let mut failing = false;
    while !*stop.borrow() {
        if woken || last_look.is_none_or(|t| t.elapsed() >= LOOK_EVERY) {
            last_look = Some(Instant::now());
            match look_once(&app, look.as_mut(), &name) {
                Ok(()) if failing => {
                    tracing::info!("the store answers again");
                    failing = false;
                }
                Ok(()) => {}
                Err(e) => {
                    if !failing {
                        tracing::warn!(
                            "cannot reach the other replicas through the store: {e:#}; trying again every {LOOK_EVERY:?}"
                        );
                    }
                    failing = true;
                }
            }
        }
        // Short waits, so a stop is seen within a quarter of a second.
        woken = match look.wait(Duration::from_millis(250)) {
            Ok(w) => w,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(250));
                false
            }
        };
    }
    match look.leave() {
        Ok(()) => tracing::info!("left the replicas: the others take this one's workspaces"),
        Err(e) => tracing::warn!(
            "could not leave the replicas ({e:#}): the others take this one's workspaces when its session ends"
        ),
    }
}

fn look_once(app: &Arc<App>, look: &mut dyn Replicas, name: &str) -> anyhow::Result<()> {
    let mut alive = look.beat()?;
    if !alive.iter().any(|a| a == name) {
        // Its own session is not among the server's (a proxy that pools transactions, not
        // sessions, between it and PostgreSQL): it still runs its share rather than nothing.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            tracing::warn!("this replica does not see its own session among the store's: connect it to PostgreSQL directly or through a proxy that keeps sessions (pgbouncer's pool_mode=session), or replicas cannot tell who is alive")
        });
        alive.push(name.to_string());
        alive.sort();
    }
    // A workspace added since the last look (from the CLI, or through another replica) is served.
    for w in app.store.workspaces()? {
        app.runner(&w.id);
    }
    let runners = app.runners();
    let ids: Vec<String> = runners.iter().map(|r| r.id.clone()).collect();
    let split = split(&alive, &ids);
    let mut changed = false;
    for r in &runners {
        let owner = split.get(&r.id).map(|o| o.to_string());
        match r.set_owner(owner, name) {
            (false, true) => {
                tracing::info!(workspace = %r.id, "running this workspace's passes");
                // Whatever waits (a change queued, a request marked) goes out with a first pass.
                r.kick(Kick::Marked(false));
                changed = true;
            }
            (true, false) => {
                tracing::info!(workspace = %r.id, "this workspace's passes now run on another replica");
                changed = true;
            }
            _ => {}
        }
    }
    for mark in look.passes()? {
        let Some(r) = runners.iter().find(|r| r.id == mark.workspace) else {
            continue;
        };
        changed |= r.seen_mark(&mark);
    }
    if changed {
        app.publish();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::split;

    fn names(n: usize, prefix: &str) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i:03}")).collect()
    }

    #[test]
    fn every_workspace_goes_to_one_replica_and_none_takes_more_than_its_share() {
        let alive = names(3, "replica-");
        let ws = names(10, "ws-");
        let s = split(&alive, &ws);
        assert_eq!(s.len(), 10);
        for a in &alive {
            let n = s.values().filter(|o| **o == a.as_str()).count();
            assert!((3..=4).contains(&n), "{a} runs {n}: {s:?}");
        }
    }

    #[test]
    fn a_replica_leaving_moves_only_its_own_workspaces_when_shares_allow() {
        let alive = names(4, "r");
        let ws = names(200, "w");
        let before = split(&alive, &ws);
        let fewer: Vec<String> = alive[..3].to_vec();
        let after = split(&fewer, &ws);
        // Every workspace still has a replica alive.
        assert!(after.values().all(|o| fewer.iter().any(|f| f == o)));
        assert_eq!(after.len(), 200);
        // The split is the same whichever replica computes it.
        assert_eq!(split(&fewer, &ws), after);
        // Most workspaces of the replicas that stayed stay where they were.
        let stayed = ws
            .iter()
            .filter(|w| before[*w] != "r003" && before[*w] == after[*w])
            .count();
        let kept_before = ws.iter().filter(|w| before[*w] != "r003").count();
        assert!(stayed * 10 >= kept_before * 7, "{stayed} of {kept_before} stayed");
    }

    #[test]
    fn no_replica_alive_runs_nothing() {
        assert!(split(&[], &names(3, "w")).is_empty());
    }
}
