//! A throwaway PostgreSQL server for the tests: `initdb` into a fresh folder and `postgres` on a free
//! loopback port, run as the `postgres` user when the tests run as root (both refuse root). One
//! server per test binary, started on first use; it gets SIGINT (a fast shutdown) when the test
//! process ends (`PR_SET_PDEATHSIG`, set on a thread that lives as long as the process), so nothing
//! outlives the tests. Each test takes a database of its own.

use super::*;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Postgres {
    pub port: u16,
    password: String,
    /// Its folder (the cluster under `data/`, the logs).
    dir: PathBuf,
    /// The server process.
    pid: std::sync::atomic::AtomicU32,
}

/// The binaries of the newest PostgreSQL installed (Debian's `postgresql` package), installing it
/// with tests/support/install-postgres.sh when it is missing.
fn bin_dir() -> PathBuf {
    let newest = || -> Option<PathBuf> {
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .flatten()
            .filter_map(|e| {
                let v: u32 = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").exists().then_some((v, bin))
            })
            .collect();
        found.sort();
        found.pop().map(|(_, b)| b)
    };
    if let Some(b) = newest() {
        return b;
    }
    let status = command("bash")
        .arg(root().join("tests/support/install-postgres.sh"))
        .status()
        .expect("bash");
    assert!(status.success(), "tests/support/install-postgres.sh failed");
    newest().expect("PostgreSQL's initdb after installing it")
}

/// The uid and gid the server runs as: `postgres`'s when the tests run as root, else ours.
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let id = |flag: &str| -> u32 {
        let out = command("id").args([flag, "postgres"]).output().expect("id");
        assert!(
            out.status.success(),
            "no `postgres` user: install Debian's postgresql package"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    Some((id("-u"), id("-g")))
}

/// `cmd` as the server's user, and (for the server) ended with SIGINT when the thread that spawned
/// it ends.
fn as_server_user(cmd: &mut Command, die_with_parent: bool) {
    use std::os::unix::process::CommandExt;
    let user = server_user();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if let Some((uid, gid)) = user
                && (libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0)
            {
                return Err(std::io::Error::last_os_error());
            }
            // After the user change, which would clear it.
            if die_with_parent && libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn start() -> Postgres {
    start_in(&format!("gitsync-test-pg-{}", std::process::id()))
}

/// A server in the temporary folder `name`.
fn start_in(name: &str) -> Postgres {
    let bin = bin_dir();
    // Servers of earlier runs ended with their processes; their folders go too.
    for e in std::fs::read_dir(std::env::temp_dir()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("gitsync-test-pg-").and_then(|r| r.split('-').next())
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
    let dir = std::env::temp_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let password = format!("pw{:x}", std::process::id() as u64 * 2_654_435_761);
    std::fs::write(dir.join("pwfile"), &password).unwrap();
    if let Some((uid, gid)) = server_user() {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        std::os::unix::fs::chown(dir.join("pwfile"), Some(uid), Some(gid)).unwrap();
    }
    let data = dir.join("data");
    let mut initdb = command(bin.join("initdb"));
    initdb.args(["-D", data.to_str().unwrap(), "-U", "gitsync", "-E", "UTF8", "--no-sync"]);
    initdb.args(["--auth-local=trust", "--auth-host=scram-sha-256"]);
    initdb.arg(format!("--pwfile={}", dir.join("pwfile").display()));
    as_server_user(&mut initdb, false);
    let out = initdb.output().expect("initdb");
    assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
    for attempt in 0.. {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if let Some(pid) = launch(&dir, port, &password, attempt) {
            return Postgres {
                port,
                password,
                dir,
                pid: pid.into(),
            };
        }
        assert!(attempt < 5, "postgres did not start: see {}", dir.display());
    }
    unreachable!()
}

/// Run the server of `dir` on `port`: its pid once it takes connections, none when it ended (the
/// port was taken meanwhile).
fn launch(dir: &Path, port: u16, password: &str, attempt: usize) -> Option<u32> {
    let (bin, data) = (bin_dir(), dir.join("data"));
    {
        let mut server = command(bin.join("postgres"));
        server.args([
            "-D",
            data.to_str().unwrap(),
            "-p",
            &port.to_string(),
            "-k",
            dir.to_str().unwrap(),
        ]);
        server.args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "max_connections=300",
        ]);
        server.stdout(std::process::Stdio::null());
        server.stderr(std::fs::File::create(dir.join(format!("server-{attempt}.log"))).unwrap());
        as_server_user(&mut server, true);
        // The thread that spawns the server lives as long as the process: the server's
        // parent-death signal is tied to it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let child = server.spawn();
            let failed = child.is_err();
            let _ = tx.send(child.map(|mut c| (c.id(), c.try_wait().ok().flatten())));
            if !failed {
                loop {
                    std::thread::park();
                }
            }
        });
        let (pid, _) = rx.recv().unwrap().expect("postgres");
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(30) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && postgres::Client::connect(&url(port, password, "postgres"), postgres::NoTls).is_ok()
            {
                return Some(pid);
            }
            if !running(pid) {
                return None; // it ended: the port was taken meanwhile; try another
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }
}

/// Whether process `pid` runs (not ended, nor ended and waiting to be reaped).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// A server of the calling test's own (one that the test stops and starts again), in a folder
/// cleaned up like the shared one's.
pub fn own_server(name: &str) -> Postgres {
    start_in(&format!("gitsync-test-pg-{}-{name}", std::process::id()))
}

/// A PostgreSQL program of the installed version (`pg_dump`, `pg_restore`).
pub fn tool(name: &str) -> PathBuf {
    bin_dir().join(name)
}

fn url(port: u16, password: &str, db: &str) -> String {
    format!("postgres://gitsync:{password}@127.0.0.1:{port}/{db}")
}

/// The test binary's server, started on first use.
pub fn server() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(start)
}

impl Postgres {
    /// A new, empty database: its URL, password included.
    pub fn database(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("t{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
        let mut admin =
            postgres::Client::connect(&url(self.port, &self.password, "postgres"), postgres::NoTls).unwrap();
        // The name is ours (digits and `_`), not input.
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        url(self.port, &self.password, &name)
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// Stop the server (a fast shutdown: sessions are cut, what was committed is kept) and return
    /// once it has ended.
    pub fn stop(&self) {
        let pid = self.pid.load(Ordering::SeqCst);
        // SAFETY: kill has no memory preconditions.
        unsafe { libc::kill(pid as i32, libc::SIGINT) };
        let started = std::time::Instant::now();
        while running(pid) || self.dir.join("data/postmaster.pid").exists() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(30),
                "postgres did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Start it again, on the same port.
    pub fn start_again(&self) {
        let pid = (0..5)
            .find_map(|attempt| launch(&self.dir, self.port, &self.password, 10 + attempt))
            .unwrap_or_else(|| panic!("postgres did not start again: see {}", self.dir.display()));
        self.pid.store(pid, Ordering::SeqCst);
    }
}
