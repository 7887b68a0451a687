//! `connect`, `sync`, `resync`, `status`, `conflicts` and `log`: the sync engine as a person runs it.

use super::{EXIT_FINDINGS, EXIT_OK, Global, json_text, open_workspace, open_workspace_policy, write_out};
use crate::author::Author;
use crate::workspace::sync as engine;
use anyhow::{Context, Result, bail};
use gitsync_engine::{Limits, Runtime};

pub(super) fn log(global: Global, limit: usize, json: bool) -> Result<i32> {
    let (_, store) = open_workspace(&global)?;
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
    Ok(EXIT_OK)
}

pub(super) fn connect(global: Global, to: &engine::ConnectTo) -> Result<i32> {
    let (w, mut store) = open_workspace(&global)?;
    let dir = w.dir;
    let rt = Runtime::new(global.cache, Limits::default())?;
    let policies = open_workspace_policy(&rt, global.policies)?;
    write_out(&engine::connect(store.as_mut(), &policies, &dir, to)?)?;
    Ok(EXIT_OK)
}

pub(super) fn sync(global: Global, json: bool, limits: Limits, take_over: bool) -> Result<i32> {
    let (w, mut store) = open_workspace(&global)?;
    let dir = w.dir;
    if take_over {
        engine::take_over(store.as_mut(), &dir)?;
    }
    let rt = Runtime::new(global.cache, limits)?;
    let policies = open_workspace_policy(&rt, global.policies)?;
    let branch = store.setting("branch")?.unwrap_or_default();
    let report = engine::sync(store.as_mut(), &policies, &dir)?;
    if json {
        write_out(&json_text(&report))?;
    } else {
        write_out(&report.human(&branch))?;
    }
    Ok(if report.needs_attention() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

pub(super) fn resync(global: Global, yes: bool, author: Option<&str>, json: bool) -> Result<i32> {
    let (w, mut store) = open_workspace(&global)?;
    let dir = w.dir;
    let author = match author {
        Some(a) => Author::parse(a)?,
        None => Author {
            name: "gitsync".into(),
            email: "gitsync@localhost".into(),
        },
    };
    eprint!("{}", engine::resync_warning(store.as_ref())?);
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
    let rt = Runtime::new(global.cache, Limits::default())?;
    let policies = open_workspace_policy(&rt, global.policies)?;
    let start = std::time::Instant::now();
    let report = engine::resync(store.as_mut(), &policies, &dir, &author, &mut |step| {
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
        for n in &report.not_written {
            text.push_str(&format!(
                "  not written: {} {}: {}; its queued changes stay queued\n",
                n.kind, n.slug, n.reason
            ));
        }
        write_out(&text)?;
    }
    Ok(if report.inbound.skipped.is_empty() && report.not_written.is_empty() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

pub(super) fn status(global: Global, json: bool) -> Result<i32> {
    let (_, store) = open_workspace(&global)?;
    let s = crate::workspace::status(store.as_ref())?;
    if json {
        write_out(&json_text(&s))?;
        return Ok(EXIT_OK);
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
        let aside = s.queued.iter().filter(|q| q.set_aside.is_some()).count();
        text.push_str(&format!(
            "queued for OUTBOUND: {}{}\n",
            s.queued.len(),
            if aside > 0 {
                format!(" ({aside} set aside)")
            } else {
                String::new()
            }
        ));
        for q in &s.queued {
            text.push_str(&format!(
                "  #{} {} {}/{} by {} at {}\n",
                q.seq, q.op, q.kind, q.slug, q.author, q.at
            ));
            if let Some(why) = &q.set_aside {
                text.push_str(&format!(
                    "    set aside: {why}; it goes out with the first pass after that (or `gitsync workspace delete {} {}` drops it)\n",
                    q.kind, q.slug
                ));
            }
        }
    }
    text.push_str(&match s.conflicts {
        0 => "conflicts kept: none\n".to_string(),
        n => format!("conflicts kept: {n} (`gitsync conflicts`)\n"),
    });
    write_out(&text)?;
    Ok(EXIT_OK)
}

pub(super) fn conflicts(global: Global, show: Option<i64>, json: bool) -> Result<i32> {
    let (_, store) = open_workspace(&global)?;
    let all = store.conflicts()?;
    if let Some(n) = show {
        let Some(c) = all.iter().find(|c| c.id == n) else {
            bail!("no conflict #{n} (see `gitsync conflicts`)");
        };
        // The losing change was a delete: there is no version to restore, whatever the store keeps
        // of the content the resource had before it.
        match &c.kept_yaml {
            Some(yaml) if c.kept_op != "delete" => write_out(yaml)?,
            _ => bail!(
                "conflict #{n} kept no content: the workspace's losing change deleted {kind} {slug} (Git's version won); to delete it again: gitsync workspace delete {kind} {slug} --as \"Name <email>\"",
                kind = c.kind,
                slug = c.slug
            ),
        }
        return Ok(EXIT_OK);
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
    Ok(EXIT_OK)
}
