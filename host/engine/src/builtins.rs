//! The four built-in policy components — embedded in the binary, or loaded from a folder — and the
//! calls into them. What they return leaves here in gitsync-core's vocabulary (see `convert`).

use crate::bindings::{aliases, contracts, deps, schema, workspace};
use crate::convert;
use crate::runtime::{Runtime, Sandbox, describe_failure, not_found};
use anyhow::Result;
use gitsync_core::compare::AffectedSync;
use gitsync_core::diag::{Diagnostic, codes};
use std::path::{Path, PathBuf};

/// A call into a component that failed (trap, panic, time or memory limit): the run goes on, and
/// the failure becomes a GS009 diagnostic ([`PolicyFailure::diagnostic`]) or an error that names
/// the component. The words "policy … failed" are written here and nowhere else.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind} `{name}` failed: {reason}")]
pub struct PolicyFailure {
    /// `policy` for a built-in component, `plugin` for a team's own.
    pub kind: &'static str,
    /// The component's name (`schema`, or the plugin's metadata name).
    pub name: String,
    /// Where the component came from: a file, or "built into gitsync".
    pub component: String,
    pub reason: String,
}

impl PolicyFailure {
    pub(crate) fn new(
        kind: &'static str,
        name: &str,
        component: String,
        err: &wasmtime::Error,
        limits: crate::Limits,
    ) -> PolicyFailure {
        PolicyFailure {
            kind,
            name: name.to_string(),
            component,
            reason: describe_failure(err, limits),
        }
    }

    /// Say what the component printed before it failed: a Rust panic's message and place
    /// (`panicked at src/lib.rs:20:37: boom`) instead of a bare trap, or else its last lines.
    pub(crate) fn with_output(mut self, printed: &str) -> PolicyFailure {
        if let Some(panic) = panic_message(printed) {
            self.reason = panic;
        } else {
            let last: Vec<&str> = printed.lines().filter(|l| !l.trim().is_empty()).collect();
            if !last.is_empty() {
                let tail = last[last.len().saturating_sub(3)..].join(" / ");
                self.reason = format!("{}; it printed: {tail}", self.reason);
            }
        }
        self
    }

    /// The finding a failed call becomes, pinned on `path` (`.` when no one file caused it).
    /// GS009
    pub fn diagnostic(&self, path: &str) -> Diagnostic {
        let help = match self.kind {
            "plugin" => format!(
                "the plugin {} stopped; its findings are missing. Fix the plugin, raise `limits` in .gitsync/config.yaml, or disable it there",
                self.component
            ),
            _ => format!(
                "the component {} stopped; its other findings are missing. Report this with the file that caused it",
                self.component
            ),
        };
        Diagnostic::file_level(codes::POLICY_FAILURE, path, self.to_string()).help(help)
    }
}

/// What a store's component printed to stdout and stderr.
pub(crate) fn printed(store: &wasmtime::Store<Sandbox>) -> String {
    store.data().output.as_ref().map(|o| o.take().0).unwrap_or_default()
}

/// A Rust panic in what a component printed: `thread '…' panicked at FILE:LINE:COL:` then the
/// message on the next line.
fn panic_message(printed: &str) -> Option<String> {
    let mut lines = printed.lines();
    while let Some(line) = lines.next() {
        if let Some((_, place)) = line.split_once("panicked at ") {
            let place = place.trim_end_matches(':');
            let message = lines.next().unwrap_or_default().trim();
            return Some(format!("panicked at {place}: {message}"));
        }
    }
    None
}

/// One built-in component compiled into the binary, with the SHA-256 of its bytes (the cache key).
struct Embedded {
    name: &'static str,
    bytes: &'static [u8],
    sha256: &'static str,
}

/// Written by host/engine/build.rs from the components it built.
const EMBEDDED: [Embedded; 5] = include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// Where the four built-in components come from: the binary itself, or a folder given with
/// `--policies DIR` (which holds schema.wasm, aliases.wasm, deps.wasm and contracts.wasm).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Builtins {
    Embedded,
    Folder(PathBuf),
}

impl Builtins {
    /// `--policies DIR` when given, else the components built into the binary.
    pub fn from_option(dir: Option<PathBuf>) -> Builtins {
        dir.map_or(Builtins::Embedded, Builtins::Folder)
    }

    /// The folder of installed plugins: the one above `--policies DIR`, else `policies/` beside
    /// the binary.
    pub fn installed_plugins(&self) -> Option<PathBuf> {
        match self {
            Builtins::Folder(dir) => dir.parent().map(Path::to_path_buf),
            Builtins::Embedded => {
                let exe = std::env::current_exe().ok()?;
                Some(exe.parent()?.join("policies"))
            }
        }
    }

    /// How a user would name this source in a message.
    pub fn describe(&self) -> String {
        match self {
            Builtins::Embedded => "built into gitsync".to_string(),
            Builtins::Folder(dir) => dir.display().to_string(),
        }
    }

    fn component(&self, name: &str) -> String {
        match self {
            Builtins::Embedded => format!("`{name}` (built into gitsync)"),
            Builtins::Folder(dir) => dir.join(format!("{name}.wasm")).display().to_string(),
        }
    }

    /// The built-in component `name`, compiled (or loaded from the cache) and linked.
    fn instance_pre(&self, rt: &Runtime, name: &str) -> Result<wasmtime::component::InstancePre<Sandbox>> {
        let component = match self {
            Builtins::Folder(dir) => {
                let path = dir.join(format!("{name}.wasm"));
                if !path.is_file() {
                    return Err(not_found(dir, name));
                }
                rt.load(&path)?
            }
            Builtins::Embedded => {
                let e = EMBEDDED
                    .iter()
                    .find(|e| e.name == name)
                    .expect("every built-in is embedded");
                if e.bytes.is_empty() {
                    anyhow::bail!(
                        "this gitsync was built without its policy components (GITSYNC_SKIP_GUEST_BUILD); rebuild it, or pass --policies DIR"
                    );
                }
                rt.load_bytes(e.bytes, e.sha256, &self.component(name))?
            }
        };
        rt.linker()
            .instantiate_pre(&component)
            .map_err(|e| anyhow::Error::from(e).context(format!("cannot link {}", self.component(name))))
    }
}

pub struct BuiltinPolicies<'rt> {
    rt: &'rt Runtime,
    source: Builtins,
    schema: schema::SchemaPolicyPre<Sandbox>,
    aliases: aliases::AliasesPolicyPre<Sandbox>,
    deps: deps::DepsPolicyPre<Sandbox>,
    contracts: contracts::ContractsPolicyPre<Sandbox>,
}

impl<'rt> BuiltinPolicies<'rt> {
    /// The components built into the binary.
    pub fn embedded(rt: &'rt Runtime) -> Result<BuiltinPolicies<'rt>> {
        BuiltinPolicies::load(rt, &Builtins::Embedded)
    }

    /// Load `schema`, `aliases`, `deps` and `contracts` from `source`.
    pub fn load(rt: &'rt Runtime, source: &Builtins) -> Result<BuiltinPolicies<'rt>> {
        Ok(BuiltinPolicies {
            rt,
            source: source.clone(),
            schema: schema::SchemaPolicyPre::new(source.instance_pre(rt, "schema")?).map_err(anyhow::Error::from)?,
            aliases: aliases::AliasesPolicyPre::new(source.instance_pre(rt, "aliases")?)
                .map_err(anyhow::Error::from)?,
            deps: deps::DepsPolicyPre::new(source.instance_pre(rt, "deps")?).map_err(anyhow::Error::from)?,
            contracts: contracts::ContractsPolicyPre::new(source.instance_pre(rt, "contracts")?)
                .map_err(anyhow::Error::from)?,
        })
    }

    /// Where the built-in components came from.
    pub fn source(&self) -> &Builtins {
        &self.source
    }

    /// One call in a fresh store; a trap or limit becomes a `PolicyFailure` naming the component.
    fn call<T>(
        &self,
        policy: &'static str,
        f: impl FnOnce(&mut wasmtime::Store<Sandbox>) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyFailure> {
        let mut store = self.rt.store();
        f(&mut store).map_err(|e| self.failure(policy, e).with_output(&printed(&store)))
    }

    fn failure(&self, policy: &'static str, err: wasmtime::Error) -> PolicyFailure {
        PolicyFailure::new("policy", policy, self.source.component(policy), &err, self.rt.limits())
    }

    /// Parse files (repository paths with their bytes) under the configured sub-folder `base`.
    /// `spans` fills every resource's `spans` (the places of all its values), which plugins are
    /// given; the built-in checks do without them, and parsing is faster.
    pub fn parse(&self, base: &str, files: &[SourceFile], spans: bool) -> Result<Vec<ParsedFile>, PolicyFailure> {
        let options = schema::exports::gitsync::policy::schema::ParseOptions {
            path: base.to_string(),
            spans,
        };
        let parsed = self.call("schema", |store| {
            let instance = self.schema.instantiate(&mut *store)?;
            instance.gitsync_policy_schema().call_parse(store, &options, files)
        })?;
        Ok(parsed
            .into_iter()
            .map(|p| ParsedFile {
                path: p.path,
                resource: p.resource,
                diagnostics: convert::diagnostics(p.diagnostics),
            })
            .collect())
    }

    pub(crate) fn parse_config(
        &self,
        file: &SourceFile,
    ) -> Result<
        (
            Option<schema::exports::gitsync::policy::schema::Config>,
            Vec<Diagnostic>,
        ),
        PolicyFailure,
    > {
        let (config, diags) = self.call("schema", |store| {
            let instance = self.schema.instantiate(&mut *store)?;
            instance.gitsync_policy_schema().call_parse_config(store, file)
        })?;
        Ok((config, convert::diagnostics(diags)))
    }

    pub fn render(&self, item: &Resource) -> Result<Result<String, String>, PolicyFailure> {
        self.call("schema", |store| {
            let instance = self.schema.instantiate(&mut *store)?;
            instance.gitsync_policy_schema().call_render(store, item)
        })
    }

    /// A resource file's fields as a JSON object (text), as the schema component reads them.
    pub fn fields_as_json(&self, yaml: &str) -> Result<Result<String, String>, PolicyFailure> {
        self.call("schema", |store| {
            let instance = self.schema.instantiate(&mut *store)?;
            instance.gitsync_policy_schema().call_fields_as_json(store, yaml)
        })
    }

    /// Resolve every reference in every workspace (a workspace is a manifest among `resources`).
    pub fn resolve(&self, resources: &[Resource]) -> Result<Vec<Resolution>, PolicyFailure> {
        let resolved = self.call("aliases", |store| {
            let instance = self.aliases.instantiate(&mut *store)?;
            instance.gitsync_policy_aliases().call_resolve(store, resources)
        })?;
        Ok(resolved
            .into_iter()
            .map(|r| Resolution {
                workspace: r.workspace,
                references: r.references,
                diagnostics: convert::diagnostics(r.diagnostics),
            })
            .collect())
    }

    pub fn check_deps(&self, resources: &[Resource]) -> Result<Vec<Diagnostic>, PolicyFailure> {
        self.call("deps", |store| {
            let instance = self.deps.instantiate(&mut *store)?;
            instance.gitsync_policy_deps().call_check(store, resources)
        })
        .map(convert::diagnostics)
    }

    pub fn check_contracts(&self, resources: &[Resource]) -> Result<Vec<Diagnostic>, PolicyFailure> {
        self.call("contracts", |store| {
            let instance = self.contracts.instantiate(&mut *store)?;
            instance.gitsync_policy_contracts().call_check(store, resources)
        })
        .map(convert::diagnostics)
    }
}

/// What changing a base revision into a head revision breaks, and the syncs it affects.
#[derive(Clone, Debug)]
pub struct Comparison {
    pub diagnostics: Vec<Diagnostic>,
    pub affected: Vec<AffectedSync>,
}

impl BuiltinPolicies<'_> {
    pub fn compare(
        &self,
        base: &[Resource],
        head: &[Resource],
        changes: &[ChangedFile],
    ) -> Result<Comparison, PolicyFailure> {
        let c = self.call("deps", |store| {
            let instance = self.deps.instantiate(&mut *store)?;
            instance.gitsync_policy_deps().call_compare(store, base, head, changes)
        })?;
        Ok(Comparison {
            diagnostics: convert::diagnostics(c.diagnostics),
            affected: c.affected.into_iter().map(convert::affected_sync).collect(),
        })
    }

    pub fn compare_events(&self, base: &[Resource], head: &[Resource]) -> Result<Vec<Diagnostic>, PolicyFailure> {
        self.call("contracts", |store| {
            let instance = self.contracts.instantiate(&mut *store)?;
            instance.gitsync_policy_contracts().call_compare(store, base, head)
        })
        .map(convert::diagnostics)
    }
}

use crate::bindings::contracts::exports::gitsync::policy::contracts::GuestEventValidator as ContractsValidator;
use crate::wit::{ChangedFile, ParsedFile, Resolution, Resource, SourceFile, Verdict};

/// A compiled contract living in its own store, judging batches of events.
pub struct EventJudge<'p, 'rt> {
    policies: &'p BuiltinPolicies<'rt>,
    store: wasmtime::Store<Sandbox>,
    instance: contracts::ContractsPolicy,
    handle: wasmtime::component::ResourceAny,
}

impl<'rt> BuiltinPolicies<'rt> {
    /// Compile `contract` from `resources` in the contracts component. The outer error is a failed
    /// component; the inner one the component's own message (no such contract, a schema that does
    /// not compile).
    pub fn event_judge<'p>(
        &'p self,
        resources: &[Resource],
        contract: &str,
    ) -> Result<Result<EventJudge<'p, 'rt>, String>, PolicyFailure> {
        let mut store = self.rt.store();
        let created = (|| -> wasmtime::Result<_> {
            let instance = self.contracts.instantiate(&mut store)?;
            let handle = instance
                .gitsync_policy_contracts()
                .event_validator()
                .call_create(&mut store, resources, contract)?;
            Ok((instance, handle))
        })();
        match created {
            Err(e) => Err(self.failure("contracts", e)),
            Ok((_, Err(message))) => Ok(Err(message)),
            Ok((instance, Ok(handle))) => Ok(Ok(EventJudge {
                policies: self,
                store,
                instance,
                handle,
            })),
        }
    }

    /// Is each instance valid under the draft-7 schema? `remotes` are documents `$ref`s may name,
    /// by URL (the component has no network). The JSON Schema Test Suite's question: supported
    /// for embedders who check their own schemas the way the contracts component does.
    pub fn check_instances(
        &self,
        schema: &str,
        instances: &[String],
        remotes: &[(String, String)],
    ) -> Result<Result<Vec<bool>, String>, PolicyFailure> {
        self.call("contracts", |store| {
            let instance = self.contracts.instantiate(&mut *store)?;
            instance
                .gitsync_policy_contracts()
                .call_check_instances(store, schema, instances, remotes)
        })
    }
}

impl EventJudge<'_, '_> {
    /// Judge newline-separated events; returns one JSON verdict line per non-blank line.
    pub fn judge_lines(&mut self, batch: &str) -> Result<String, PolicyFailure> {
        self.call(|v, store, handle| v.call_judge_lines(store, handle, batch))
    }

    /// `judge_lines` keeping only the counts, for a summary.
    pub fn tally_lines(&mut self, batch: &str) -> Result<gitsync_core::events::Tally, PolicyFailure> {
        self.call(|v, store, handle| v.call_tally_lines(store, handle, batch))
            .map(convert::tally)
    }

    /// Judge one batch; the time limit applies to each batch.
    pub fn judge(&mut self, events: &[String]) -> Result<Vec<Verdict>, PolicyFailure> {
        self.call(|v, store, handle| v.call_judge(store, handle, events))
    }

    /// One call on the event validator, with the time limit set afresh (it applies to each batch).
    fn call<T>(
        &mut self,
        f: impl FnOnce(
            ContractsValidator<'_>,
            &mut wasmtime::Store<Sandbox>,
            wasmtime::component::ResourceAny,
        ) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyFailure> {
        self.store.set_epoch_deadline(self.policies.rt.deadline_ticks());
        f(
            self.instance.gitsync_policy_contracts().event_validator(),
            &mut self.store,
            self.handle,
        )
        .map_err(|e| self.policies.failure("contracts", e))
    }
}

/// The `workspace` component: what changes from Git, or made in the workspace itself, do to a
/// workspace. Loaded apart from the four checks, as only the sync engine and `workspace put` use it.
pub struct WorkspacePolicy<'rt> {
    rt: &'rt Runtime,
    source: Builtins,
    pre: workspace::WorkspacePolicyPre<Sandbox>,
}

use crate::bindings::workspace::exports::gitsync::policy::workspace as wit_workspace;
use crate::wit::{InboundPlan, Outcome, Planned, WorkspaceState};

fn planned(p: wit_workspace::Planned) -> Planned {
    Planned {
        path: p.path,
        kind: p.kind,
        slug: p.slug,
        outcome: match p.outcome {
            wit_workspace::Outcome::Unchanged => Outcome::Unchanged,
            wit_workspace::Outcome::Apply(yaml) => Outcome::Apply(yaml),
            wit_workspace::Outcome::Skipped(d) => Outcome::Skipped(convert::diagnostics(d)),
            wit_workspace::Outcome::Unwritable(why) => Outcome::Unwritable(why),
        },
    }
}

impl<'rt> WorkspacePolicy<'rt> {
    pub fn load(rt: &'rt Runtime, source: &Builtins) -> Result<WorkspacePolicy<'rt>> {
        Ok(WorkspacePolicy {
            rt,
            source: source.clone(),
            pre: workspace::WorkspacePolicyPre::new(source.instance_pre(rt, "workspace")?)
                .map_err(anyhow::Error::from)?,
        })
    }

    fn call<T>(
        &self,
        f: impl FnOnce(&mut wasmtime::Store<Sandbox>) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyFailure> {
        let mut store = self.rt.store();
        f(&mut store).map_err(|e| {
            PolicyFailure::new(
                "policy",
                "workspace",
                self.source.component("workspace"),
                &e,
                self.rt.limits(),
            )
        })
    }

    /// INBOUND: what the changed files of one commit do to the workspace, given its alias file then.
    pub fn plan_inbound(
        &self,
        state: &WorkspaceState,
        files: &[SourceFile],
        aliases: Option<&SourceFile>,
    ) -> Result<InboundPlan, PolicyFailure> {
        let found = self.call(|store| {
            let i = self.pre.instantiate(&mut *store)?;
            i.gitsync_policy_workspace()
                .call_plan_inbound(store, state, files, aliases)
        })?;
        Ok(InboundPlan {
            planned: found.planned.into_iter().map(planned).collect(),
            ignored: convert::diagnostics(found.ignored),
        })
    }

    /// `workspace put`: a resource written for the workspace itself, at its place in the layout.
    pub fn plan_put(&self, state: &WorkspaceState, file: &SourceFile) -> Result<Planned, PolicyFailure> {
        self.call(|store| {
            let i = self.pre.instantiate(&mut *store)?;
            i.gitsync_policy_workspace().call_plan_put(store, state, file)
        })
        .map(planned)
    }

    /// What deleting the `kind` resource `slug` would break among the others the workspace holds.
    pub fn plan_delete(
        &self,
        state: &WorkspaceState,
        kind: &str,
        slug: &str,
    ) -> Result<Vec<Diagnostic>, PolicyFailure> {
        self.call(|store| {
            let i = self.pre.instantiate(&mut *store)?;
            i.gitsync_policy_workspace().call_plan_delete(store, state, kind, slug)
        })
        .map(convert::diagnostics)
    }

    /// What removing source or destination `id` (`kind`: `source` or `destination`) would leave
    /// without it among the resources the workspace holds.
    pub fn plan_remove_endpoint(
        &self,
        state: &WorkspaceState,
        kind: &str,
        id: &str,
    ) -> Result<Vec<Diagnostic>, PolicyFailure> {
        self.call(|store| {
            let i = self.pre.instantiate(&mut *store)?;
            i.gitsync_policy_workspace()
                .call_plan_remove_endpoint(store, state, kind, id)
        })
        .map(convert::diagnostics)
    }

    /// The workspace's manifest as it is written to Git; the inner error is the component's message.
    pub fn render_manifest(&self, state: &WorkspaceState) -> Result<Result<String, String>, PolicyFailure> {
        self.call(|store| {
            let i = self.pre.instantiate(&mut *store)?;
            i.gitsync_policy_workspace().call_render_manifest(store, state)
        })
    }

    /// OUTBOUND: the text to write for the workspace's `yaml`, keeping an alias the file in Git uses.
    pub fn keep_aliases(
        &self,
        state: &WorkspaceState,
        path: &str,
        yaml: &str,
        existing: &[u8],
        aliases: &SourceFile,
    ) -> Result<Option<String>, PolicyFailure> {
        self.call(|store| {
            let i = self.pre.instantiate(&mut *store)?;
            i.gitsync_policy_workspace()
                .call_keep_aliases(store, state, path, yaml, existing, aliases)
        })
    }
}
