//! `gitsync workspace …`: a person working with the embedded workspace as they would in a UI.
//! A `put` is checked and rendered by the workspace component with the rules INBOUND applies to a
//! file from Git; the host stores the canonical YAML it returns and queues each change for OUTBOUND.

use super::{
    EXIT_FINDINGS, EXIT_OK, Global, ResourceFormat, SummaryFormat, WorkspaceCommand, json_text, open_policies,
    open_store, open_workspace, open_workspace_policy, write_out,
};
use crate::author::Author;
use crate::report::{self, Summary};
use crate::store::{Endpoint, EndpointKind, WorkspaceStore};
use crate::workspace::edit;
use crate::workspace::layout_path;
use anyhow::{Context, Result, bail};
use gitsync_engine::{Limits, Runtime};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

pub(super) fn run(global: Global, cmd: WorkspaceCommand) -> Result<i32> {
    if let WorkspaceCommand::Init { id } = &cmd {
        let (w, _) = open_store(&global)?.create(id)?;
        write_out(&format!("created workspace {id} in {}\n", w.dir.display()))?;
        return Ok(EXIT_OK);
    }
    let (_, store) = open_workspace(&global)?;
    run_on(global, store, cmd)
}

/// A command on the workspace `store`.
fn run_on(global: Global, mut store: Box<dyn WorkspaceStore>, cmd: WorkspaceCommand) -> Result<i32> {
    let cmd_kind = match &cmd {
        WorkspaceCommand::AddDestination(_)
        | WorkspaceCommand::Destinations { .. }
        | WorkspaceCommand::RemoveDestination { .. } => EndpointKind::Destination,
        _ => EndpointKind::Source,
    };
    match cmd {
        WorkspaceCommand::Init { id } => {
            bail!("workspace `{id}`: `init` adds a workspace to the data directory, not to a workspace")
        }
        WorkspaceCommand::AddSource(args) | WorkspaceCommand::AddDestination(args) => {
            let kind = cmd_kind;
            let id = args.id.clone();
            let endpoint = Endpoint {
                id: args.id,
                name: args.name,
                kind: args.kind,
            };
            crate::workspace::check_endpoint(&endpoint)?;
            store.add_endpoint(kind, &endpoint)?;
            let noun = if kind == EndpointKind::Source {
                "source"
            } else {
                "destination"
            };
            write_out(&format!("added {noun} {id}\n"))?;
        }
        WorkspaceCommand::Sources { format } | WorkspaceCommand::Destinations { format } => {
            let list = store.endpoints(cmd_kind)?;
            let text = match format {
                SummaryFormat::Json => json_text(&list),
                SummaryFormat::Human if list.is_empty() => format!("no {}s\n", cmd_kind.noun()),
                SummaryFormat::Human => list
                    .iter()
                    .map(|e| format!("{:<30} {:<14} {}\n", e.id, e.kind, e.name))
                    .collect(),
            };
            write_out(&text)?;
        }
        WorkspaceCommand::RemoveSource { id, force } | WorkspaceCommand::RemoveDestination { id, force } => {
            let noun = cmd_kind.noun();
            let rt = Runtime::new(global.cache, Limits::default())?;
            let policy = open_workspace_policy(&rt, global.policies)?;
            match crate::workspace::remove_endpoint(store.as_mut(), &policy, cmd_kind, &id, force)? {
                crate::workspace::Removed::NotFound => {
                    bail!("no {noun} `{id}` in this workspace; `gitsync workspace {noun}s` lists them")
                }
                crate::workspace::Removed::InUse(users) => {
                    return Ok(still_used(
                        &format!("remove {noun} {id}"),
                        &users,
                        &format!("change those first, or pass --force to remove {noun} {id} anyway"),
                    ));
                }
                crate::workspace::Removed::Done => write_out(&format!(
                    "removed {noun} {id}; the next pass writes the manifest without it\n"
                ))?,
            }
        }
        WorkspaceCommand::Put {
            kind,
            slug,
            file,
            author,
            if_version,
        } => {
            let expect = if_version.map_or(edit::Expect::Any, |v| edit::Expect::OneOf(vec![v]));
            return put(store.as_mut(), global, &kind, &slug, &file, &author, &expect);
        }
        WorkspaceCommand::Get { kind, slug, format } => {
            get(store.as_ref(), global.cache, global.policies, &kind, &slug, format)?
        }
        WorkspaceCommand::List { kind, format } => {
            if let Some(k) = &kind {
                layout_path(k, "x")?;
            }
            let list = store.list(kind.as_deref())?;
            let text = match format {
                SummaryFormat::Json => json_text(&list),
                SummaryFormat::Human if list.is_empty() => "no resources\n".to_string(),
                SummaryFormat::Human => list
                    .iter()
                    .map(|r| format!("{:<14} {:<40} {}  {}\n", r.kind, r.slug, r.updated_at, r.updated_by))
                    .collect(),
            };
            write_out(&text)?;
        }
        WorkspaceCommand::Delete {
            kind,
            slug,
            author,
            force,
            if_version,
        } => {
            let author = Author::parse(&author)?;
            layout_path(&kind, &slug)?;
            // The workspace component says what the delete would leave pointing at nothing.
            let rt = Runtime::new(global.cache, Limits::default())?;
            let policy = open_workspace_policy(&rt, global.policies)?;
            let expect = if_version.map_or(edit::Expect::Any, |v| edit::Expect::OneOf(vec![v]));
            match edit::delete(store.as_mut(), &policy, &kind, &slug, &author, force, &expect)? {
                edit::Deleted::NotFound => bail!("no {kind} `{slug}` in this workspace"),
                edit::Deleted::Stale { current } => return Ok(stale(&format!("delete {kind} {slug}"), &current)),
                edit::Deleted::InUse(broken) => {
                    return Ok(still_used(
                        &format!("delete {kind} {slug}"),
                        &broken,
                        &format!("change or delete those first, or pass --force to delete {kind} {slug} anyway"),
                    ));
                }
                edit::Deleted::Done => {
                    write_out(&format!("deleted {kind} {slug} as {author}; queued for OUTBOUND\n"))?;
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// A change refused because the resource is no longer at the version given (`--if-version`): its
/// version now (empty: it does not exist); the exit code.
fn stale(what: &str, current: &str) -> i32 {
    if current.is_empty() {
        eprintln!("refusing to {what}: it does not exist any more (--if-version names a version it had)");
    } else {
        eprintln!(
            "refusing to {what}: it changed since the version given (--if-version); its version is now {current}\n\
             read it again (`gitsync workspace get KIND SLUG --format json` shows `version`), then make your change on that"
        );
    }
    EXIT_FINDINGS
}

/// A delete or removal refused because `users` still name what would go: what was refused, each
/// user at its file, line and column, and `fix`; the exit code.
fn still_used(what: &str, users: &[gitsync_core::diag::Diagnostic], fix: &str) -> i32 {
    let mut text = format!("refusing to {what}: it is still used\n");
    for d in users {
        text.push_str(&format!(
            "  {}:{}:{}: {} [{}]\n",
            d.path, d.span.line, d.span.column, d.message, d.code
        ));
    }
    text.push_str(&format!(
        "{fix} (the branch then fails `gitsync validate` until they are fixed)\n"
    ));
    eprint!("{text}");
    EXIT_FINDINGS
}

/// `workspace put`: checked and rendered by the workspace component, then stored and queued.
fn put(
    store: &mut dyn WorkspaceStore,
    global: Global,
    kind: &str,
    slug: &str,
    file: &Path,
    author: &str,
    expect: &edit::Expect,
) -> Result<i32> {
    let author = Author::parse(author)?;
    layout_path(kind, slug)?;
    // Read no more than the repository could hold (and stop at once on endless input).
    let limit = edit::MAX_RESOURCE_SIZE;
    let mut contents = Vec::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().take(limit + 1).read_to_end(&mut contents)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit + 1).read_to_end(&mut contents))
    };
    read.with_context(|| format!("cannot read {}", shown_name(file)))?;
    if contents.len() as u64 > limit {
        return Err(edit::too_large(&shown_name(file)));
    }
    let rt = Runtime::new(global.cache, Limits::default())?;
    let policy = open_workspace_policy(&rt, global.policies)?;
    match edit::put(store, &policy, kind, slug, &contents, &author, expect)? {
        edit::Put::Stale { current } => Ok(stale(
            &format!("update {kind} {slug}"),
            current.as_deref().unwrap_or_default(),
        )),
        edit::Put::Stored { created, .. } => {
            write_out(&format!(
                "{} {kind} {slug} as {author}; queued for OUTBOUND\n",
                if created { "created" } else { "updated" }
            ))?;
            Ok(EXIT_OK)
        }
        edit::Put::Invalid(mut diags) => {
            // Findings point at the file the user gave, not the layout path.
            let shown = shown_name(file);
            for d in &mut diags {
                d.path = shown.clone();
            }
            let sources = HashMap::from([(shown, contents)]);
            let summary = Summary {
                files_checked: 1,
                workspaces: 1,
                elapsed: std::time::Duration::ZERO,
            };
            eprint!("{}", report::human(&diags, &sources, &summary, false));
            Ok(EXIT_FINDINGS)
        }
    }
}

/// `workspace get`: the stored YAML, or (`--format json`) the fields as the schema component reads
/// them with the record around them.
fn get(
    store: &dyn WorkspaceStore,
    cache: Option<PathBuf>,
    policies_dir: Option<PathBuf>,
    kind: &str,
    slug: &str,
    format: ResourceFormat,
) -> Result<()> {
    layout_path(kind, slug)?;
    let Some(r) = store.get(kind, slug)? else {
        bail!("no {kind} `{slug}` in this workspace (see `gitsync workspace list {kind}`)");
    };
    match format {
        ResourceFormat::Yaml => write_out(&r.yaml)?,
        ResourceFormat::Json => {
            let rt = Runtime::new(cache, Limits::default())?;
            let policies = open_policies(&rt, policies_dir)?;
            let json = edit::get_json(store, &policies, kind, slug)?
                .with_context(|| format!("no {kind} `{slug}` in this workspace"))?;
            write_out(&json_text(&json))?
        }
    }
    Ok(())
}

/// How a `--file` argument is named in messages (`-` is standard input).
fn shown_name(file: &Path) -> String {
    if file.as_os_str() == "-" {
        "<stdin>".to_string()
    } else {
        file.display().to_string()
    }
}
