//! `gitsync token …` and `gitsync webhook secret`: who may reach the workspaces through `serve`.

use super::{EXIT_OK, Global, SummaryFormat, json_text, open_store, write_out};
use crate::author::Author;
use anyhow::{Context, Result};
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum TokenCommand {
    /// A new API token, printed once; the changes made with it are authored by `--as`.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws token create --as \"Ada Lovelace <ada@example.com>\"\n  gitsync --data ./ws token create --as \"CI <ci@example.com>\" --scope acme-staging --read-only --format json\n\nThe token is shown once and stored only as a hash: keep it in a secret store."
    )]
    Create {
        /// Who the changes made with the token are authored by: "Name <email>".
        #[arg(long = "as", value_name = "AUTHOR")]
        author: String,
        /// Limit the token to this workspace (repeatable; default: every workspace).
        #[arg(long = "scope", value_name = "ID")]
        scopes: Vec<String>,
        /// Reading only: no PUT, DELETE, sync or resync.
        #[arg(long)]
        read_only: bool,
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// The tokens (never their secrets).
    #[command(after_help = "Example:\n  gitsync --data ./ws token list --format json")]
    List {
        #[arg(long, value_enum, default_value = "human")]
        format: SummaryFormat,
    },
    /// Revoke a token: requests with it are refused from now on.
    #[command(after_help = "Example:\n  gitsync --data ./ws token revoke tok_1a2b3c4d5e6f")]
    Revoke { id: String },
}

#[derive(Subcommand)]
pub(crate) enum WebhookCommand {
    /// Set the workspace's webhook secret (generated, or from a variable) and print it once.
    #[command(
        after_help = "Examples:\n  gitsync --data ./ws --workspace acme-staging webhook secret\n  gitsync --data ./ws webhook secret --from-env GITHUB_WEBHOOK_SECRET\n\nGive the secret to GitHub (Settings > Webhooks > Secret) or GitLab (Secret token)."
    )]
    Secret {
        /// Take the secret from this environment variable instead of generating one.
        #[arg(long, value_name = "VAR")]
        from_env: Option<String>,
    },
}

pub(super) fn token(global: Global, cmd: TokenCommand) -> Result<i32> {
    let store = open_store(&global)?;
    let mut access = store.access()?;
    match cmd {
        TokenCommand::Create {
            author,
            scopes,
            read_only,
            format,
        } => {
            let author = Author::parse(&author)?;
            for s in &scopes {
                store.pick(Some(s))?;
            }
            let c = access.create_token(&author, &scopes, read_only)?;
            let text = match format {
                SummaryFormat::Json => json_text(&serde_json::json!({"id": c.token.id, "token": c.secret})),
                SummaryFormat::Human => format!(
                    "created token {} for {}{}{}\n{}\nthis is the only time it is shown: keep it in a secret store\n",
                    c.token.id,
                    c.token.author,
                    if scopes.is_empty() {
                        String::from(", every workspace")
                    } else {
                        format!(", workspaces {}", scopes.join(", "))
                    },
                    if read_only { ", read-only" } else { "" },
                    c.secret
                ),
            };
            write_out(&text)?;
        }
        TokenCommand::List { format } => {
            let tokens = access.tokens()?;
            let text = match format {
                SummaryFormat::Json => json_text(&tokens),
                SummaryFormat::Human if tokens.is_empty() => "no tokens (`gitsync token create --as …`)\n".into(),
                SummaryFormat::Human => tokens
                    .iter()
                    .map(|t| {
                        format!(
                            "{}  {}  {}  {}  {}\n",
                            t.id,
                            t.created_at,
                            t.author,
                            if t.scopes.is_empty() {
                                "every workspace".to_string()
                            } else {
                                t.scopes.join(",")
                            },
                            if t.read_only { "read-only" } else { "read-write" }
                        )
                    })
                    .collect(),
            };
            write_out(&text)?;
        }
        TokenCommand::Revoke { id } => {
            access.revoke(&id)?;
            write_out(&format!("revoked token {id}\n"))?;
        }
    }
    Ok(EXIT_OK)
}

pub(super) fn webhook(global: Global, cmd: WebhookCommand) -> Result<i32> {
    let store = open_store(&global)?;
    let workspace = store.pick(global.workspace.as_deref())?;
    let WebhookCommand::Secret { from_env } = cmd;
    let given = match from_env {
        Some(var) => Some(std::env::var(&var).with_context(|| format!("the variable {var} is not set"))?),
        None => None,
    };
    let secret = store.access()?.set_webhook_secret(&workspace.id, given)?;
    write_out(&format!(
        "webhook secret of {}:\n{secret}\nthis is the only time it is shown; give it to GitHub (webhook secret) or GitLab (secret token)\n",
        workspace.id
    ))?;
    Ok(EXIT_OK)
}
