//! When passes run: one worker per workspace takes kicks (a change made, a webhook, a poll that saw
//! the branch move, an API request), coalesces them, and runs the same pass as `gitsync sync` —
//! one at a time per workspace, a bounded number side by side, retried with backoff when it fails.
//! The service decides *when* a pass runs, never *what* it does.

use super::App;
use crate::author::Author;
use crate::store::{Located, Store, WorkspaceStore};
use crate::workspace::sync as engine;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Why a pass is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kick {
    /// The workspace changed: wait for the debounce so a burst becomes one pass.
    Changed,
    /// Something arrived in Git (webhook, poll) or someone asked: run now.
    Now,
    /// A full resync was asked for.
    Resync,
    /// The retry of a failed pass (a full resync when `true`), after the backoff.
    Retry(bool),
    /// A pass marked as asked for in the store shared with other replicas (a full resync when
    /// `true`), or this replica has just become the one that runs the workspace.
    Marked(bool),
}

/// The outcome of the last pass, as the status route and page show it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct PassRecord {
    /// Its number: 1 for the first pass this service ran for the workspace (with replicas sharing
    /// a store, that any of them ran), one more for each since. A client that saw number N waits
    /// for N + 1 to know a later pass has ended.
    pub number: u64,
    /// When it ended (UTC, RFC 3339).
    pub at: String,
    /// `ok`, `attention` (files skipped, conflicts, changes set aside) or `failed`.
    pub outcome: String,
    pub duration_ms: u64,
    /// One line: what it did, or why it failed.
    pub summary: String,
    pub resync: bool,
    /// When it failed: how long until it is tried again, in milliseconds (doubling from 1 s, at most
    /// the poll interval and a minute; anyone asking for a pass starts it over).
    pub retry_in_ms: Option<u64>,
}

/// A pass someone asked for (`POST …/sync`, `POST …/resync`), as `GET …/runs/{id}` reports it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Run {
    pub id: String,
    /// Its place among the workspace's runs (for paging).
    #[serde(skip)]
    pub seq: u64,
    /// `sync` or `resync`.
    pub kind: &'static str,
    pub asked_at: String,
    /// The person of the token that asked.
    pub asked_by: String,
    /// `queued` (waiting for a worker or for the pass before it), `running`, `done`.
    pub state: &'static str,
    /// The pass that did it, once it has ended (a sync asked during a resync is done by the resync).
    pub pass: Option<PassRecord>,
    /// Its request's number in the store replicas share: the pass that covers it does it,
    /// whichever replica runs it.
    #[serde(skip)]
    pub mark: Option<i64>,
}

/// A pass's record as the replicas sharing a store keep it: with the number of the last request it
/// covered.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedRecord {
    record: PassRecord,
    covers: i64,
}

/// Runs remembered per workspace (the oldest are forgotten first).
const RUNS_KEPT: usize = 1000;

#[derive(Default)]
struct RunnerState {
    last: Option<PassRecord>,
    running: bool,
    failures: u32,
    /// The highest queue sequence number this service has seen (see `WorkspaceStore::queue_mark`;
    /// none until the first look).
    seen_seq: Option<i64>,
    /// Runs asked for, newest last.
    runs: std::collections::VecDeque<Run>,
    /// The author of the resync asked for, until a resync has gone out.
    resync_author: Option<Author>,
    /// A poll of this workspace's remote is under way.
    polling: bool,
    /// The `seq` of the last run asked for.
    next_run: u64,
    /// Whether this replica runs the workspace's passes (always, without other replicas).
    owned: bool,
    /// The replica that runs them, when replicas share the store.
    owner: Option<String>,
    /// The last request marked in the shared store that this replica has started a pass for.
    mark_kicked: i64,
}

/// One workspace, as the service drives it.
pub struct Runner {
    pub id: String,
    pub dir: PathBuf,
    store: Arc<dyn Store>,
    kicks: mpsc::UnboundedSender<Kick>,
    state: Mutex<RunnerState>,
}

impl Runner {
    /// The workspace's store, opened (blocking).
    pub fn open(&self) -> anyhow::Result<Box<dyn WorkspaceStore>> {
        self.store.open(&Located {
            id: self.id.clone(),
            dir: self.dir.clone(),
        })
    }

    pub fn kick(&self, k: Kick) {
        // The worker only stops at shutdown, when kicks no longer matter.
        let _ = self.kicks.send(k);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, RunnerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn last_pass(&self) -> Option<PassRecord> {
        self.state().last.clone()
    }

    /// The last pass and whether one runs now, read together: when it says none runs, everything
    /// the last pass recorded is in the store already.
    pub fn snapshot(&self) -> (Option<PassRecord>, bool) {
        let s = self.state();
        (s.last.clone(), s.running)
    }

    /// Note that the queue reached `seq` (a change this service stored and already kicked for).
    pub fn saw(&self, seq: i64) {
        let mut s = self.state();
        s.seen_seq = Some(s.seen_seq.map_or(seq, |seen| seen.max(seq)));
    }

    /// Ask for a pass (a full resync, authored by `author`, when `resync`): it is queued, and its
    /// run says how it went.
    pub fn ask(&self, resync: bool, asked_by: &str, author: Option<Author>) -> Run {
        let run = Run {
            id: format!(
                "run_{}",
                crate::secret::random_hex(8).unwrap_or_else(|_| format!("{:016x}", random_below(u64::MAX)))
            ),
            kind: if resync { "resync" } else { "sync" },
            asked_at: super::utc_now(),
            asked_by: asked_by.to_string(),
            state: "queued",
            pass: None,
            seq: 0,
            mark: None,
        };
        let mut run = run;
        {
            let mut s = self.state();
            s.next_run += 1;
            run.seq = s.next_run;
            if resync {
                s.resync_author = author;
            }
            s.runs.push_back(run.clone());
            if s.runs.len() > RUNS_KEPT {
                s.runs.pop_front();
            }
        }
        self.kick(if resync { Kick::Resync } else { Kick::Now });
        run
    }

    /// Run `id`, if it is one of this workspace's remembered runs.
    pub fn run(&self, id: &str) -> Option<Run> {
        self.state().runs.iter().find(|r| r.id == id).cloned()
    }

    /// The runs remembered, oldest first.
    pub fn runs(&self) -> Vec<Run> {
        self.state().runs.iter().cloned().collect()
    }

    /// Whether this replica runs the workspace's passes.
    pub fn owned(&self) -> bool {
        self.state().owned
    }

    /// The replica that runs the workspace's passes, when replicas share the store.
    pub fn owner(&self) -> Option<String> {
        self.state().owner.clone()
    }

    /// Note which replica runs the workspace (`me` is this one): whether it was this one before,
    /// and whether it is now.
    pub fn set_owner(&self, owner: Option<String>, me: &str) -> (bool, bool) {
        let mut s = self.state();
        let was = s.owned;
        s.owned = owner.as_deref() == Some(me);
        if s.owned && !was {
            // Everything marked so far is covered by the first pass this replica runs.
            s.mark_kicked = 0;
        }
        s.owner = owner;
        (was, s.owned)
    }

    /// Take in where the workspace's passes stand in the shared store: show the last pass whichever
    /// replica ran it, end the runs it covered, and start a pass for a request not yet started
    /// when this replica runs the workspace. Whether anything shown changed.
    pub fn seen_mark(&self, mark: &crate::store::PassMark) -> bool {
        let shared = mark
            .last
            .as_deref()
            .and_then(|j| serde_json::from_str::<SharedRecord>(j).ok());
        let mut s = self.state();
        let mut changed = false;
        if let Some(shared) = shared {
            if s.last.as_ref().is_none_or(|l| l.number < shared.record.number) {
                s.last = Some(shared.record.clone());
                changed = true;
            }
            for run in s
                .runs
                .iter_mut()
                .filter(|x| x.state != "done" && x.mark.is_some_and(|m| m <= shared.covers))
            {
                run.state = "done";
                run.pass = Some(shared.record.clone());
                changed = true;
            }
        }
        if s.owned && !s.running && mark.asked > s.mark_kicked && mark.wanted() {
            s.mark_kicked = mark.asked;
            drop(s);
            self.kick(Kick::Marked(mark.resync_wanted()));
        }
        changed
    }

    /// Whether the queue moved past what was seen; remembers the new mark.
    fn moved(&self, seq: i64) -> bool {
        let mut s = self.state();
        // The first look counts as a move: what is still queued then (made after the first pass
        // began, or before this replica took the workspace over) gets a pass of its own.
        let moved = s.seen_seq.is_none_or(|seen| seq > seen);
        s.seen_seq = Some(s.seen_seq.map_or(seq, |seen| seen.max(seq)));
        moved
    }
}

/// Start the worker of workspace `id` (its folder `dir`); it stops when `stop` turns true.
pub fn start(
    app: &Arc<App>,
    id: String,
    dir: PathBuf,
    stop: watch::Receiver<bool>,
) -> (Arc<Runner>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let runner = Arc::new(Runner {
        id,
        dir,
        store: app.store.clone(),
        kicks: tx,
        state: Mutex::new(RunnerState {
            owned: app.coordination.is_none(),
            ..Default::default()
        }),
    });
    // Changes queued before the service started go out with its first pass (with other replicas,
    // with the first pass of the one that runs the workspace).
    if app.coordination.is_none() {
        runner.kick(Kick::Now);
    }
    let handle = tokio::spawn(work(app.clone(), runner.clone(), rx, stop));
    (runner, handle)
}

/// Wait `d`, or less if the service is stopping. True when it is.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}

/// Wait out the debounce after a change, so a burst of changes becomes one pass — unless something
/// asks for a pass now (a webhook, `POST …/sync`, a resync): a request never waits behind a change.
/// The kicks that ended the wait, or none when the service is stopping.
async fn debounce(
    d: Duration,
    kicks: &mut mpsc::UnboundedReceiver<Kick>,
    stop: &mut watch::Receiver<bool>,
) -> Option<Vec<Kick>> {
    if *stop.borrow() {
        return None;
    }
    let wait = tokio::time::sleep(d);
    tokio::pin!(wait);
    loop {
        tokio::select! {
            _ = &mut wait => return (!*stop.borrow()).then(Vec::new),
            _ = stop.changed() => return None,
            k = kicks.recv() => match k {
                Some(Kick::Changed) => {}
                Some(k) => return Some(vec![k]),
                None => return Some(Vec::new()),
            },
        }
    }
}

async fn work(
    app: Arc<App>,
    r: Arc<Runner>,
    mut kicks: mpsc::UnboundedReceiver<Kick>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_secs(1);
    let mut abandoned: Option<tokio::task::JoinHandle<anyhow::Result<Done>>> = None;
    loop {
        let first = tokio::select! {
            k = kicks.recv() => k,
            _ = stop.changed() => None,
        };
        let Some(first) = first else { break };
        if *stop.borrow() {
            break;
        }
        // Another replica runs this workspace: a change or a retry is its business (it sees the
        // queue in the shared store too); only a request is passed on to it.
        if !r.owned() && !matches!(first, Kick::Now | Kick::Resync) {
            continue;
        }
        let mut more = Vec::new();
        if first == Kick::Changed {
            match debounce(app.opts.debounce, &mut kicks, &mut stop).await {
                Some(k) => more = k,
                None => break, // what was queued stays queued in the store: the next start sends it
            }
        }
        let wants_resync = |k: Kick| matches!(k, Kick::Resync | Kick::Retry(true) | Kick::Marked(true));
        let mut resync = wants_resync(first);
        let mut asked = !matches!(first, Kick::Retry(_));
        // Asked for here (not already marked in the shared store): a resync when one of them is.
        let mut requested = matches!(first, Kick::Now | Kick::Resync).then_some(first == Kick::Resync);
        while let Some(k) = more.pop().or_else(|| kicks.try_recv().ok()) {
            resync |= wants_resync(k);
            asked |= !matches!(k, Kick::Retry(_));
            if matches!(k, Kick::Now | Kick::Resync) {
                requested = Some(requested.unwrap_or(false) || k == Kick::Resync);
            }
        }
        // With other replicas: the request is marked in the store first, so the replica that runs
        // the workspace does it even if this one dies; then, when this one runs it, the pass
        // covers every request marked so far.
        let mut covers = 0;
        if let Some(coordination) = app.coordination.clone() {
            let (r2, id) = (r.clone(), r.id.clone());
            let marked = tokio::task::spawn_blocking(move || {
                coordination.with(|c| {
                    if let Some(resync) = requested {
                        let author = resync
                            .then(|| r2.state().resync_author.clone())
                            .flatten()
                            .and_then(|a| serde_json::to_string(&a).ok());
                        let n = c.ask(&id, resync, author.as_deref())?;
                        let mut s = r2.state();
                        for run in s.runs.iter_mut().filter(|x| x.state == "queued" && x.mark.is_none()) {
                            run.mark = Some(n);
                        }
                        s.mark_kicked = s.mark_kicked.max(n);
                    }
                    Ok(c.passes()?.into_iter().find(|m| m.workspace == id))
                })
            })
            .await;
            let failed = match marked {
                Ok(Ok(mark)) => {
                    if !r.owned() {
                        continue;
                    }
                    if let Some(mark) = mark {
                        covers = mark.asked;
                        if mark.resync_wanted() {
                            resync = true;
                            let mut s = r.state();
                            if s.resync_author.is_none() {
                                s.resync_author =
                                    mark.resync_author.as_deref().and_then(|a| serde_json::from_str(a).ok());
                            }
                        }
                    }
                    None
                }
                Ok(Err(e)) => Some(format!("{e:#}")),
                Err(e) => Some(e.to_string()),
            };
            if let Some(why) = failed {
                tracing::warn!(workspace = %r.id, "cannot reach the store to mark or read the passes asked for: {why}; trying again in {backoff:?}");
                // Asked again after the backoff: a request is not dropped for the store being away.
                let again = match requested {
                    Some(true) => Kick::Resync,
                    Some(false) => Kick::Now,
                    None => Kick::Marked(resync),
                };
                let (r2, delay, mut stop2) = (r.clone(), backoff, stop.clone());
                tokio::spawn(async move {
                    if !sleep_or_stop(delay, &mut stop2).await {
                        r2.kick(again);
                    }
                });
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        }
        // Someone asked (a change, a webhook, `POST …/sync`, the poll): whatever failed before, the
        // backoff starts over.
        if asked {
            backoff = Duration::from_secs(1);
        }
        // A pass abandoned at its deadline may still be winding down (its Git connection ends
        // within the network timeout): the next one starts after it, without holding a worker.
        if let Some(old) = abandoned.take() {
            tokio::select! {
                _ = old => {}
                _ = stop.changed() => break,
            }
        }
        let Ok(permit) = app.pool.clone().acquire_owned().await else {
            break;
        };
        let (runs, author) = {
            let mut s = r.state();
            s.running = true;
            // The runs this pass does: every one queued, but a resync only by a resync (its own kick
            // is still waiting and brings the next pass).
            let mut ids = Vec::new();
            for run in s
                .runs
                .iter_mut()
                .filter(|x| x.state == "queued" && (resync || x.kind == "sync"))
            {
                run.state = "running";
                ids.push(run.id.clone());
            }
            (ids, if resync { s.resync_author.clone() } else { None })
        };
        let (app2, r2) = (app.clone(), r.clone());
        let started = Instant::now();
        let mut task = tokio::task::spawn_blocking(move || run_pass(&app2, &r2, resync, author));
        let result = tokio::select! {
            r = &mut task => Some(r),
            _ = tokio::time::sleep(app.opts.pass_timeout) => None,
        };
        drop(permit);
        let elapsed = started.elapsed();
        let (outcome, done) = match result {
            Some(Ok(Ok(done))) => (if done.attention { "attention" } else { "ok" }, done),
            Some(Ok(Err(e))) => ("failed", Done::failed(format!("{e:#}"))),
            Some(Err(e)) => ("failed", Done::failed(format!("the pass stopped unexpectedly: {e}"))),
            None => {
                abandoned = Some(task);
                (
                    "failed",
                    Done::failed(format!(
                        "the pass did not end within --pass-timeout ({}) and was abandoned (a remote that does not answer?); what it did is kept, and the next pass resumes it",
                        humantime::format_duration(app.opts.pass_timeout)
                    )),
                )
            }
        };
        app.metrics.pass(&r.id, outcome, elapsed.as_secs_f64());
        // One line per pass: what came in, what went out, how long, how it ended; a failed pass is a
        // warning, with its reason.
        macro_rules! pass_line {
            ($level:ident) => {
                tracing::$level!(
                    workspace = %r.id,
                    outcome,
                    resync,
                    inbound_commits = done.inbound_commits,
                    applied = done.applied,
                    skipped = done.skipped,
                    conflicts = done.conflicts,
                    pushed = done.pushed,
                    duration_ms = elapsed.as_millis() as u64,
                    "pass {outcome}: {}",
                    done.summary.lines().next().unwrap_or_default()
                )
            };
        }
        if outcome == "failed" {
            pass_line!(warn);
        } else {
            pass_line!(info);
        }
        let summary = done.summary;
        let failed = outcome == "failed";
        let retry_in = failed.then_some(backoff);
        let record = {
            let mut s = r.state();
            s.running = false;
            s.failures = if failed { s.failures + 1 } else { 0 };
            if resync && !failed {
                s.resync_author = None;
            }
            // With other replicas, one more than the last pass any of them ran.
            let number = s.last.as_ref().map_or(0, |l| l.number) + 1;
            let record = PassRecord {
                number,
                at: super::utc_now(),
                outcome: outcome.to_string(),
                duration_ms: elapsed.as_millis() as u64,
                summary,
                resync,
                retry_in_ms: retry_in.map(|d| d.as_millis() as u64),
            };
            for run in s.runs.iter_mut().filter(|x| runs.contains(&x.id)) {
                run.state = "done";
                run.pass = Some(record.clone());
            }
            app.metrics.pass_ended(&r.id, !failed, s.failures);
            s.last = Some(record.clone());
            s.mark_kicked = s.mark_kicked.max(covers);
            record
        };
        // With other replicas: every one shows how it ended, and the requests it covered are done.
        if let Some(coordination) = app.coordination.clone() {
            let number = record.number as i64;
            let shared = serde_json::to_string(&SharedRecord { record, covers }).unwrap_or_default();
            let id = r.id.clone();
            let recorded = tokio::task::spawn_blocking(move || {
                coordination.with(|c| c.ended(&id, covers, !failed, number, &shared))
            })
            .await;
            if let Ok(Err(e)) = recorded {
                // The work is done and recorded in the workspace; only the mark stays, and the
                // next pass (here or on another replica) finds nothing to do.
                tracing::warn!(workspace = %r.id, "cannot record the pass's end in the store: {e:#}");
            }
        }
        app.publish();
        if failed {
            // Try again later (remote down, branch protected, another pass holding the lock): the
            // queue is kept, so nothing waits on this but time.
            let (r2, delay) = (r.clone(), backoff);
            let mut stop2 = stop.clone();
            tokio::spawn(async move {
                if !sleep_or_stop(delay, &mut stop2).await {
                    r2.kick(Kick::Retry(resync));
                }
            });
            // At most a minute, and at most the poll interval: once the remote is back, the queue
            // goes out within the interval the operator chose.
            let cap = app
                .opts
                .poll
                .0
                .map_or(Duration::from_secs(60), |p| p.min(Duration::from_secs(60)));
            backoff = (backoff * 2).min(cap).max(Duration::from_secs(1));
        } else {
            backoff = Duration::from_secs(1);
        }
    }
}

/// What a pass did, for the log and the status.
#[derive(Default)]
struct Done {
    attention: bool,
    /// One line: what it did, or why it failed.
    summary: String,
    inbound_commits: usize,
    applied: usize,
    skipped: usize,
    conflicts: usize,
    pushed: usize,
}

impl Done {
    fn failed(summary: String) -> Done {
        Done {
            summary,
            ..Done::default()
        }
    }
}

/// One pass (or a full resync, its commit by `author` or else by gitsync) of workspace `id`,
/// blocking.
fn run_pass(app: &App, r: &Runner, resync: bool, author: Option<Author>) -> anyhow::Result<Done> {
    let (id, dir) = (r.id.as_str(), r.dir.as_path());
    let mut store = r.open()?;
    let out = if resync {
        let author = author.unwrap_or_else(|| Author {
            name: "gitsync".into(),
            email: "gitsync@localhost".into(),
        });
        let r = engine::resync(store.as_mut(), &app.policy, dir, &author, &mut |_| {})?;
        Done {
            attention: !r.inbound.skipped.is_empty() || !r.not_written.is_empty(),
            summary: format!(
                "full resync: {} resources written; applied back: {} applied, {} skipped",
                r.written,
                r.inbound.applied,
                r.inbound.skipped.len()
            ),
            inbound_commits: usize::from(r.inbound.whole_tree),
            applied: r.inbound.applied,
            skipped: r.inbound.skipped.len(),
            conflicts: 0,
            pushed: usize::from(r.commit.is_some()),
        }
    } else {
        let r = engine::sync(store.as_mut(), &app.policy, dir)?;
        let branch = store.setting("branch")?.unwrap_or_default();
        Done {
            attention: r.needs_attention(),
            summary: r.human(&branch).trim_end().replace('\n', "; "),
            inbound_commits: r.inbound.commits,
            applied: r.inbound.applied,
            skipped: r.inbound.skipped.len(),
            conflicts: r.inbound.conflicts.len(),
            pushed: r.pushed,
        }
    };
    if let Ok((_, len)) = store.queue_mark() {
        app.metrics.queue(id, len);
    }
    if let Ok(Some(t)) = engine::last_applied_time(store.as_ref(), dir) {
        app.metrics.last_applied(id, t);
    }
    Ok(out)
}

/// Every second: serve workspaces added to the data directory since the last tick (`workspace init`
/// from the CLI), notice changes made outside the API (the CLI on the same data directory) and keep
/// the queue gauge current.
pub async fn watch_queues(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    // One connection per workspace, kept open: opening a store sets it up (pragmas, schema checks),
    // which is work to do once, not every second. A store that fails is reopened on the next tick.
    // (Not with other replicas: see below.)
    let mut stores: HashMap<String, Box<dyn WorkspaceStore>> = HashMap::new();
    loop {
        if sleep_or_stop(Duration::from_secs(1), &mut stop).await {
            return;
        }
        let store = app.store.clone();
        let listed = tokio::task::spawn_blocking(move || store.workspaces()).await;
        if let Ok(Ok(all)) = listed {
            let known = app.runners();
            for w in all.into_iter().filter(|w| !known.iter().any(|r| r.id == w.id)) {
                tracing::info!(workspace = %w.id, "a workspace was added: serving it");
                // Finding a workspace reads the store: blocking work.
                let app2 = app.clone();
                let _ = tokio::task::spawn_blocking(move || app2.runner(&w.id)).await;
            }
        }
        // With other replicas, each watches the workspaces it runs (the others see theirs), all in
        // one look at the store, and keeps no connection between looks: connections to a shared
        // store are a budget all the replicas' passes draw on.
        let shared = app.coordination.is_some();
        let runners: Vec<_> = app.runners().into_iter().filter(|r| !shared || r.owned()).collect();
        let watched_runners = runners.clone();
        let shared_store = app.store.clone();
        let watched = tokio::task::spawn_blocking(move || {
            if shared {
                let located: Vec<Located> = watched_runners
                    .iter()
                    .map(|r| Located {
                        id: r.id.clone(),
                        dir: r.dir.clone(),
                    })
                    .collect();
                return (stores, shared_store.queue_marks(&located));
            }
            let marks: Vec<Option<(i64, usize)>> = watched_runners
                .iter()
                .map(|r| {
                    let store = match stores.remove(&r.id) {
                        Some(store) => store,
                        None => r.open().ok()?,
                    };
                    let mark = store.queue_mark().ok()?;
                    stores.insert(r.id.clone(), store);
                    Some(mark)
                })
                .collect();
            (stores, marks)
        })
        .await;
        let marks = match watched {
            Ok((kept, marks)) => {
                stores = kept;
                marks
            }
            // The connections went with the failed task: open them afresh next time.
            Err(_) => {
                stores = HashMap::new();
                continue;
            }
        };
        for (r, mark) in runners.iter().zip(marks) {
            let Some((seq, len)) = mark else { continue };
            app.metrics.queue(&r.id, len);
            if r.moved(seq) {
                app.publish();
                if len > 0 {
                    r.kick(Kick::Changed);
                }
            }
        }
    }
}

/// Every `every` (with up to a tenth of jitter, so many services do not poll in step): ask each
/// connected workspace's remote for its branch head — nothing is fetched — and start a pass where it
/// moved, so a lost webhook costs at most one interval.
pub async fn poll(app: Arc<App>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let jitter = Duration::from_millis(random_below(every.as_millis() as u64 / 10 + 1));
        if sleep_or_stop(every + jitter, &mut stop).await {
            return;
        }
        // Each remote is asked on its own: one that does not answer holds up only itself (until the
        // network timeout), never the others' polls.
        for r in app.runners() {
            {
                let mut st = r.state();
                // Another replica polls the workspaces it runs.
                if st.running || st.polling || !st.owned {
                    continue;
                }
                st.polling = true;
            }
            tokio::spawn(async move {
                let r2 = r.clone();
                let moved = tokio::task::spawn_blocking(move || {
                    let store = r2.open()?;
                    if store.setting("repo")?.is_none() {
                        return Ok(false);
                    }
                    engine::remote_moved(store.as_ref())
                })
                .await;
                r.state().polling = false;
                match moved {
                    Ok(Ok(true)) => r.kick(Kick::Now),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => tracing::warn!(workspace = %r.id, "poll: {e:#}"),
                    Err(e) => tracing::warn!(workspace = %r.id, "poll: {e}"),
                }
            });
        }
    }
}

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0;
    }
    u64::from_le_bytes(b) % n.max(1)
}
