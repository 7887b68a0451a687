//! Helpers shared by the end-to-end tests: scratch folders, the binary, example repositories.
#![allow(dead_code)]

pub mod service;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gitsync")
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A fresh folder under cargo's test temp dir, inside this run's folder (see [`run_folder`]).
pub fn scratch(name: &str) -> PathBuf {
    fresh(&run_folder(Path::new(env!("CARGO_TARGET_TMPDIR"))), name)
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
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
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
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env("GITSYNC_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
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
    let out = Command::new("git")
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

/// `run_with_data` with extra environment variables.
pub fn run_with_env(data: &Path, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env("GITSYNC_CACHE_DIR", shared_cache())
        .env("NO_COLOR", "1")
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

/// A free TCP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait until something accepts connections on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let start = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed().as_secs() < 30, "{what} did not start on port {port}");
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// `git daemon` serving the bare repositories under `root` on loopback, pushes allowed; stopped on drop.
pub struct GitDaemon {
    child: std::process::Child,
    pub port: u16,
}

impl GitDaemon {
    pub fn start(root: &Path) -> GitDaemon {
        let port = free_port();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={}", root.display()))
            .arg(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("git daemon starts (it ships with git)");
        wait_for_port(port, "git daemon");
        GitDaemon { child, port }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OpenSSH server on loopback with its own host key and authorized keys, for ssh:// remotes;
/// stopped on drop. `home` holds `.ssh/known_hosts` with the server's key: run clients with
/// `HOME=home` so host keys are checked for real.
pub struct Sshd {
    child: std::process::Child,
    pub port: u16,
    pub home: PathBuf,
    pub user: String,
}

impl Sshd {
    /// Start one that accepts the public keys `authorized` (paths of `.pub` files).
    pub fn start(dir: &Path, authorized: &[PathBuf]) -> Sshd {
        if !Path::new("/usr/sbin/sshd").exists() {
            let st = Command::new("bash")
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
        let port = free_port();
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
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd starts");
        wait_for_port(port, "sshd");
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
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        Sshd {
            child,
            port,
            home,
            user,
        }
    }

    pub fn url(&self, bare: &Path) -> String {
        format!("ssh://{}@127.0.0.1:{}{}", self.user, self.port, bare.display())
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ssh-keygen` an ed25519 key pair at `path` (and `path.pub`) with `passphrase` ("" for none).
pub fn keygen(path: &Path, passphrase: &str) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", passphrase, "-C", "gitsync-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success(), "ssh-keygen failed");
}

/// Smart HTTP (`git http-backend`) on loopback that wants `token` as the basic-auth password, serving
/// the bare repositories under `root`; stopped on drop.
pub struct GitHttp {
    child: std::process::Child,
    pub port: u16,
}

impl GitHttp {
    pub fn start(root: &Path, token: &str) -> GitHttp {
        let port = free_port();
        let child = Command::new("python3")
            .arg(crate::common::root().join("tests/support/git-http-server.py"))
            .arg(port.to_string())
            .arg(root)
            .arg(token)
            .spawn()
            .expect("python3 runs the test HTTP server");
        wait_for_port(port, "the Git HTTP server");
        GitHttp { child, port }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }
}

impl Drop for GitHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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

    /// `subject|author` of every commit on `branch`, newest first.
    pub fn history(&self, branch: &str) -> Vec<String> {
        git(&self.bare, &["log", "--format=%s|%an", branch])
            .lines()
            .map(String::from)
            .collect()
    }
}

/// Third-party test data fetched, pinned, from package registries by tests/support/fetch-testdata.sh
/// (`json-schema-test-suite`, `sarif-validator`): fetched on first use when `.ci/run` has not.
pub fn testdata(name: &str) -> PathBuf {
    let dir = root().join("target/testdata").join(name);
    let ready = match name {
        "sarif-validator" => dir.join("node_modules/.bin/sarif-multitool").exists(),
        _ => dir.join("tests").is_dir(),
    };
    if !ready {
        let status = Command::new("bash")
            .arg(root().join("tests/support/fetch-testdata.sh"))
            .status()
            .expect("bash runs tests/support/fetch-testdata.sh");
        assert!(
            status.success(),
            "tests/support/fetch-testdata.sh failed (it needs the PyPI and npm registries)"
        );
    }
    dir
}

/// What Microsoft's SARIF validator (`sarif-multitool validate`) reports as errors about a SARIF
/// log: schema violations (JSON…) and SARIF rule violations (SARIF1…), one line each.
pub fn sarif_validator_errors(sarif: &str) -> Vec<String> {
    let tool = testdata("sarif-validator").join("node_modules/.bin/sarif-multitool");
    let dir = scratch("sarif");
    let (input, output) = (dir.join("input.sarif"), dir.join("validation.sarif"));
    std::fs::write(&input, sarif).unwrap();
    let out = Command::new(&tool)
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

/// The folder of the only workspace of data directory `data` (its store, checkout and lock).
pub fn ws_folder(data: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(data.join("workspaces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(found.len(), 1, "one workspace in {}", data.display());
    found.pop().unwrap()
}
