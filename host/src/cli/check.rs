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
    /// Where `.gitsync/` (config and plugins) comes from: the base, so that a change cannot switch
    /// off the check that judges it, or the head, to try a change to the config itself.
    #[arg(long, value_enum, default_value = "base")]
    config_from: ConfigFrom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ConfigFrom {
    Base,
    Head,
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
    // The base's `.gitsync/`, written to a private folder the plugins are loaded from.
    let base_config = match args.config_from {
        ConfigFrom::Base => Some(BaseConfig::extract(&opts.dir, &args.base)?),
        ConfigFrom::Head => None,
    };
    let config_dir = base_config.as_ref().map_or(opts.dir.as_path(), |b| b.dir.as_path());
    let (policies, plugins) = policies_and_plugins(&rt, &builtins, config_dir, &args.common)?;
    let ext = Extensions {
        rt: &rt,
        plugins: &plugins,
    };
    opts.rev = args.head;
    let outcome = checks::check(
        &policies,
        &args.base,
        &opts,
        Some(&ext),
        args.config_from == ConfigFrom::Base,
    )?;
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

/// `.gitsync/` as the base revision has it, in a folder of its own (removed when dropped).
struct BaseConfig {
    dir: std::path::PathBuf,
}

impl BaseConfig {
    fn extract(repo: &std::path::Path, base: &str) -> Result<BaseConfig> {
        use anyhow::Context;
        let files = checks::repo::gitsync_folder(repo, base)?;
        let dir = std::env::temp_dir().join(format!(
            "gitsync-check-config-{}-{}",
            std::process::id(),
            crate::secret::random_hex(8)?
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let folder = BaseConfig { dir };
        for f in files {
            // Paths come from Git: only plain relative ones under `.gitsync/` are written.
            let rel = std::path::Path::new(&f.path);
            if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                continue;
            }
            let target = folder.dir.join(rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&target, &f.contents).with_context(|| format!("cannot write {}", target.display()))?;
        }
        Ok(folder)
    }
}

impl Drop for BaseConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
