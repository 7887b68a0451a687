//! `gitsync workspace …`: a person working with the embedded workspace as they would in a UI.
//! Resources are parsed and rendered by the schema component; the host stores the canonical YAML it
//! returns and queues each change for OUTBOUND.

use super::{
    EXIT_FINDINGS, EXIT_OK, Global, ResourceFormat, SummaryFormat, WorkspaceCommand, data_dir, json_text,
    open_policies, write_out,
};
use crate::report::{self, Summary};
use crate::workspace::store::{Author, Endpoint, EndpointKind, SqliteStore, WorkspaceStore, layout_path};
use anyhow::{Context, Result, bail};
use gitsync_core::diag::{Code, Diagnostic, Severity, Span, codes};
use gitsync_engine::wit as types;
use gitsync_engine::{Limits, Runtime};
use std::collections::HashMap;
use std::io::Read;

pub(super) fn run(global: Global, cmd: WorkspaceCommand) -> Result<i32> {
    let (cache, policies_dir) = (global.cache, global.policies);
    let dir = data_dir(global.data)?;
    let cmd_kind = match &cmd {
        WorkspaceCommand::AddDestination(_) => EndpointKind::Destination,
        _ => EndpointKind::Source,
    };
    match cmd {
        WorkspaceCommand::Init { id } => {
            SqliteStore::init(&dir, &id)?;
            write_out(&format!("created workspace {id} in {}\n", dir.display()))?;
        }
        WorkspaceCommand::AddSource(args) | WorkspaceCommand::AddDestination(args)
            if args.id.is_empty() || args.id.contains(char::is_whitespace) =>
        {
            bail!("id `{}` must be non-empty without spaces", args.id);
        }
        WorkspaceCommand::AddSource(args) | WorkspaceCommand::AddDestination(args) => {
            let kind = cmd_kind;
            let id = args.id.clone();
            SqliteStore::open(&dir)?.add_endpoint(
                kind,
                &Endpoint {
                    id: args.id,
                    name: args.name,
                    kind: args.kind,
                },
            )?;
            let noun = if kind == EndpointKind::Source {
                "source"
            } else {
                "destination"
            };
            write_out(&format!("added {noun} {id}\n"))?;
        }
        WorkspaceCommand::Put {
            kind,
            slug,
            file,
            author,
        } => {
            let author = Author::parse(&author)?;
            let path = layout_path(&kind, &slug)?;
            let mut store = SqliteStore::open(&dir)?;
            let contents = if file.as_os_str() == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("cannot read standard input")?;
                buf
            } else {
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?
            };
            let rt = Runtime::new(cache, Limits::default())?;
            let policies = open_policies(&rt, policies_dir)?;
            let source = types::SourceFile {
                path: path.clone(),
                contents: contents.clone(),
            };
            let parsed = policies
                .parse("", std::slice::from_ref(&source))?
                .pop()
                .context("the schema component returned nothing")?;
            let mut diags = parsed.diagnostics;
            // Findings point at the file the user gave, not the layout path.
            let shown = if file.as_os_str() == "-" {
                "<stdin>".to_string()
            } else {
                file.display().to_string()
            };
            for d in &mut diags {
                d.path = shown.clone();
            }
            let resource = parsed.resource;
            if let Some(r) = &resource {
                diags.extend(reference_errors(&store, r, &shown)?);
            }
            if diags.iter().any(|d| d.severity == Severity::Error) || resource.is_none() {
                let sources = HashMap::from([(shown, contents)]);
                let summary = Summary {
                    files_checked: 1,
                    workspaces: 1,
                    elapsed: std::time::Duration::ZERO,
                };
                eprint!("{}", report::human(&diags, &sources, &summary, false));
                return Ok(EXIT_FINDINGS);
            }
            let resource = resource.expect("checked above");
            let yaml = policies
                .render(&resource)?
                .map_err(|e| anyhow::anyhow!("cannot render {kind} {slug}: {e}"))?;
            let existed = store.get(&kind, &slug)?.is_some();
            store.put(&kind, &slug, &yaml, &author)?;
            write_out(&format!(
                "{} {kind} {slug} as {author}; queued for OUTBOUND\n",
                if existed { "updated" } else { "created" }
            ))?;
        }
        WorkspaceCommand::Get { kind, slug, format } => {
            layout_path(&kind, &slug)?;
            let store = SqliteStore::open(&dir)?;
            let Some(r) = store.get(&kind, &slug)? else {
                bail!("no {kind} `{slug}` in this workspace (see `gitsync workspace list {kind}`)");
            };
            match format {
                ResourceFormat::Yaml => write_out(&r.yaml)?,
                ResourceFormat::Json => {
                    // The fields as the schema component reads them, so `jq .resource.name` works.
                    let rt = Runtime::new(cache, Limits::default())?;
                    let policies = open_policies(&rt, policies_dir)?;
                    let fields = policies
                        .fields_as_json(&r.yaml)?
                        .map_err(|e| anyhow::anyhow!("{kind} `{slug}`: {e}"))?;
                    let fields: serde_json::Value =
                        serde_json::from_str(&fields).context("the schema component returned no JSON")?;
                    write_out(&json_text(&serde_json::json!({
                        "kind": r.kind,
                        "slug": r.slug,
                        "updated_at": r.updated_at,
                        "updated_by": r.updated_by,
                        "resource": fields,
                    })))?
                }
            }
        }
        WorkspaceCommand::List { kind, format } => {
            if let Some(k) = &kind {
                layout_path(k, "x")?;
            }
            let store = SqliteStore::open(&dir)?;
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
        WorkspaceCommand::Delete { kind, slug, author } => {
            let author = Author::parse(&author)?;
            layout_path(&kind, &slug)?;
            if !SqliteStore::open(&dir)?.delete(&kind, &slug, &author)? {
                bail!("no {kind} `{slug}` in this workspace");
            }
            write_out(&format!("deleted {kind} {slug} as {author}; queued for OUTBOUND\n"))?;
        }
    }
    Ok(EXIT_OK)
}

/// In the workspace, references hold real ids: a model's source and a sync's destination must be
/// ids this workspace has, and a sync's model must exist.
fn reference_errors(store: &SqliteStore, r: &types::Resource, path: &str) -> Result<Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut check = |text: &Option<types::Text>, known: Vec<String>, code: Code, what: &str, fix: &str| {
        if let Some(t) = text
            && !known.contains(&t.value)
        {
            let span = Span::new(t.span.line, t.span.column, t.span.end_line, t.span.end_column);
            out.push(
                Diagnostic::new(
                    code,
                    path,
                    span,
                    format!("{what} `{}` does not exist in this workspace", t.value),
                )
                .label("the workspace uses real ids, not aliases")
                .help(if known.is_empty() {
                    fix.to_string()
                } else {
                    format!("use one of: {}", known.join(", "))
                }),
            );
        }
    };
    let ids = |k| -> Result<Vec<String>> { Ok(store.endpoints(k)?.into_iter().map(|e| e.id).collect()) };
    match &r.body {
        types::ResourceBody::Model(m) => check(
            &m.source,
            ids(EndpointKind::Source)?,
            codes::UNRESOLVED_SOURCE,
            "source",
            "add one with `gitsync workspace add-source`",
        ),
        types::ResourceBody::Sync(s) => {
            check(
                &s.destination,
                ids(EndpointKind::Destination)?,
                codes::UNRESOLVED_DESTINATION,
                "destination",
                "add one with `gitsync workspace add-destination`",
            );
            let models = store.list(Some("model"))?.into_iter().map(|m| m.slug).collect();
            check(
                &s.model,
                models,
                codes::UNKNOWN_MODEL,
                "model",
                "create it first with `gitsync workspace put model`",
            );
        }
        _ => {}
    }
    Ok(out)
}
