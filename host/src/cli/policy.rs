//! `gitsync policy …`: list, inspect, scaffold and test plugin components.

use super::{EXIT_FINDINGS, EXIT_OK, Global, SummaryFormat, write_out};
use crate::checks::{self, Extensions, ValidateOptions};
use anyhow::{Context, Result};
use clap::Subcommand;
use gitsync_core::diag::codes;
use gitsync_engine::plugins;
use gitsync_engine::{BuiltinPolicies, Builtins, Limits, Runtime};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(super) enum PolicyCommand {
    /// List the built-in policies and every plugin that would run on a repository, with metadata and source.
    #[command(
        after_help = "Examples:\n  gitsync policy list\n  gitsync policy list path/to/repo --policy my-rule.wasm --format json"
    )]
    List {
        /// The repository (its .gitsync/policies/ and .gitsync/config.yaml are read).
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Also load this plugin component (repeatable).
        #[arg(long = "policy", value_name = "FILE")]
        policy_files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// Create a plugin crate (Rust, gitsync-sdk) that builds and passes its own tests out of the box.
    ///
    /// The crate holds its own copy of the SDK (`sdk/`, as `policy sdk` writes it) and a Cargo.lock
    /// pinning every dependency to the version this gitsync was tested with, so the folder builds
    /// anywhere: copy it, commit it, build it in CI.
    #[command(
        after_help = "Needs Rust with the wasm32-wasip2 target: rustup target add wasm32-wasip2\n\nExamples:\n  gitsync policy new acme-keys && cd acme-keys && cargo test && cargo build --target wasm32-wasip2 --release\n  gitsync policy new acme-keys --sdk ~/gitsync-sdk      # share one SDK folder (from `policy sdk`) instead of a copy"
    )]
    New {
        name: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Depend on this SDK (a folder `policy sdk` wrote, or a gitsync-sdk crate) instead of a copy.
        #[arg(long, value_name = "DIR")]
        sdk: Option<PathBuf>,
    },
    /// Write the plugin SDK (the gitsync-sdk crate, what it builds on, and the WIT) into a folder.
    ///
    /// The SDK is this binary's own: refresh a plugin's copy after upgrading gitsync, then rebuild it.
    #[command(
        after_help = "Examples:\n  gitsync policy sdk --out acme-keys/sdk       # refresh the copy `policy new` made\n  gitsync policy sdk --out ~/gitsync-sdk       # one copy for several plugins (policy new --sdk)"
    )]
    Sdk {
        /// The folder to write into: new, empty, or an SDK written before (refreshed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Run a plugin against fixture repositories; each holds an expected.json of findings.
    #[command(
        after_help = "Each fixture is a small repository (optionally with .gitsync/config.yaml) and an expected.json,\neither a list of findings or an object:\n  [{\"code\": \"ACME001\", \"path\": \"models/orders.yaml\", \"line\": 6}]\n  {\"changed\": [\"models/orders.yaml\"], \"findings\": [...]}      # plugins see these files as changed (as under `check`)\n  {\"settings_error\": \"must be a regex\"}                      # the plugin must reject its settings so\nA finding needs `code` and `path`; `line`, `column`, `severity`, `message` (a substring) and\n`workspace` are compared when given. Findings are compared as a set, in any order; only the\nplugin's own codes (and GS009) count. Unknown keys are an error.\n\nExamples:\n  gitsync policy test target/wasm32-wasip2/release/acme_keys.wasm tests/fixtures/*\n  gitsync policy test acme.wasm tests/fixtures/* --update          # write what it found\n  gitsync policy test --watch target/wasm32-wasip2/release/acme_keys.wasm tests/fixtures/*   # rebuild and rerun on save\n  gitsync policy test acme.wasm tests/fixtures/* --format junit > junit.xml"
    )]
    Test {
        plugin: PathBuf,
        #[arg(required = true)]
        fixtures: Vec<PathBuf>,
        /// Rewrite each fixture's expected.json from what the plugin found.
        #[arg(long, conflicts_with = "watch")]
        update: bool,
        /// Keep running: on every change in the current folder (the plugin's crate or npm package)
        /// rebuild the plugin (`cargo build --target wasm32-wasip2 [--release]`, or `npm run build`)
        /// and rerun; a change to a fixture only reruns. Ctrl-C stops.
        #[arg(long)]
        watch: bool,
        #[arg(long, value_enum, default_value = "human")]
        format: TestFormat,
    },
    /// Print, as JSON, the context a plugin receives for a repository: resources with spans,
    /// per-workspace resolutions, changed files, and each enabled plugin's settings.
    #[command(
        after_help = "Examples:\n  gitsync policy context | jq '.resources[0]'\n  gitsync policy context path/to/repo --changed models/orders.yaml"
    )]
    Context {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// A file the plugins should see as changed (repeatable), as under `gitsync check`.
        #[arg(long = "changed", value_name = "FILE")]
        changed: Vec<String>,
        /// Also load this plugin component (repeatable), for its settings.
        #[arg(long = "policy", value_name = "FILE")]
        policy_files: Vec<PathBuf>,
    },
    /// Run one plugin on a repository and print every finding exactly as it returned it, with the
    /// checks gitsync applies (a finding that would be dropped says why) and what it printed.
    #[command(
        after_help = "Examples:\n  gitsync policy run target/wasm32-wasip2/release/acme_keys.wasm examples/acme\n  gitsync policy run acme.wasm . --settings-json '{\"pattern\": \"^[a-z]+$\"}' --changed models/orders.yaml --format json\n\nExit codes: 0 every finding would be shown, 1 some would be dropped or the plugin failed, 2 usage error."
    )]
    Run {
        plugin: PathBuf,
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// The plugin's settings (default: those in the repository's .gitsync/config.yaml, else `{}`).
        #[arg(long, value_name = "JSON")]
        settings_json: Option<String>,
        /// A file the plugin should see as changed (repeatable).
        #[arg(long = "changed", value_name = "FILE")]
        changed: Vec<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// Time a plugin: compiling it cold, loading it from the compiled-component cache, and one call
    /// on a repository (median and slowest of --runs).
    #[command(
        after_help = "Example:\n  gitsync policy bench target/wasm32-wasip2/release/acme_keys.wasm examples/acme --runs 20\n\nA component is compiled once per gitsync version and cached (GITSYNC_CACHE_DIR); the cold figure is\nwhat the first run on a machine pays (a JavaScript plugin of ~12 MB: several seconds)."
    )]
    Bench {
        plugin: PathBuf,
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// How many calls to time.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// Write the WIT package plugins are built against (the one this gitsync speaks) into a folder,
    /// with TypeScript types (policy.d.ts) for plugins written in JavaScript.
    #[command(
        after_help = "Example:\n  gitsync policy wit --out wit/     # then: jco componentize … --wit wit/ --world-name plugin-policy"
    )]
    Wit {
        /// The folder to write policy.wit and policy.d.ts into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Show one plugin component: its metadata, codes, interface version, imports and exports.
    #[command(after_help = "Example:\n  gitsync policy inspect policies/examples/build/naming.wasm")]
    Inspect {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
}

pub(super) fn run(global: Global, cmd: PolicyCommand) -> Result<i32> {
    let rt = Runtime::new(global.cache, Limits::default())?;
    let builtins = Builtins::from_option(global.policies);
    match cmd {
        PolicyCommand::New { name, dir, sdk } => new(&name, dir, sdk),
        PolicyCommand::Sdk { out } => {
            super::kit::write_sdk(&out)?;
            write_out(&format!(
                "wrote the gitsync {} plugin SDK into {}\n",
                env!("CARGO_PKG_VERSION"),
                out.display()
            ))?;
            Ok(EXIT_OK)
        }
        PolicyCommand::Test {
            plugin,
            fixtures,
            update,
            watch: false,
            format,
        } => test(&rt, &builtins, &plugin, &fixtures, update, format),
        PolicyCommand::Test {
            plugin,
            fixtures,
            watch: true,
            format,
            ..
        } => {
            let here = std::env::current_dir()?;
            let build = super::watch::Build::detect(&here, &plugin)?;
            let plugin = here.join(&plugin);
            let fixtures = fixtures
                .iter()
                .map(|f| std::fs::canonicalize(f).with_context(|| format!("no fixture at {}", f.display())))
                .collect::<Result<Vec<_>>>()?;
            super::watch::watch(&build, &plugin, &fixtures, || {
                if let Err(e) = test(&rt, &builtins, &plugin, &fixtures, false, format) {
                    eprintln!("error: {e:#}");
                }
            })
        }
        PolicyCommand::List {
            dir,
            policy_files,
            format,
        } => list(&rt, &builtins, &dir, &policy_files, format),
        PolicyCommand::Inspect { file, format } => inspect(&rt, &file, format),
        PolicyCommand::Bench {
            plugin,
            dir,
            runs,
            format,
        } => bench(&builtins, &plugin, &dir, runs.max(1), format),
        PolicyCommand::Wit { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let path = out.join("policy.wit");
            std::fs::write(&path, gitsync_engine::WIT).with_context(|| format!("cannot write {}", path.display()))?;
            let types = out.join("policy.d.ts");
            std::fs::write(&types, gitsync_engine::TYPESCRIPT)
                .with_context(|| format!("cannot write {}", types.display()))?;
            write_out(&format!(
                "wrote {} ({}@{}.{}.{}) and {} (TypeScript types for JavaScript plugins)\n",
                path.display(),
                plugins::PLUGIN_INTERFACE,
                plugins::PLUGIN_VERSION.0,
                plugins::PLUGIN_VERSION.1,
                plugins::PLUGIN_VERSION.2,
                types.display()
            ))?;
            Ok(EXIT_OK)
        }
        PolicyCommand::Context {
            dir,
            changed,
            policy_files,
        } => context(&rt, &builtins, &dir, &changed, &policy_files),
        PolicyCommand::Run {
            plugin,
            dir,
            settings_json,
            changed,
            format,
        } => run_plugin(&rt, &builtins, &plugin, &dir, settings_json, &changed, format),
    }
}

/// A plugin as `list` and `inspect` show it (JSON; the human form is made from this).
fn describe(p: &plugins::Plugin) -> serde_json::Value {
    serde_json::json!({
        "name": p.metadata.name,
        "version": p.metadata.version,
        "description": p.metadata.description,
        "help_uri": p.metadata.help_uri,
        "source": p.origin.as_str(),
        "path": p.path.display().to_string(),
        "interface": format!("{}@{}", plugins::PLUGIN_INTERFACE, p.interface_version),
        "codes": p.metadata.codes.iter().map(|c| serde_json::json!({
            "code": c.code,
            "severity": c.severity.as_str(),
            "summary": c.summary,
        })).collect::<Vec<_>>(),
    })
}

/// The human form of `describe` (and of `list`'s additions: enabled, effective severities, settings).
fn human(v: &serde_json::Value) -> String {
    let disabled = if v["enabled"] == serde_json::Value::Bool(false) {
        "  DISABLED in .gitsync/config.yaml (enabled: false): it does not run\n"
    } else {
        ""
    };
    let mut out = format!(
        "{} {} ({}: {})\n{disabled}  {}\n  interface: {}\n",
        v["name"].as_str().unwrap_or_default(),
        v["version"].as_str().unwrap_or_default(),
        v["source"].as_str().unwrap_or_default(),
        v["path"].as_str().unwrap_or_default(),
        v["description"].as_str().unwrap_or_default(),
        v["interface"].as_str().unwrap_or_default()
    );
    if let Some(uri) = v["help_uri"].as_str() {
        out.push_str(&format!("  docs: {uri}\n"));
    }
    for c in v["codes"].as_array().into_iter().flatten() {
        let declared = c["severity"].as_str().unwrap_or_default();
        let effective = c["effective"].as_str().unwrap_or(declared);
        let note = if effective == declared {
            String::new()
        } else {
            format!(" (declared {declared}; set in .gitsync/config.yaml)")
        };
        out.push_str(&format!(
            "  {} {:<7} {}{note}\n",
            c["code"].as_str().unwrap_or_default(),
            effective,
            c["summary"].as_str().unwrap_or_default()
        ));
    }
    if let Some(settings) = v.get("settings") {
        out.push_str(&format!("  settings: {settings}\n"));
    }
    out
}

/// `describe`, with what the run would do with the plugin: whether it runs, the severity each code
/// gets after the config's `codes:`, and the settings it is given.
fn listed(p: &plugins::Plugin, set: &plugins::PluginSet, settings: Option<&str>) -> serde_json::Value {
    let mut v = describe(p);
    v["enabled"] = settings.is_some().into();
    if let Some(settings) = settings {
        v["settings"] = serde_json::from_str(settings).unwrap_or(serde_json::Value::String(settings.to_string()));
    }
    for c in v["codes"].as_array_mut().into_iter().flatten() {
        let code = c["code"].as_str().unwrap_or_default().to_string();
        if let Some((_, sev)) = set.codes.iter().find(|(k, _)| *k == code) {
            c["effective"] = sev.map_or("off", |s| s.as_str()).into();
        } else {
            c["effective"] = c["severity"].clone();
        }
    }
    v
}

/// `policy new`: a plugin crate that builds and passes its own tests.
fn new(name: &str, target: Option<PathBuf>, sdk: Option<PathBuf>) -> Result<i32> {
    let target = target.unwrap_or_else(|| PathBuf::from(name));
    super::scaffold::new_plugin(name, &target, sdk.as_deref())?;
    write_out(&format!(
        "created {}\nnext: cd {} && cargo test && cargo build --target wasm32-wasip2 --release\n",
        target.display(),
        target.display()
    ))?;
    Ok(EXIT_OK)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum TestFormat {
    Human,
    Json,
    Junit,
}

/// The keys an expected finding may have.
const FINDING_KEYS: [&str; 7] = ["code", "path", "line", "column", "severity", "message", "workspace"];

/// What a fixture expects.
struct Expected {
    findings: Vec<serde_json::Map<String, serde_json::Value>>,
    changed: Vec<String>,
    settings_error: Option<String>,
}

/// Read a fixture's expected.json, refusing keys it does not know (a typo such as `"cod"` must not
/// silently match everything).
fn expected(path: &Path) -> Result<Expected> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let unknown = |key: &str, allowed: &[&str]| -> anyhow::Error {
        let near = gitsync_core::suggest::closest(key, allowed.iter().copied())
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        anyhow::anyhow!(
            "{}: unknown key `{key}`{near}; allowed: {}",
            path.display(),
            allowed.join(", ")
        )
    };
    let (list, changed, settings_error) = match v {
        serde_json::Value::Array(list) => (list, Vec::new(), None),
        serde_json::Value::Object(map) => {
            let allowed = ["findings", "changed", "settings_error"];
            if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
                return Err(unknown(k, &allowed));
            }
            let list = map
                .get("findings")
                .and_then(|f| f.as_array())
                .cloned()
                .unwrap_or_default();
            let changed = map
                .get("changed")
                .and_then(|c| c.as_array())
                .map(|c| c.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                .unwrap_or_default();
            let settings_error = map.get("settings_error").and_then(|e| e.as_str()).map(String::from);
            (list, changed, settings_error)
        }
        _ => anyhow::bail!("{}: expected a list of findings or an object", path.display()),
    };
    let mut findings = Vec::new();
    for f in list {
        let serde_json::Value::Object(f) = f else {
            anyhow::bail!("{}: every finding is an object with `code` and `path`", path.display());
        };
        if let Some(k) = f.keys().find(|k| !FINDING_KEYS.contains(&k.as_str())) {
            return Err(unknown(k, &FINDING_KEYS));
        }
        if !f.contains_key("code") || !f.contains_key("path") {
            anyhow::bail!("{}: every finding needs `code` and `path`", path.display());
        }
        findings.push(f);
    }
    Ok(Expected {
        findings,
        changed,
        settings_error,
    })
}

/// A finding as `policy test` compares and writes it.
fn as_json(d: &gitsync_core::diag::Diagnostic) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("code".into(), d.code.as_ref().into());
    m.insert("path".into(), d.path.clone().into());
    m.insert("line".into(), d.span.line.into());
    m.insert("column".into(), d.span.column.into());
    m.insert("severity".into(), d.severity.as_str().into());
    m.insert("message".into(), d.message.clone().into());
    if let Some(ws) = &d.workspace {
        m.insert("workspace".into(), ws.clone().into());
    }
    m
}

/// Whether a found finding is what an expected one describes (only the keys it gives; `message` as a
/// substring).
fn matches(
    want: &serde_json::Map<String, serde_json::Value>,
    got: &serde_json::Map<String, serde_json::Value>,
) -> bool {
    want.iter().all(|(k, v)| match (k.as_str(), got.get(k)) {
        ("message", Some(g)) => g.as_str().zip(v.as_str()).is_some_and(|(g, w)| g.contains(w)),
        (_, Some(g)) => g == v,
        (_, None) => v.is_null(),
    })
}

/// One fixture's result.
struct Outcome {
    fixture: String,
    failure: Option<String>,
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `policy test`: run a plugin against fixture repositories, each with an expected.json.
fn test(
    rt: &Runtime,
    dir: &Builtins,
    plugin: &Path,
    fixtures: &[PathBuf],
    update: bool,
    format: TestFormat,
) -> Result<i32> {
    let builtins = BuiltinPolicies::load(rt, dir)?;
    let plugin_codes: Vec<String> = plugins::load(rt, plugin, plugins::Origin::CommandLine)?
        .metadata
        .codes
        .into_iter()
        .map(|c| c.code)
        .collect();
    let mut outcomes = Vec::new();
    for fixture in fixtures {
        let expected_path = fixture.join("expected.json");
        let want = if update && !expected_path.is_file() {
            Expected {
                findings: vec![],
                changed: vec![],
                settings_error: None,
            }
        } else {
            expected(&expected_path)?
        };
        let name = fixture.display().to_string();
        let set = match plugins::prepare(rt, &builtins, fixture, &[plugin.to_path_buf()]) {
            Ok(set) => set,
            Err(e) => {
                let said = format!("{e:#}");
                let failure = match &want.settings_error {
                    Some(w) if said.contains(w.as_str()) => None,
                    Some(w) => Some(format!("the settings were rejected, but not with `{w}`: {said}")),
                    None => Some(format!("the plugin could not run: {said}")),
                };
                outcomes.push(Outcome { fixture: name, failure });
                continue;
            }
        };
        if let Some(w) = &want.settings_error {
            outcomes.push(Outcome {
                fixture: name,
                failure: Some(format!(
                    "expected the settings to be rejected with `{w}`, but the plugin accepted them"
                )),
            });
            continue;
        }
        let ext = Extensions { rt, plugins: &set };
        let opts = ValidateOptions {
            dir: fixture.clone(),
            rev: None,
            base: String::new(),
            max_file_size: 8 << 20,
            threads: 1,
        };
        let v = checks::validate_with_changes(&builtins, &opts, Some(&ext), &want.changed)?;
        let got: Vec<serde_json::Map<String, serde_json::Value>> = v
            .diagnostics
            .iter()
            .filter(|d| plugin_codes.iter().any(|c| *c == d.code) || d.code == codes::POLICY_FAILURE.id)
            .map(as_json)
            .collect();
        if update {
            let body = if want.changed.is_empty() {
                serde_json::Value::Array(got.iter().cloned().map(serde_json::Value::Object).collect())
            } else {
                serde_json::json!({"changed": want.changed, "findings": got})
            };
            let text = format!("{}\n", serde_json::to_string_pretty(&body).expect("JSON serializes"));
            std::fs::write(&expected_path, text)
                .with_context(|| format!("cannot write {}", expected_path.display()))?;
            outcomes.push(Outcome {
                fixture: name,
                failure: None,
            });
            continue;
        }
        // As a set: each expected finding takes one found finding it describes.
        let mut left: Vec<&serde_json::Map<String, serde_json::Value>> = got.iter().collect();
        let mut missing = Vec::new();
        for w in &want.findings {
            match left.iter().position(|g| matches(w, g)) {
                Some(i) => {
                    left.remove(i);
                }
                None => missing.push(serde_json::Value::Object(w.clone()).to_string()),
            }
        }
        let extra: Vec<String> = left
            .iter()
            .map(|g| serde_json::Value::Object((*g).clone()).to_string())
            .collect();
        let failure = (!missing.is_empty() || !extra.is_empty()).then(|| {
            let mut f = String::new();
            for m in &missing {
                f.push_str(&format!("  expected, not found: {m}\n"));
            }
            for e in &extra {
                f.push_str(&format!("  found, not expected: {e}\n"));
            }
            f
        });
        outcomes.push(Outcome { fixture: name, failure });
    }
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    let passed = outcomes.len() - failed;
    let text = match format {
        TestFormat::Human => {
            let mut t = String::new();
            for o in &outcomes {
                match &o.failure {
                    None if update => t.push_str(&format!("updated {}/expected.json\n", o.fixture)),
                    None => t.push_str(&format!("ok      {}\n", o.fixture)),
                    Some(f) => t.push_str(&format!("FAILED  {}\n{}{}", o.fixture, f, if f.ends_with('\n') { "" } else { "\n" })),
                }
            }
            t.push_str(&format!("{passed} passed, {failed} failed\n"));
            t
        }
        TestFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "passed": passed,
                "failed": failed,
                "fixtures": outcomes.iter().map(|o| serde_json::json!({"fixture": o.fixture, "passed": o.failure.is_none(), "failure": o.failure})).collect::<Vec<_>>(),
            }))
            .expect("JSON serializes")
        ),
        TestFormat::Junit => {
            let mut t = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">\n",
                xml(&plugin.display().to_string()),
                outcomes.len()
            );
            for o in &outcomes {
                match &o.failure {
                    None => t.push_str(&format!("  <testcase name=\"{}\"/>\n", xml(&o.fixture))),
                    Some(f) => t.push_str(&format!(
                        "  <testcase name=\"{}\"><failure message=\"findings differ\">{}</failure></testcase>\n",
                        xml(&o.fixture),
                        xml(f)
                    )),
                }
            }
            t.push_str("</testsuite>\n");
            t
        }
    };
    write_out(&text)?;
    Ok(if failed > 0 { EXIT_FINDINGS } else { EXIT_OK })
}

/// `policy list`: the built-ins and every plugin that would run on a repository.
fn list(rt: &Runtime, dir: &Builtins, repo: &Path, policy_files: &[PathBuf], format: SummaryFormat) -> Result<i32> {
    let builtins = BuiltinPolicies::load(rt, dir)?;
    let set = plugins::prepare(rt, &builtins, repo, policy_files)?;
    let list: Vec<serde_json::Value> = set
        .plugins
        .iter()
        .map(|(p, settings, _)| listed(p, &set, Some(settings)))
        .chain(set.disabled.iter().map(|p| listed(p, &set, None)))
        .collect();
    let text = match format {
        SummaryFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "builtin": {"folder": dir.describe(), "policies": ["schema", "aliases", "deps", "contracts"]},
                "plugins": list,
                "notes": set.notes,
            }))
            .expect("list serializes")
        ),
        SummaryFormat::Human => {
            let mut t = format!(
                "built-in policies ({}): schema, aliases, deps, contracts\n",
                dir.describe()
            );
            if list.is_empty() {
                t.push_str("no plugins (add .wasm files to .gitsync/policies/, or pass --policy FILE)\n");
            }
            for v in &list {
                t.push('\n');
                t.push_str(&human(v));
            }
            for n in &set.notes {
                t.push_str(&format!("\nnote: {n}\n"));
            }
            t
        }
    };
    write_out(&text)?;
    Ok(EXIT_OK)
}

fn repo_options(dir: &Path) -> ValidateOptions {
    ValidateOptions {
        dir: dir.to_path_buf(),
        rev: None,
        base: String::new(),
        max_file_size: gitsync_core::layout::MAX_FILE_SIZE,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()).min(8),
    }
}

/// `policy context`: what plugins receive, as JSON.
fn context(rt: &Runtime, dir: &Builtins, repo: &Path, changed: &[String], policy_files: &[PathBuf]) -> Result<i32> {
    let builtins = BuiltinPolicies::load(rt, dir)?;
    let set = plugins::prepare(rt, &builtins, repo, policy_files)?;
    let inputs = checks::plugin_inputs(&builtins, &repo_options(repo))?;
    let v = plugins::context_json(&set, &inputs.resources, &inputs.resolutions, changed);
    write_out(&format!(
        "{}\n",
        serde_json::to_string_pretty(&v).expect("context serializes")
    ))?;
    Ok(EXIT_OK)
}

/// `policy run`: one plugin, its raw findings, and what gitsync makes of each.
fn run_plugin(
    rt: &Runtime,
    dir: &Builtins,
    plugin: &Path,
    repo: &Path,
    settings: Option<String>,
    changed: &[String],
    format: SummaryFormat,
) -> Result<i32> {
    let builtins = BuiltinPolicies::load(rt, dir)?;
    let loaded = plugins::load(rt, plugin, plugins::Origin::CommandLine)?;
    // The repository's own config (limits, and the plugin's settings unless given here), without
    // loading its other plugins.
    let set = plugins::prepare(rt, &builtins, repo, &[plugin.to_path_buf()]);
    let (set, configured) = match set {
        Ok(set) => {
            let configured = set
                .plugins
                .iter()
                .find(|(p, _, _)| p.metadata.name == loaded.metadata.name)
                .map(|(_, s, _)| s.clone());
            (set, configured)
        }
        // Settings the plugin rejects are reported by run_raw below, with --settings-json to try others.
        Err(_) if settings.is_some() => (plugins::PluginSet::empty(), None),
        Err(e) => return Err(e),
    };
    let settings = settings.or(configured).unwrap_or_else(|| "{}".into());
    let inputs = checks::plugin_inputs(&builtins, &repo_options(repo))?;
    let raw = plugins::run_raw(
        rt,
        &set,
        &loaded,
        &settings,
        &inputs.resources,
        &inputs.resolutions,
        changed,
        &inputs.files,
    )?;
    let dropped = raw.findings.iter().filter(|(_, why)| why.is_some()).count();
    let text = match format {
        SummaryFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "plugin": loaded.metadata.name,
                "settings": serde_json::from_str::<serde_json::Value>(&settings).unwrap_or(serde_json::Value::String(settings.clone())),
                "findings": raw.findings.iter().map(|(d, why)| {
                    let mut v = crate::report::finding(d);
                    v["shown"] = why.is_none().into();
                    v["dropped_because"] = why.clone().into();
                    v
                }).collect::<Vec<_>>(),
                "failure": raw.failure.as_ref().map(|d| d.message.clone()),
                "printed": raw.log.text,
            }))
            .expect("JSON serializes")
        ),
        SummaryFormat::Human => {
            let mut t = format!(
                "plugin `{}` with settings {settings}: {} finding{}\n",
                loaded.metadata.name,
                raw.findings.len(),
                if raw.findings.len() == 1 { "" } else { "s" }
            );
            for (d, why) in &raw.findings {
                t.push_str(&format!(
                    "  {} {} {}:{}:{} {}\n",
                    d.code,
                    d.severity.as_str(),
                    d.path,
                    d.span.line,
                    d.span.column,
                    d.message
                ));
                match why {
                    None => t.push_str("    shown\n"),
                    Some(w) => t.push_str(&format!("    DROPPED: {w}\n")),
                }
            }
            if let Some(f) = &raw.failure {
                t.push_str(&format!("failed: {}\n", f.message));
            }
            if !raw.log.text.is_empty() {
                t.push_str("printed:\n");
                for line in raw.log.text.lines() {
                    t.push_str(&format!("  | {line}\n"));
                }
            }
            t
        }
    };
    write_out(&text)?;
    Ok(if dropped > 0 || raw.failure.is_some() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

/// `policy bench`: cold compile, warm load from the cache, and per-call time.
fn bench(dir: &Builtins, plugin: &Path, repo: &Path, runs: usize, format: SummaryFormat) -> Result<i32> {
    use std::time::{Duration, Instant};
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    // Cold: compiled in memory, no cache.
    let cold_rt = Runtime::new(None, Limits::default())?;
    let t = Instant::now();
    plugins::load(&cold_rt, plugin, plugins::Origin::CommandLine)?;
    let cold = t.elapsed();
    // Warm: a fresh cache is filled once, then a new runtime loads from it.
    let cache = std::env::temp_dir().join(format!("gitsync-policy-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cache);
    let fill = Runtime::new(Some(cache.clone()), Limits::default())?;
    plugins::load(&fill, plugin, plugins::Origin::CommandLine)?;
    let cached_files = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    let rt = Runtime::new(Some(cache.clone()), Limits::default())?;
    let t = Instant::now();
    let loaded = plugins::load(&rt, plugin, plugins::Origin::CommandLine)?;
    let warm = t.elapsed();
    let builtins = BuiltinPolicies::load(&rt, dir)?;
    let set =
        plugins::prepare(&rt, &builtins, repo, &[plugin.to_path_buf()]).unwrap_or_else(|_| plugins::PluginSet::empty());
    let settings = set
        .plugins
        .iter()
        .find(|(p, _, _)| p.metadata.name == loaded.metadata.name)
        .map_or_else(|| "{}".to_string(), |(_, s, _)| s.clone());
    let inputs = checks::plugin_inputs(&builtins, &repo_options(repo))?;
    let mut calls = Vec::with_capacity(runs);
    let mut findings = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let raw = plugins::run_raw(
            &rt,
            &set,
            &loaded,
            &settings,
            &inputs.resources,
            &inputs.resolutions,
            &[],
            &inputs.files,
        )?;
        calls.push(t.elapsed());
        findings = raw.findings.len();
    }
    let _ = std::fs::remove_dir_all(&cache);
    calls.sort();
    let median = calls[calls.len() / 2];
    let slowest = calls[calls.len() - 1];
    let size = std::fs::metadata(plugin).map(|m| m.len()).unwrap_or(0);
    let text = match format {
        SummaryFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&serde_json::json!({
                "plugin": loaded.metadata.name,
                "component_bytes": size,
                "cold_compile_ms": ms(cold),
                "warm_load_ms": ms(warm),
                "cache_used": cached_files > 0,
                "runs": runs,
                "call_median_ms": ms(median),
                "call_max_ms": ms(slowest),
                "resources": inputs.resources.len(),
                "findings": findings,
            }))
            .expect("JSON serializes")
        ),
        SummaryFormat::Human => format!(
            "plugin `{}` ({:.1} MiB component) on {} resources ({} findings a call)\n  cold compile:             {:>9.1} ms  (the first run on a machine, or after an upgrade)\n  warm load from the cache: {:>9.1} ms  ({:.0}x faster; every later run)\n  one call, median of {runs}:  {:>9.1} ms  (slowest {:.1} ms)\n",
            loaded.metadata.name,
            size as f64 / 1048576.0,
            inputs.resources.len(),
            findings,
            ms(cold),
            ms(warm),
            cold.as_secs_f64() / warm.as_secs_f64().max(1e-9),
            ms(median),
            ms(slowest)
        ),
    };
    write_out(&text)?;
    Ok(EXIT_OK)
}

/// `policy inspect`: one component's metadata, codes, interface version, imports and exports.
fn inspect(rt: &Runtime, file: &Path, format: SummaryFormat) -> Result<i32> {
    let p = plugins::load(rt, file, plugins::Origin::CommandLine)?;
    let component = rt.load(file)?;
    let ty = component.component_type();
    let mut v = describe(&p);
    v["imports"] = ty
        .imports(rt.engine())
        .map(|(n, _)| n.to_string())
        .collect::<Vec<_>>()
        .into();
    v["exports"] = ty
        .exports(rt.engine())
        .map(|(n, _)| n.to_string())
        .collect::<Vec<_>>()
        .into();
    let text = match format {
        SummaryFormat::Json => format!("{}\n", serde_json::to_string_pretty(&v).expect("inspect serializes")),
        SummaryFormat::Human => {
            let mut t = human(&v);
            t.push_str(&format!(
                "  imports: {}\n",
                v["imports"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ));
            t.push_str(&format!(
                "  exports: {}\n",
                v["exports"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            ));
            t
        }
    };
    write_out(&text)?;
    Ok(EXIT_OK)
}
