//! `gitsync validate`: check one revision (or the working tree) of a repository.

use super::{
    CommonArgs, EXIT_FINDINGS, EXIT_OK, Global, color_wanted, policies_and_plugins, setup, warn_if_empty, write_out,
};
use crate::checks::{self, Extensions};
use crate::report::{self, Summary};
use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub(super) struct ValidateArgs {
    /// Check this Git revision (read through Git, no checkout) instead of the working tree.
    #[arg(long, value_name = "REV")]
    rev: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

/// The formats of `validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum Format {
    Human,
    Json,
    Sarif,
    Github,
}

impl From<Format> for report::Format {
    fn from(f: Format) -> report::Format {
        match f {
            Format::Human => report::Format::Human,
            Format::Json => report::Format::Json,
            Format::Sarif => report::Format::Sarif,
            Format::Github => report::Format::Github,
        }
    }
}

pub(super) fn run(global: Global, args: ValidateArgs) -> Result<i32> {
    let (rt, builtins, mut opts) = setup(&global, &args.common)?;
    let (policies, plugins) = policies_and_plugins(&rt, &builtins, &opts.dir, &args.common)?;
    let ext = Extensions {
        rt: &rt,
        plugins: &plugins,
    };
    opts.rev = args.rev;
    let v = checks::validate(&policies, &opts, Some(&ext))?;
    warn_if_empty(v.files_checked, &opts);
    super::show_plugin_logs(&v.plugin_logs, args.common.plugin_log);
    let summary = Summary {
        files_checked: v.files_checked,
        workspaces: v.workspaces.len(),
        elapsed: v.elapsed,
    };
    write_out(&report::render(
        args.format.into(),
        &v.diagnostics,
        &v.sources,
        &summary,
        color_wanted(),
    ))?;
    Ok(if v.has_errors() { EXIT_FINDINGS } else { EXIT_OK })
}
