//! The command line: arguments, exit codes, and which reporter prints.

use crate::pipeline::{self, ValidateOptions};
use crate::policy::{BuiltinPolicies, default_policies_dir};
use crate::report::{self, Format, Summary};
use crate::runtime::{Limits, Runtime, default_cache_dir};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

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
pub struct Cli {
    /// Folder holding the built-in policy components (schema.wasm, aliases.wasm, deps.wasm, contracts.wasm).
    #[arg(long, global = true, env = "GITSYNC_POLICIES", value_name = "DIR")]
    policies: Option<PathBuf>,
    /// Where compiled components are cached (default: $XDG_CACHE_HOME/gitsync or ~/.cache/gitsync).
    #[arg(long, global = true, env = "GITSYNC_CACHE_DIR", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Compile components in memory on every run instead of caching them.
    #[arg(long, global = true)]
    no_cache: bool,
    /// The data directory holding the embedded workspace (workspace commands and `log`).
    #[arg(long, global = true, env = "GITSYNC_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
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
    /// Plugins: list what would run, inspect a component.
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
    },
    /// One pass: INBOUND the branch's new commits, OUTBOUND the queued workspace changes, push.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws sync\n  gitsync --data ./ws sync --format json\n\nConflicts: a resource changed in the workspace and in Git since the last pass takes Git's version;\nthe workspace's version is kept (`gitsync conflicts`).\nExit codes: 0 pass complete, 1 pass complete but files were skipped as invalid or conflicts were resolved, 2 error (nothing queued is lost)."
    )]
    Sync {
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
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
    /// Create or update a resource from YAML or JSON (`--file -` reads stdin); references hold real ids.
    #[command(
        after_help = "KIND: model, sync, parent-model, related-model, event-model, relationship, contract, event\n(an event's SLUG is <contract>/<event-slug>).\n\nExample:\n  gitsync --data ./ws workspace put model orders --file orders.yaml --as \"Ada Lovelace <ada@example.com>\""
    )]
    Put {
        kind: String,
        slug: String,
        #[arg(long, value_name = "F")]
        file: PathBuf,
        /// Who makes the change: "Name <email>" (the author of the commit it becomes).
        #[arg(long = "as", value_name = "AUTHOR")]
        author: String,
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
    /// Delete a resource (queued for OUTBOUND like any change).
    #[command(
        after_help = "Example:\n  gitsync --data ./ws workspace delete model orders --as \"Ada Lovelace <ada@example.com>\""
    )]
    Delete {
        kind: String,
        slug: String,
        #[arg(long = "as", value_name = "AUTHOR")]
        author: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ResourceFormat {
    Yaml,
    Json,
}

#[derive(Subcommand)]
enum PolicyCommand {
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

#[derive(Subcommand)]
enum EventsCommand {
    /// Judge newline-delimited JSON events (stdin or --input) against a contract; one verdict per line.
    #[command(
        after_help = "Examples:\n  gitsync events validate examples/acme --contract web < events.jsonl\n  gitsync events validate . --contract web --input events.jsonl --summary\n  gitsync events validate . --contract web --input big.jsonl --threads 2 > verdicts.jsonl\n  gitsync events validate . --contract web --input samples.jsonl --summary --fail-on-blocked\n  cat events.jsonl | gitsync events validate --rev origin/main --contract mobile\n\nEach output line is one JSON object with the keys\n  verdict (\"allowed\" or \"blocked\"), event, omitted, event_name, event_type, schema_version,\n  has_undeclared_schema, has_undeclared_fields, has_schema_violated, violations\n  (and error, for a line that is not a JSON object).\nEvents are judged as they arrive (a batch goes when it is full or the input pauses for 20 ms), so a\nlive stream can be piped in; its verdicts keep the input order.\nExit codes:\n  0  every line judged\n  1  some event blocked (with --fail-on-blocked)\n  2  usage or I/O error (no such contract, unreadable input); also, without a message, when the\n     reader of the verdicts stops reading (`| head`)"
    )]
    Validate(EventsArgs),
}

#[derive(Args)]
struct EventsArgs {
    /// Read the contracts from this Git revision instead of the working tree.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// The contract (its slug, e.g. `web`); may be left out when the repository has only one.
    #[arg(long, value_name = "SLUG")]
    contract: Option<String>,
    /// Read events from this file instead of standard input.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Print counts per event and per violation instead of one verdict per event.
    #[arg(long)]
    summary: bool,
    /// Format of the summary.
    #[arg(long, value_enum, default_value = "human")]
    format: SummaryFormat,
    /// Exit with code 1 when any event is blocked (to check sample events in CI).
    #[arg(long)]
    fail_on_blocked: bool,
    /// Judge this many batches at once, each in an instance of the contracts component of its own
    /// (default: one per core, at most 8). Verdicts keep the input order whatever the number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SummaryFormat {
    Human,
    Json,
}

#[derive(Args)]
struct CheckArgs {
    /// The revision the pull request merges into (e.g. origin/main).
    #[arg(long, value_name = "REV")]
    base: String,
    /// The revision to check (default: the working tree, including uncommitted changes).
    #[arg(long, value_name = "REV")]
    head: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
    /// Output format; `markdown` is for a pull-request comment or a job summary.
    #[arg(long, value_enum, default_value = "human")]
    format: CheckFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum CheckFormat {
    Human,
    Json,
    Sarif,
    Github,
    Markdown,
}

#[derive(Args)]
struct ValidateArgs {
    /// Check this Git revision (read through Git, no checkout) instead of the working tree.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Args)]
struct CommonArgs {
    /// The repository folder (the one holding manifest-<workspace>.yaml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// The sub-folder that holds models/, syncs/, schema/ and events/ (empty: the repository root).
    #[arg(long, value_name = "P", default_value = "")]
    path: String,
    /// Files larger than this many bytes are reported (GS003) instead of read.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    max_file_size: u64,
    /// Time limit for one call into a policy component (`30s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    policy_timeout: Duration,
    /// Memory limit for a policy component, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    policy_memory: usize,
    /// Also run this plugin component (repeatable); plugins in policies/ and .gitsync/policies/ run too.
    #[arg(long = "policy", value_name = "FILE")]
    policy_files: Vec<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s or 500ms"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("`{s}`: use ms, s or m, e.g. 30s")),
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

/// The runtime, the policies folder and the options shared by `validate` and `check`.
fn setup(
    cli_policies: Option<PathBuf>,
    cache: Option<PathBuf>,
    common: &CommonArgs,
) -> Result<(Runtime, PathBuf, ValidateOptions)> {
    let limits = Limits {
        memory_bytes: common.policy_memory << 20,
        timeout: common.policy_timeout,
    };
    let rt = Runtime::new(cache, limits)?;
    let dir = cli_policies.unwrap_or_else(default_policies_dir);
    let base = crate::repo::checked_base(&common.path)?;
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
    Ok((rt, dir, opts))
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

pub(crate) fn write_out(text: &str) -> Result<()> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .context("cannot write the report")
}

fn dispatch(cli: Cli) -> Result<i32> {
    let cache = if cli.no_cache {
        None
    } else {
        cli.cache_dir.or_else(default_cache_dir)
    };
    match cli.command {
        Command::Validate(args) => {
            let (rt, dir, mut opts) = setup(cli.policies, cache, &args.common)?;
            let policies = BuiltinPolicies::load(&rt, &dir)?;
            let plugins = crate::plugins::prepare(&rt, &policies, &dir, &opts.dir, &args.common.policy_files)?;
            let ext = pipeline::Extensions {
                rt: &rt,
                plugins: &plugins,
            };
            opts.rev = args.rev;
            let v = pipeline::validate(&policies, &opts, Some(&ext))?;
            warn_if_empty(v.files_checked, &opts);
            let summary = Summary {
                files_checked: v.files_checked,
                workspaces: v.workspaces.len(),
                elapsed: v.elapsed,
            };
            write_out(&report::render(
                args.format,
                &v.diagnostics,
                &v.sources,
                &summary,
                color_wanted(),
            ))?;
            Ok(if v.has_errors() { EXIT_FINDINGS } else { EXIT_OK })
        }
        Command::Events(EventsCommand::Validate(args)) => {
            let (rt, dir, mut opts) = setup(cli.policies, cache, &args.common)?;
            let policies = BuiltinPolicies::load(&rt, &dir)?;
            opts.rev = args.rev;
            // Progress where someone watches standard error and the verdicts go elsewhere.
            let progress = {
                use std::io::IsTerminal;
                std::io::stderr().is_terminal() && (args.summary || !std::io::stdout().is_terminal())
            };
            let stream_opts = crate::events::StreamOptions {
                judges: args.threads.map_or(opts.threads, usize::from),
                progress,
                repo: opts,
                contract: args.contract,
                summary: args.summary,
            };
            // Read and written on threads of their own (see `events::stream`): handles that are `Send`.
            let mut input: Box<dyn std::io::BufRead + Send> = match &args.input {
                Some(path) => Box::new(std::io::BufReader::with_capacity(
                    1 << 16,
                    std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
                )),
                None => Box::new(std::io::BufReader::with_capacity(1 << 16, std::io::stdin())),
            };
            let mut output = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout());
            let summary = crate::events::stream(&policies, &stream_opts, &mut input, &mut output)?;
            if args.summary {
                let text = match args.format {
                    SummaryFormat::Human => summary.human(),
                    SummaryFormat::Json => format!(
                        "{}\n",
                        serde_json::to_string_pretty(&summary.json()).expect("summary serializes")
                    ),
                };
                output.write_all(text.as_bytes()).context("cannot write the summary")?;
            }
            output.flush().context("cannot write the verdicts")?;
            Ok(if args.fail_on_blocked && summary.0.blocked > 0 {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            })
        }
        Command::Policy(cmd) => policy_command(cli.policies, cache, cmd),
        Command::Workspace(cmd) => crate::workspace_cli::run(cli.data, cli.policies, cache, cmd),
        Command::Connect {
            repo,
            branch,
            path,
            ssh_key,
            ssh_passphrase_env,
            token_env,
        } => {
            let creds = crate::sync::Credentials {
                ssh_key,
                ssh_passphrase_env,
                token_env,
            };
            crate::workspace_cli::connect(cli.data, cli.policies, cache, &repo, &branch, &path, &creds)
        }
        Command::Sync { format } => {
            crate::workspace_cli::sync(cli.data, cli.policies, cache, format == SummaryFormat::Json)
        }
        Command::Resync { yes, author, format } => crate::workspace_cli::resync(
            cli.data,
            cli.policies,
            cache,
            yes,
            author.as_deref(),
            format == SummaryFormat::Json,
        ),
        Command::Status { format } => crate::workspace_cli::status(cli.data, format == SummaryFormat::Json),
        Command::Conflicts { show, format } => {
            crate::workspace_cli::conflicts(cli.data, show, format == SummaryFormat::Json)
        }
        Command::Log { limit, format } => crate::workspace_cli::log(cli.data, limit, format == SummaryFormat::Json),
        Command::Check(args) => {
            let (rt, dir, mut opts) = setup(cli.policies, cache, &args.common)?;
            let policies = BuiltinPolicies::load(&rt, &dir)?;
            let plugins = crate::plugins::prepare(&rt, &policies, &dir, &opts.dir, &args.common.policy_files)?;
            let ext = pipeline::Extensions {
                rt: &rt,
                plugins: &plugins,
            };
            opts.rev = args.head;
            let outcome = pipeline::check(&policies, &args.base, &opts, Some(&ext))?;
            let v = &outcome.validation;
            warn_if_empty(v.files_checked, &opts);
            let summary = Summary {
                files_checked: v.files_checked,
                workspaces: v.workspaces.len(),
                elapsed: v.elapsed,
            };
            let affected = report::Affected {
                syncs: &outcome.affected,
            };
            let text = match args.format {
                CheckFormat::Human => {
                    // Findings, then the affected syncs, then the one-line verdict.
                    let t = report::human(&v.diagnostics, &v.sources, &summary, color_wanted());
                    let (body, last) = t.trim_end().rsplit_once('\n').unwrap_or(("", t.trim_end()));
                    let body = if body.is_empty() {
                        String::new()
                    } else {
                        format!("{body}\n")
                    };
                    format!("{body}{}{last}\n", affected.human())
                }
                CheckFormat::Json => report::check_json(&v.diagnostics, &affected),
                CheckFormat::Sarif => report::sarif(&v.diagnostics),
                CheckFormat::Github => report::github(&v.diagnostics, &summary),
                CheckFormat::Markdown => report::markdown(&v.diagnostics, &affected, &summary),
            };
            write_out(&text)?;
            Ok(if v.has_errors() { EXIT_FINDINGS } else { EXIT_OK })
        }
    }
}

fn policy_command(cli_policies: Option<PathBuf>, cache: Option<PathBuf>, cmd: PolicyCommand) -> Result<i32> {
    use crate::plugins;
    let rt = Runtime::new(cache, Limits::default())?;
    let dir = cli_policies.unwrap_or_else(default_policies_dir);
    let describe = |p: &plugins::Plugin| {
        serde_json::json!({
            "name": p.metadata.name,
            "version": p.metadata.version,
            "description": p.metadata.description,
            "source": p.origin.as_str(),
            "path": p.path.display().to_string(),
            "interface": format!("{}@{}", plugins::PLUGIN_INTERFACE, p.interface_version),
            "codes": p.metadata.codes.iter().map(|c| serde_json::json!({
                "code": c.code,
                "severity": match c.severity {
                    crate::runtime::bindings::types::Severity::Error => "error",
                    crate::runtime::bindings::types::Severity::Warning => "warning",
                    crate::runtime::bindings::types::Severity::Note => "note",
                },
                "summary": c.summary,
            })).collect::<Vec<_>>(),
        })
    };
    let human = |v: &serde_json::Value| {
        let mut out = format!(
            "{} {} ({}: {})\n  {}\n  interface: {}\n",
            v["name"].as_str().unwrap_or_default(),
            v["version"].as_str().unwrap_or_default(),
            v["source"].as_str().unwrap_or_default(),
            v["path"].as_str().unwrap_or_default(),
            v["description"].as_str().unwrap_or_default(),
            v["interface"].as_str().unwrap_or_default()
        );
        for c in v["codes"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "  {} {:<7} {}\n",
                c["code"].as_str().unwrap_or_default(),
                c["severity"].as_str().unwrap_or_default(),
                c["summary"].as_str().unwrap_or_default()
            ));
        }
        out
    };
    match cmd {
        PolicyCommand::New { name, dir: target, sdk } => {
            let target = target.unwrap_or_else(|| PathBuf::from(&name));
            crate::scaffold::new_plugin(&name, &target, &sdk.unwrap_or_else(crate::scaffold::default_sdk_path))?;
            write_out(&format!(
                "created {}\nnext: cd {} && cargo test && cargo build --target wasm32-wasip2 --release\n",
                target.display(),
                target.display()
            ))?;
            Ok(EXIT_OK)
        }
        PolicyCommand::Test { plugin, fixtures } => {
            let builtins = BuiltinPolicies::load(&rt, &dir)?;
            let codes: Vec<String> = plugins::load(&rt, &plugin, plugins::Origin::CommandLine)?
                .metadata
                .codes
                .into_iter()
                .map(|c| c.code)
                .collect();
            let (mut passed, mut failed) = (0, 0);
            let mut report = String::new();
            for fixture in &fixtures {
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
                let set = plugins::prepare(&rt, &builtins, &dir, fixture, std::slice::from_ref(&plugin))?;
                let ext = pipeline::Extensions { rt: &rt, plugins: &set };
                let opts = ValidateOptions {
                    dir: fixture.clone(),
                    rev: None,
                    base: String::new(),
                    max_file_size: 8 << 20,
                    threads: 1,
                };
                let v = pipeline::validate(&builtins, &opts, Some(&ext))?;
                let got: Vec<(String, String, u64)> = v
                    .diagnostics
                    .iter()
                    .filter(|d| codes.contains(&d.code) || d.code == "GS009")
                    .map(|d| (d.code.clone(), d.path.clone(), d.line as u64))
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
        PolicyCommand::List {
            dir: repo,
            policy_files,
            format,
        } => {
            let builtins = BuiltinPolicies::load(&rt, &dir)?;
            let set = plugins::prepare(&rt, &builtins, &dir, &repo, &policy_files)?;
            let list: Vec<serde_json::Value> = set.plugins.iter().map(|(p, _, _)| describe(p)).collect();
            let text = match format {
                SummaryFormat::Json => format!(
                    "{}\n",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "builtin": {"folder": dir.display().to_string(), "policies": ["schema", "aliases", "deps", "contracts"]},
                        "plugins": list,
                    }))
                    .expect("list serializes")
                ),
                SummaryFormat::Human => {
                    let mut t = format!("built-in policies ({}): schema, aliases, deps, contracts\n", dir.display());
                    if list.is_empty() {
                        t.push_str("no plugins (add .wasm files to .gitsync/policies/, or pass --policy FILE)\n");
                    }
                    for v in &list {
                        t.push('\n');
                        t.push_str(&human(v));
                    }
                    t
                }
            };
            write_out(&text)?;
            Ok(EXIT_OK)
        }
        PolicyCommand::Inspect { file, format } => {
            let p = plugins::load(&rt, &file, plugins::Origin::CommandLine)?;
            let component = rt.load(&file)?;
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
    }
}
