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
}

#[derive(Args)]
struct ValidateArgs {
    /// The repository folder (the one holding manifest-<workspace>.yaml).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Check this Git revision (read through Git, no checkout) instead of the working tree.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    /// The sub-folder that holds models/, syncs/, schema/ and events/ (empty: the repository root).
    #[arg(long, value_name = "P", default_value = "")]
    path: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Files larger than this many bytes are reported (GS003) instead of read.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    max_file_size: u64,
    /// Time limit for one call into a policy component (`30s`, `500ms`).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    policy_timeout: Duration,
    /// Memory limit for a policy component, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 1024)]
    policy_memory: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s
        .trim()
        .split_at(s.trim().find(|c: char| !c.is_ascii_digit()).unwrap_or(s.trim().len()));
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
        Err(e) => {
            eprintln!("error: {e:#}");
            EXIT_USAGE
        }
    }
}

fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Validate(args) => {
            let limits = Limits {
                memory_bytes: args.policy_memory << 20,
                timeout: args.policy_timeout,
            };
            let cache = if cli.no_cache {
                None
            } else {
                cli.cache_dir.or_else(default_cache_dir)
            };
            let rt = Runtime::new(cache, limits)?;
            let dir = cli.policies.unwrap_or_else(default_policies_dir);
            let policies = BuiltinPolicies::load(&rt, &dir)?;
            let base = crate::repo::checked_base(&args.path)?;
            if !args.dir.is_dir() {
                anyhow::bail!(
                    "{} is not a folder; pass the repository folder (default: .)",
                    args.dir.display()
                );
            }
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
            let v = pipeline::validate(
                &policies,
                &ValidateOptions {
                    dir: args.dir,
                    rev: args.rev,
                    base,
                    max_file_size: args.max_file_size,
                    threads,
                },
            )?;
            let summary = Summary {
                files_checked: v.files_checked,
                workspaces: v.workspaces.len(),
                elapsed: v.elapsed,
            };
            let text = report::render(args.format, &v.diagnostics, &v.sources, &summary, color_wanted());
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).context("cannot write the report")?;
            Ok(if v.has_errors() { EXIT_FINDINGS } else { EXIT_OK })
        }
    }
}
