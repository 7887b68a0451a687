//! `gitsync events validate`: stream newline-delimited JSON events through a contract in the
//! contracts component, in batches, and write one verdict per event.

use crate::pipeline::{self, ValidateOptions};
use crate::policy::{BuiltinPolicies, Decision, Verdict};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

/// Events per call into the component: large enough that the crossing is not paid per event.
pub const BATCH: usize = 1024;

/// The contract to apply: the one named, or the repository's only contract.
pub fn choose_contract(
    resources: &[crate::runtime::bindings::types::Resource],
    wanted: Option<&str>,
) -> Result<String> {
    let contracts: Vec<&str> = resources
        .iter()
        .filter(|r| matches!(r.body, crate::runtime::bindings::types::ResourceBody::Contract(_)))
        .map(|r| r.slug.as_str())
        .collect();
    match (wanted, contracts.as_slice()) {
        (Some(w), _) => Ok(w.to_string()),
        (None, [only]) => Ok(only.to_string()),
        (None, []) => bail!("the repository has no event contract (events/contracts/<slug>.yaml)"),
        (None, many) => bail!(
            "the repository has {} contracts ({}); pick one with --contract SLUG",
            many.len(),
            many.join(", ")
        ),
    }
}

/// Counts for `--summary`.
#[derive(Default, serde::Serialize)]
pub struct Summary {
    pub events: u64,
    pub allowed: u64,
    pub blocked: u64,
    pub malformed: u64,
    /// Per event (track name, else type): [allowed, blocked].
    pub per_event: BTreeMap<String, [u64; 2]>,
    /// Per violation ("path: message"): how many events had it.
    pub per_violation: BTreeMap<String, u64>,
    pub undeclared_schema: u64,
    pub undeclared_fields: u64,
}

impl Summary {
    fn add(&mut self, v: &Verdict) {
        self.events += 1;
        let allowed = v.decision == Decision::Allowed;
        if allowed {
            self.allowed += 1
        } else {
            self.blocked += 1
        }
        if v.error.is_some() {
            self.malformed += 1;
            return;
        }
        let key = v
            .event_name
            .clone()
            .or_else(|| v.event_type.clone())
            .unwrap_or_default();
        self.per_event.entry(key).or_default()[usize::from(!allowed)] += 1;
        for x in &v.violations {
            *self
                .per_violation
                .entry(format!("{}: {}", x.path, x.message))
                .or_default() += 1;
        }
        self.undeclared_schema += u64::from(v.has_undeclared_schema);
        self.undeclared_fields += u64::from(v.has_undeclared_fields);
    }

    pub fn human(&self) -> String {
        let mut out = format!(
            "{} events: {} allowed, {} blocked ({} malformed); {} with an undeclared schema, {} with undeclared fields\n",
            self.events, self.allowed, self.blocked, self.malformed, self.undeclared_schema, self.undeclared_fields
        );
        if !self.per_event.is_empty() {
            out.push_str("\nper event:                              allowed   blocked\n");
            for (name, [a, b]) in &self.per_event {
                out.push_str(&format!("  {name:<36} {a:>9} {b:>9}\n"));
            }
        }
        if !self.per_violation.is_empty() {
            out.push_str("\nper violation:\n");
            let mut rows: Vec<_> = self.per_violation.iter().collect();
            rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (what, n) in rows {
                out.push_str(&format!("  {n:>9}  {what}\n"));
            }
        }
        out
    }
}

pub struct StreamOptions {
    pub repo: ValidateOptions,
    pub contract: Option<String>,
    pub summary: bool,
}

/// Judge every line of `input`, writing verdicts (or, with `summary`, only counting) to `output`.
/// A line that is not UTF-8 cannot cross into the component: it gets a malformed verdict written
/// here, in its place in the stream, and the stream goes on. Reading and writing run on threads of
/// their own, so the component's thread only judges.
pub fn stream(
    policies: &BuiltinPolicies,
    opts: &StreamOptions,
    input: &mut (dyn BufRead + Send),
    output: &mut (dyn Write + Send),
) -> Result<Summary> {
    let resources = pipeline::resources(policies, &opts.repo)?;
    let contract = choose_contract(&resources, opts.contract.as_deref())?;
    let judge = match policies.event_judge(&resources, &contract) {
        Err(f) => bail!("policy `{}` failed: {}", f.policy, f.reason),
        Ok(Err(message)) => bail!("{message}"),
        Ok(Ok(j)) => j,
    };
    let mut batch = Batch {
        judge,
        summary_only: opts.summary,
        summary: Summary::default(),
    };
    std::thread::scope(|s| {
        // Two pieces in flight each way: the reader and the writer keep ahead without holding
        // more than a few batches in memory.
        let (pieces, read) = std::sync::mpsc::sync_channel::<Result<Piece>>(2);
        let (verdicts, to_write) = std::sync::mpsc::sync_channel::<String>(2);
        let reader = s.spawn(move || read_pieces(input, &pieces));
        let writer = s.spawn(move || -> Result<()> {
            for text in to_write {
                output.write_all(text.as_bytes()).context("cannot write the verdicts")?;
            }
            output.flush().context("cannot write the verdicts")
        });
        let judged = (|| -> Result<()> {
            for piece in read {
                let text = match piece? {
                    Piece::Events(text) => batch.judge_lines(&text)?,
                    Piece::NotUtf8 { valid_up_to } => batch.not_utf8(valid_up_to),
                };
                // A closed channel means the writer stopped on an error, reported below.
                if !text.is_empty() && verdicts.send(text).is_err() {
                    break;
                }
            }
            Ok(())
        })();
        drop(verdicts);
        let wrote = writer.join().expect("the writer thread does not panic");
        // The reader stops at the end of the input, or when the judging side is gone.
        let _ = reader.join();
        judged.and(wrote)
    })?;
    Ok(batch.summary)
}

/// What the reader hands on: up to `BATCH` events as newline-separated text (the form
/// `judge-lines` takes), or a line that is not UTF-8.
enum Piece {
    Events(String),
    NotUtf8 { valid_up_to: usize },
}

/// Read `input` into pieces, in order; stop at its end or when nobody listens.
fn read_pieces(input: &mut (dyn BufRead + Send), pieces: &std::sync::mpsc::SyncSender<Result<Piece>>) {
    let mut text = String::with_capacity(BATCH * 512);
    let mut lines = 0;
    let mut raw = Vec::new();
    let send = |piece| pieces.send(piece).is_ok();
    loop {
        raw.clear();
        let n = match input.read_until(b'\n', &mut raw).context("cannot read the events") {
            Ok(n) => n,
            Err(e) => {
                send(Err(e));
                return;
            }
        };
        if n > 0 {
            match std::str::from_utf8(&raw) {
                Ok(line) => {
                    let line = line.trim_end_matches(['\n', '\r']);
                    if !line.trim().is_empty() {
                        text.push_str(line);
                        text.push('\n');
                        lines += 1;
                    }
                }
                Err(e) => {
                    if lines > 0 && !send(Ok(Piece::Events(std::mem::take(&mut text)))) {
                        return;
                    }
                    lines = 0;
                    if !send(Ok(Piece::NotUtf8 {
                        valid_up_to: e.valid_up_to(),
                    })) {
                        return;
                    }
                }
            }
        }
        if (lines == BATCH || n == 0) && lines > 0 {
            let full = std::mem::replace(&mut text, String::with_capacity(BATCH * 512));
            if !send(Ok(Piece::Events(full))) {
                return;
            }
            lines = 0;
        }
        if n == 0 {
            return;
        }
    }
}

/// The judging side: the component's event validator and the counts so far.
struct Batch<'p, 'rt> {
    judge: crate::policy::EventJudge<'p, 'rt>,
    summary_only: bool,
    summary: Summary,
}

impl Batch<'_, '_> {
    /// Judge newline-separated events: their verdict lines, or (for the summary) nothing but counts.
    fn judge_lines(&mut self, text: &str) -> Result<String> {
        let failed = |f: crate::policy::PolicyFailure| anyhow::anyhow!("policy `{}` failed: {}", f.policy, f.reason);
        if self.summary_only {
            let events: Vec<String> = text.lines().map(String::from).collect();
            for v in &self.judge.judge(&events).map_err(failed)? {
                self.summary.add(v);
            }
            return Ok(String::new());
        }
        // Streaming: one string in, one string of verdict lines out, per batch.
        let lines = self.judge.judge_lines(text).map_err(failed)?;
        self.summary.events += lines.bytes().filter(|&b| b == b'\n').count() as u64;
        Ok(lines)
    }

    /// The verdict of a line that is not UTF-8, as the component writes one for a line that is not
    /// JSON (blocked, `event: null`, an `error`).
    fn not_utf8(&mut self, valid_up_to: usize) -> String {
        self.summary.events += 1;
        if self.summary_only {
            // What `Summary::add` counts for a verdict with an error.
            self.summary.blocked += 1;
            self.summary.malformed += 1;
            return String::new();
        }
        let error = format!("not UTF-8: invalid byte at column {}", valid_up_to + 1);
        let mut line = String::new();
        gitsync_core::events::write_verdict_line(
            &gitsync_core::events::malformed(serde_json::Value::Null, error),
            "",
            &mut line,
        );
        line
    }
}
