//! The four built-in policy components, loaded from a policies folder and called through WIT.

use crate::runtime::bindings::{aliases, contracts, deps, schema, types};
use crate::runtime::{Runtime, describe_failure, not_found};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// A call into a component that failed (trap, time or memory limit): the run goes on, and the
/// failure becomes a diagnostic that names the component.
#[derive(Debug, Clone)]
pub struct PolicyFailure {
    pub policy: &'static str,
    pub component: PathBuf,
    pub reason: String,
}

/// Where built-in policies are looked for when no folder is given: `policies/` next to the
/// binary, then the folder the build placed them in.
pub fn default_policies_dir() -> PathBuf {
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent().map(|d| d.join("policies").join("builtin"))
        && dir.join("schema.wasm").is_file()
    {
        return dir;
    }
    PathBuf::from(env!("GITSYNC_BUILTIN_POLICIES"))
}

pub struct BuiltinPolicies<'rt> {
    rt: &'rt Runtime,
    dir: PathBuf,
    schema: schema::SchemaPolicyPre<crate::runtime::Sandbox>,
    aliases: aliases::AliasesPolicyPre<crate::runtime::Sandbox>,
    deps: deps::DepsPolicyPre<crate::runtime::Sandbox>,
    contracts: contracts::ContractsPolicyPre<crate::runtime::Sandbox>,
}

impl<'rt> BuiltinPolicies<'rt> {
    /// Load `schema.wasm`, `aliases.wasm`, `deps.wasm` and `contracts.wasm` from `dir`.
    pub fn load(rt: &'rt Runtime, dir: &Path) -> Result<BuiltinPolicies<'rt>> {
        let pre = |name: &str| -> Result<_> {
            let path = dir.join(format!("{name}.wasm"));
            if !path.is_file() {
                return Err(not_found(dir, name));
            }
            let component = rt.load(&path)?;
            rt.linker()
                .instantiate_pre(&component)
                .map_err(|e| anyhow::Error::from(e).context(format!("cannot link {}", path.display())))
        };
        Ok(BuiltinPolicies {
            rt,
            dir: dir.to_path_buf(),
            schema: schema::SchemaPolicyPre::new(pre("schema")?).map_err(anyhow::Error::from)?,
            aliases: aliases::AliasesPolicyPre::new(pre("aliases")?).map_err(anyhow::Error::from)?,
            deps: deps::DepsPolicyPre::new(pre("deps")?).map_err(anyhow::Error::from)?,
            contracts: contracts::ContractsPolicyPre::new(pre("contracts")?).map_err(anyhow::Error::from)?,
        })
    }

    /// One call in a fresh store; a trap or limit becomes a `PolicyFailure` naming the component.
    fn call<T>(
        &self,
        policy: &'static str,
        f: impl FnOnce(&mut wasmtime::Store<crate::runtime::Sandbox>) -> wasmtime::Result<T>,
    ) -> Result<T, PolicyFailure> {
        let mut store = self.rt.store();
        f(&mut store).map_err(|e| self.failure(policy, e))
    }

    fn failure(&self, policy: &'static str, err: wasmtime::Error) -> PolicyFailure {
        PolicyFailure {
            policy,
            component: self.dir.join(format!("{policy}.wasm")),
            reason: describe_failure(&err, self.rt.limits()),
        }
    }

    pub fn parse(
        &self,
        base: &str,
        files: &[types::SourceFile],
    ) -> Result<Vec<schema::exports::gitsync::policy::schema::ParsedFile>, PolicyFailure> {
        let options = schema::exports::gitsync::policy::schema::ParseOptions { path: base.to_string() };
        self.call("schema", |store| {
            let instance = self.schema.instantiate(&mut *store)?;
            instance.gitsync_policy_schema().call_parse(store, &options, files)
        })
    }

    pub fn parse_config(
        &self,
        file: &types::SourceFile,
    ) -> Result<
        (
            Option<schema::exports::gitsync::policy::schema::Config>,
            Vec<types::Diagnostic>,
        ),
        PolicyFailure,
    > {
        self.call("schema", |store| {
            let instance = self.schema.instantiate(&mut *store)?;
            instance.gitsync_policy_schema().call_parse_config(store, file)
        })
    }

    pub fn render(&self, item: &types::Resource) -> Result<Result<String, String>, PolicyFailure> {
        self.call("schema", |store| {
            let instance = self.schema.instantiate(&mut *store)?;
            instance.gitsync_policy_schema().call_render(store, item)
        })
    }

    pub fn resolve(
        &self,
        resources: &[types::Resource],
    ) -> Result<Vec<aliases::exports::gitsync::policy::aliases::Resolution>, PolicyFailure> {
        self.call("aliases", |store| {
            let instance = self.aliases.instantiate(&mut *store)?;
            instance.gitsync_policy_aliases().call_resolve(store, resources)
        })
    }

    pub fn check_deps(&self, resources: &[types::Resource]) -> Result<Vec<types::Diagnostic>, PolicyFailure> {
        self.call("deps", |store| {
            let instance = self.deps.instantiate(&mut *store)?;
            instance.gitsync_policy_deps().call_check(store, resources)
        })
    }

    pub fn check_contracts(&self, resources: &[types::Resource]) -> Result<Vec<types::Diagnostic>, PolicyFailure> {
        self.call("contracts", |store| {
            let instance = self.contracts.instantiate(&mut *store)?;
            instance.gitsync_policy_contracts().call_check(store, resources)
        })
    }
}

/// What `deps.compare` found: breaking changes and the syncs a change affects.
pub type Comparison = crate::runtime::bindings::deps::exports::gitsync::policy::deps::Comparison;
pub use crate::runtime::bindings::deps::exports::gitsync::policy::deps::{ChangeKind, ChangedFile};

impl BuiltinPolicies<'_> {
    pub fn compare(
        &self,
        base: &[types::Resource],
        head: &[types::Resource],
        changes: &[ChangedFile],
    ) -> Result<Comparison, PolicyFailure> {
        self.call("deps", |store| {
            let instance = self.deps.instantiate(&mut *store)?;
            instance.gitsync_policy_deps().call_compare(store, base, head, changes)
        })
    }

    pub fn compare_events(
        &self,
        base: &[types::Resource],
        head: &[types::Resource],
    ) -> Result<Vec<types::Diagnostic>, PolicyFailure> {
        self.call("contracts", |store| {
            let instance = self.contracts.instantiate(&mut *store)?;
            instance.gitsync_policy_contracts().call_compare(store, base, head)
        })
    }
}

use crate::runtime::bindings::contracts::exports::gitsync::policy::contracts::GuestEventValidator as ContractsValidator;
pub use crate::runtime::bindings::contracts::exports::gitsync::policy::contracts::{Decision, Tally, Verdict};

/// A compiled contract living in its own store, judging batches of events.
pub struct EventJudge<'p, 'rt> {
    policies: &'p BuiltinPolicies<'rt>,
    store: wasmtime::Store<crate::runtime::Sandbox>,
    instance: contracts::ContractsPolicy,
    handle: wasmtime::component::ResourceAny,
}

impl<'rt> BuiltinPolicies<'rt> {
    /// Compile `contract` from `resources` in the contracts component. The outer error is a failed
    /// component; the inner one the component's own message (no such contract, a schema that does
    /// not compile).
    pub fn event_judge<'p>(
        &'p self,
        resources: &[types::Resource],
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

    /// Is each instance valid under the schema? (The JSON Schema Test Suite's question.)
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
    pub fn tally_lines(&mut self, batch: &str) -> Result<Tally, PolicyFailure> {
        self.call(|v, store, handle| v.call_tally_lines(store, handle, batch))
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
            &mut wasmtime::Store<crate::runtime::Sandbox>,
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
