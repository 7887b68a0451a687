//! Named points in a sync pass where the crash-safety tests stop the process or hold it.
//!
//! Compiled only with the `failpoints` feature, which the tests turn on (host/Cargo.toml: the package
//! is its own dev-dependency with that feature); a built or installed gitsync has none of this.
//! Even then inactive unless `GITSYNC_FAILPOINTS` is set (`name=abort` or `name=pause`, comma-separated).
//! `abort` ends the process on the spot, as `kill -9` would: no destructor, no flush, no rollback
//! but SQLite's own. `pause` creates `<GITSYNC_FAILPOINT_DIR>/<name>` and waits (at most 60 s) until
//! the file is removed, the first time the point is reached, so a test can act on the remote in the middle of a pass.

#[cfg(feature = "failpoints")]
use std::time::{Duration, Instant};

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}

#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    let Ok(spec) = std::env::var("GITSYNC_FAILPOINTS") else {
        return;
    };
    for item in spec.split(',') {
        match item.split_once('=') {
            Some((n, "abort")) if n == name => {
                eprintln!("failpoint {name}: aborting");
                std::process::abort();
            }
            Some((n, "pause")) if n == name => pause(name),
            _ => {}
        }
    }
}

#[cfg(feature = "failpoints")]
fn pause(name: &str) {
    // Hold the process the first time only: a retry passes through the same point again.
    static PAUSED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut paused = PAUSED.lock().unwrap_or_else(|e| e.into_inner());
    if paused.iter().any(|p| p == name) {
        return;
    }
    paused.push(name.to_string());
    drop(paused);
    let dir = std::env::var_os("GITSYNC_FAILPOINT_DIR").map_or_else(std::env::temp_dir, Into::into);
    let marker = dir.join(name);
    if std::fs::write(&marker, b"").is_err() {
        return;
    }
    let start = Instant::now();
    while marker.exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
}
