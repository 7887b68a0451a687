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
    #[command(
        after_help = "Example:\n  gitsync policy new acme-keys && cd acme-keys && cargo test && cargo build --target wasm32-wasip2 --release"
    )]
    New {
        name: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The gitsync-sdk crate to depend on (default: the one this gitsync was built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Run a plugin against fixture repositories; each holds an expected.json of findings.
    #[command(
        after_help = "Each fixture is a small repository (optionally with .gitsync/config.yaml) and an expected.json:\n  [{\"code\": \"ACME001\", \"path\": \"models/orders.yaml\", \"line\": 6}]\nOnly the plugin's own codes are compared.\n\nExample:\n  gitsync policy test target/wasm32-wasip2/release/acme_keys.wasm tests/fixtures/*"
    )]
    Test {
        plugin: PathBuf,
        #[arg(required = true)]
        fixtures: Vec<PathBuf>,
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
        PolicyCommand::Test { plugin, fixtures } => test(&rt, &builtins, &plugin, &fixtures),
        PolicyCommand::List {
            dir,
            policy_files,
            format,
        } => list(&rt, &builtins, &dir, &policy_files, format),
        PolicyCommand::Inspect { file, format } => inspect(&rt, &file, format),
    }
}

/// A plugin as `list` and `inspect` show it (JSON; the human form is made from this).
fn describe(p: &plugins::Plugin) -> serde_json::Value {
    serde_json::json!({
        "name": p.metadata.name,
        "version": p.metadata.version,
        "description": p.metadata.description,
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
    super::scaffold::new_plugin(name, &target, &sdk.unwrap_or_else(super::scaffold::default_sdk_path))?;
    write_out(&format!(
        "created {}\nnext: cd {} && cargo test && cargo build --target wasm32-wasip2 --release\n",
        target.display(),
        target.display()
    ))?;
    Ok(EXIT_OK)
}

/// `policy test`: run a plugin against fixture repositories, each with an expected.json.
fn test(rt: &Runtime, dir: &Builtins, plugin: &Path, fixtures: &[PathBuf]) -> Result<i32> {
    let builtins = BuiltinPolicies::load(rt, dir)?;
    let plugin_codes: Vec<String> = plugins::load(rt, plugin, plugins::Origin::CommandLine)?
        .metadata
        .codes
        .into_iter()
        .map(|c| c.code)
        .collect();
    let (mut passed, mut failed) = (0, 0);
    let mut report = String::new();
    for fixture in fixtures {
        let expected_path = fixture.join("expected.json");
        let expected: Vec<serde_json::Value> = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .with_context(|| format!("cannot read {}", expected_path.display()))?,
        )
        .with_context(|| format!("{} is not a JSON list of findings", expected_path.display()))?;
        let want: Vec<(String, String, u64)> = expected
            .iter()
            .map(|e| {
                (
                    e["code"].as_str().unwrap_or_default().to_string(),
                    e["path"].as_str().unwrap_or_default().to_string(),
                    e["line"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        let set = plugins::prepare(rt, &builtins, fixture, &[plugin.to_path_buf()])?;
        let ext = Extensions { rt, plugins: &set };
        let opts = ValidateOptions {
            dir: fixture.clone(),
            rev: None,
            base: String::new(),
            max_file_size: 8 << 20,
            threads: 1,
        };
        let v = checks::validate(&builtins, &opts, Some(&ext))?;
        let got: Vec<(String, String, u64)> = v
            .diagnostics
            .iter()
            .filter(|d| plugin_codes.iter().any(|c| *c == d.code) || d.code == codes::POLICY_FAILURE.id)
            .map(|d| (d.code.to_string(), d.path.clone(), d.span.line as u64))
            .collect();
        if got == want {
            passed += 1;
            report.push_str(&format!("ok      {}\n", fixture.display()));
        } else {
            failed += 1;
            report.push_str(&format!(
                "FAILED  {}\n  expected: {want:?}\n  found:    {got:?}\n",
                fixture.display()
            ));
        }
    }
    report.push_str(&format!("{passed} passed, {failed} failed\n"));
    write_out(&report)?;
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
