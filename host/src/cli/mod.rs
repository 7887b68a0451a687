//! The command line: the arguments of every command, exit codes, and which reporter prints. One
//! file per command (`validate.rs`, `check.rs`, `events.rs`, `policy.rs`, `workspace.rs`, and
//! `sync.rs` for connect/sync/resync/status/conflicts/log); this file holds what they share.

mod access;
mod check;
mod events;
mod kit;
mod policy;
mod scaffold;
mod store;
mod sync;
mod validate;
mod watch;
mod workspace;

use crate::checks::ValidateOptions;
use anyhow::{Context, Result};
use check::CheckArgs;
use clap::{Args, Parser, Subcommand};
use events::EventsCommand;
use gitsync_engine::{BuiltinPolicies, Builtins, Limits, Runtime, WorkspacePolicy, default_cache_dir};
use policy::PolicyCommand;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;
use validate::ValidateArgs;

/// Exit codes CI can rely on.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser)]
#[command(
    name = "gitsync",
    version,
    about = "Git Sync for data-activation workspaces: validate the YAML of models, syncs, schema and event contracts",
    after_help = "Examples:\n  gitsync validate examples/acme\n  gitsync validate . --rev origin/main --format github\n\nExit codes: 0 no errors, 1 errors found, 2 usage or I/O error.\nDocs: docs/diagnostics.md lists every diagnostic code."
)]
struct Cli {
    /// Load the built-in policy components from this folder (schema.wasm, aliases.wasm, deps.wasm,
    /// contracts.wasm, workspace.wasm) instead of the ones built into gitsync.
    #[arg(long, global = true, env = "GITSYNC_POLICIES", value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Where compiled components are cached (default: $XDG_CACHE_HOME/gitsync or ~/.cache/gitsync).
    #[arg(long, global = true, env = "GITSYNC_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile components in memory on every run instead of caching them.
    #[arg(long, global = true)]
    no_cache: bool,
    /// Give up on a Git remote that does not accept the connection within this time (`10s`).
    #[arg(long, global = true, env = "GITSYNC_CONNECT_TIMEOUT", value_name = "DURATION", default_value = "10s", value_parser = crate::duration::parse)]
    connect_timeout: Duration,
    /// Give up on a Git remote that stays silent this long during a fetch, push or clone (`60s`).
    #[arg(long, global = true, env = "GITSYNC_NETWORK_TIMEOUT", value_name = "DURATION", default_value = "60s", value_parser = crate::duration::parse)]
    network_timeout: Duration,
    /// How long `sync`, `resync` and `connect` wait for a pass already running on the workspace (`0s`:
    /// give up at once).
    #[arg(long, global = true, env = "GITSYNC_LOCK_WAIT", value_name = "DURATION", default_value = "60s", value_parser = crate::duration::parse)]
    lock_wait: Duration,
    /// The data directory holding the embedded workspaces (workspace commands, sync, `serve`, …).
    #[arg(long, global = true, env = "GITSYNC_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Where the workspaces are kept: a postgres:// URL (every workspace in one PostgreSQL database;
    /// --data then only holds this machine's Git checkouts and locks). Left out: SQLite files in
    /// --data.
    #[arg(
        long,
        global = true,
        env = "GITSYNC_STORE",
        value_name = "URL",
        hide_env_values = true
    )]
    store: Option<String>,
    /// With --store postgres://…: how long a pass's lease on a workspace lasts without renewal
    /// (renewed every third of it) — how long another process waits for a pass that stopped
    /// (paused, cut off, killed) before it takes the workspace over.
    #[arg(long, global = true, env = "GITSYNC_LEASE", value_name = "DURATION", default_value = "15s", value_parser = crate::duration::parse)]
    lease: Duration,
    /// Which workspace of the data directory a command acts on (may be left out when it holds one).
    #[arg(long, global = true, env = "GITSYNC_WORKSPACE", value_name = "ID")]
    workspace: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every resource file of a repository, for every workspace that has a manifest.
    #[command(
        after_help = "Examples:\n  gitsync validate examples/acme\n  gitsync validate --rev HEAD~1 --format json\n  gitsync validate . --path hightouch --format sarif > gitsync.sarif\n  gitsync validate . --format github   # annotations on a pull request\n\nExit codes: 0 clean or warnings only, 1 errors found, 2 usage or I/O error."
    )]
    Validate(ValidateArgs),
    /// Pull-request check: validate the head and fail on changes that break what the base had.
    #[command(
        after_help = "Examples:\n  gitsync check --base origin/main                 # working tree against main\n  gitsync check --base main --head feature/orders --format markdown >> $GITHUB_STEP_SUMMARY\n  gitsync check --base origin/main --format github  # annotations on the pull request\n\nExit codes: 0 passed, 1 failed check (errors or breaking changes), 2 usage or I/O error."
    )]
    Check(CheckArgs),
    /// Event contracts at run time.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Plugins: write one (new, sdk, wit), see and run it (context, run), test, watch and bench it, and list or inspect what runs.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The embedded workspace: sources, destinations and resources, each change attributed and queued.
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Connect the workspace to a Git branch: folders, manifest and alias file in one commit.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws connect --repo file:///srv/git/acme.git --branch main --path hightouch\n  gitsync --data ./ws connect --repo ssh://git@github.com/acme/config.git --branch main --ssh-key ~/.ssh/gitsync --ssh-passphrase-env GITSYNC_KEY_PASSPHRASE\n  gitsync --data ./ws connect --repo https://github.com/acme/config.git --branch main --token-env GITHUB_TOKEN\n\nOnly the key's path and the variables' names are stored; secrets are read from the environment on each run."
    )]
    Connect {
        /// The repository URL (file://, git://, ssh:// or https://; no password in it).
        #[arg(long)]
        repo: String,
        /// The branch to keep in step; it must exist.
        #[arg(long)]
        branch: String,
        /// The sub-folder holding models/, syncs/, schema/ and events/ (default: the repository root).
        #[arg(long, default_value = "")]
        path: String,
        /// SSH private key file for ssh:// remotes.
        #[arg(long, value_name = "FILE")]
        ssh_key: Option<PathBuf>,
        /// Environment variable holding the SSH key's passphrase.
        #[arg(long, value_name = "VAR", requires = "ssh_key")]
        ssh_passphrase_env: Option<String>,
        /// Environment variable holding an HTTPS token.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// The user name sent with the token, when the URL names none (GitHub Enterprise's full user
        /// name such as `hightouch123@github.hightouch.com`, a Bitbucket user, a GitLab deploy
        /// token's user); without it the token goes as `x-access-token`, as GitHub expects.
        #[arg(long, value_name = "NAME", requires = "token_env")]
        user: Option<String>,
        /// Send the token over plain `http://` (anyone on the network can read it); for test servers.
        #[arg(long, requires = "token_env")]
        allow_insecure: bool,
        /// Become the writer of this workspace on the branch and path even though another store of
        /// it (the same workspace id in another data directory) wrote it last — only when that one
        /// is gone for good.
        #[arg(long)]
        take_over: bool,
    },
    /// One pass: INBOUND the branch's new commits, OUTBOUND the queued workspace changes, push.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws sync\n  gitsync --data ./ws sync --format json\n\nConflicts: a resource changed in the workspace and in Git since the last pass takes Git's version;\nthe workspace's version is kept (`gitsync conflicts`).\nExit codes: 0 pass complete, 1 pass complete but files were skipped as invalid or conflicts were resolved, 2 error (nothing queued is lost)."
    )]
    Sync {
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
        /// Memory limit for the workspace component, in MiB. A file it cannot handle within the
        /// limits is skipped and reported (GS009); the rest of the pass goes on.
        #[arg(long, value_name = "MIB", default_value_t = 1024)]
        policy_memory: usize,
        /// Time limit for one call into the workspace component (`30s`, `500ms`).
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::duration::parse)]
        policy_timeout: Duration,
        /// Make this store the writer of the workspace on its branch first (another store of it
        /// wrote it last, and is gone for good); then the pass.
        #[arg(long)]
        take_over: bool,
    },
    /// Full resync: write every resource to the branch in one commit, then apply the branch back.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws resync            # asks first\n  gitsync --data ./ws resync --yes --as \"Ada Lovelace <ada@example.com>\"\n\nExit codes: 0 done, 1 done but files were skipped as invalid, 2 error or not confirmed."
    )]
    Resync {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// The author of the resync commit (default: gitsync).
        #[arg(long = "as", value_name = "NAME <EMAIL>")]
        author: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// Where the workspace stands: connection, last applied commit, queued changes, kept conflicts.
    #[command(after_help = "Examples:\n  gitsync --data ./ws status\n  gitsync --data ./ws status --format json")]
    Status {
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// Run the service: every workspace of the data directory kept in step by itself, with an HTTP API.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws serve\n  gitsync --data ./ws serve --listen 0.0.0.0:8787 --poll 5m --debounce 2s\n  gitsync --data ./ws serve --poll off   # webhooks only\n  gitsync --data ./ws serve --metrics-listen 127.0.0.1:9187   # /metrics without a token, there only\n  GITSYNC_STORE=postgres://… gitsync --data ./r1 serve --replica-name r1   # one of several replicas (docs/scale.md)\n\nRuns until SIGTERM or Ctrl-C: stops accepting requests, lets requests in progress and running passes finish (at most --shutdown-timeout, 30 s), exits 0.\nTokens: `gitsync token create`; webhook secrets: `gitsync webhook secret`. Docs: docs/serve.md."
    )]
    Serve {
        #[command(flatten)]
        opts: crate::serve::Options,
        /// Log lines as text or as one JSON object each (for a log collector); RUST_LOG picks the
        /// level (`info` by default; `debug` adds a line per request).
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
    },
    /// API tokens for `gitsync serve`: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(access::TokenCommand),
    /// The workspace's webhook secret for `gitsync serve`.
    #[command(subcommand)]
    Webhook(access::WebhookCommand),
    /// Where workspaces are kept: copy them into another store (SQLite files to PostgreSQL).
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Losing versions of conflicts, kept so that no change is lost.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws conflicts\n  gitsync --data ./ws conflicts --show 3 > orders.yaml   # the kept version\n  gitsync --data ./ws workspace put model orders --file orders.yaml --as \"Ada <ada@example.com>\"   # restore it"
    )]
    Conflicts {
        /// Print the kept YAML of conflict N.
        #[arg(long, value_name = "N")]
        show: Option<i64>,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// The change log: time, direction, resource, commit, author, outcome.
    #[command(after_help = "Examples:\n  gitsync --data ./ws log\n  gitsync --data ./ws log --limit 5 --format json")]
    Log {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
}

/// A source or destination of the manifest.
#[derive(clap::Args)]
pub(crate) struct EndpointArgs {
    pub(crate) id: String,
    #[arg(long)]
    pub(crate) name: String,
    #[arg(long = "type")]
    pub(crate) kind: String,
}

#[derive(Subcommand)]
pub(crate) enum WorkspaceCommand {
    /// Create an embedded workspace with this id in the data directory.
    #[command(after_help = "Example:\n  gitsync --data ./ws workspace init acme-staging")]
    Init { id: String },
    /// Add a source (what models read from).
    #[command(
        after_help = "Example:\n  gitsync --data ./ws workspace add-source staging-postgres --name \"Staging Postgres\" --type postgres"
    )]
    AddSource(EndpointArgs),
    /// Add a destination (what syncs write to).
    #[command(
        after_help = "Example:\n  gitsync --data ./ws workspace add-destination staging-salesforce --name Salesforce --type salesforce"
    )]
    AddDestination(EndpointArgs),
    /// List the sources.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws workspace sources\n  gitsync --data ./ws workspace sources --format json"
    )]
    Sources {
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// List the destinations.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws workspace destinations\n  gitsync --data ./ws workspace destinations --format json"
    )]
    Destinations {
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// Remove a source; refused while a model reads from it.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws workspace remove-source staging-postgres\n  gitsync --data ./ws workspace remove-source staging-postgres --force   # even though models use it\n\nA source a model still names is not removed: the models are listed (exit 1); change them first,\nor pass --force (the branch then fails `gitsync validate` until they are fixed)."
    )]
    RemoveSource {
        id: String,
        /// Remove it even though models use it.
        #[arg(long)]
        force: bool,
    },
    /// Remove a destination; refused while a sync writes to it.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws workspace remove-destination staging-salesforce\n  gitsync --data ./ws workspace remove-destination staging-salesforce --force   # even though syncs use it\n\nA destination a sync still names is not removed: the syncs are listed (exit 1); change them\nfirst, or pass --force (the branch then fails `gitsync validate` until they are fixed)."
    )]
    RemoveDestination {
        id: String,
        /// Remove it even though syncs use it.
        #[arg(long)]
        force: bool,
    },
    /// Create or update a resource from YAML or JSON (`--file -` reads stdin); references hold real ids.
    #[command(
        after_help = "KIND: model, sync, parent-model, related-model, event-model, relationship, contract, event\n(an event's SLUG is <contract>/<event-slug>).\n\nExamples:\n  gitsync --data ./ws workspace put model orders --file orders.yaml --as \"Ada Lovelace <ada@example.com>\"\n  gitsync --data ./ws workspace put model orders --file orders.yaml --as \"Ada Lovelace <ada@example.com>\" --if-version 3f2a9c0d1e4b5a6f7081   # only if no one changed it since\n\nExit codes: 0 stored and queued, 1 not valid or not at --if-version (nothing stored), 2 error."
    )]
    Put {
        kind: String,
        slug: String,
        #[arg(long, value_name = "F")]
        file: PathBuf,
        /// Who makes the change: "Name <email>" (the author of the commit it becomes).
        #[arg(long = "as", value_name = "AUTHOR")]
        author: String,
        /// Only if the resource is still at this version (`get --format json` shows it): a change
        /// made meanwhile is not overwritten (exit 1, nothing changed).
        #[arg(long, value_name = "VERSION")]
        if_version: Option<String>,
    },
    /// Show a resource.
    #[command(after_help = "Example:\n  gitsync --data ./ws workspace get model orders --format json")]
    Get {
        kind: String,
        slug: String,
        #[arg(long, value_enum, default_value = "yaml")]
        format: ResourceFormat,
    },
    /// List resources, of one kind or all.
    #[command(after_help = "Example:\n  gitsync --data ./ws workspace list sync")]
    List {
        kind: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// Delete a resource (queued for OUTBOUND like any change); refused while others use it.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws workspace delete model orders --as \"Ada Lovelace <ada@example.com>\"\n  gitsync --data ./ws workspace delete model orders --force --as \"Ada Lovelace <ada@example.com>\"   # even though a sync uses it\n\nA delete that would leave another resource pointing at nothing (a sync at its model, a\nrelationship at its schema models, …) is refused, naming what uses it (exit 1); --force deletes\nanyway, and the branch then fails `gitsync validate` until those are fixed."
    )]
    Delete {
        kind: String,
        slug: String,
        #[arg(long = "as", value_name = "AUTHOR")]
        author: String,
        /// Delete even though other resources use it.
        #[arg(long)]
        force: bool,
        /// Only if the resource is still at this version (`get --format json` shows it).
        #[arg(long, value_name = "VERSION")]
        if_version: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ResourceFormat {
    Yaml,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SummaryFormat {
    Human,
    Json,
}

#[derive(Args)]
pub(crate) struct CommonArgs {
    /// The repository folder (the one holding manifest-<workspace>.yaml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The sub-folder that holds models/, syncs/, schema/ and events/ (empty: the repository root).
    #[arg(long, value_name = "P", default_value = "")]
    path: String,
    /// Files larger than this many bytes are reported (GS003) instead of read.
    #[arg(long, value_name = "BYTES", default_value_t = gitsync_core::layout::MAX_FILE_SIZE)]
    max_file_size: u64,
    /// Time limit for one call into a policy component (`30s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = crate::duration::parse)]
    policy_timeout: Duration,
    /// Memory limit for a policy component, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    policy_memory: usize,
    /// Also run this plugin component (repeatable); plugins in policies/ and .gitsync/policies/ run too.
    #[arg(long = "policy", value_name = "FILE")]
    policy_files: Vec<PathBuf>,
    /// Show what plugins printed (stdout and stderr, up to 64 KiB each), on standard error.
    #[arg(long)]
    plugin_log: bool,
}

/// `--plugin-log`: what each plugin printed, on standard error (the report stays on standard output).
fn show_plugin_logs(logs: &[gitsync_engine::plugins::PluginLog], wanted: bool) {
    if !wanted {
        return;
    }
    if logs.is_empty() {
        eprintln!("plugins printed nothing");
    }
    for log in logs {
        eprintln!("plugin `{}` printed:", log.plugin);
        for line in log.text.lines() {
            eprintln!("  | {line}");
        }
        if log.dropped > 0 {
            eprintln!("  ({} more bytes, past the 64 KiB kept, were dropped)", log.dropped);
        }
    }
}

/// Run the command line; returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match dispatch(cli) {
        Ok(code) => code,
        // Whoever read the output stopped reading (`| head`): nothing to tell them, as with any
        // Unix tool; the exit code still says the output is not complete.
        Err(e) if is_broken_pipe(&e) => EXIT_USAGE,
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_USAGE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// The options every command shares: where the built-in components, the component cache and the
/// workspace's data directory are.
pub(crate) struct Global {
    pub(crate) policies: Option<PathBuf>,
    pub(crate) cache: Option<PathBuf>,
    pub(crate) data: Option<PathBuf>,
    /// `--store`: none for the data directory's SQLite files.
    pub(crate) store: Option<String>,
    pub(crate) workspace: Option<String>,
}

/// The runtime, the built-in components' source and the options shared by `validate`, `check` and
/// `events validate`.
fn setup(global: &Global, common: &CommonArgs) -> Result<(Runtime, Builtins, ValidateOptions)> {
    let limits = Limits {
        memory_bytes: common.policy_memory << 20,
        timeout: common.policy_timeout,
    };
    let rt = Runtime::new(global.cache.clone(), limits)?;
    let builtins = Builtins::from_option(global.policies.clone());
    let base = crate::checks::repo::checked_base(&common.path)?;
    if !common.dir.is_dir() {
        anyhow::bail!(
            "{} is not a folder; pass the repository folder (default: .)",
            common.dir.display()
        );
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let opts = ValidateOptions {
        dir: common.dir.clone(),
        rev: None,
        base,
        max_file_size: common.max_file_size,
        threads,
    };
    Ok((rt, builtins, opts))
}

/// The built-in components and the plugins that run on `opts.dir` (its `.gitsync/`, the installed
/// ones, `--policy FILE`s): what `validate` and `check` run.
fn policies_and_plugins<'rt>(
    rt: &'rt Runtime,
    builtins: &Builtins,
    config_dir: &std::path::Path,
    common: &CommonArgs,
) -> Result<(BuiltinPolicies<'rt>, gitsync_engine::plugins::PluginSet)> {
    let policies = BuiltinPolicies::load(rt, builtins)?;
    let plugins = gitsync_engine::plugins::prepare(rt, &policies, config_dir, &common.policy_files)?;
    for n in &plugins.notes {
        eprintln!("note: {n}");
    }
    Ok((policies, plugins))
}

/// Nothing in the layout usually means the wrong folder or a missing --path: say so on stderr.
fn warn_if_empty(files_checked: usize, opts: &ValidateOptions) {
    if files_checked == 0 {
        let under = if opts.base.is_empty() {
            String::new()
        } else {
            format!("{}/", opts.base)
        };
        eprintln!(
            "note: no Git Sync files in {} (looked for manifest-*.yaml and aliases-*.yaml, and {under}models/, {under}syncs/, {under}schema/, {under}events/contracts/); is this the repository root, and does the workspace use --path?",
            opts.dir.display()
        );
    }
}

/// Pretty JSON and a newline: what `--format json` prints.
pub(crate) fn json_text(value: &impl serde::Serialize) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(value).expect("gitsync's own records serialize")
    )
}

pub(crate) fn data_dir(data: Option<PathBuf>) -> Result<PathBuf> {
    data.context("no data directory: pass --data DIR or set GITSYNC_DATA")
}

/// Where the store commands act on is: `--store`, else the data directory's SQLite files.
pub(crate) fn store_location(global: &Global) -> Result<crate::store::Location> {
    crate::store::Location::parse(global.store.as_deref(), data_dir(global.data.clone())?)
}

/// The store commands act on.
pub(crate) fn open_store(global: &Global) -> Result<Box<dyn crate::store::Store>> {
    crate::store::open(&store_location(global)?)
}

/// The workspace a command acts on: `--workspace ID`, or the store's only one.
pub(crate) fn open_workspace(
    global: &Global,
) -> Result<(crate::store::Located, Box<dyn crate::store::WorkspaceStore>)> {
    open_store(global)?.open_picked(global.workspace.as_deref())
}

/// The built-in components: those of `--policies DIR`, else the ones built into gitsync.
pub(crate) fn open_policies(rt: &Runtime, policies_dir: Option<PathBuf>) -> Result<BuiltinPolicies<'_>> {
    BuiltinPolicies::load(rt, &Builtins::from_option(policies_dir))
}

/// The built-in `workspace` component (the sync engine's and `workspace put`'s rules).
pub(crate) fn open_workspace_policy(rt: &Runtime, policies_dir: Option<PathBuf>) -> Result<WorkspacePolicy<'_>> {
    WorkspacePolicy::load(rt, &Builtins::from_option(policies_dir))
}

pub(crate) fn write_out(text: &str) -> Result<()> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write the report")
}

fn dispatch(cli: Cli) -> Result<i32> {
    // Process-wide and set before any thread starts (the runtime's ticker is one).
    crate::workspace::sync::set_network_timeouts(cli.connect_timeout, cli.network_timeout);
    crate::workspace::sync::set_lock_wait(cli.lock_wait);
    crate::store::set_lease_time(cli.lease);
    let global = Global {
        policies: cli.policies,
        cache: if cli.no_cache {
            None
        } else {
            cli.cache_dir.or_else(default_cache_dir)
        },
        data: cli.data,
        store: cli.store,
        workspace: cli.workspace,
    };
    let json = |f: SummaryFormat| f == SummaryFormat::Json;
    match cli.command {
        Command::Validate(args) => validate::run(global, args),
        Command::Check(args) => check::run(global, args),
        Command::Events(cmd) => events::run(global, cmd),
        Command::Policy(cmd) => policy::run(global, cmd),
        Command::Workspace(cmd) => workspace::run(global, cmd),
        Command::Connect {
            repo,
            branch,
            path,
            ssh_key,
            ssh_passphrase_env,
            token_env,
            user,
            allow_insecure,
            take_over,
        } => {
            if token_env.is_some() && repo.starts_with("http://") && !allow_insecure {
                anyhow::bail!(
                    "refusing to send a token over plain http:// ({}): anyone on the network could read it; use an https:// URL, or pass --allow-insecure for a test server",
                    crate::workspace::sync::redact(&repo)
                );
            }
            let creds = crate::workspace::sync::Credentials {
                ssh_key,
                ssh_passphrase_env,
                token_env,
                user,
            };
            sync::connect(
                global,
                &crate::workspace::sync::ConnectTo {
                    url: &repo,
                    branch: &branch,
                    path: &path,
                    creds: &creds,
                    take_over,
                },
            )
        }
        Command::Sync {
            format,
            policy_memory,
            policy_timeout,
            take_over,
        } => sync::sync(
            global,
            json(format),
            Limits {
                memory_bytes: policy_memory << 20,
                timeout: policy_timeout,
            },
            take_over,
        ),
        Command::Resync { yes, author, format } => sync::resync(global, yes, author.as_deref(), json(format)),
        Command::Status { format } => sync::status(global, json(format)),
        Command::Conflicts { show, format } => sync::conflicts(global, show, json(format)),
        Command::Log { limit, format } => sync::log(global, limit, json(format)),
        Command::Serve { opts, log_format } => serve(global, opts, log_format),
        Command::Token(cmd) => access::token(global, cmd),
        Command::Webhook(cmd) => access::webhook(global, cmd),
        Command::Store(cmd) => store::run(global, cmd),
    }
}

fn serve(global: Global, opts: crate::serve::Options, log_format: LogFormat) -> Result<i32> {
    let location = store_location(&global)?;
    let root = data_dir(global.data)?;
    // RUST_LOG picks what is logged (default: info; `RUST_LOG=debug` adds a line per request).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal())
            .with_target(false)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false)
            .init(),
    }
    // The service's components live as long as the process.
    let rt: &'static Runtime = Box::leak(Box::new(Runtime::new(global.cache, Limits::default())?));
    let policy = open_workspace_policy(rt, global.policies.clone())?;
    let policies = open_policies(rt, global.policies)?;
    crate::serve::run(root, location, opts, policy, policies)?;
    Ok(EXIT_OK)
}
