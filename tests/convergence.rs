//! Convergence as a property. A case is a random interleaving of what happens to a synced
//! workspace — edits through the CLI and the API by two people, commits pushed by two other clones
//! (one to three per push: edits to the same resources, deletions, renames, invalid files, syncs
//! whose model comes in a later commit, alias remaps, manifest edits), passes killed at failpoints,
//! passes run by `serve`, resyncs, a backup of the store restored — and then passes with nothing
//! new. After them:
//! - every resource file valid at the branch head (as `gitsync validate` judges it) is in the
//!   workspace as the file says, aliases resolved;
//! - nothing is queued, and the branch's manifest is the workspace's;
//! - every version written in the workspace is in the branch's history or among the kept
//!   conflicts (unless a restored backup took it back before it went anywhere), and the change log
//!   accounts for each change: one `queued` entry and one outcome;
//! - no change was committed twice (each `Gitsync-Change-Id` is in one commit).
//!
//! `cargo test -p gitsync --test convergence` runs cases with seeds 1 to 8 (`.ci/run` runs them).
//! A failing case names its seed; `GITSYNC_TEST_SEED=N cargo test -p gitsync --test convergence`
//! replays it alone, printing each step. A longer search:
//! `GITSYNC_TEST_CASES=200 GITSYNC_TEST_FIRST_SEED=1000 cargo test -p gitsync --test convergence`.

mod common;

use common::service::*;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const PEOPLE: [&str; 2] = ["Ada Lovelace <ada@example.com>", "Grace Hopper <grace@example.com>"];
const COMMITTERS: [&str; 2] = [
    "Linus Pauling <linus@example.com>",
    "Katherine Johnson <kj@example.com>",
];
const WS: &str = "acme-staging";
const RES: &str = "/api/v1/workspaces/acme-staging/resources";
const MODELS: [&str; 4] = ["m0", "m1", "m2", "m3"];
const SYNCS: [&str; 3] = ["s0", "s1", "s2"];
const SOURCES: [&str; 2] = ["staging-postgres", "staging-pg2"];
const ALIASES: &str = "aliases-acme-staging.yaml";
const MANIFEST: &str = "manifest-acme-staging.yaml";
const PASS_FAILPOINTS: [&str; 5] = [
    "inbound-commit-applied",
    "mid-apply",
    "after-commit",
    "before-push",
    "after-push",
];
const RESYNC_FAILPOINTS: [&str; 3] = ["after-commit", "before-push", "before-apply-back"];

/// Every version carries a number of its own (`tableName: t<N>`, `object: O<N>`), so it can be
/// found again wherever it ends up: in a blob of the branch's history, in a kept conflict.
fn model(n: u64, source: &str) -> String {
    format!("name: Model {n}\nsource: {source}\ntype: table\ntableName: t{n}\nisSchema: false\nprimaryKey: id\n")
}

fn sync(n: u64, model: &str, destination: &str) -> String {
    format!(
        "model: {model}\ndestination: {destination}\nconfig:\n  object: O{n}\nschedule: null\nschedulePaused: false\n"
    )
}

fn alias_file(source: &str) -> String {
    format!("sources:\n  aliased-pg: {source}\ndestinations:\n  crm: staging-salesforce\n")
}

/// The value of the line `key: value` in `text`.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
}

/// The version numbers in `text`.
fn markers(text: &str) -> Vec<u64> {
    let mut found = Vec::new();
    for tag in ["tableName: t", "object: O"] {
        for (at, _) in text.match_indices(tag) {
            let digits: String = text[at + tag.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse() {
                found.push(n);
            }
        }
    }
    found
}

/// A change made in the workspace and accepted.
struct Write {
    step: usize,
    kind: &'static str,
    slug: String,
    /// The version's number; none for a delete.
    marker: Option<u64>,
    /// The store's change log still has its `queued` entry (a restored backup takes it back).
    in_log: bool,
    /// A restored backup took it back before it reached the branch or a kept conflict.
    taken_back: bool,
}

struct Case {
    seed: u64,
    rng: Rng,
    remote: Remote,
    clones: [PathBuf; 2],
    data: PathBuf,
    service: Option<Service>,
    tokens: Vec<String>,
    next: u64,
    step: usize,
    writes: Vec<Write>,
    /// The folder holding the store's files as copied, and how many writes had been made then.
    backup: Option<(PathBuf, usize)>,
    manifest: String,
}

impl Case {
    fn new(seed: u64) -> Case {
        let remote = Remote::new(true);
        let data = remote.workspace("staging");
        ok_with_data(
            &data,
            &[
                "workspace",
                "add-source",
                "staging-pg2",
                "--name",
                "Staging Postgres 2",
                "--type",
                "postgres",
            ],
        );
        ok_with_data(&data, &["connect", "--repo", &remote.url, "--branch", "main"]);
        ok_with_data(&data, &["sync"]);
        let other = remote.root.join("other");
        git(
            &remote.root,
            &["clone", "-q", remote.bare.to_str().unwrap(), other.to_str().unwrap()],
        );
        let manifest = git(&remote.bare, &["show", &format!("main:{MANIFEST}")]);
        let tokens = PEOPLE.iter().map(|p| token(&data, p, &[])).collect();
        let mut case = Case {
            seed,
            rng: Rng::seeded(seed),
            clones: [remote.person.clone(), other],
            remote,
            data,
            service: None,
            tokens,
            next: 0,
            step: 0,
            writes: Vec::new(),
            backup: None,
            manifest,
        };
        case.push_commits(0, vec![vec![(ALIASES.to_string(), Some(alias_file(SOURCES[0])))]]);
        case.start_service();
        case
    }

    fn say(&self, what: &str) {
        eprintln!("[seed {} step {}] {what}", self.seed, self.step);
    }

    fn number(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// `serve` with no poll and a debounce longer than any case: it runs a pass when it starts and
    /// when asked through the API, nothing else, so a seed replays the same steps.
    fn start_service(&mut self) {
        let s = Service::start(&self.data, &["--debounce", "1h"], &[]);
        s.settled(WS, &self.tokens[0]);
        self.service = Some(s);
    }

    fn service(&self) -> &Service {
        self.service.as_ref().unwrap()
    }

    fn run(&mut self) {
        let steps = 30 + self.rng.below(25);
        for _ in 0..steps {
            self.step += 1;
            match self.rng.below(100) {
                0..22 => self.workspace_put(),
                22..32 => self.workspace_delete(),
                32..58 => self.person_pushes(),
                58..78 => self.pass(),
                78..85 => self.service_pass(),
                85..90 => self.resync(),
                90..95 => self.take_backup(),
                _ => self.restore_backup(),
            }
        }
        self.step += 1;
        self.settle();
        self.check();
    }

    fn workspace_put(&mut self) {
        let who = self.rng.below(2) as usize;
        let n = self.number();
        let (kind, slug, yaml) = if self.rng.chance(60) {
            let source = *self.rng.pick(&SOURCES);
            ("model", *self.rng.pick(&MODELS), model(n, source))
        } else {
            let m = *self.rng.pick(&MODELS);
            ("sync", *self.rng.pick(&SYNCS), sync(n, m, "staging-salesforce"))
        };
        let stored = if self.rng.chance(50) {
            self.say(&format!("API PUT {kind} {slug} #{n} by {}", PEOPLE[who]));
            let r = self
                .service()
                .put_yaml(&format!("{RES}/{kind}/{slug}"), &self.tokens[who], &yaml);
            assert!(matches!(r.status, 200 | 201 | 422), "{}: {}", r.status, r.body);
            r.status != 422
        } else {
            self.say(&format!("CLI put {kind} {slug} #{n} by {}", PEOPLE[who]));
            let file = put_file(&self.data, kind, slug, &yaml);
            let r = run_with_data(&self.data, &put_args(kind, slug, &file, PEOPLE[who]), None);
            assert!(matches!(r.code, 0 | 1), "{}", r.stderr);
            r.code == 0
        };
        if stored {
            self.record(kind, slug, Some(n));
        }
    }

    fn record(&mut self, kind: &'static str, slug: &str, marker: Option<u64>) {
        self.writes.push(Write {
            step: self.step,
            kind,
            slug: slug.to_string(),
            marker,
            in_log: true,
            taken_back: false,
        });
    }

    fn workspace_delete(&mut self) {
        let who = self.rng.below(2) as usize;
        let (kind, slug) = if self.rng.chance(50) {
            ("model", *self.rng.pick(&MODELS))
        } else {
            ("sync", *self.rng.pick(&SYNCS))
        };
        let deleted = if self.rng.chance(50) {
            self.say(&format!("API DELETE {kind} {slug} by {}", PEOPLE[who]));
            let r = self.service().call(
                "DELETE",
                &format!("{RES}/{kind}/{slug}"),
                Some(&self.tokens[who]),
                &[],
                None,
            );
            // 404: there is none; 409: others use it.
            assert!(matches!(r.status, 204 | 404 | 409), "{}: {}", r.status, r.body);
            r.status == 204
        } else {
            self.say(&format!("CLI delete {kind} {slug} by {}", PEOPLE[who]));
            let r = run_with_data(
                &self.data,
                &["workspace", "delete", kind, slug, "--as", PEOPLE[who]],
                None,
            );
            // 1: others use it; 2: there is none.
            let none = format!("no {kind} `{slug}` in this workspace");
            assert!(
                matches!(r.code, 0 | 1) || (r.code == 2 && r.stderr.contains(&none)),
                "{}",
                r.stderr
            );
            r.code == 0
        };
        if deleted {
            self.record(kind, slug, None);
        }
    }

    /// One of the two clones pushes one to three commits, each changing one or two files.
    fn person_pushes(&mut self) {
        let who = self.rng.below(2) as usize;
        let commits = 1 + self.rng.below(3);
        let dir = self.clones[who].clone();
        git(&dir, &["fetch", "-q", "origin"]);
        git(&dir, &["checkout", "-q", "-B", "main", "origin/main"]);
        git(&dir, &["reset", "-q", "--hard", "origin/main"]);
        for c in 0..commits {
            let edits = 1 + self.rng.below(2);
            let mut said = Vec::new();
            for _ in 0..edits {
                said.push(self.person_edits(&dir));
            }
            git(&dir, &["add", "-A"]);
            let message = format!("step {} commit {c}: {}", self.step, said.join("; "));
            self.say(&format!("{} commits: {}", COMMITTERS[who], said.join("; ")));
            git(
                &dir,
                &[
                    "commit",
                    "-q",
                    "--allow-empty",
                    "--author",
                    COMMITTERS[who],
                    "-m",
                    &message,
                ],
            );
        }
        git(&dir, &["push", "-q", "origin", "main"]);
    }

    fn push_commits(&mut self, who: usize, commits: Vec<Vec<(String, Option<String>)>>) {
        let dir = self.clones[who].clone();
        git(&dir, &["fetch", "-q", "origin"]);
        git(&dir, &["checkout", "-q", "-B", "main", "origin/main"]);
        for files in commits {
            for (path, text) in files {
                match text {
                    Some(t) => std::fs::write(dir.join(&path), t).unwrap(),
                    None => {
                        git(&dir, &["rm", "-q", &path]);
                    }
                }
            }
            git(&dir, &["add", "-A"]);
            git(&dir, &["commit", "-q", "--author", COMMITTERS[who], "-m", "set-up"]);
        }
        git(&dir, &["push", "-q", "origin", "main"]);
    }

    /// One change to the clone in `dir`; what it did.
    fn person_edits(&mut self, dir: &Path) -> String {
        let existing: Vec<String> = ["models", "syncs"]
            .iter()
            .flat_map(|k| {
                std::fs::read_dir(dir.join(k))
                    .map(|d| {
                        d.flatten()
                            .map(|e| format!("{k}/{}", e.file_name().to_string_lossy()))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .filter(|p| p.ends_with(".yaml"))
            .collect();
        let write = |path: &str, text: &str| {
            std::fs::create_dir_all(dir.join(path).parent().unwrap()).unwrap();
            std::fs::write(dir.join(path), text).unwrap();
        };
        match self.rng.below(100) {
            0..30 => {
                let n = self.number();
                let slug = *self.rng.pick(&MODELS);
                let source = *self.rng.pick(&["aliased-pg", SOURCES[0], SOURCES[1]]);
                write(&format!("models/{slug}.yaml"), &model(n, source));
                format!("model {slug} #{n} ({source})")
            }
            30..55 => {
                let n = self.number();
                let slug = *self.rng.pick(&SYNCS);
                let m = *self.rng.pick(&MODELS);
                let destination = *self.rng.pick(&["crm", "staging-salesforce"]);
                write(&format!("syncs/{slug}.yaml"), &sync(n, m, destination));
                format!("sync {slug} #{n} (model {m})")
            }
            55..65 if !existing.is_empty() => {
                let path = self.rng.pick(&existing).clone();
                std::fs::remove_file(dir.join(&path)).unwrap();
                format!("delete {path}")
            }
            65..73 if !existing.is_empty() => {
                let path = self.rng.pick(&existing).clone();
                let slugs: &[&str] = if path.starts_with("models/") { &MODELS } else { &SYNCS };
                let folder = path.split('/').next().unwrap().to_string();
                let to = format!("{folder}/{}.yaml", self.rng.pick(slugs));
                if existing.contains(&to) {
                    return format!("no rename onto {to}");
                }
                std::fs::rename(dir.join(&path), dir.join(&to)).unwrap();
                format!("rename {path} to {to}")
            }
            73..82 => {
                if self.rng.chance(50) {
                    let slug = *self.rng.pick(&MODELS);
                    write(&format!("models/{slug}.yaml"), "name: Broken\nsource: [\n");
                    format!("invalid model {slug}")
                } else {
                    let slug = *self.rng.pick(&SYNCS);
                    write(&format!("syncs/{slug}.yaml"), "model: m0\n");
                    format!("invalid sync {slug}")
                }
            }
            82..92 => {
                let source = *self.rng.pick(&SOURCES);
                write(ALIASES, &alias_file(source));
                format!("aliased-pg is {source}")
            }
            _ => {
                write(MANIFEST, "sources: {}\ndestinations: {}\n");
                "edit the manifest".to_string()
            }
        }
    }

    /// A CLI pass, killed at a failpoint three times in ten.
    fn pass(&mut self) {
        let point = self.rng.chance(30).then(|| *self.rng.pick(&PASS_FAILPOINTS));
        self.say(&format!(
            "sync{}",
            point.map(|p| format!(" killed at {p}")).unwrap_or_default()
        ));
        self.run_pass(&["sync"], point);
    }

    fn run_pass(&mut self, args: &[&str], point: Option<&str>) {
        let env = point.map(|p| format!("{p}=abort"));
        let env: Vec<(&str, &str)> = env.iter().map(|e| ("GITSYNC_FAILPOINTS", e.as_str())).collect();
        let r = run_with_env(&self.data, args, None, &env);
        let killed = point.is_some_and(|p| r.stderr.contains(&format!("failpoint {p}: aborting")));
        assert!(
            killed || matches!(r.code, 0 | 1),
            "[seed {} step {}] {args:?} exit {}: {}{}",
            self.seed,
            self.step,
            r.code,
            r.stdout,
            r.stderr
        );
    }

    /// A pass `serve` runs, asked through the API.
    fn service_pass(&mut self) {
        self.say("POST …/sync");
        let s = self.service();
        let before = s.passes(WS, &self.tokens[0]);
        let r = s.call(
            "POST",
            &format!("/api/v1/workspaces/{WS}/sync"),
            Some(&self.tokens[0]),
            &[],
            None,
        );
        assert_eq!(r.status, 202, "{}", r.body);
        let st = s.settled_after(WS, &self.tokens[0], before);
        let outcome = st["last_pass"]["outcome"].as_str().unwrap_or_default().to_string();
        assert!(
            !outcome.contains("fail"),
            "[seed {}] the service's pass: {st}",
            self.seed
        );
    }

    fn resync(&mut self) {
        let who = self.rng.below(2) as usize;
        let point = self.rng.chance(30).then(|| *self.rng.pick(&RESYNC_FAILPOINTS));
        self.say(&format!(
            "resync by {}{}",
            PEOPLE[who],
            point.map(|p| format!(" killed at {p}")).unwrap_or_default()
        ));
        self.run_pass(&["resync", "--yes", "--as", PEOPLE[who]], point);
    }

    fn store_files(&self) -> Vec<PathBuf> {
        let dir = ws_folder(&self.data);
        ["workspace.db", "workspace.db-wal", "workspace.db-shm"]
            .iter()
            .map(|f| dir.join(f))
            .collect()
    }

    /// The store copied aside, as someone backs it up (the service is idle): the data directory's
    /// SQLite files, or a `pg_dump` of the PostgreSQL database.
    fn take_backup(&mut self) {
        self.say("back up the store");
        let to = scratch("backup");
        match store_env(&self.data) {
            Some((_, url)) => {
                let dump = to.join("store.dump");
                let out = command(pg::tool("pg_dump"))
                    .args(["--format=custom", "--file", dump.to_str().unwrap(), &url])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => {
                for f in self.store_files() {
                    if f.exists() {
                        std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
                    }
                }
            }
        }
        self.backup = Some((to, self.writes.len()));
    }

    /// The service stopped, the backup copied back over the store, the service started again.
    fn restore_backup(&mut self) {
        let Some((from, taken_at)) = self.backup.clone() else {
            return self.take_backup();
        };
        self.say(&format!("restore the backup taken after {taken_at} writes"));
        let mut s = self.service.take().unwrap();
        assert!(s.stop().success());
        match store_env(&self.data) {
            Some((_, url)) => {
                let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                let schemas: Vec<String> = db
                    .query(
                        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'gitsync%'",
                        &[],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                for schema in schemas {
                    db.batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE")).unwrap();
                }
                let out = command(pg::tool("pg_restore"))
                    .args(["--dbname", &url, from.join("store.dump").to_str().unwrap()])
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "pg_restore: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            None => {
                for f in self.store_files() {
                    let _ = std::fs::remove_file(&f);
                    let saved = from.join(f.file_name().unwrap());
                    if saved.exists() {
                        std::fs::copy(&saved, &f).unwrap();
                    }
                }
            }
        }
        let kept = self.recoverable();
        for w in &mut self.writes[taken_at..] {
            w.in_log = false;
            if w.marker.is_some_and(|m| !kept.contains(&m)) {
                w.taken_back = true;
            }
        }
        self.start_service();
    }

    /// The version numbers in the branch's history (every blob reachable from `main`) and in the
    /// workspace's kept conflicts.
    fn recoverable(&self) -> BTreeSet<u64> {
        let mut found = BTreeSet::new();
        let objects = git(&self.remote.bare, &["rev-list", "--objects", "main"]);
        for line in objects.lines() {
            let id = line.split(' ').next().unwrap();
            if git(&self.remote.bare, &["cat-file", "-t", id]).trim() == "blob" {
                found.extend(markers(&git(&self.remote.bare, &["cat-file", "blob", id])));
            }
        }
        let conflicts: Value =
            serde_json::from_str(&ok_with_data(&self.data, &["conflicts", "--format", "json"])).unwrap();
        for c in conflicts.as_array().unwrap() {
            found.extend(markers(c["kept_yaml"].as_str().unwrap_or_default()));
        }
        found
    }

    /// Passes until one finds nothing to take in and nothing to push.
    fn settle(&mut self) {
        for round in 0..4 {
            let r = run_with_data(&self.data, &["sync", "--format", "json"], None);
            assert!(
                matches!(r.code, 0 | 1),
                "[seed {}] settling pass {round}: exit {}: {}",
                self.seed,
                r.code,
                r.stderr
            );
            let report: Value = serde_json::from_str(&r.stdout).unwrap();
            let quiet = report["inbound"]["commits"] == 0
                && report["pushed"].as_array().is_none_or(|p| p.is_empty())
                && report["pushed"].as_u64().is_none_or(|p| p == 0);
            if quiet {
                return;
            }
            self.say(&format!("settling pass {round}: {report}"));
        }
        panic!("[seed {}] four passes with nothing new still found work", self.seed);
    }

    fn check(&self) {
        let seed = self.seed;
        let bare = &self.remote.bare;
        // Nothing queued.
        let status: Value = serde_json::from_str(&ok_with_data(&self.data, &["status", "--format", "json"])).unwrap();
        assert_eq!(
            status["queued"],
            serde_json::json!([]),
            "[seed {seed}] still queued: {status}"
        );
        // The manifest on the branch is the workspace's.
        assert_eq!(
            git(bare, &["show", &format!("main:{MANIFEST}")]),
            self.manifest,
            "[seed {seed}] manifest"
        );
        // Every file valid at the head is in the workspace, as the file says.
        let findings = run_with_data(
            &self.data,
            &["validate", "--rev", "main", "--format", "json", bare.to_str().unwrap()],
            None,
        );
        assert!(matches!(findings.code, 0 | 1), "{}", findings.stderr);
        let findings: Value = serde_json::from_str(&findings.stdout).unwrap();
        let invalid: BTreeSet<String> = findings
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["severity"] == "error")
            .map(|f| f["path"].as_str().unwrap_or_default().to_string())
            .collect();
        let aliases = git(bare, &["show", &format!("main:{ALIASES}")]);
        let resolve = |name: &str| -> String { field(&aliases, &format!("  {name}")).unwrap_or(name).to_string() };
        let files = git(bare, &["ls-tree", "-r", "--name-only", "main"]);
        for path in files.lines() {
            let Some((folder, file)) = path.split_once('/') else {
                continue;
            };
            let (Some(kind), Some(slug)) = (
                match folder {
                    "models" => Some("model"),
                    "syncs" => Some("sync"),
                    _ => None,
                },
                file.strip_suffix(".yaml"),
            ) else {
                continue;
            };
            if invalid.contains(path) {
                continue;
            }
            // A valid file is one the generator wrote: the workspace holds it with aliases resolved.
            let text = git(bare, &["show", &format!("main:{path}")]);
            let n = markers(&text)[0];
            let want = match kind {
                "model" => model(n, &resolve(field(&text, "source").unwrap())),
                _ => sync(
                    n,
                    field(&text, "model").unwrap(),
                    &resolve(field(&text, "destination").unwrap()),
                ),
            };
            let got = run_with_data(&self.data, &["workspace", "get", kind, slug], None);
            assert_eq!(
                got.code, 0,
                "[seed {seed}] {path} is valid at the head but not in the workspace: {}",
                got.stderr
            );
            assert_eq!(
                got.stdout, want,
                "[seed {seed}] {path}: the workspace and the head differ"
            );
        }
        // Every version written in the workspace can be found, but what a restore took back.
        let kept = self.recoverable();
        for w in &self.writes {
            if let Some(m) = w.marker
                && !w.taken_back
            {
                assert!(
                    kept.contains(&m),
                    "[seed {seed}] version #{m} of {} {} (step {}) is neither in the branch's history nor kept",
                    w.kind,
                    w.slug,
                    w.step
                );
            }
        }
        // The change log: one `queued` entry per change the store still knows of, and one outcome each.
        let log: Value = serde_json::from_str(&ok_with_data(
            &self.data,
            &["log", "--limit", "100000", "--format", "json"],
        ))
        .unwrap();
        let mut queued: BTreeMap<String, usize> = BTreeMap::new();
        let mut ended: BTreeMap<String, usize> = BTreeMap::new();
        for e in log.as_array().unwrap() {
            if e["direction"] != "OUTBOUND" || e["kind"] == "workspace" {
                continue;
            }
            let key = format!("{} {}", e["kind"].as_str().unwrap(), e["slug"].as_str().unwrap());
            let outcome = e["outcome"].as_str().unwrap();
            if outcome == "queued" || outcome == "queued delete" {
                *queued.entry(key).or_default() += 1;
            } else if !outcome.starts_with("set aside") {
                *ended.entry(key).or_default() += 1;
            }
        }
        let mut made: BTreeMap<String, usize> = BTreeMap::new();
        for w in self.writes.iter().filter(|w| w.in_log) {
            *made.entry(format!("{} {}", w.kind, w.slug)).or_default() += 1;
        }
        assert_eq!(
            queued, made,
            "[seed {seed}] `queued` entries in the change log against changes made"
        );
        assert_eq!(
            ended, queued,
            "[seed {seed}] outcomes in the change log against `queued` entries"
        );
        // No change committed twice.
        let ids = git(
            bare,
            &["log", "main", "--format=%(trailers:key=Gitsync-Change-Id,valueonly)"],
        );
        let mut seen = BTreeSet::new();
        for id in ids.lines().map(str::trim).filter(|l| !l.is_empty()) {
            assert!(
                seen.insert(id.to_string()),
                "[seed {seed}] change {id} was committed twice"
            );
        }
    }
}

/// The seeds to run: `GITSYNC_TEST_SEED` alone, or `GITSYNC_TEST_CASES` (8) from
/// `GITSYNC_TEST_FIRST_SEED` (1) on.
fn seeds() -> Vec<u64> {
    if let Some(seed) = test_seed() {
        return vec![seed];
    }
    let number = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .map(|v| {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
            })
            .unwrap_or(default)
    };
    let first = number("GITSYNC_TEST_FIRST_SEED", 1);
    (first..first + number("GITSYNC_TEST_CASES", 8)).collect()
}

#[test]
fn random_histories_converge() {
    for seed in seeds() {
        eprintln!("case seed {seed} (replay: GITSYNC_TEST_SEED={seed} cargo test -p gitsync --test convergence)");
        Case::new(seed).run();
    }
}
