//! `gitsync events validate`: stream newline-delimited JSON events through a contract in the
//! contracts component, in batches, and write one verdict per event.

use super::validate::{self as pipeline, ValidateOptions};
use anyhow::{Context, Result, bail};
use gitsync_engine::BuiltinPolicies;
use gitsync_engine::wit::{Resource, ResourceBody};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};

/// Events per call into the component: large enough that the crossing is not paid per event.
pub const BATCH: usize = 1024;

/// Bytes of events per call at the most: large events make smaller batches, so what one call holds
/// in the component's memory (the events, and verdicts about twice their size) stays far below its
/// memory limit.
pub const BATCH_BYTES: usize = 4 << 20;

/// The contract to apply: the one named, or the repository's only contract.
pub fn choose_contract(resources: &[Resource], wanted: Option<&str>) -> Result<String> {
    let contracts: Vec<&str> = resources
        .iter()
        .filter(|r| matches!(r.body, ResourceBody::Contract(_)))
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

/// Counts for `--summary`: the component's tallies of each batch, added up.
#[derive(Default)]
pub struct Summary(pub gitsync_core::events::Tally);

impl Summary {
    /// Add the counts the component made of one batch.
    fn add(&mut self, t: gitsync_core::events::Tally) {
        self.0.merge(t);
    }

    /// The counts as one JSON object (`--summary --format json`).
    pub fn json(&self) -> serde_json::Value {
        let t = &self.0;
        serde_json::json!({
            "events": t.events,
            "allowed": t.allowed,
            "blocked": t.blocked,
            "malformed": t.malformed,
            "per_event": t.per_event,
            "per_violation": t.per_violation,
            "undeclared_schema": t.undeclared_schema,
            "undeclared_fields": t.undeclared_fields,
        })
    }

    pub fn human(&self) -> String {
        let t = &self.0;
        let mut out = format!(
            "{} events: {} allowed, {} blocked ({} malformed); {} with an undeclared schema, {} with undeclared fields\n",
            t.events, t.allowed, t.blocked, t.malformed, t.undeclared_schema, t.undeclared_fields
        );
        if !t.per_event.is_empty() {
            out.push_str("\nper event:                              allowed   blocked\n");
            for (name, [a, b]) in &t.per_event {
                out.push_str(&format!("  {name:<36} {a:>9} {b:>9}\n"));
            }
        }
        if !t.per_violation.is_empty() {
            out.push_str("\nper violation:\n");
            let mut rows: Vec<_> = t.per_violation.iter().collect();
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
    /// How many batches are judged at once, each by an instance of the contracts component of its
    /// own (at least one). The verdicts come out in input order whatever the number.
    pub judges: usize,
    /// Show how many events were judged so far on standard error (for a terminal).
    pub progress: bool,
}

/// Judge every line of `input`, writing verdicts (or, with `summary`, only counting) to `output`.
/// A line that is not UTF-8 cannot cross into the component: it gets a malformed verdict written
/// here, in its place in the stream, and the stream goes on. Reading, cutting the input into
/// batches and writing run on threads of their own; `judges` threads judge batches as they come and
/// the writer puts the verdicts back in input order. The first failure (reading, judging or writing) ends the stream: everything before
/// it in the input has been written, nothing after it.
pub fn stream(
    policies: &BuiltinPolicies,
    opts: &StreamOptions,
    input: &mut (dyn BufRead + Send),
    output: &mut (dyn Write + Send),
) -> Result<Summary> {
    let resources = pipeline::resources(policies, &opts.repo)?;
    let contract = choose_contract(&resources, opts.contract.as_deref())?;
    let new_batch = || -> Result<Batch> {
        let judge = match policies.event_judge(&resources, &contract) {
            Err(f) => return Err(f.into()),
            Ok(Err(message)) => bail!("{message}"),
            Ok(Ok(j)) => j,
        };
        Ok(Batch {
            judge,
            summary_only: opts.summary,
            summary: Summary::default(),
        })
    };
    // The first judge is made before anything is read, so a contract that does not compile is
    // reported as such; the others when they get their first batch (a short stream makes one).
    let first = new_batch()?;
    let judges = opts.judges.max(1);
    std::thread::scope(|s| {
        // A few pieces in flight each way: the reader and the writer keep ahead without holding
        // more than a few batches per judge in memory.
        let (pieces, read) = std::sync::mpsc::sync_channel::<(u64, Result<Piece>)>(judges + 1);
        let (verdicts, to_write) = std::sync::mpsc::sync_channel::<(u64, Result<Judged>)>(judges + 1);
        let (chunks, read_chunks_rx) = std::sync::mpsc::sync_channel::<Result<Vec<u8>>>(16);
        let reader = s.spawn(move || read_chunks(input, &chunks));
        let cutter = s.spawn(move || cut_pieces(read_chunks_rx, &pieces));
        let progress = opts.progress.then(Progress::new);
        let writer = s.spawn(move || write_in_order(output, to_write, progress));
        // Shared by the judging threads; dropped with the last of them.
        let read = std::sync::Arc::new(std::sync::Mutex::new(read));
        let mut first = Some(first);
        let workers: Vec<_> = (0..judges)
            .map(|_| {
                let (batch, read, verdicts, new_batch) = (first.take(), read.clone(), verdicts.clone(), &new_batch);
                s.spawn(move || judge_pieces(batch, new_batch, &read, &verdicts))
            })
            .collect();
        drop(verdicts);
        let mut summary = Summary::default();
        for w in workers {
            summary.0.merge(w.join().expect("a judging thread does not panic").0);
        }
        // Nobody takes pieces any more: the cutter stops at its next send, then the reader at its.
        drop(read);
        let _ = cutter.join();
        let _ = reader.join();
        writer
            .join()
            .expect("the writer thread does not panic")
            .map(|()| summary)
    })
}

/// One judging thread: take the next piece, judge it, hand its verdicts on with its number; stop
/// when the pieces run out, when the writer is gone, or after a failure (handed on in its place).
/// What this thread counted.
fn judge_pieces<'p, 'rt>(
    mut batch: Option<Batch<'p, 'rt>>,
    new_batch: &(dyn Fn() -> Result<Batch<'p, 'rt>> + Sync),
    read: &std::sync::Mutex<std::sync::mpsc::Receiver<(u64, Result<Piece>)>>,
    verdicts: &std::sync::mpsc::SyncSender<(u64, Result<Judged>)>,
) -> Summary {
    loop {
        // The lock is held only while waiting for the next piece, not while judging it.
        let next = read.lock().map_err(|_| ()).and_then(|r| r.recv().map_err(|_| ()));
        let Ok((seq, piece)) = next else { break };
        let judged = piece.and_then(|piece| {
            let b = match &mut batch {
                Some(b) => b,
                None => batch.insert(new_batch()?),
            };
            let before = b.summary.0.events;
            let text = match piece {
                Piece::Events { text, events } => b.judge_lines(&text, events)?,
                Piece::NotUtf8 { valid_up_to } => b.not_utf8(valid_up_to),
            };
            Ok(Judged {
                text,
                events: b.summary.0.events - before,
            })
        });
        let failed = judged.is_err();
        if verdicts.send((seq, judged)).is_err() || failed {
            break;
        }
    }
    batch.map(|b| b.summary).unwrap_or_default()
}

/// A judged piece: its verdict lines (none for the summary) and how many events it held.
struct Judged {
    text: String,
    events: u64,
}

/// Write the judged pieces in their input order (they arrive in the order they were finished);
/// the first failure in input order is the stream's.
fn write_in_order(
    output: &mut (dyn Write + Send),
    judged: std::sync::mpsc::Receiver<(u64, Result<Judged>)>,
    mut progress: Option<Progress>,
) -> Result<()> {
    let mut next = 0u64;
    let mut waiting = BTreeMap::new();
    let written = (|| -> Result<()> {
        loop {
            // Verdicts are flushed whenever nothing more is ready to write, so a live stream sees
            // them as they are reached, and a fast one still writes in large blocks.
            let (seq, piece) = match judged.try_recv() {
                Ok(next) => next,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    output.flush().context("cannot write the verdicts")?;
                    match judged.recv() {
                        Ok(next) => next,
                        Err(_) => break,
                    }
                }
            };
            waiting.insert(seq, piece);
            while let Some(piece) = waiting.remove(&next) {
                let piece = piece?;
                output
                    .write_all(piece.text.as_bytes())
                    .context("cannot write the verdicts")?;
                if let Some(p) = &mut progress {
                    p.judged(piece.events);
                }
                next += 1;
            }
        }
        output.flush().context("cannot write the verdicts")
    })();
    if let Some(p) = progress {
        p.finish();
    }
    written
}

/// "judged N events (R/s)" on standard error, a few times a second, on one line.
struct Progress {
    started: std::time::Instant,
    shown: Option<std::time::Instant>,
    events: u64,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            started: std::time::Instant::now(),
            shown: None,
            events: 0,
        }
    }

    fn judged(&mut self, events: u64) {
        self.events += events;
        // Quiet for the first half second: a short stream shows nothing.
        let due = match self.shown {
            Some(at) => at.elapsed() >= std::time::Duration::from_millis(250),
            None => self.started.elapsed() >= std::time::Duration::from_millis(500),
        };
        if due {
            self.show();
            self.shown = Some(std::time::Instant::now());
        }
    }

    fn show(&self) {
        let seconds = self.started.elapsed().as_secs_f64();
        eprint!(
            "\rjudged {} events ({:.0}/s)",
            self.events,
            self.events as f64 / seconds.max(1e-9)
        );
        let _ = std::io::stderr().flush();
    }

    /// The final count, and the line ended, when progress was shown at all.
    fn finish(self) {
        if self.shown.is_some() {
            self.show();
            eprintln!(" in {:.1} s", self.started.elapsed().as_secs_f64());
        }
    }
}

/// What the reader hands on: up to `BATCH` events as newline-separated text (the form
/// `judge-lines` takes), or a line that is not UTF-8.
enum Piece {
    Events { text: String, events: usize },
    NotUtf8 { valid_up_to: usize },
}

/// How long the input may pause before the events read so far are judged without waiting for a
/// full batch: a live stream gets its verdicts as its events come.
const PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// Read `input` as it comes, a buffer at a time; stop at its end, after a failure (handed on), or
/// when nobody listens.
fn read_chunks(input: &mut (dyn BufRead + Send), chunks: &std::sync::mpsc::SyncSender<Result<Vec<u8>>>) {
    loop {
        let chunk = match input.fill_buf() {
            Ok([]) => return,
            Ok(bytes) => bytes.to_vec(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = chunks.send(Err(anyhow::Error::from(e).context("cannot read the events")));
                return;
            }
        };
        input.consume(chunk.len());
        if chunks.send(Ok(chunk)).is_err() {
            return;
        }
    }
}

/// Cut the input into pieces, numbered in order: a batch goes when it is full, when the input
/// pauses (`PAUSE`), before a line that is not UTF-8, before a read failure, and at the end.
fn cut_pieces(
    chunks: std::sync::mpsc::Receiver<Result<Vec<u8>>>,
    pieces: &std::sync::mpsc::SyncSender<(u64, Result<Piece>)>,
) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut cut = Cutter {
        pieces,
        seq: 0,
        text: String::with_capacity(BATCH * 512),
        lines: 0,
    };
    // The start of a line whose end has not come yet.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let chunk = match chunks.recv_timeout(PAUSE) {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => {
                // What was read before the failure is judged; the failure comes after it.
                let _ = cut.batch() && cut.send(Err(e));
                return;
            }
            Err(RecvTimeoutError::Timeout) => {
                if !cut.batch() {
                    return;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                // The end of the input: a last line without a newline is a line too.
                let _ = (carry.is_empty() || cut.line(&carry)) && cut.batch();
                return;
            }
        };
        let mut rest = chunk.as_slice();
        if !carry.is_empty() {
            let Some(end) = memchr::memchr(b'\n', rest) else {
                carry.extend_from_slice(rest);
                continue;
            };
            carry.extend_from_slice(&rest[..end]);
            if !cut.line(&carry) {
                return;
            }
            carry.clear();
            rest = &rest[end + 1..];
        }
        while let Some(end) = memchr::memchr(b'\n', rest) {
            if !cut.line(&rest[..end]) {
                return;
            }
            rest = &rest[end + 1..];
        }
        carry.extend_from_slice(rest);
    }
}

/// The batch being cut, and where the pieces go.
struct Cutter<'s> {
    pieces: &'s std::sync::mpsc::SyncSender<(u64, Result<Piece>)>,
    seq: u64,
    text: String,
    lines: usize,
}

impl Cutter<'_> {
    /// Hand a piece on; false when nobody listens any more.
    fn send(&mut self, piece: Result<Piece>) -> bool {
        self.seq += 1;
        self.pieces.send((self.seq - 1, piece)).is_ok()
    }

    /// Hand on the events gathered so far, if any.
    fn batch(&mut self) -> bool {
        if self.lines == 0 {
            return true;
        }
        let events = std::mem::take(&mut self.lines);
        let text = std::mem::replace(&mut self.text, String::with_capacity(BATCH * 512));
        self.send(Ok(Piece::Events { text, events }))
    }

    /// One line of input, without its `\n`: blank lines are skipped, a line that is not UTF-8 is a
    /// piece of its own.
    fn line(&mut self, raw: &[u8]) -> bool {
        match std::str::from_utf8(raw) {
            Ok(line) => {
                let line = line.trim_end_matches('\r');
                if !line.trim().is_empty() {
                    self.text.push_str(line);
                    self.text.push('\n');
                    self.lines += 1;
                    if self.lines == BATCH || self.text.len() >= BATCH_BYTES {
                        return self.batch();
                    }
                }
                true
            }
            Err(e) => {
                self.batch()
                    && self.send(Ok(Piece::NotUtf8 {
                        valid_up_to: e.valid_up_to(),
                    }))
            }
        }
    }
}

/// The judging side: the component's event validator and the counts so far.
struct Batch<'p, 'rt> {
    judge: gitsync_engine::EventJudge<'p, 'rt>,
    summary_only: bool,
    summary: Summary,
}

impl Batch<'_, '_> {
    /// Judge `events` newline-separated events (none blank): their verdict lines, or (for the
    /// summary) nothing but counts.
    fn judge_lines(&mut self, text: &str, events: usize) -> Result<String> {
        if self.summary_only {
            let tally = self.judge.tally_lines(text)?;
            self.summary.add(tally);
            return Ok(String::new());
        }
        // Streaming: one string in, one string of verdict lines out, per batch; the blocked ones
        // counted for `--fail-on-blocked`.
        let lines = self.judge.judge_lines(text)?;
        let blocked = gitsync_core::events::blocked_lines(&lines);
        let t = &mut self.summary.0;
        t.events += events as u64;
        t.blocked += blocked;
        t.allowed += events as u64 - blocked;
        Ok(lines)
    }

    /// The verdict of a line that is not UTF-8, as the component writes one for a line that is not
    /// JSON (blocked, `event: null`, an `error`).
    fn not_utf8(&mut self, valid_up_to: usize) -> String {
        self.summary.0.malformed_line();
        if self.summary_only {
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
