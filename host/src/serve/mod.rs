//! `gitsync serve`: every workspace of a data directory kept in step by itself, with an HTTP API
//! (docs/serve.md). Requests and webhooks decide when a pass runs (`runner`); the pass is the one
//! `gitsync sync` runs. Git and SQLite work is blocking code, run on tokio's blocking pool.

mod auth;
mod drain;
mod endpoints;
mod error;
mod hooks;
mod http;
mod metrics;
mod page;
mod paging;
mod replicas;
mod resources;
mod router;
mod runner;
mod workspaces;

use crate::store::{AccessStore, Store};
use anyhow::{Context, Result};
use gitsync_engine::{BuiltinPolicies, WorkspacePolicy};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How the service runs: `gitsync serve`'s flags, with their documented defaults.
#[derive(Clone, Debug, clap::Args)]
pub struct Options {
    /// Address to listen on (`127.0.0.1:0` picks a free port and prints it).
    #[arg(long, default_value = "127.0.0.1:8787", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Also serve /metrics without a token on this address (keep it private: the series name every
    /// workspace). Without it, /metrics on --listen takes a token for every workspace.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// How often to ask each remote whether its branch moved (`off`: webhooks only).
    #[arg(long, default_value = "60s", value_name = "DURATION", value_parser = Every::parse)]
    pub poll: Every,
    /// How long after a change to wait for more before pushing (bursts become one pass).
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = crate::duration::parse)]
    pub debounce: Duration,
    /// Passes of different workspaces running side by side at most.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub workers: usize,
    /// How long one pass may take: past it the pass is abandoned (it is crash-safe; the next one
    /// resumes it) and its worker goes to other workspaces.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = crate::duration::parse)]
    pub pass_timeout: Duration,
    /// At SIGTERM, how long requests in progress and running passes may take before the service
    /// exits anyway (a pass cut short is resumed on the next start).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = crate::duration::parse)]
    pub shutdown_timeout: Duration,
    /// How long a client may take to send a request's headers; also how long a kept-alive
    /// connection may stay idle.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = crate::duration::parse)]
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = crate::duration::parse)]
    pub body_timeout: Duration,
    /// Connections open at once at most (more are closed at once).
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_connections: usize,
    /// The largest webhook delivery taken, in bytes (GitHub sends up to 25 MB); read as it arrives,
    /// so a large one costs no more memory than a small one.
    #[arg(long, default_value_t = 25 << 20, value_name = "BYTES")]
    pub max_webhook_body: usize,
    /// The address users reach the service at, behind a proxy (`https://…` makes the status page's
    /// cookie `Secure`).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The address of a reverse proxy in front of the service (repeatable): its
    /// `X-Forwarded-Proto: https` makes the status page's cookie `Secure`. From any other client
    /// the header is ignored.
    #[arg(long = "trusted-proxy", value_name = "IP")]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long a status-page sign-in lasts.
    #[arg(long, default_value = "12h", value_name = "DURATION", value_parser = crate::duration::parse)]
    pub session_ttl: Duration,
    /// This replica's name among the replicas sharing a PostgreSQL store (unique among them; the
    /// default is the host name and a random suffix).
    #[arg(long, env = "GITSYNC_REPLICA_NAME", value_name = "NAME")]
    pub replica_name: Option<String>,
}

/// `--poll`: an interval, or `off`.
#[derive(Clone, Copy, Debug)]
pub struct Every(pub Option<Duration>);

impl Every {
    fn parse(s: &str) -> Result<Every, String> {
        if s.trim() == "off" {
            return Ok(Every(None));
        }
        match crate::duration::parse(s)? {
            d if d.is_zero() => Err("a poll interval of zero would poll without pause; use `off` to disable it".into()),
            d => Ok(Every(Some(d))),
        }
    }
}

/// What every request handler and worker shares.
pub struct App {
    store: Arc<dyn Store>,
    /// Tokens, sessions and webhook secrets: one connection, kept open (a request does not open
    /// the database); opened again after the store was away.
    access: Mutex<Option<Box<dyn AccessStore>>>,
    opts: Options,
    policy: WorkspacePolicy<'static>,
    policies: BuiltinPolicies<'static>,
    runners: Mutex<BTreeMap<String, Arc<runner::Runner>>>,
    /// With other replicas sharing the store: this one among them.
    coordination: Option<Arc<replicas::Coordination>>,
    pool: Arc<tokio::sync::Semaphore>,
    metrics: metrics::Metrics,
    /// Webhook delivery ids already taken (a bounded window), so a redelivery starts nothing new.
    deliveries: Mutex<(VecDeque<String>, HashSet<String>)>,
    /// Bumped whenever something the status page shows changed: its event stream waits on this.
    changes: watch::Sender<u64>,
    stop: watch::Receiver<bool>,
    workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Delivery ids remembered for redelivery detection.
const DELIVERY_WINDOW: usize = 10_000;

impl App {
    fn runners(&self) -> Vec<Arc<runner::Runner>> {
        self.runners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The runner of workspace `id`, starting one for a workspace added since the service started.
    fn runner(self: &Arc<Self>, id: &str) -> Option<Arc<runner::Runner>> {
        if let Some(r) = self.runners.lock().unwrap_or_else(|p| p.into_inner()).get(id) {
            return Some(r.clone());
        }
        let w = self.store.pick(Some(id)).ok()?;
        let mut all = self.runners.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = all.get(id) {
            return Some(r.clone());
        }
        self.metrics.workspace(&w.id);
        let (r, handle) = runner::start(self, w.id.clone(), w.dir, self.stop.clone());
        all.insert(w.id, r.clone());
        self.workers.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
        Some(r)
    }

    /// Work with the access records (blocking: call from blocking code).
    fn access<T>(&self, f: impl FnOnce(&mut dyn AccessStore) -> Result<T>) -> Result<T> {
        let mut kept = self.access.lock().unwrap_or_else(|p| p.into_inner());
        let access = match kept.take() {
            Some(a) => kept.insert(a),
            None => kept.insert(self.store.access()?),
        };
        let result = f(access.as_mut());
        // Its connection went with the server (restarted): the next request opens another.
        if result.as_ref().is_err_and(crate::store::unavailable) {
            *kept = None;
        }
        result
    }

    /// Whether the service can do its work: the access records and every workspace's store can be
    /// read (blocking).
    fn ready(&self) -> Result<()> {
        self.access(|a| a.tokens().map(|_| ()))?;
        for r in self.runners() {
            r.open().with_context(|| format!("workspace `{}`", r.id))?;
        }
        Ok(())
    }

    /// Whether delivery `id` was seen before; remembers it.
    fn seen_delivery(&self, id: &str) -> bool {
        let mut d = self.deliveries.lock().unwrap_or_else(|p| p.into_inner());
        if d.1.contains(id) {
            return true;
        }
        d.0.push_back(id.to_string());
        d.1.insert(id.to_string());
        if d.0.len() > DELIVERY_WINDOW
            && let Some(old) = d.0.pop_front()
        {
            d.1.remove(&old);
        }
        false
    }

    /// Tell the status page something changed.
    fn publish(&self) {
        self.changes.send_modify(|n| *n += 1);
    }
}

/// The current time, UTC, RFC 3339 to the second.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Run the service on data directory `root` until SIGTERM or SIGINT: stop accepting, let requests in
/// progress and running passes finish (at most `opts.shutdown_timeout` in all), return.
pub fn run(
    root: PathBuf,
    location: crate::store::Location,
    opts: Options,
    policy: WorkspacePolicy<'static>,
    policies: BuiltinPolicies<'static>,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("gitsync-serve")
        .build()
        .context("cannot start the service's runtime")?;
    // Opened before the runtime runs: a store's client may block (PostgreSQL's does), which async
    // code must not.
    let store: Arc<dyn Store> = Arc::from(crate::store::open(&location)?);
    let workspaces = store.workspaces()?;
    // Tokens and webhook secrets live here; made on first use.
    let access = store.access()?;
    // Replicas sharing the store: one session to mark requests on, one to look and wait on.
    let name = opts.replica_name.clone().unwrap_or_else(replicas::default_name);
    let shared = match (store.replicas(&name)?, store.replicas(&name)?) {
        (Some(requests), Some(look)) => Some((replicas::Coordination::new(name, requests), look)),
        _ => None,
    };
    let opened = Opened {
        store,
        workspaces,
        access,
        shared,
    };
    let result = rt.block_on(serve(root, opened, opts, policy, policies));
    // A pass still blocked on the network holds a blocking thread; the runtime is not waited on
    // past the bound (the pass is resumed on the next start).
    rt.shutdown_timeout(Duration::from_millis(500));
    result
}

/// What `run` opens before the runtime starts (blocking work).
struct Opened {
    store: Arc<dyn Store>,
    workspaces: Vec<crate::store::Located>,
    access: Box<dyn AccessStore>,
    /// With other replicas sharing the store: this one among them, and the session it looks on.
    shared: Option<(replicas::Coordination, Box<dyn crate::store::Replicas>)>,
}

async fn serve(
    root: PathBuf,
    opened: Opened,
    opts: Options,
    policy: WorkspacePolicy<'static>,
    policies: BuiltinPolicies<'static>,
) -> Result<()> {
    let Opened {
        store,
        workspaces,
        access,
        shared,
    } = opened;
    // One service per data directory: two would split the status, metrics and seen deliveries. A
    // replica on a shared store may start with none yet: its checkouts go there.
    crate::store::local_folder(&root)?;
    let mut instance = one_instance(&root)?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("cannot listen on {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let metrics_listener = match opts.metrics_listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} (--metrics-listen)"))?,
        ),
        None => None,
    };
    let metrics_addr = metrics_listener.as_ref().map(|l| l.local_addr()).transpose()?;
    {
        use std::io::{Seek, Write};
        // Who holds the lock, for the message a second service gives.
        let _ = instance.set_len(0);
        let _ = instance.rewind();
        let _ = write!(instance, "pid {}, listening on http://{addr}", std::process::id());
    }
    let (stop_tx, stop) = watch::channel(false);
    let (coordination, look) = match shared {
        Some((c, look)) => (Some(Arc::new(c)), Some(look)),
        None => (None, None),
    };
    let app = Arc::new(App {
        coordination,
        store,
        access: Mutex::new(Some(access)),
        pool: Arc::new(tokio::sync::Semaphore::new(opts.workers.max(1))),
        opts: opts.clone(),
        policy,
        policies,
        runners: Mutex::new(BTreeMap::new()),
        metrics: metrics::Metrics::default(),
        deliveries: Mutex::new((VecDeque::new(), HashSet::new())),
        changes: watch::channel(0).0,
        stop: stop.clone(),
        workers: Mutex::new(Vec::new()),
    });
    for p in hooks::PROVIDERS {
        app.metrics.provider(p.name);
    }
    {
        // Finding a workspace reads the store: blocking work.
        let (app2, ids): (_, Vec<String>) = (app.clone(), workspaces.iter().map(|w| w.id.clone()).collect());
        tokio::task::spawn_blocking(move || {
            for id in ids {
                app2.runner(&id);
            }
        })
        .await?;
    }
    let mut background = vec![tokio::spawn(runner::watch_queues(app.clone(), stop.clone()))];
    if let (Some(look), Some(c)) = (look, app.coordination.as_ref()) {
        tracing::info!(replica = %c.name, "sharing {} with other replicas as `{}`", app.store.describe(), c.name);
        let (app2, name, stop2) = (app.clone(), c.name.clone(), stop.clone());
        background.push(tokio::task::spawn_blocking(move || {
            replicas::look(app2, look, name, stop2)
        }));
    }
    if let Some(every) = opts.poll.0 {
        background.push(tokio::spawn(runner::poll(app.clone(), every, stop.clone())));
    }
    tracing::info!(
        "listening on http://{addr} for {} workspace{} of {}",
        workspaces.len(),
        if workspaces.len() == 1 { "" } else { "s" },
        root.display()
    );
    // What tests and scripts wait for, on one line: the addresses actually bound (`127.0.0.1:0`
    // picks one).
    match metrics_addr {
        Some(m) => println!("gitsync serve: listening on http://{addr} (metrics on http://{m}/metrics)"),
        None => println!("gitsync serve: listening on http://{addr}"),
    }
    if let Some(l) = metrics_listener {
        let router = router::metrics_router(app.clone());
        let mut stop = stop.clone();
        background.push(tokio::spawn(async move {
            let _ = axum::serve(l, router)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    let router = router::router(app.clone());
    let limits = http::Limits {
        header_timeout: opts.header_timeout,
        max_connections: opts.max_connections,
        shutdown_timeout: opts.shutdown_timeout,
    };
    let server = tokio::spawn(http::serve(listener, router, limits, stop.clone()));
    shutdown_signal().await;
    let stopping = std::time::Instant::now();
    tracing::info!(
        "stopping: no new requests; requests in progress and running passes get at most {:?}",
        opts.shutdown_timeout
    );
    let _ = stop_tx.send(true);
    let handles: Vec<_> = std::mem::take(&mut *app.workers.lock().unwrap_or_else(|p| p.into_inner()));
    let all = futures_join(std::iter::once(server).chain(handles).chain(background).collect());
    if tokio::time::timeout(opts.shutdown_timeout, all).await.is_err() {
        tracing::warn!(
            "still busy after {:?}; stopping anyway (a pass cut short is resumed on the next start)",
            stopping.elapsed()
        );
    }
    tracing::info!("stopped");
    drop(instance);
    Ok(())
}

/// Hold `<data>/serve.lock` for the life of the process (the operating system lets go of it when the
/// process ends, however it ends); a second service on the same data directory is refused, naming the
/// first.
fn one_instance(root: &std::path::Path) -> Result<std::fs::File> {
    let path = root.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            anyhow::bail!(
                "another `gitsync serve` already serves {} ({}); stop it first, or give this one another --data",
                root.display(),
                if holder.is_empty() { "its lock is held" } else { holder }
            )
        }
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// Wait for every task.
async fn futures_join(handles: Vec<tokio::task::JoinHandle<()>>) {
    for h in handles {
        let _ = h.await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_now_is_rfc3339() {
        let t = super::utc_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z') && &t[10..11] == "T", "{t}");
    }
}
