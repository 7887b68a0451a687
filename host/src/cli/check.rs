//! `gitsync check`: the pull-request check — validate the head, compare it with the base.

use super::{
    CommonArgs, EXIT_FINDINGS, EXIT_OK, Global, color_wanted, policies_and_plugins, setup, warn_if_empty, write_out,
};
use crate::checks::{self, Extensions};
use crate::report::{self, Summary};
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub(super) struct CheckArgs {
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

pub(super) fn run(global: Global, args: CheckArgs) -> Result<i32> {
    let (rt, builtins, mut opts) = setup(&global, &args.common)?;
    let (policies, plugins) = policies_and_plugins(&rt, &builtins, &opts, &args.common)?;
    let ext = Extensions {
        rt: &rt,
        plugins: &plugins,
    };
    opts.rev = args.head;
    let outcome = checks::check(&policies, &args.base, &opts, Some(&ext))?;
    let v = &outcome.validation;
    super::show_plugin_logs(&v.plugin_logs, args.common.plugin_log);
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
