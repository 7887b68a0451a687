//! `gitsync events validate`: a repository's event contract applied to live events.

use super::{CommonArgs, EXIT_FINDINGS, EXIT_OK, Global, SummaryFormat, setup};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use gitsync_engine::BuiltinPolicies;
use std::io::Write;
use std::path::PathBuf;

#[derive(Subcommand)]
pub(super) enum EventsCommand {
    /// Judge newline-delimited JSON events (stdin or --input) against a contract; one verdict per line.
    #[command(
        after_help = "Examples:\n  gitsync events validate examples/acme --contract web < events.jsonl\n  gitsync events validate . --contract web --input events.jsonl --summary\n  gitsync events validate . --contract web --input big.jsonl --threads 2 > verdicts.jsonl\n  gitsync events validate . --contract web --input samples.jsonl --summary --fail-on-blocked\n  cat events.jsonl | gitsync events validate --rev origin/main --contract mobile\n\nEach output line is one JSON object with the keys\n  verdict (\"allowed\" or \"blocked\"), event, omitted, event_name, event_type, schema_version,\n  has_undeclared_schema, has_undeclared_fields, has_schema_violated, violations\n  (and error, for a line that is not a JSON object).\nEvents are judged as they arrive (a batch goes when it is full or the input pauses for 20 ms), so a\nlive stream can be piped in; its verdicts keep the input order.\nExit codes:\n  0  every line judged\n  1  some event blocked (with --fail-on-blocked)\n  2  usage or I/O error (no such contract, unreadable input); also, without a message, when the\n     reader of the verdicts stops reading (`| head`)"
    )]
    Validate(EventsArgs),
}

#[derive(Args)]
pub(super) struct EventsArgs {
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

pub(super) fn run(global: Global, cmd: EventsCommand) -> Result<i32> {
    let EventsCommand::Validate(args) = cmd;
    let (rt, builtins, mut opts) = setup(&global, &args.common)?;
    let policies = BuiltinPolicies::load(&rt, &builtins)?;
    opts.rev = args.rev;
    // Progress where someone watches standard error and the verdicts go elsewhere.
    let progress = {
        use std::io::IsTerminal;
        std::io::stderr().is_terminal() && (args.summary || !std::io::stdout().is_terminal())
    };
    let stream_opts = crate::checks::events::StreamOptions {
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
    let summary = crate::checks::events::stream(&policies, &stream_opts, &mut input, &mut output)?;
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
