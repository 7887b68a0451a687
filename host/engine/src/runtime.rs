//! The WebAssembly runtime: one engine, components compiled once and cached on disk, a sandboxed
//! store per call with memory and time limits.

use anyhow::{Context, Result, anyhow};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Limits every policy call runs under.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Linear memory a component may grow to.
    pub memory_bytes: usize,
    /// Wall time one call may take before it is interrupted.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 1 << 30,
            timeout: Duration::from_secs(60),
        }
    }
}

/// How often the epoch advances; deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(10);

/// Per-store state: an empty WASI context (no files, no network, no environment, frozen clocks).
pub(crate) struct Sandbox {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
    /// What the component wrote to stdout and stderr (plugins' stores only).
    pub(crate) output: Option<Output>,
}

/// The most of a call's stdout and stderr kept; the rest is counted, not stored.
pub const OUTPUT_LIMIT: usize = 64 << 10;

/// A component's stdout and stderr, as one bounded log: the first [`OUTPUT_LIMIT`] bytes are kept,
/// what follows is counted. Writes never fail (a chatty plugin must not trap for it).
#[derive(Clone, Default)]
pub(crate) struct Output(std::sync::Arc<std::sync::Mutex<(Vec<u8>, usize)>>);

impl Output {
    fn push(&self, bytes: &[u8]) {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let room = OUTPUT_LIMIT.saturating_sub(inner.0.len());
        let keep = bytes.len().min(room);
        inner.0.extend_from_slice(&bytes[..keep]);
        inner.1 += bytes.len() - keep;
    }

    /// What was written, and how many bytes past the limit were dropped.
    pub(crate) fn take(&self) -> (String, usize) {
        let inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        (String::from_utf8_lossy(&inner.0).into_owned(), inner.1)
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Output {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::OutputStream for Output {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), wasmtime_wasi::p2::StreamError> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), wasmtime_wasi::p2::StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, wasmtime_wasi::p2::StreamError> {
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for Output {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.push(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

impl wasmtime_wasi::cli::IsTerminal for Output {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for Output {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A clock that never moves: policies must not depend on the time of day.
struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// WASI capabilities a plugin is granted by the repository's config; none by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    pub clock: bool,
    pub random: bool,
}

/// The engine, the linker and the compiled-component cache, shared by every call.
pub struct Runtime {
    engine: Engine,
    linker: Linker<Sandbox>,
    cache_dir: Option<PathBuf>,
    limits: Limits,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// Where compiled components are cached: `GITSYNC_CACHE_DIR`, else the user's cache folder.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GITSYNC_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("gitsync"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("gitsync"))
}

impl Runtime {
    pub fn new(cache_dir: Option<PathBuf>, limits: Limits) -> Result<Runtime> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // `GITSYNC_PERFMAP=1` names functions in `perf report`; `=jitdump` also keeps their code
        // for `perf inject --jit` and `perf annotate`.
        #[cfg(feature = "perfmap")]
        if let Some(how) = std::env::var_os("GITSYNC_PERFMAP") {
            config.profiler(if how == "jitdump" {
                wasmtime::ProfilingStrategy::JitDump
            } else {
                wasmtime::ProfilingStrategy::PerfMap
            });
        }
        let engine = Engine::new(&config).map_err(anyhow::Error::from)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (e, stop) = (engine.clone(), stop_ticker.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(TICK);
                e.increment_epoch();
            }
        });
        Ok(Runtime {
            engine,
            linker,
            cache_dir,
            limits,
            stop_ticker,
        })
    }

    /// A fresh store for one call, with the limits applied.
    pub(crate) fn store(&self) -> Store<Sandbox> {
        self.store_with(self.limits, &Grants::default())
    }

    /// A store with its own limits and capabilities (for plugins).
    pub(crate) fn store_with(&self, limits: Limits, grants: &Grants) -> Store<Sandbox> {
        let mut builder = wasmtime_wasi::WasiCtxBuilder::new();
        // What a plugin prints (its logs, a panic's message) is kept for its author to see.
        let output = Output::default();
        builder.stdout(output.clone()).stderr(output.clone());
        if !grants.clock {
            builder.wall_clock(FrozenClock).monotonic_clock(FrozenClock);
        }
        if !grants.random {
            // A fixed byte cycle: the same "random" bytes on every run, so policies stay deterministic.
            builder
                .insecure_random_seed(0)
                .secure_random(wasmtime_wasi::Deterministic::new((0u8..=255).collect()));
        }
        let wasi = builder.build();
        let ticks = (limits.timeout.as_millis() / TICK.as_millis()).max(1) as u64;
        let limits = StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .trap_on_grow_failure(true)
            .instances(16)
            .build();
        let mut store = Store::new(
            &self.engine,
            Sandbox {
                wasi,
                table: ResourceTable::new(),
                limits,
                output: Some(output),
            },
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        store
    }

    /// The per-call time limit in epoch ticks.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        (self.limits.timeout.as_millis() / TICK.as_millis()).max(1) as u64
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Load a component, compiling it only when the cache has no build of these exact bytes for
    /// this engine configuration.
    pub fn load(&self, path: &Path) -> Result<Component> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read policy component {}", path.display()))?;
        let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        self.load_bytes(&bytes, &sha, &path.display().to_string())
    }

    /// Load a component from bytes whose SHA-256 (hex) the caller knows, e.g. one embedded in the
    /// binary with its hash computed at build time; `what` names it in errors.
    pub fn load_bytes(&self, bytes: &[u8], sha256: &str, what: &str) -> Result<Component> {
        let Some(dir) = &self.cache_dir else {
            return Component::new(&self.engine, bytes)
                .map_err(|e| anyhow::Error::from(e).context(format!("cannot compile {what}")));
        };
        let mut compat = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut compat);
        let mut key = Sha256::new();
        key.update(sha256.as_bytes());
        key.update(compat.finish().to_le_bytes());
        key.update(env!("CARGO_PKG_VERSION").as_bytes());
        let key: String = key.finalize().iter().map(|b| format!("{b:02x}")).collect();
        let cached = dir.join(format!("{key}.cwasm"));
        if cached.is_file() {
            // SAFETY: the file was written by `precompile_component` of an engine with the same
            // compatibility hash (it is in the key), in a cache folder only this tool writes.
            if let Ok(c) = unsafe { Component::deserialize_file(&self.engine, &cached) } {
                return Ok(c);
            }
        }
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| anyhow::Error::from(e).context(format!("cannot compile {what}")))?;
        // A cache we cannot write to only costs time.
        if std::fs::create_dir_all(dir).is_ok() {
            let tmp = dir.join(format!("{key}.{}.tmp", std::process::id()));
            if std::fs::write(&tmp, &compiled).is_ok() {
                let _ = std::fs::rename(&tmp, &cached);
            }
            let _ = std::fs::remove_file(&tmp);
        }
        // SAFETY: `compiled` was produced just now by this engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(anyhow::Error::from)
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub(crate) fn linker(&self) -> &Linker<Sandbox> {
        &self.linker
    }
}

/// Why a call into a component failed, in words a user can act on.
pub(crate) fn describe_failure(err: &wasmtime::Error, limits: Limits) -> String {
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        return match trap {
            wasmtime::Trap::Interrupt => format!("ran past its time limit of {:?}", limits.timeout),
            wasmtime::Trap::StackOverflow => "overflowed its stack".to_string(),
            wasmtime::Trap::UnreachableCodeReached => "trapped (a panic or `unreachable`)".to_string(),
            other => format!("trapped: {other}"),
        };
    }
    let text = format!("{err:#}");
    if text.contains("memory") && (text.contains("grow") || text.contains("limit")) {
        return format!("exceeded its memory limit of {} MiB", limits.memory_bytes >> 20);
    }
    text.lines().next().unwrap_or("failed").to_string()
}

pub(crate) fn not_found(dir: &Path, name: &str) -> anyhow::Error {
    anyhow!(
        "built-in policy `{name}` not found at {}; --policies DIR must name a folder holding schema.wasm, aliases.wasm, deps.wasm, contracts.wasm and workspace.wasm (leave it out to use the components built into gitsync)",
        dir.join(format!("{name}.wasm")).display()
    )
}
