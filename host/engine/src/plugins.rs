//! Teams' own policies: plugin components found next to the built-ins, in the repository's
//! `.gitsync/policies/`, or given with `--policy`, configured by `.gitsync/config.yaml`, and run in
//! a sandbox of their own (no filesystem, network or environment; frozen clock and fixed randomness
//! unless granted; memory and time limits per call).

use crate::bindings::plugin::exports::gitsync::policy::plugin as wit;
use crate::bindings::{plugin, schema, types};
use crate::builtins::{BuiltinPolicies, PolicyFailure};
use crate::runtime::{Grants, Limits, Runtime, Sandbox, describe_failure};
use crate::{convert, wit::Resolution};
use anyhow::{Context, Result, bail};
use gitsync_core::diag::{Diagnostic, PluginRule, Severity, codes};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The plugin interface this gitsync provides; plugins built against a semver-compatible version load.
pub const PLUGIN_INTERFACE: &str = "gitsync:policy/plugin";
pub const PLUGIN_VERSION: (u64, u64, u64) = (0, 1, 0);

/// Where a plugin came from, as `policy list` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `policies/*.wasm` next to the built-ins.
    Installed,
    /// The checked repository's `.gitsync/policies/`.
    Repository,
    /// `--policy FILE`.
    CommandLine,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Installed => "installed",
            Origin::Repository => "repository",
            Origin::CommandLine => "--policy",
        }
    }
}

fn wasm_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Every plugin file: installed ones, the repository's, then those named on the command line.
pub fn discover(installed: Option<&Path>, repo_dir: &Path, extra: &[PathBuf]) -> Vec<(PathBuf, Origin)> {
    let mut out = Vec::new();
    if let Some(installed) = installed {
        out.extend(wasm_files(installed).into_iter().map(|p| (p, Origin::Installed)));
    }
    out.extend(
        wasm_files(&repo_dir.join(".gitsync").join("policies"))
            .into_iter()
            .map(|p| (p, Origin::Repository)),
    );
    out.extend(extra.iter().map(|p| (p.clone(), Origin::CommandLine)));
    out
}

fn parse_version(v: &str) -> Option<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Semver compatibility: same major; a plugin's minor no newer than ours (for 0.x, the same minor).
fn compatible(plugin: (u64, u64, u64), host: (u64, u64, u64)) -> bool {
    plugin.0 == host.0
        && if host.0 == 0 {
            plugin.1 == host.1
        } else {
            plugin.1 <= host.1
        }
}

/// What a plugin says about itself.
#[derive(Clone, Debug)]
pub struct Metadata {
    pub name: String,
    pub version: String,
    pub description: String,
    pub codes: Vec<CodeInfo>,
    /// The page documenting the plugin's codes (an http(s) URL).
    pub help_uri: Option<String>,
}

/// A code a plugin may emit, with its default severity.
#[derive(Clone, Debug)]
pub struct CodeInfo {
    pub code: String,
    pub severity: Severity,
    pub summary: String,
}

fn metadata(m: wit::PluginMetadata) -> Metadata {
    Metadata {
        name: m.name,
        version: m.version,
        description: m.description,
        codes: m
            .codes
            .into_iter()
            .map(|c| CodeInfo {
                code: c.code,
                severity: convert::severity(c.severity),
                summary: c.summary,
            })
            .collect(),
        help_uri: m.help_uri,
    }
}

/// An `https://` or `http://` address with a host and no spaces: what a SARIF `helpUri` may be.
fn is_web_address(uri: &str) -> bool {
    let rest = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty() && !r.starts_with('/') && !uri.contains(|c: char| c.is_whitespace() || c.is_control())
    })
}

/// A loaded plugin, ready to check.
pub struct Plugin {
    pub path: PathBuf,
    pub origin: Origin,
    pub metadata: Metadata,
    /// The version of the plugin interface the component was built against.
    pub interface_version: String,
    pre: plugin::PluginPolicyPre<Sandbox>,
}

/// Load a plugin component, refusing one built against an incompatible interface version.
pub fn load(rt: &Runtime, path: &Path, origin: Origin) -> Result<Plugin> {
    let component = rt.load(path)?;
    let engine = rt.engine();
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let host = format!("{}.{}.{}", PLUGIN_VERSION.0, PLUGIN_VERSION.1, PLUGIN_VERSION.2);
    let Some(found) = exports
        .iter()
        .find_map(|e| e.strip_prefix(&format!("{PLUGIN_INTERFACE}@")))
    else {
        bail!(
            "{} is not a gitsync plugin: it does not export {PLUGIN_INTERFACE}@{host} (it exports: {})",
            path.display(),
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        );
    };
    let version =
        parse_version(found).with_context(|| format!("{}: unreadable interface version `{found}`", path.display()))?;
    if !compatible(version, PLUGIN_VERSION) {
        bail!(
            "{} was built against {PLUGIN_INTERFACE}@{found}, which this gitsync ({PLUGIN_INTERFACE}@{host}) cannot load; rebuild the plugin against gitsync-sdk {host}",
            path.display()
        );
    }
    let instance_pre = rt
        .linker()
        .instantiate_pre(&component)
        .map_err(|e| anyhow::Error::from(e).context(format!("cannot link {}", path.display())))?;
    let pre = plugin::PluginPolicyPre::new(instance_pre).map_err(|e| {
        anyhow::Error::from(e).context(format!("{} does not match {PLUGIN_INTERFACE}@{host}", path.display()))
    })?;
    let mut store = rt.store();
    let metadata_record = pre
        .instantiate(&mut store)
        .and_then(|i| i.gitsync_policy_plugin().call_metadata(&mut store))
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: metadata() failed: {}",
                path.display(),
                describe_failure(&e, rt.limits())
            )
        })?;
    if let Some(uri) = &metadata_record.help_uri
        && !is_web_address(uri)
    {
        bail!(
            "{}: metadata's help-uri `{uri}` is not an http(s) URL; give the page documenting the plugin's codes, or leave it out",
            path.display()
        );
    }
    Ok(Plugin {
        path: path.to_path_buf(),
        origin,
        metadata: metadata(metadata_record),
        interface_version: found.to_string(),
        pre,
    })
}

/// The enabled plugins of a run, with their settings, grants and limits.
pub struct PluginSet {
    pub plugins: Vec<(Plugin, String, Grants)>,
    pub limits: Limits,
    /// Per-code settings from the config: `None` turns a code off.
    pub codes: Vec<(String, Option<Severity>)>,
    /// Findings about the config file itself.
    pub config_diagnostics: Vec<Diagnostic>,
    /// The bytes of `.gitsync/config.yaml`, when there is one: plugins may point at it.
    pub config_file: Option<Vec<u8>>,
    /// Plugins found but turned off by the config (`enabled: false`).
    pub disabled: Vec<Plugin>,
    /// Things a person should know about how the set was made (a plugin found twice, …).
    pub notes: Vec<String>,
}

impl PluginSet {
    pub fn empty() -> PluginSet {
        PluginSet {
            plugins: vec![],
            limits: default_plugin_limits(),
            codes: vec![],
            config_diagnostics: vec![],
            config_file: None,
            disabled: vec![],
            notes: vec![],
        }
    }
}

/// Plugins get less than the built-ins by default: 256 MiB and 10 s per call.
pub fn default_plugin_limits() -> Limits {
    Limits {
        memory_bytes: 256 << 20,
        timeout: Duration::from_secs(10),
    }
}

/// Read `.gitsync/config.yaml` (parsed by the schema component), load every discovered plugin,
/// apply the config, and have each enabled plugin validate its settings.
pub fn prepare(rt: &Runtime, builtins: &BuiltinPolicies, repo_dir: &Path, extra: &[PathBuf]) -> Result<PluginSet> {
    let mut set = PluginSet::empty();
    let config_path = repo_dir.join(".gitsync").join("config.yaml");
    let mut config: Option<schema::exports::gitsync::policy::schema::Config> = None;
    if config_path.is_file() {
        let contents = std::fs::read(&config_path).with_context(|| format!("cannot read {}", config_path.display()))?;
        let file = types::SourceFile {
            path: ".gitsync/config.yaml".into(),
            contents,
        };
        set.config_file = Some(file.contents.clone());
        let (parsed, diags) = builtins
            .parse_config(&file)
            .context("cannot read .gitsync/config.yaml")?;
        set.config_diagnostics = diags;
        config = parsed;
    }
    if let Some(c) = &config {
        if let Some(m) = c.memory_mib {
            set.limits.memory_bytes = (m as usize) << 20;
        }
        if let Some(t) = c.timeout_ms {
            set.limits.timeout = Duration::from_millis(t as u64);
        }
        set.codes = c
            .codes
            .iter()
            .map(|o| {
                use schema::exports::gitsync::policy::schema::CodeSetting as S;
                let sev = match o.setting {
                    S::Off => None,
                    S::Error => Some(Severity::Error),
                    S::Warning => Some(Severity::Warning),
                    S::Note => Some(Severity::Note),
                };
                (o.code.clone(), sev)
            })
            .collect();
    }
    let mut loaded: Vec<Plugin> = Vec::new();
    let installed = builtins.source().installed_plugins();
    for (path, origin) in discover(installed.as_deref(), repo_dir, extra) {
        let plugin = load(rt, &path, origin)?;
        // The same plugin found twice (installed and --policy, say) runs once: the first found.
        if let Some(first) = loaded.iter().find(|l| l.metadata.name == plugin.metadata.name) {
            set.notes.push(format!(
                "plugin `{}` was found twice: {} ({}) runs, {} ({}) is left out",
                plugin.metadata.name,
                first.path.display(),
                first.origin.as_str(),
                plugin.path.display(),
                plugin.origin.as_str()
            ));
            continue;
        }
        loaded.push(plugin);
    }
    if let Some(text) = &set.config_file {
        let declared: Vec<&str> = gitsync_core::diag::ALL_CODES
            .iter()
            .map(|c| c.id)
            .chain(
                loaded
                    .iter()
                    .flat_map(|p| p.metadata.codes.iter().map(|c| c.code.as_str())),
            )
            .collect();
        for (code, _) in &set.codes {
            if !declared.contains(&code.as_str()) {
                set.config_diagnostics
                    .push(unknown_code(code, &String::from_utf8_lossy(text), &declared));
            }
        }
    }
    let settings_for = |name: &str| config.as_ref().and_then(|c| c.plugins.iter().find(|p| p.name == name));
    if let Some(c) = &config {
        for p in &c.plugins {
            if p.enabled && !loaded.iter().any(|l| l.metadata.name == p.name) {
                bail!(
                    ".gitsync/config.yaml configures plugin `{}`, which is not installed (looked in {}, .gitsync/policies/ and --policy); add it or set `enabled: false`",
                    p.name,
                    installed
                        .as_deref()
                        .map_or("no installed-plugins folder".into(), |d| format!("{}/", d.display()))
                );
            }
        }
    }
    for plugin in loaded {
        let s = settings_for(&plugin.metadata.name);
        if s.is_some_and(|s| !s.enabled) {
            set.disabled.push(plugin);
            continue;
        }
        let settings = s.map_or("{}".to_string(), |s| s.settings_json.clone());
        let grants = s.map_or(Grants::default(), |s| Grants {
            clock: s.grants.iter().any(|g| g == "clock"),
            random: s.grants.iter().any(|g| g == "random"),
        });
        check_settings(
            rt,
            set.limits,
            &plugin,
            &grants,
            &settings,
            "its settings in .gitsync/config.yaml",
        )?;
        set.plugins.push((plugin, settings, grants));
    }
    Ok(set)
}

/// A `codes:` entry of the config naming a code no built-in check or loaded plugin declares: a
/// typo would otherwise silently change nothing. Emits GS012.
fn unknown_code(code: &str, config: &str, declared: &[&str]) -> Diagnostic {
    let (line, column) = config
        .lines()
        .enumerate()
        .find_map(|(i, l)| {
            let key = l.trim_start();
            (key.starts_with(&format!("{code}:")) || key.starts_with(&format!("\"{code}\":")))
                .then(|| (i as u32 + 1, (l.len() - key.len()) as u32 + 1))
        })
        .unwrap_or((1, 1));
    let span = gitsync_core::diag::Span::at(line, column, code.chars().count() as u32);
    let d = Diagnostic::new(
        codes::UNKNOWN_CODE,
        ".gitsync/config.yaml",
        span,
        format!("`codes:` names `{code}`, which no built-in check or loaded plugin declares; the setting does nothing"),
    );
    match gitsync_core::suggest::closest(code, declared.iter().copied()) {
        Some(near) => d.help(format!("did you mean `{near}`?")),
        None => d.help("`gitsync policy list` shows every plugin's codes; docs/diagnostics.md lists gitsync's"),
    }
}

/// Run every plugin on the context, side by side on the machine's cores (each in its own store); a
/// plugin that fails becomes one diagnostic naming it and the others still run. `files` are the
/// checked repository's files (path → bytes): every finding a plugin returns is checked against
/// them before anyone sees it — only the codes its metadata declares (never `GS…`), at a line and
/// column inside one of those files.
pub fn run(
    rt: &Runtime,
    set: &PluginSet,
    resources: &[types::Resource],
    resolutions: &[Resolution],
    changed_files: &[String],
    files: &HashMap<String, Vec<u8>>,
) -> PluginRun {
    let lookup = &Files {
        files,
        config: set.config_file.as_deref(),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let per_thread = set.plugins.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = set
            .plugins
            .chunks(per_thread)
            .map(|chunk| {
                s.spawn(move || {
                    // One context per thread; only the settings differ between plugins.
                    let mut ctx = context(resources, resolutions, changed_files, "");
                    let mut out = PluginRun::default();
                    for (plugin, settings, grants) in chunk {
                        ctx.settings_json.clone_from(settings);
                        let (ran, log) = run_one(rt, set.limits, plugin, grants, &ctx);
                        out.diagnostics.extend(vet(plugin, ran, lookup));
                        if !log.text.is_empty() {
                            out.logs.push(log);
                        }
                    }
                    out
                })
            })
            .collect();
        let mut all = PluginRun::default();
        for h in handles {
            let part = h.join().expect("plugin thread panicked");
            all.diagnostics.extend(part.diagnostics);
            all.logs.extend(part.logs);
        }
        all
    })
}

/// The files a plugin's finding may point at: the checked repository's, and its config.
struct Files<'a> {
    files: &'a HashMap<String, Vec<u8>>,
    config: Option<&'a [u8]>,
}

impl<'a> Files<'a> {
    fn get(&self, path: &str) -> Option<&'a [u8]> {
        match self.files.get(path) {
            Some(b) => Some(b),
            None if path == ".gitsync/config.yaml" => self.config,
            None => None,
        }
    }
}

/// What a plugin's call gave: its findings, or the failure that stopped it.
enum Ran {
    Found(Vec<Diagnostic>),
    Failed(Box<Diagnostic>),
}

/// What a plugin printed (stdout and stderr together) during one run, bounded.
#[derive(Clone, Debug)]
pub struct PluginLog {
    pub plugin: String,
    pub text: String,
    /// Bytes printed past the limit (64 KiB), dropped.
    pub dropped: usize,
}

/// What the plugins of a run found, and what they printed.
#[derive(Debug, Default)]
pub struct PluginRun {
    pub diagnostics: Vec<Diagnostic>,
    pub logs: Vec<PluginLog>,
}

/// Why a plugin's finding cannot be shown, if it cannot: it speaks for gitsync (`GS…`), uses a code
/// its metadata does not declare, or points at no place of the checked repository.
fn problem(meta: &Metadata, d: &Diagnostic, files: &Files) -> Option<String> {
    if d.code.trim().is_empty() {
        return Some("an empty code".into());
    }
    if d.code.len() >= 2 && d.code[..2].eq_ignore_ascii_case("GS") {
        return Some(format!("code `{}`: the `GS` prefix is gitsync's own", d.code));
    }
    if !meta.codes.iter().any(|c| c.code == d.code) {
        let declared: Vec<&str> = meta.codes.iter().map(|c| c.code.as_str()).collect();
        return Some(format!(
            "code `{}` is not declared in its metadata (it declares: {})",
            d.code,
            if declared.is_empty() {
                "none".to_string()
            } else {
                declared.join(", ")
            }
        ));
    }
    if d.path.is_empty() {
        return Some(format!("code `{}`: an empty path", d.code));
    }
    let Some(bytes) = files.get(&d.path) else {
        return Some(format!(
            "code `{}`: `{}` is not a file of the checked repository",
            d.code, d.path
        ));
    };
    let (s, text) = (d.span, String::from_utf8_lossy(bytes));
    let lines: Vec<&str> = text.split('\n').collect();
    let width = |line: u32| {
        lines
            .get(line as usize - 1)
            .map(|l| l.trim_end_matches('\r').chars().count() as u32)
    };
    if s.line == 0 || s.column == 0 {
        return Some(format!(
            "code `{}`: line {} column {}: lines and columns start at 1",
            d.code, s.line, s.column
        ));
    }
    let Some(w) = width(s.line) else {
        return Some(format!(
            "code `{}`: line {} is past the end of `{}` ({} lines)",
            d.code,
            s.line,
            d.path,
            text.lines().count()
        ));
    };
    if s.column > w + 1 {
        return Some(format!(
            "code `{}`: column {} is past the end of line {} ({w} characters)",
            d.code, s.column, s.line
        ));
    }
    if (s.end_line, s.end_column) < (s.line, s.column) {
        return Some(format!(
            "code `{}`: the end {}:{} is before the start {}:{}",
            d.code, s.end_line, s.end_column, s.line, s.column
        ));
    }
    match width(s.end_line) {
        None => Some(format!(
            "code `{}`: the end line {} is past the end of `{}`",
            d.code, s.end_line, d.path
        )),
        Some(w) if s.end_column > w + 1 => Some(format!(
            "code `{}`: the end column {} is past the end of line {}",
            d.code, s.end_column, s.end_line
        )),
        Some(_) => None,
    }
}

/// A plugin's findings, checked before any reporter sees them: the ones that break a rule of
/// [`problem`] are dropped and become one finding naming the plugin and what it returned; the rest
/// carry the plugin's name and its declared severity and summary for the code. Emits GS009.
fn vet(plugin: &Plugin, ran: Ran, files: &Files) -> Vec<Diagnostic> {
    let found = match ran {
        Ran::Found(found) => found,
        Ran::Failed(d) => return vec![*d],
    };
    let meta = &plugin.metadata;
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for mut d in found {
        match problem(meta, &d, files) {
            Some(why) => bad.push(why),
            None => {
                if let Some(c) = meta.codes.iter().find(|c| c.code == d.code) {
                    d.severity = c.severity;
                    d.plugin = Some(PluginRule {
                        plugin: meta.name.clone(),
                        summary: c.summary.clone(),
                        severity: c.severity,
                        help_uri: meta.help_uri.clone(),
                    });
                }
                out.push(d);
            }
        }
    }
    if !bad.is_empty() {
        let shown: Vec<&str> = bad.iter().take(5).map(String::as_str).collect();
        let more = if bad.len() > shown.len() {
            format!("; and {} more", bad.len() - shown.len())
        } else {
            String::new()
        };
        out.push(
            Diagnostic::file_level(
                codes::POLICY_FAILURE,
                ".",
                format!(
                    "plugin `{}` returned {} finding{} that cannot be shown, dropped: {}{more}",
                    meta.name,
                    bad.len(),
                    if bad.len() == 1 { "" } else { "s" },
                    shown.join("; ")
                ),
            )
            .help(format!(
                "a plugin may report only the codes its metadata declares (never `GS…`), at a line and column inside a file of the checked repository; fix the plugin {}",
                plugin.path.display()
            )),
        );
    }
    out
}

fn run_one(rt: &Runtime, limits: Limits, plugin: &Plugin, grants: &Grants, context: &wit::Context) -> (Ran, PluginLog) {
    let mut store = rt.store_with(limits, grants);
    let result = plugin
        .pre
        .instantiate(&mut store)
        .and_then(|i| i.gitsync_policy_plugin().call_check(&mut store, context));
    let (text, dropped) = store.data().output.as_ref().map(|o| o.take()).unwrap_or_default();
    let log = PluginLog {
        plugin: plugin.metadata.name.clone(),
        text,
        dropped,
    };
    let ran = match result {
        Ok(found) => Ran::Found(convert::diagnostics(found)),
        Err(e) => {
            let failure = PolicyFailure::new(
                "plugin",
                &plugin.metadata.name,
                plugin.path.display().to_string(),
                &e,
                limits,
            )
            .with_output(&log.text);
            Ran::Failed(Box::new(failure.diagnostic(".")))
        }
    };
    (ran, log)
}

fn context(
    resources: &[types::Resource],
    resolutions: &[Resolution],
    changed_files: &[String],
    settings: &str,
) -> wit::Context {
    wit::Context {
        resources: resources.to_vec(),
        workspaces: resolutions
            .iter()
            .map(|r| wit::Workspace {
                id: r.workspace.clone(),
                references: r.references.clone(),
            })
            .collect(),
        changed_files: changed_files.to_vec(),
        settings_json: settings.to_string(),
    }
}

/// The context plugins receive, as JSON (`gitsync policy context`): every resource with its spans,
/// per workspace how each reference resolved, the changed files, and — instead of one plugin's
/// `settings_json` — each enabled plugin's settings by name.
pub fn context_json(
    set: &PluginSet,
    resources: &[types::Resource],
    resolutions: &[Resolution],
    changed_files: &[String],
) -> serde_json::Value {
    let mut v = serde_json::to_value(context(resources, resolutions, changed_files, "")).unwrap_or_default();
    if let Some(map) = v.as_object_mut() {
        map.remove("settings_json");
        let settings: serde_json::Map<String, serde_json::Value> = set
            .plugins
            .iter()
            .map(|(p, s, _)| {
                (
                    p.metadata.name.clone(),
                    serde_json::from_str(s).unwrap_or(serde_json::Value::String(s.clone())),
                )
            })
            .collect();
        map.insert("settings".into(), serde_json::Value::Object(settings));
    }
    v
}

/// One plugin run by hand (`gitsync policy run`): every finding exactly as it returned it, each with
/// why it cannot be shown (none: it can), or the failure that stopped it, and what it printed.
pub struct RawRun {
    pub findings: Vec<(Diagnostic, Option<String>)>,
    pub failure: Option<Diagnostic>,
    pub log: PluginLog,
}

/// Ask `plugin` whether it accepts `settings` (`what` names them in the error: where they came from).
fn check_settings(
    rt: &Runtime,
    limits: Limits,
    plugin: &Plugin,
    grants: &Grants,
    settings: &str,
    what: &str,
) -> Result<()> {
    let mut store = rt.store_with(limits, grants);
    let verdict = plugin
        .pre
        .instantiate(&mut store)
        .and_then(|i| i.gitsync_policy_plugin().call_validate_settings(&mut store, settings));
    match verdict {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => bail!("plugin `{}` rejected {what}: {message}", plugin.metadata.name),
        Err(e) => bail!(
            "plugin `{}` failed checking its settings: {}",
            plugin.metadata.name,
            describe_failure(&e, limits)
        ),
    }
}

/// Run `plugin` once with `settings` on the given context; its settings are checked first (the
/// plugin's own message when it rejects them).
#[allow(clippy::too_many_arguments)]
pub fn run_raw(
    rt: &Runtime,
    set: &PluginSet,
    plugin: &Plugin,
    settings: &str,
    resources: &[types::Resource],
    resolutions: &[Resolution],
    changed_files: &[String],
    files: &HashMap<String, Vec<u8>>,
) -> Result<RawRun> {
    let grants = Grants::default();
    check_settings(
        rt,
        set.limits,
        plugin,
        &grants,
        settings,
        &format!("the settings {settings}"),
    )?;
    let ctx = context(resources, resolutions, changed_files, settings);
    let (ran, log) = run_one(rt, set.limits, plugin, &grants, &ctx);
    let lookup = Files {
        files,
        config: set.config_file.as_deref(),
    };
    Ok(match ran {
        Ran::Failed(d) => RawRun {
            findings: vec![],
            failure: Some(*d),
            log,
        },
        Ran::Found(found) => RawRun {
            findings: found
                .into_iter()
                .map(|d| {
                    let why = problem(&plugin.metadata, &d, &lookup);
                    (d, why)
                })
                .collect(),
            failure: None,
            log,
        },
    })
}

/// Apply the config's per-code settings: drop codes turned off, replace severities.
pub fn apply_code_settings(diags: &mut Vec<Diagnostic>, codes: &[(String, Option<Severity>)]) {
    diags.retain_mut(|d| match codes.iter().find(|(c, _)| *c == d.code) {
        Some((_, None)) => false,
        Some((_, Some(sev))) => {
            d.severity = *sev;
            true
        }
        None => true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_help_uri_is_a_web_address() {
        assert!(is_web_address("https://acme.example/gitsync-rules#acme001"));
        assert!(is_web_address("http://wiki.internal/rules"));
        for bad in [
            "docs/rules.md",
            "https://",
            "https:///x",
            "ftp://x/y",
            "https://a b",
            "javascript:alert(1)",
        ] {
            assert!(!is_web_address(bad), "{bad}");
        }
    }

    #[test]
    fn versions_are_semver_compatible() {
        assert_eq!(parse_version("0.1.7"), Some((0, 1, 7)));
        assert!(compatible((0, 1, 0), (0, 1, 3)));
        assert!(compatible((0, 1, 9), (0, 1, 0)));
        assert!(!compatible((0, 2, 0), (0, 1, 0)));
        assert!(compatible((1, 2, 0), (1, 5, 0)));
        assert!(!compatible((1, 6, 0), (1, 5, 0)));
        assert!(!compatible((2, 0, 0), (1, 5, 0)));
    }
}
