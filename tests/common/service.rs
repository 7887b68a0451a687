//! Helpers for tests and benchmarks of `gitsync serve`: the service started on a free loopback port,
//! an HTTP client, tokens, webhook signatures.

use super::*;
use serde_json::Value;
use std::io::BufRead;
use std::io::BufReader;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running `gitsync serve` in a process group of its own; `stop` ends it with SIGTERM, dropping
/// it kills the group.
pub struct Service {
    pub child: Option<Child>,
    pub base: String,
    /// The URL of `/metrics` on `--metrics-listen`, when given.
    pub metrics: Option<String>,
    /// Its standard error: the log.
    pub log: std::path::PathBuf,
    agent: ureq::Agent,
}

pub struct Reply {
    pub status: u16,
    pub body: String,
    /// `X-Request-Id`.
    pub request_id: Option<String>,
    /// Every header, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// The value of header `name` (lower case), if the answer has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Service {
    pub fn start(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Service {
        Service::start_wrapped(&[], data, extra, env)
    }

    /// `start`, with the binary run through `wrapper` (say `prlimit --nofile=128 --`).
    pub fn start_wrapped(wrapper: &[&str], data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Service {
        let log = scratch("serve-log").join("stderr.log");
        // Defaults for tests (no poll, a short debounce) unless the caller sets them.
        let mut defaults = Vec::new();
        for (flag, value) in [("--poll", "off"), ("--debounce", "200ms")] {
            if !extra.contains(&flag) {
                defaults.extend([flag, value]);
            }
        }
        use std::os::unix::process::CommandExt;
        let mut cmd = gitsync();
        if let Some((k, v)) = store_env(data) {
            cmd.env(k, v);
        }
        if let Some((first, rest)) = wrapper.split_first() {
            // The same environment, another program in front.
            let envs: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)> = cmd
                .get_envs()
                .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_owned())))
                .collect();
            cmd = command(first);
            for (k, v) in envs {
                match v {
                    Some(v) => cmd.env(k, v),
                    None => cmd.env_remove(k),
                };
            }
            cmd.args(rest).arg(bin());
        }
        let mut child = cmd
            .process_group(0)
            .arg("--data")
            .arg(data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(&defaults)
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // `gitsync serve: listening on http://A` and, with --metrics-listen, ` (metrics on http://B/metrics)`.
        let rest = line
            .trim()
            .strip_prefix("gitsync serve: listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line: {line:?}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        let base = rest.split_whitespace().next().unwrap_or_default().to_string();
        let metrics = rest
            .split_once("(metrics on ")
            .map(|(_, m)| m.trim_end_matches(')').to_string());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Service {
            child: Some(child),
            base,
            metrics,
            log,
            agent,
        }
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut res = match body {
            Some(b) => self.agent.run(req.body(b.to_vec()).unwrap()),
            None => self.agent.run(req.body(()).unwrap()),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        Reply {
            status: res.status().as_u16(),
            request_id: res
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(String::from),
            headers: res
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect(),
            body: res.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    /// `call`, or none when the request could not be made or answered (connection refused, reset).
    pub fn try_call(&self, method: &str, path: &str) -> Option<Reply> {
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .body(())
            .unwrap();
        let mut res = self.agent.run(req).ok()?;
        Some(Reply {
            status: res.status().as_u16(),
            request_id: None,
            headers: Vec::new(),
            body: res.body_mut().read_to_string().unwrap_or_default(),
        })
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), &[], None)
    }

    pub fn put_yaml(&self, path: &str, token: &str, yaml: &str) -> Reply {
        self.call(
            "PUT",
            path,
            Some(token),
            &[("Content-Type", "application/yaml")],
            Some(yaml.as_bytes()),
        )
    }

    /// SIGTERM, then the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        signal(self.child.as_ref().unwrap(), "TERM");
        self.wait_exit()
    }

    /// The exit status, once the process has ended (at most 40 s).
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed() < Duration::from_secs(40), "the service did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Service {
    /// `GET /api/v1/workspaces/{ws}/status`, parsed.
    pub fn status(&self, ws: &str, token: &str) -> Value {
        let r = self.get(&format!("/api/v1/workspaces/{ws}/status"), token);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// The number of the last pass the service ended for `ws` (0: none yet).
    pub fn passes(&self, ws: &str, token: &str) -> u64 {
        self.status(ws, token)["last_pass"]["number"].as_u64().unwrap_or(0)
    }

    /// The status once a pass numbered above `after` has ended and none runs. Everything that pass
    /// recorded is in it (the service reads its pass state before the store). Call it after seeing
    /// what a pass did (a commit on the remote): the pass that did it is then over.
    pub fn settled_after(&self, ws: &str, token: &str, after: u64) -> Value {
        let mut st = Value::Null;
        eventually(&format!("a pass after pass {after} ended, none running"), || {
            st = self.status(ws, token);
            st["running"] == false && st["last_pass"]["number"].as_u64().unwrap_or(0) > after
        });
        st
    }

    /// The status once the service has ended at least one pass for `ws` and none runs.
    pub fn settled(&self, ws: &str, token: &str) -> Value {
        self.settled_after(ws, token, 0)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(child.id());
            let _ = child.wait();
        }
    }
}

pub fn signal(child: &Child, name: &str) {
    let ok = command("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// A token for `author` (`--scope`/`--read-only` in `extra`).
pub fn token(data: &Path, author: &str, extra: &[&str]) -> String {
    let mut args = vec!["token", "create", "--as", author, "--format", "json"];
    args.extend_from_slice(extra);
    let v: Value = serde_json::from_str(&ok_with_data(data, &args)).unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// `sha256=<hex>` as GitHub signs, computed by Python's `hmac` (an implementation independent of
/// gitsync's).
pub fn github_signature(secret: &str, body: &str) -> String {
    use std::io::Write;
    let mut child = command("python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).hexdigest())",
            secret,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    format!("sha256={}", String::from_utf8(out.stdout).unwrap().trim())
}
