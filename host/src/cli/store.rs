//! `gitsync store copy`: move every workspace from one store to another (a data directory's SQLite
//! files into PostgreSQL, or back).

use super::{EXIT_OK, Global, write_out};
use crate::store::Location;
use anyhow::{Result, bail};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum StoreCommand {
    /// Copy every workspace (resources, queue, change log, conflicts, connection, last applied
    /// commit) and the tokens and webhook secrets into another store, which must be empty.
    #[command(
        after_help = "Examples:\n  gitsync store copy --from sqlite:./ws --to postgres://gitsync@db.example.com:5432/gitsync\n  GITSYNC_STORE_TO=postgres://gitsync:…@db/gitsync gitsync store copy --from sqlite:./ws\n\nStop every gitsync using the source first (serve, scheduled syncs): changes made during the copy\nwould stay behind. Nothing is deleted from the source. Afterwards run gitsync with --store (or\nGITSYNC_STORE) set to the target; --data then only holds this machine's Git checkouts.\nExit codes: 0 copied, 2 error (the target is not empty, a store cannot be reached)."
    )]
    Copy {
        /// The store to copy: `sqlite:DIR` (a data directory) or a postgres:// URL.
        #[arg(long, env = "GITSYNC_STORE_FROM", hide_env_values = true)]
        from: String,
        /// The empty store to copy into: `sqlite:DIR` or a postgres:// URL.
        #[arg(long, env = "GITSYNC_STORE_TO", hide_env_values = true)]
        to: String,
    },
}

/// `sqlite:DIR` or a postgres:// URL; a PostgreSQL store's local folder is `--data`, else the other
/// side's data directory.
fn location(text: &str, local: Option<PathBuf>) -> Result<Location> {
    if let Some(dir) = text.strip_prefix("sqlite:") {
        if dir.is_empty() {
            bail!("`sqlite:` names no folder: write sqlite:DIR");
        }
        return Ok(Location::DataDir(PathBuf::from(dir)));
    }
    let Some(local) = local else {
        bail!("pass --data DIR: the folder this machine keeps Git checkouts in for the PostgreSQL store");
    };
    match Location::parse(Some(text), local)? {
        Location::DataDir(_) => bail!("name the store: `sqlite:DIR` or a postgres:// URL"),
        pg => Ok(pg),
    }
}

pub(super) fn run(global: Global, cmd: StoreCommand) -> Result<i32> {
    let StoreCommand::Copy { from, to } = cmd;
    let sqlite_dir = |t: &str| t.strip_prefix("sqlite:").map(PathBuf::from);
    let local = global
        .data
        .clone()
        .or_else(|| sqlite_dir(&from))
        .or_else(|| sqlite_dir(&to));
    let (from, to) = (location(&from, local.clone())?, location(&to, local)?);
    let copied = crate::store::copy(&from, &to)?;
    let target = crate::store::open(&to)?.describe();
    let mut text = format!(
        "copied {} workspace{} and {} token{} to {target}\n",
        copied.workspaces.len(),
        if copied.workspaces.len() == 1 { "" } else { "s" },
        copied.tokens,
        if copied.tokens == 1 { "" } else { "s" },
    );
    for (id, resources) in &copied.workspaces {
        text.push_str(&format!("  {id}: {resources} resources\n"));
    }
    if let Location::Postgres { .. } = to {
        text.push_str("next: run gitsync with GITSYNC_STORE (or --store) set to it; the source is left as it was\n");
    }
    write_out(&text)?;
    Ok(EXIT_OK)
}
