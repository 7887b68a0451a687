//! `gitsync workspace …` and `gitsync log`: a person working with the embedded workspace as they would
//! in a UI. Resources are parsed and rendered by the schema component; the host stores the canonical
//! YAML it returns and queues each change for OUTBOUND.

use crate::cli::{ResourceFormat, SummaryFormat, WorkspaceCommand, write_out};
use crate::policy::{BuiltinPolicies, default_policies_dir};
use crate::report::{self, Severity, Summary};
use crate::runtime::bindings::types;
use crate::runtime::{Limits, Runtime};
use crate::store::{Author, Endpoint, EndpointKind, SqliteStore, WorkspaceStore, layout_path};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

/// Pretty JSON and a newline: what `--format json` prints.
fn json_text(value: &impl serde::Serialize) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(value).expect("gitsync's own records serialize")
    )
}

fn data_dir(data: Option<PathBuf>) -> Result<PathBuf> {
    data.context("no data directory: pass --data DIR or set GITSYNC_DATA")
}

pub(crate) fn log(data: Option<PathBuf>, limit: usize, json: bool) -> Result<i32> {
    let store = SqliteStore::open(&data_dir(data)?)?;
    let entries = store.log(limit)?;
    let text = if json {
        json_text(&entries)
    } else if entries.is_empty() {
        "no changes yet\n".to_string()
    } else {
        entries
            .iter()
            .map(|e| {
                format!(
                    "{}  {:<8}  {}/{}  {}  {}  {}\n",
                    e.at,
                    e.direction,
                    e.kind,
                    e.slug,
                    e.commit.as_deref().unwrap_or("-"),
                    e.author,
                    e.outcome
                )
            })
            .collect()
    };
    write_out(&text)?;
    Ok(crate::cli::EXIT_OK)
}

fn open_policies(rt: &Runtime, policies_dir: Option<PathBuf>) -> Result<BuiltinPolicies<'_>> {
    BuiltinPolicies::load(rt, &policies_dir.unwrap_or_else(default_policies_dir))
}

pub(crate) fn connect(
    data: Option<PathBuf>,
    policies_dir: Option<PathBuf>,
    cache: Option<PathBuf>,
    url: &str,
    branch: &str,
    path: &str,
    creds: &crate::sync::Credentials,
) -> Result<i32> {
    let dir = data_dir(data)?;
    let mut store = SqliteStore::open(&dir)?;
    let rt = Runtime::new(cache, Limits::default())?;
    let policies = open_policies(&rt, policies_dir)?;
    write_out(&crate::sync::connect(
        &mut store, &policies, &dir, url, branch, path, creds,
    )?)?;
    Ok(crate::cli::EXIT_OK)
}

pub(crate) fn sync(
    data: Option<PathBuf>,
    policies_dir: Option<PathBuf>,
    cache: Option<PathBuf>,
    json: bool,
) -> Result<i32> {
    let dir = data_dir(data)?;
    let mut store = SqliteStore::open(&dir)?;
    let rt = Runtime::new(cache, Limits::default())?;
    let policies = open_policies(&rt, policies_dir)?;
    let branch = store.setting("branch")?.unwrap_or_default();
    let report = crate::sync::sync(&mut store, &policies, &dir)?;
    if json {
        write_out(&json_text(&report))?;
    } else {
        write_out(&report.human(&branch))?;
    }
    Ok(if report.needs_attention() {
        crate::cli::EXIT_FINDINGS
    } else {
        crate::cli::EXIT_OK
    })
}

pub(crate) fn resync(
    data: Option<PathBuf>,
    policies_dir: Option<PathBuf>,
    cache: Option<PathBuf>,
    yes: bool,
    author: Option<&str>,
    json: bool,
) -> Result<i32> {
    let dir = data_dir(data)?;
    let mut store = SqliteStore::open(&dir)?;
    let author = match author {
        Some(a) => Author::parse(a)?,
        None => Author {
            name: "gitsync".into(),
            email: "gitsync@localhost".into(),
        },
    };
    eprint!("{}", crate::sync::resync_warning(&store)?);
    if !yes {
        eprint!("Continue? [y/N] ");
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .context("cannot read the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            bail!("resync cancelled; nothing was changed (pass --yes to skip the question)");
        }
    }
    let rt = Runtime::new(cache, Limits::default())?;
    let policies = open_policies(&rt, policies_dir)?;
    let start = std::time::Instant::now();
    let report = crate::sync::resync(&mut store, &policies, &dir, &author, &mut |step| {
        eprintln!("resync [{:.1} s]: {step}…", start.elapsed().as_secs_f64())
    })?;
    if json {
        write_out(&json_text(&report))?;
    } else {
        let i = &report.inbound;
        let mut text = match &report.commit {
            Some(c) => format!("wrote {} resources in {c}\n", report.written),
            None => format!("the branch already held all {} resources as written\n", report.written),
        };
        text.push_str(&format!(
            "applied the branch back: {} applied, {} unchanged, {} skipped\n",
            i.applied,
            i.unchanged,
            i.skipped.len()
        ));
        for s in &i.skipped {
            text.push_str(&format!("  skipped {} {}: {}\n", s.kind, s.slug, s.reason));
        }
        write_out(&text)?;
    }
    Ok(if report.inbound.skipped.is_empty() {
        crate::cli::EXIT_OK
    } else {
        crate::cli::EXIT_FINDINGS
    })
}

#[derive(serde::Serialize)]
struct Status {
    workspace: String,
    repository: Option<String>,
    branch: Option<String>,
    path: Option<String>,
    last_applied: Option<String>,
    queued: Vec<crate::store::QueuedChange>,
    conflicts: usize,
    resources: usize,
}

pub(crate) fn status(data: Option<PathBuf>, json: bool) -> Result<i32> {
    let store = SqliteStore::open(&data_dir(data)?)?;
    let mut queued = store.outbound_queue()?;
    for q in &mut queued {
        q.yaml = None; // the list says what is pending; `workspace get` shows content
    }
    let s = Status {
        workspace: store.workspace_id()?,
        repository: store.setting("repo")?.map(|u| crate::sync::redact(&u)),
        branch: store.setting("branch")?,
        path: store.setting("path")?,
        last_applied: store.last_applied()?,
        queued,
        conflicts: store.conflicts()?.len(),
        resources: store.list(None)?.len(),
    };
    if json {
        write_out(&json_text(&s))?;
        return Ok(crate::cli::EXIT_OK);
    }
    let mut text = format!(
        "workspace {} ({} resource{})\n",
        s.workspace,
        s.resources,
        if s.resources == 1 { "" } else { "s" }
    );
    match (&s.repository, &s.branch) {
        (Some(repo), Some(branch)) => {
            let under = match s.path.as_deref() {
                Some(p) if !p.is_empty() => format!(", path {p}"),
                _ => String::new(),
            };
            text.push_str(&format!("connected to {repo} (branch {branch}{under})\n"));
            text.push_str(&match &s.last_applied {
                Some(c) => format!("last applied commit: {c}\n"),
                None => {
                    "last applied commit: none yet (the next `gitsync sync` takes in the branch as it stands)\n".into()
                }
            });
        }
        _ => text.push_str("not connected (`gitsync connect --repo URL --branch B`)\n"),
    }
    if s.queued.is_empty() {
        text.push_str("queued for OUTBOUND: nothing\n");
    } else {
        text.push_str(&format!("queued for OUTBOUND: {}\n", s.queued.len()));
        for q in &s.queued {
            text.push_str(&format!(
                "  {} {}/{} by {} at {}\n",
                q.op, q.kind, q.slug, q.author, q.at
            ));
        }
    }
    text.push_str(&match s.conflicts {
        0 => "conflicts kept: none\n".to_string(),
        n => format!("conflicts kept: {n} (`gitsync conflicts`)\n"),
    });
    write_out(&text)?;
    Ok(crate::cli::EXIT_OK)
}

pub(crate) fn conflicts(data: Option<PathBuf>, show: Option<i64>, json: bool) -> Result<i32> {
    let store = SqliteStore::open(&data_dir(data)?)?;
    let all = store.conflicts()?;
    if let Some(n) = show {
        let Some(c) = all.iter().find(|c| c.id == n) else {
            bail!("no conflict #{n} (see `gitsync conflicts`)");
        };
        match &c.kept_yaml {
            Some(yaml) => write_out(yaml)?,
            None => bail!(
                "conflict #{n} kept no content: the workspace had deleted {} {}",
                c.kind,
                c.slug
            ),
        }
        return Ok(crate::cli::EXIT_OK);
    }
    let text = if json {
        json_text(&all)
    } else if all.is_empty() {
        "no conflicts\n".to_string()
    } else {
        all.iter()
            .map(|c| {
                format!(
                    "#{}  {}  {}/{}  Git ({} by {}) won over the workspace's {} by {}; kept: `gitsync conflicts --show {}`\n",
                    c.id,
                    c.at,
                    c.kind,
                    c.slug,
                    &c.commit[..c.commit.len().min(10)],
                    c.git_author,
                    if c.kept_op == "put" { "change" } else { "delete" },
                    c.kept_author,
                    c.id
                )
            })
            .collect()
    };
    write_out(&text)?;
    Ok(crate::cli::EXIT_OK)
}

pub(crate) fn run(
    data: Option<PathBuf>,
    policies_dir: Option<PathBuf>,
    cache: Option<PathBuf>,
    cmd: WorkspaceCommand,
) -> Result<i32> {
    let dir = data_dir(data)?;
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
            let policies = BuiltinPolicies::load(&rt, &policies_dir.unwrap_or_else(default_policies_dir))?;
            let source = types::SourceFile {
                path: path.clone(),
                contents: contents.clone(),
            };
            let parsed = policies
                .parse("", std::slice::from_ref(&source))
                .map_err(|f| anyhow::anyhow!("policy `{}` failed: {}", f.policy, f.reason))?
                .pop()
                .context("the schema component returned nothing")?;
            let mut diags: Vec<_> = parsed.diagnostics.into_iter().map(crate::pipeline::from_wit).collect();
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
                return Ok(crate::cli::EXIT_FINDINGS);
            }
            let resource = resource.expect("checked above");
            let yaml = policies
                .render(&resource)
                .map_err(|f| anyhow::anyhow!("policy `{}` failed: {}", f.policy, f.reason))?
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
                ResourceFormat::Json => write_out(&json_text(&r))?,
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
    Ok(crate::cli::EXIT_OK)
}

/// In the workspace, references hold real ids: a model's source and a sync's destination must be
/// ids this workspace has, and a sync's model must exist.
fn reference_errors(store: &SqliteStore, r: &types::Resource, path: &str) -> Result<Vec<report::Diagnostic>> {
    let mut out = Vec::new();
    let mut check = |text: &Option<types::Text>, known: Vec<String>, what: &str, fix: &str| {
        if let Some(t) = text
            && !known.contains(&t.value)
        {
            out.push(report::Diagnostic {
                code: if what == "source" {
                    "GS301"
                } else if what == "destination" {
                    "GS302"
                } else {
                    "GS401"
                }
                .to_string(),
                severity: Severity::Error,
                message: format!("{what} `{}` does not exist in this workspace", t.value),
                path: path.to_string(),
                line: t.span.line,
                column: t.span.column,
                end_line: t.span.end_line,
                end_column: t.span.end_column,
                label: Some("the workspace uses real ids, not aliases".into()),
                help: Some(if known.is_empty() {
                    fix.to_string()
                } else {
                    format!("use one of: {}", known.join(", "))
                }),
                workspace: None,
            });
        }
    };
    let ids = |k| -> Result<Vec<String>> { Ok(store.endpoints(k)?.into_iter().map(|e| e.id).collect()) };
    match &r.body {
        types::ResourceBody::Model(m) => check(
            &m.source,
            ids(EndpointKind::Source)?,
            "source",
            "add one with `gitsync workspace add-source`",
        ),
        types::ResourceBody::Sync(s) => {
            check(
                &s.destination,
                ids(EndpointKind::Destination)?,
                "destination",
                "add one with `gitsync workspace add-destination`",
            );
            let models = store.list(Some("model"))?.into_iter().map(|m| m.slug).collect();
            check(
                &s.model,
                models,
                "model",
                "create it first with `gitsync workspace put model`",
            );
        }
        _ => {}
    }
    Ok(out)
}
