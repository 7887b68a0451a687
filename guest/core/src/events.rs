//! Event contracts at run time (docs/events.md): match an incoming event to a contract's event, validate it
//! against the JSON Schema, find undeclared fields, and decide allow, block or omit.

use crate::resource::*;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The envelope fields `includeBuiltInContext: true` treats as declared.
pub const BUILT_IN_FIELDS: [&str; 17] = [
    "type",
    "event",
    "messageId",
    "timestamp",
    "originalTimestamp",
    "context",
    "anonymousId",
    "userId",
    "sentAt",
    "receivedAt",
    "integrations",
    "channel",
    "version",
    "groupId",
    "previousId",
    "name",
    "category",
];

/// Whether `key` is one of [`BUILT_IN_FIELDS`]: by length, then eight bytes at a time (a `match` on
/// strings calls `memcmp`, an out-of-line byte loop inside WebAssembly, for every top-level field).
#[inline(always)]
fn is_built_in(key: &str) -> bool {
    let names: &[&[u8]] = match key.len() {
        4 => &[b"type", b"name"],
        5 => &[b"event"],
        6 => &[b"userId", b"sentAt"],
        7 => &[b"context", b"channel", b"version", b"groupId"],
        8 => &[b"category"],
        9 => &[b"messageId", b"timestamp"],
        10 => &[b"receivedAt", b"previousId"],
        11 => &[b"anonymousId"],
        12 => &[b"integrations"],
        17 => &[b"originalTimestamp"],
        _ => return false,
    };
    names.iter().any(|n| fast::eq_bytes(n, key.as_bytes()))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// JSONPath of the offending value (`$.properties.total`).
    pub path: String,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    /// The event as it would be passed on (undeclared fields removed under OMIT_FIELDS); `null` for a
    /// line that is not a JSON object.
    pub event: Value,
    pub omitted: Vec<String>,
    pub event_name: Option<String>,
    pub event_type: Option<String>,
    pub schema_version: String,
    pub has_undeclared_schema: bool,
    pub has_undeclared_fields: bool,
    pub has_schema_violated: bool,
    pub violations: Vec<Violation>,
    /// Why the line could not be judged as an event (not JSON, no `type`).
    pub error: Option<String>,
    /// Whether `event` differs from the input (fields omitted, or the line was not JSON), so a caller
    /// holding the input text can pass that on unchanged.
    pub modified: bool,
}

mod fast;

/// What judging keeps from one event to the next: the tape events are read into and the layouts
/// seen (see `fast/layout.rs`). One per batch; it borrows the rules and the batch's text.
#[derive(Default)]
pub struct Scratch<'r, 'a> {
    tape: fast::Tape<'a>,
    layouts: fast::Layouts<'r>,
}

#[cfg(test)]
impl Scratch<'_, '_> {
    /// A scratch whose layouts are never tried.
    fn without_layouts() -> Self {
        Scratch {
            tape: fast::Tape::default(),
            layouts: fast::Layouts::off(),
        }
    }

    /// How many verdicts the layouts reached.
    fn decided_by_layouts(&self) -> u32 {
        self.layouts.verdicts()
    }
}

struct CompiledEvent {
    validator: jsonschema::Validator,
    /// The fast path's form of the schema; none when it uses what only `jsonschema` models.
    fast: Option<fast::Compiled>,
    /// Which fields the schema declares, compiled once.
    shape: Shape,
    on_schema_violation: EventAction,
    on_undeclared_fields: EventAction,
    include_built_in_context: bool,
    /// A track event's verdict line after the event when it is allowed unchanged: the same for every
    /// such event, so written in one piece.
    allowed_tail: Option<String>,
}

impl CompiledEvent {
    /// The verdict for one violation, (JSONPath, message): allowed unless this event blocks.
    fn violated(&self, (path, message): (String, String)) -> (bool, Option<Violation>) {
        (
            self.on_schema_violation != EventAction::BlockEvent,
            Some(Violation { path, message }),
        )
    }
}

/// One contract's events, compiled once and applied to any number of events.
pub struct ContractRules {
    on_undeclared_schema: EventAction,
    /// (type, name for track events or "", version) -> compiled event.
    events: HashMap<(String, String, String), CompiledEvent>,
}

impl ContractRules {
    /// Compile the events of contract `slug` from a repository's resources.
    pub fn new(resources: &[Resource], slug: &str) -> Result<ContractRules, String> {
        let contract = resources
            .iter()
            .find(|r| r.slug == slug && r.as_contract().is_some())
            .and_then(Resource::as_contract)
            .ok_or_else(|| {
                let known: Vec<&str> = resources
                    .iter()
                    .filter(|r| r.as_contract().is_some())
                    .map(|r| r.slug.as_str())
                    .collect();
                format!(
                    "no contract `{slug}` (contracts here: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                )
            })?;
        let mut events = HashMap::new();
        for r in resources {
            let Some(e) = r.as_event().filter(|e| e.contract == slug) else {
                continue;
            };
            let (Some(t), Some(json)) = (&e.event_type, &e.schema_json) else {
                continue;
            };
            let schema: Value =
                serde_json::from_str(json).map_err(|err| format!("{}: schema is not JSON: {err}", r.path))?;
            let validator = jsonschema::draft7::new(&schema)
                .map_err(|err| format!("{}: schema does not compile: {err}", r.path))?;
            let name = if t.value == "track" {
                e.name.as_ref().map_or("", |n| n.value.as_str())
            } else {
                ""
            };
            let shape = Shape::compile(&[&schema], &schema, 0);
            let json = |s: &str| Value::from(s).to_string();
            let allowed_tail = (t.value == "track").then(|| {
                format!(
                    ",\"omitted\":[],\"event_name\":{},\"event_type\":{},\"schema_version\":{}{ALLOWED_END}",
                    json(name),
                    json(&t.value),
                    json(&e.version.value)
                )
            });
            events.insert(
                (t.value.clone(), name.to_string(), e.version.value.clone()),
                CompiledEvent {
                    validator,
                    fast: fast::Compiled::new(&schema),
                    shape,
                    on_schema_violation: e.on_schema_violation,
                    on_undeclared_fields: e.on_undeclared_fields,
                    include_built_in_context: e.include_built_in_context,
                    allowed_tail,
                },
            );
        }
        Ok(ContractRules {
            on_undeclared_schema: contract.on_undeclared_schema,
            events,
        })
    }

    /// Judge one line of input (a JSON object per docs/events.md).
    pub fn judge_line(&self, line: &str) -> Verdict {
        match serde_json::from_str::<Value>(line) {
            Ok(v) => self.judge(v),
            Err(e) => malformed(Value::Null, format!("not JSON: {e}")),
        }
    }

    /// Judge one event.
    pub fn judge(&self, mut event: Value) -> Verdict {
        if !event.is_object() {
            return malformed(event, "an event must be a JSON object".into());
        }
        let Some(event_type) = event.get("type").and_then(Value::as_str).map(String::from) else {
            return malformed(event, "the event has no string `type`".into());
        };
        let event_name = event.get("event").and_then(Value::as_str).map(String::from);
        let schema_version = event
            .pointer("/context/htevents/schemaVersion")
            .and_then(Value::as_str)
            .unwrap_or("default")
            .to_string();
        let name_key = if event_type == "track" {
            event_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        let mut verdict = Verdict {
            allowed: true,
            event: Value::Null,
            omitted: vec![],
            event_name,
            event_type: Some(event_type.clone()),
            schema_version: schema_version.clone(),
            has_undeclared_schema: false,
            has_undeclared_fields: false,
            has_schema_violated: false,
            violations: vec![],
            error: None,
            modified: false,
        };
        let Some(rules) = self.events.get(&(event_type, name_key, schema_version)) else {
            verdict.has_undeclared_schema = true;
            verdict.allowed = self.on_undeclared_schema != EventAction::BlockEvent;
            verdict.event = event;
            return verdict;
        };
        let mut undeclared = Vec::new();
        rules.shape.undeclared(
            &event,
            rules.include_built_in_context,
            true,
            &mut Vec::new(),
            &mut undeclared,
        );
        if !undeclared.is_empty() {
            verdict.has_undeclared_fields = true;
            match rules.on_undeclared_fields {
                EventAction::BlockEvent => verdict.allowed = false,
                EventAction::OmitFields => {
                    for path in &undeclared {
                        remove_path(&mut event, &path.1);
                    }
                    verdict.modified = true;
                    verdict.omitted = undeclared.iter().map(|(p, _)| p.clone()).collect();
                }
                EventAction::AllowEvent => {}
            }
        }
        // Most events are valid: the cheap check first, the error list only when needed.
        let errors = if rules.validator.is_valid(&event) {
            None
        } else {
            Some(rules.validator.iter_errors(&event))
        };
        for err in errors.into_iter().flatten() {
            verdict.violations.push(Violation {
                path: json_path(err.instance_path().as_str()),
                message: err.to_string(),
            });
        }
        if !verdict.violations.is_empty() {
            verdict.has_schema_violated = true;
            if rules.on_schema_violation == EventAction::BlockEvent {
                verdict.allowed = false;
            }
        }
        verdict.event = event;
        verdict
    }
}

/// The verdict of a line that cannot be judged as an event: blocked, with `error` saying why.
pub fn malformed(event: Value, error: String) -> Verdict {
    Verdict {
        allowed: false,
        event,
        omitted: vec![],
        event_name: None,
        event_type: None,
        schema_version: "default".into(),
        has_undeclared_schema: false,
        has_undeclared_fields: false,
        has_schema_violated: false,
        violations: vec![],
        error: Some(error),
        modified: true,
    }
}

/// A step of a path into an event.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// JSONPath text for a JSON pointer (`/properties/items/0` -> `$.properties.items[0]`).
pub fn json_path(pointer: &str) -> String {
    let mut out = String::from("$");
    if pointer.is_empty() {
        return out;
    }
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if seg.bytes().all(|b| b.is_ascii_digit()) && !seg.is_empty() {
            out.push_str(&format!("[{seg}]"));
        } else {
            push_key(&mut out, &seg);
        }
    }
    out
}

fn push_key(out: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        && !key.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        out.push('.');
        out.push_str(key);
    } else {
        out.push_str(&format!("[{}]", Value::String(key.to_string())));
    }
}

/// Follow a local `$ref` (`#/definitions/x`) from the root schema.
fn deref<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..32 {
        match s.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(p) => match root.pointer(p) {
                Some(target) => s = target,
                None => return s,
            },
            None => return s,
        }
    }
    s
}

/// Every schema that applies at this place: the given ones, with `$ref` followed and the branches of
/// `allOf`, `anyOf` and `oneOf` added.
fn applicable<'a>(schemas: &[&'a Value], root: &'a Value) -> Vec<&'a Value> {
    let mut out = Vec::new();
    let mut todo: Vec<&Value> = schemas.to_vec();
    while let Some(s) = todo.pop() {
        let s = deref(s, root);
        if out.len() > 256 {
            break;
        }
        out.push(s);
        for k in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = s.get(k) {
                todo.extend(branches.iter());
            }
        }
    }
    out
}

/// A schema that declares nothing about the shape: every field below it counts as declared.
fn is_open(s: &Value) -> bool {
    match s {
        Value::Bool(b) => *b,
        Value::Object(m) => m.keys().all(|k| {
            matches!(
                k.as_str(),
                "description" | "title" | "$comment" | "default" | "examples"
            )
        }),
        _ => false,
    }
}

/// Which fields a schema declares at each place, with `$ref` and `allOf`/`anyOf`/`oneOf` folded in,
/// compiled once per event so judging an event is a walk of hash lookups.
#[derive(Debug)]
enum Shape {
    /// Anything goes below here.
    Open,
    Closed {
        /// Declared names: a short list, searched in order (faster than hashing for the handful of
        /// fields an event level has).
        properties: Vec<(String, Shape)>,
        patterns: Vec<(regex::Regex, Shape)>,
        /// `additionalProperties` (any form): what undeclared-by-name keys are.
        additional: Option<Box<Shape>>,
        /// `items` as one schema for every element.
        items: Option<Box<Shape>>,
        /// `items` as a tuple, then `additionalItems`.
        tuple: Vec<Shape>,
        additional_items: Option<Box<Shape>>,
    },
}

/// Past this depth (recursive `$ref`s) everything counts as declared.
const MAX_SHAPE_DEPTH: usize = 24;

impl Shape {
    fn compile(schemas: &[&Value], root: &Value, depth: usize) -> Shape {
        let here = applicable(schemas, root);
        if depth > MAX_SHAPE_DEPTH || here.iter().any(|s| is_open(s)) {
            return Shape::Open;
        }
        let mut by_name: Vec<(String, Vec<&Value>)> = Vec::new();
        let mut patterns: Vec<(String, Vec<&Value>)> = Vec::new();
        let (mut additional, mut items, mut additional_items) = (Vec::new(), Vec::new(), Vec::new());
        let mut tuple: Vec<Vec<&Value>> = Vec::new();
        for s in &here {
            if let Some(Value::Object(props)) = s.get("properties") {
                for (k, sub) in props {
                    match by_name.iter_mut().find(|(name, _)| name == k) {
                        Some((_, subs)) => subs.push(sub),
                        None => by_name.push((k.clone(), vec![sub])),
                    }
                }
            }
            if let Some(Value::Object(pats)) = s.get("patternProperties") {
                for (p, sub) in pats {
                    match patterns.iter_mut().find(|(pat, _)| pat == p) {
                        Some((_, subs)) => subs.push(sub),
                        None => patterns.push((p.clone(), vec![sub])),
                    }
                }
            }
            if let Some(extra) = s.get("additionalProperties") {
                additional.push(extra);
            }
            match s.get("items") {
                Some(Value::Array(t)) => {
                    for (i, sub) in t.iter().enumerate() {
                        if tuple.len() <= i {
                            tuple.push(Vec::new());
                        }
                        tuple[i].push(sub);
                    }
                    if let Some(extra) = s.get("additionalItems") {
                        additional_items.push(extra);
                    }
                }
                Some(sub) => items.push(sub),
                None => {}
            }
        }
        let sub = |subs: &[&Value]| Shape::compile(subs, root, depth + 1);
        let boxed = |subs: &[&Value]| (!subs.is_empty()).then(|| Box::new(sub(subs)));
        Shape::Closed {
            properties: by_name.iter().map(|(k, subs)| (k.clone(), sub(subs))).collect(),
            patterns: patterns
                .iter()
                .filter_map(|(p, subs)| regex::Regex::new(p).ok().map(|r| (r, sub(subs))))
                .collect(),
            additional: boxed(&additional),
            items: boxed(&items),
            tuple: tuple.iter().map(|subs| sub(subs)).collect(),
            additional_items: boxed(&additional_items),
        }
    }

    /// What an object's field `key` is: the shape of its value, or none when the schema does not
    /// declare it (by name, by pattern or by `additionalProperties`). Only for closed shapes.
    #[inline(always)]
    fn for_key(&self, key: &str) -> Option<&Shape> {
        let Shape::Closed {
            properties,
            patterns,
            additional,
            ..
        } = self
        else {
            return Some(self);
        };
        for (name, s) in properties {
            if fast::eq_bytes(name.as_bytes(), key.as_bytes()) {
                return Some(s);
            }
        }
        if !patterns.is_empty()
            && let Some((_, s)) = patterns.iter().find(|(r, _)| r.is_match(key))
        {
            return Some(s);
        }
        additional.as_deref()
    }

    /// The shape of array element `i`; none when the schema says nothing about elements (then they
    /// are not fields, so nothing in them is undeclared).
    fn for_index(&self, i: usize) -> Option<&Shape> {
        let Shape::Closed {
            items,
            tuple,
            additional_items,
            ..
        } = self
        else {
            return Some(self);
        };
        tuple.get(i).or(if tuple.is_empty() {
            items.as_deref()
        } else {
            additional_items.as_deref()
        })
    }

    /// Collect the undeclared fields of `value`: their JSONPath and the steps to remove them. The path
    /// text is built only for fields that are undeclared; the walk itself borrows keys.
    fn undeclared<'v>(
        &self,
        value: &'v Value,
        built_in: bool,
        top: bool,
        steps: &mut Vec<StepRef<'v>>,
        out: &mut Vec<(String, Vec<Step>)>,
    ) {
        if matches!(self, Shape::Open) {
            return;
        }
        match value {
            Value::Object(fields) => {
                for (key, child) in fields {
                    if top && built_in && is_built_in(key) {
                        continue;
                    }
                    steps.push(StepRef::Key(key));
                    match self.for_key(key) {
                        Some(s) => s.undeclared(child, built_in, false, steps, out),
                        None => out.push(materialize(steps)),
                    }
                    steps.pop();
                }
            }
            Value::Array(elements) => {
                for (i, item) in elements.iter().enumerate() {
                    let Some(shape) = self.for_index(i) else { continue };
                    steps.push(StepRef::Index(i));
                    shape.undeclared(item, built_in, false, steps, out);
                    steps.pop();
                }
            }
            _ => {}
        }
    }
}

/// A step of the walk, borrowing the key from the event.
enum StepRef<'v> {
    Key(&'v str),
    Index(usize),
}

/// The JSONPath and owned steps of the place the walk is at.
fn materialize(steps: &[StepRef]) -> (String, Vec<Step>) {
    let mut path = String::from("$");
    let mut owned = Vec::with_capacity(steps.len());
    for s in steps {
        match s {
            StepRef::Key(k) => {
                push_key(&mut path, k);
                owned.push(Step::Key(k.to_string()));
            }
            StepRef::Index(i) => {
                path.push_str(&format!("[{i}]"));
                owned.push(Step::Index(*i));
            }
        }
    }
    (path, owned)
}

/// Remove the field at `steps`; later removals in the same array shift nothing because we remove
/// object keys only (array elements are never undeclared fields themselves).
fn remove_path(event: &mut Value, steps: &[Step]) {
    let Some((last, parents)) = steps.split_last() else {
        return;
    };
    let mut cur = event;
    for s in parents {
        cur = match (s, cur) {
            (Step::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(v) => v,
                None => return,
            },
            (Step::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    if let (Step::Key(k), Value::Object(m)) = (last, cur) {
        m.shift_remove(k);
    }
}

/// How every verdict line starts, by verdict.
const ALLOWED_START: &str = "{\"verdict\":\"allowed\",\"event\":";
const BLOCKED_START: &str = "{\"verdict\":\"blocked\",\"event\":";

/// How many of the verdict lines `judge_lines` wrote block their event.
pub fn blocked_lines(lines: &str) -> u64 {
    lines
        .split_terminator('\n')
        .filter(|l| l.starts_with(BLOCKED_START))
        .count() as u64
}

/// Append the verdict for `input` as one JSON line (the format of `gitsync events validate`). An
/// event that was not changed is written as its input text, without re-serialising it.
pub fn write_verdict_line(v: &Verdict, input: &str, out: &mut String) {
    use std::fmt::Write as _;
    let s = |x: &str| Value::from(x).to_string();
    let opt = |x: &Option<String>| x.as_deref().map_or("null".to_string(), s);
    out.push_str(if v.allowed { ALLOWED_START } else { BLOCKED_START });
    if v.modified {
        let _ = write!(out, "{}", v.event);
    } else {
        out.push_str(input.trim());
    }
    out.push_str(",\"omitted\":[");
    for (i, p) in v.omitted.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&s(p));
    }
    let _ = write!(
        out,
        "],\"event_name\":{},\"event_type\":{},\"schema_version\":{},\"has_undeclared_schema\":{},\"has_undeclared_fields\":{},\"has_schema_violated\":{},\"violations\":[",
        opt(&v.event_name),
        opt(&v.event_type),
        s(&v.schema_version),
        v.has_undeclared_schema,
        v.has_undeclared_fields,
        v.has_schema_violated
    );
    for (i, x) in v.violations.iter().enumerate() {
        let _ = write!(
            out,
            "{}{{\"path\":{},\"message\":{}}}",
            if i > 0 { "," } else { "" },
            s(&x.path),
            s(&x.message)
        );
    }
    out.push(']');
    if let Some(e) = &v.error {
        let _ = write!(out, ",\"error\":{}", s(e));
    }
    out.push_str("}\n");
}

/// A verdict as one JSON object (one line of `gitsync events validate`).
pub fn verdict_json(v: &Verdict) -> Value {
    let mut m = Map::new();
    m.insert(
        "verdict".into(),
        Value::from(if v.allowed { "allowed" } else { "blocked" }),
    );
    m.insert("event".into(), v.event.clone());
    m.insert(
        "omitted".into(),
        v.omitted.iter().map(|p| Value::from(p.as_str())).collect(),
    );
    m.insert(
        "event_name".into(),
        v.event_name.clone().map_or(Value::Null, Value::from),
    );
    m.insert(
        "event_type".into(),
        v.event_type.clone().map_or(Value::Null, Value::from),
    );
    m.insert("schema_version".into(), Value::from(v.schema_version.as_str()));
    m.insert("has_undeclared_schema".into(), Value::from(v.has_undeclared_schema));
    m.insert("has_undeclared_fields".into(), Value::from(v.has_undeclared_fields));
    m.insert("has_schema_violated".into(), Value::from(v.has_schema_violated));
    m.insert(
        "violations".into(),
        v.violations
            .iter()
            .map(|x| serde_json::json!({"path": x.path, "message": x.message}))
            .collect(),
    );
    if let Some(e) = &v.error {
        m.insert("error".into(), Value::from(e.as_str()));
    }
    Value::Object(m)
}

/// The official test suite's way of asking: is each instance valid under `schema`? `remotes` serve
/// `$ref`s to other documents (URI -> JSON text), since components have no network.
pub fn check_instances(schema: &str, instances: &[String], remotes: &[(String, String)]) -> Result<Vec<bool>, String> {
    struct Remotes(HashMap<String, Value>);
    impl jsonschema::Retrieve for Remotes {
        fn retrieve(
            &self,
            uri: &jsonschema::Uri<String>,
        ) -> Result<Value, Box<dyn std::error::Error + Send + std::marker::Sync>> {
            let key = uri.as_str().trim_end_matches('#');
            self.0
                .get(key)
                .cloned()
                .ok_or_else(|| format!("no remote document {key}").into())
        }
    }
    let schema: Value = serde_json::from_str(schema).map_err(|e| format!("schema is not JSON: {e}"))?;
    let mut docs = HashMap::new();
    for (uri, text) in remotes {
        docs.insert(
            uri.clone(),
            serde_json::from_str(text).map_err(|e| format!("remote {uri} is not JSON: {e}"))?,
        );
    }
    let validator = jsonschema::draft7::options()
        .with_retriever(Remotes(docs))
        .build(&schema)
        .map_err(|e| format!("schema does not compile: {e}"))?;
    instances
        .iter()
        .map(|i| {
            serde_json::from_str::<Value>(i)
                .map(|v| validator.is_valid(&v))
                .map_err(|e| format!("instance is not JSON: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests;

#[test]
fn the_built_in_match_is_the_list() {
    assert!(BUILT_IN_FIELDS.iter().all(|f| is_built_in(f)));
    assert!(!is_built_in("properties") && !is_built_in("Type") && !is_built_in("") && !is_built_in("events"));
    // Every name of a listed length that is not listed is refused.
    for f in BUILT_IN_FIELDS {
        let mut other = f.to_string();
        other.replace_range(0..1, "x");
        assert!(!is_built_in(&other), "{other}");
    }
}

impl ContractRules {
    /// Judge a batch of newline-separated events; one verdict line per non-blank input line.
    pub fn judge_lines(&self, batch: &str) -> String {
        self.judge_batch(batch, Scratch::default())
    }

    fn judge_batch<'r: 'a, 'a>(&'r self, batch: &'a str, scratch: Scratch<'r, 'a>) -> String {
        // A verdict line is its event and about 250 bytes more: room for events of 250 bytes and up.
        let mut out = String::with_capacity(batch.len() * 2 + 1024);
        self.each_verdict(batch, scratch, |judged, line| match judged {
            Judged::Fast(v) => write_fast_verdict(v, line, &mut out),
            Judged::Full(v) => write_verdict_line(v, line, &mut out),
        });
        out
    }

    /// Judge a batch as `judge_lines` does, keeping only the counts (for a summary).
    pub fn tally_lines(&self, batch: &str) -> Tally {
        let mut tally = Tally::default();
        self.each_verdict(batch, Scratch::default(), |judged, _| match judged {
            Judged::Fast(v) => tally.add_fast(v),
            Judged::Full(v) => tally.add(v),
        });
        tally
    }

    /// Each non-blank line's verdict, in order, with the line: the fast path's where it decides,
    /// else the full path's.
    #[inline(always)]
    fn each_verdict<'r: 'a, 'a>(
        &'r self,
        batch: &'a str,
        mut scratch: Scratch<'r, 'a>,
        mut verdict: impl FnMut(Judged<'_, 'a>, &'a str),
    ) {
        let mut lines = fast::Lines::new(batch);
        loop {
            // An event in a known layout is matched up to its line's end: no separate search for it.
            let rest = lines.rest();
            if let Some((len, ending)) = scratch.layouts.find_line(rest) {
                lines.advance(len + ending);
                let line = &rest[..len];
                let v = self
                    .layout_verdict(line, &mut scratch)
                    .or_else(|| self.tape_verdict(line, &mut scratch, true));
                match v {
                    Some(v) => verdict(Judged::Fast(&v), line),
                    None => verdict(Judged::Full(&self.judge_line(line)), line),
                }
                continue;
            }
            let Some(line) = lines.next() else { break };
            // `str::trim` only when the ends are not ASCII: JSON's whitespace is.
            let ascii = line.trim_ascii();
            let blank = ascii.is_empty()
                || (!ascii.starts_with(|c: char| c.is_ascii()) || !ascii.ends_with(|c: char| c.is_ascii()))
                    && line.trim().is_empty();
            if blank {
                continue;
            }
            match self.tape_verdict(line, &mut scratch, false) {
                Some(v) => verdict(Judged::Fast(&v), line),
                None => verdict(Judged::Full(&self.judge_line(line)), line),
            }
        }
    }

    /// The verdict line of an event the fast path decides, as `judge_lines` writes it; false
    /// (nothing written) for everything else.
    #[cfg(test)]
    fn judge_fast<'r: 'a, 'a>(&'r self, line: &'a str, scratch: &mut Scratch<'r, 'a>, out: &mut String) -> bool {
        let Some(v) = self.fast_verdict(line, scratch) else {
            return false;
        };
        write_fast_verdict(&v, line, out);
        true
    }

    /// The fast path's verdict for an event that needs nothing changed: no declared event (the contract's
    /// rule decides), or declared, with no undeclared field, and valid or breaking exactly one keyword
    /// the fast path words. None for everything else, which the full path then judges; where it
    /// answers, it answers what `judge_line` would.
    pub fn fast_verdict<'r: 'a, 'a>(&'r self, line: &'a str, scratch: &mut Scratch<'r, 'a>) -> Option<FastVerdict<'a>> {
        let known = scratch.layouts.find(line);
        if known && let Some(v) = self.layout_verdict(line, scratch) {
            return Some(v);
        }
        self.tape_verdict(line, scratch, known)
    }

    /// The verdict for an event in the layout found last: only its values are read and checked.
    /// None where that does not decide (a value breaking its schema in a way not worded here, an
    /// undeclared field): the event is then read into a tape.
    fn layout_verdict<'r: 'a, 'a>(&'r self, line: &'a str, scratch: &mut Scratch<'r, 'a>) -> Option<FastVerdict<'a>> {
        let env = scratch.layouts.envelope(line)?;
        let layouts = &mut scratch.layouts;
        let v = self.verdict(env, |rules, compiled, built_in| {
            match layouts.validate(compiled, built_in, line) {
                fast::Fast::Valid => Some((true, None)),
                fast::Fast::Invalid => Some(rules.violated(layouts.explain(compiled, built_in, line)?)),
                fast::Fast::Unknown => None,
            }
        })?;
        layouts.decided();
        Some(v)
    }

    /// The verdict from the event read into a tape; `known`: its layout is known already (else it
    /// is learnt).
    fn tape_verdict<'r: 'a, 'a>(
        &'r self,
        line: &'a str,
        scratch: &mut Scratch<'r, 'a>,
        known: bool,
    ) -> Option<FastVerdict<'a>> {
        // Duplicate keys are ruled out where they would matter: the envelope and every object the
        // schema looks into (the full reader keeps a key's last value).
        let tape = &mut scratch.tape;
        if !tape.read(line) {
            return None;
        }
        if !known {
            scratch.layouts.learn(tape);
        }
        let tape = &scratch.tape;
        self.verdict(tape.envelope()?, |rules, compiled, built_in| {
            let verdict = if compiled.simple() {
                compiled.validate_declared(tape, built_in)
            } else if tape.has_undeclared(&rules.shape, built_in) {
                return None;
            } else {
                compiled.validate(tape)
            };
            match verdict {
                fast::Fast::Valid => Some((true, None)),
                // One violation worded as `jsonschema` words it; anything more, the full path.
                // (The walk stopped at the violation: the fields after it are checked here.)
                fast::Fast::Invalid => match compiled.explain(tape) {
                    Some(found) if !tape.has_undeclared(&rules.shape, built_in) => Some(rules.violated(found)),
                    _ => None,
                },
                fast::Fast::Unknown => None,
            }
        })
    }

    /// The verdict for an envelope: the contract's rule when it declares no such event, else what
    /// `check` decides (allowed, and the one violation) from the event's compiled schema and its
    /// built-in context rule. None when there is no compiled schema or `check` does not decide.
    #[inline(always)]
    fn verdict<'r: 'a, 'a>(
        &'r self,
        env: fast::Envelope<'a>,
        check: impl FnOnce(&'r CompiledEvent, &'r fast::Compiled, bool) -> Option<(bool, Option<Violation>)>,
    ) -> Option<FastVerdict<'a>> {
        let declared = self.declared(&env);
        let (allowed, violation) = match declared {
            None => (self.on_undeclared_schema != EventAction::BlockEvent, None),
            Some(rules) => check(rules, rules.fast.as_ref()?, rules.include_built_in_context)?,
        };
        Some(FastVerdict::new(allowed, declared, env, violation))
    }

    /// The contract's event an envelope names, if it declares one.
    #[inline(always)]
    fn declared(&self, env: &fast::Envelope) -> Option<&CompiledEvent> {
        let event_type = fast::decode(env.event_type.0, env.event_type.1);
        let event_name = env.event.map(|(raw, esc)| fast::decode(raw, esc));
        let version = env.version.map_or(std::borrow::Cow::Borrowed("default"), |(raw, esc)| {
            fast::decode(raw, esc)
        });
        let name_key = match &event_name {
            Some(n) if event_type == "track" => n.as_ref(),
            _ => "",
        };
        // A contract has a handful of events: comparing beats hashing three owned strings.
        self.events
            .iter()
            .find(|((t, n, v), _)| {
                fast::eq_bytes(t.as_bytes(), event_type.as_bytes())
                    && fast::eq_bytes(n.as_bytes(), name_key.as_bytes())
                    && fast::eq_bytes(v.as_bytes(), version.as_bytes())
            })
            .map(|(_, rules)| rules)
    }
}

/// Append `text` as a JSON string, as `serde_json` writes it (without a `Value` and its copies).
fn push_json(out: &mut String, text: &str) {
    let mut bytes = Vec::with_capacity(text.len() + 2);
    if serde_json::to_writer(&mut bytes, text).is_ok()
        && let Ok(json) = std::str::from_utf8(&bytes)
    {
        out.push_str(json);
    }
}

/// How the verdict line of a declared event without violations ends.
const ALLOWED_END: &str = ",\"has_undeclared_schema\":false,\"has_undeclared_fields\":false,\"has_schema_violated\":false,\"violations\":[]}\n";

/// The verdict line of an event the fast path decided: exactly what `write_verdict_line` writes
/// for the same event.
fn write_fast_verdict(v: &FastVerdict, line: &str, out: &mut String) {
    if let Some(tail) = v.tail {
        out.push_str(ALLOWED_START);
        out.push_str(line.trim());
        out.push_str(tail);
        return;
    }
    out.push_str(if v.allowed { ALLOWED_START } else { BLOCKED_START });
    out.push_str(line.trim());
    out.push_str(",\"omitted\":[],\"event_name\":");
    match v.event_name {
        Some((raw, esc)) => fast::push_json_string(out, raw, esc),
        None => out.push_str("null"),
    }
    out.push_str(",\"event_type\":");
    fast::push_json_string(out, v.event_type.0, v.event_type.1);
    out.push_str(",\"schema_version\":");
    match v.schema_version {
        Some((raw, esc)) => fast::push_json_string(out, raw, esc),
        None => out.push_str("\"default\""),
    }
    match (v.declared, &v.violation) {
        (false, _) => out.push_str(
            ",\"has_undeclared_schema\":true,\"has_undeclared_fields\":false,\"has_schema_violated\":false,\"violations\":[]}\n",
        ),
        (true, None) => out.push_str(ALLOWED_END),
        (true, Some(x)) => {
            out.push_str(
                ",\"has_undeclared_schema\":false,\"has_undeclared_fields\":false,\"has_schema_violated\":true,\"violations\":[{\"path\":",
            );
            push_json(out, &x.path);
            out.push_str(",\"message\":");
            push_json(out, &x.message);
            out.push_str("}]}\n");
        }
    }
}

/// A line's verdict as `each_verdict` hands it on.
enum Judged<'v, 'a> {
    Fast(&'v FastVerdict<'a>),
    Full(&'v Verdict),
}

/// Counts over verdicts, for a summary of a stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub events: u64,
    pub allowed: u64,
    pub blocked: u64,
    /// Lines that are not a JSON object with a `type` (blocked, with an `error`).
    pub malformed: u64,
    /// Per event (its track name, else its type): [allowed, blocked]; malformed lines are not here.
    pub per_event: std::collections::BTreeMap<String, [u64; 2]>,
    /// Per violation (`path: message`): how many events had it.
    pub per_violation: std::collections::BTreeMap<String, u64>,
    pub undeclared_schema: u64,
    pub undeclared_fields: u64,
}

impl Tally {
    /// Count one verdict.
    pub fn add(&mut self, v: &Verdict) {
        if v.error.is_some() {
            self.malformed_line();
            return;
        }
        let name = v.event_name.as_deref().or(v.event_type.as_deref()).unwrap_or_default();
        self.count_event(name, v.allowed, v.has_undeclared_schema, v.has_undeclared_fields);
        for x in &v.violations {
            self.violation(x);
        }
    }

    /// Count one verdict of the fast path (never malformed, never with undeclared fields).
    fn add_fast(&mut self, v: &FastVerdict) {
        let name = match v.event_name {
            Some((raw, esc)) => fast::decode(raw, esc),
            None => fast::decode(v.event_type.0, v.event_type.1),
        };
        self.count_event(&name, v.allowed, !v.declared, false);
        if let Some(x) = &v.violation {
            self.violation(x);
        }
    }

    /// Count a line that could not be judged as an event (its verdict: blocked, with an error).
    pub fn malformed_line(&mut self) {
        self.count(false);
        self.malformed += 1;
    }

    fn count(&mut self, allowed: bool) {
        self.events += 1;
        if allowed {
            self.allowed += 1;
        } else {
            self.blocked += 1;
        }
    }

    fn count_event(&mut self, name: &str, allowed: bool, undeclared_schema: bool, undeclared_fields: bool) {
        self.count(allowed);
        // Looked up by `&str` first: a new key is allocated once per event name, not per event.
        let slot = usize::from(!allowed);
        match self.per_event.get_mut(name) {
            Some(counts) => counts[slot] += 1,
            None => {
                let mut counts = [0, 0];
                counts[slot] = 1;
                self.per_event.insert(name.to_string(), counts);
            }
        }
        self.undeclared_schema += u64::from(undeclared_schema);
        self.undeclared_fields += u64::from(undeclared_fields);
    }

    fn violation(&mut self, x: &Violation) {
        *self
            .per_violation
            .entry(format!("{}: {}", x.path, x.message))
            .or_default() += 1;
    }

    #[cfg(test)]
    fn violations_counted(&self) -> u64 {
        self.per_violation.values().sum()
    }

    /// Add the counts of another part of the stream.
    pub fn merge(&mut self, other: Tally) {
        self.events += other.events;
        self.allowed += other.allowed;
        self.blocked += other.blocked;
        self.malformed += other.malformed;
        for (name, [a, b]) in other.per_event {
            let counts = self.per_event.entry(name).or_default();
            counts[0] += a;
            counts[1] += b;
        }
        for (what, n) in other.per_violation {
            *self.per_violation.entry(what).or_default() += n;
        }
        self.undeclared_schema += other.undeclared_schema;
        self.undeclared_fields += other.undeclared_fields;
    }
}

/// The fast path's verdict on an event passed on unchanged: its envelope fields as raw JSON string
/// content (with whether it has escapes), borrowed from the event's text.
pub struct FastVerdict<'a> {
    pub allowed: bool,
    /// Whether the contract declares this event (else `has_undeclared_schema`).
    pub declared: bool,
    pub event_type: (&'a str, bool),
    pub event_name: Option<(&'a str, bool)>,
    /// `context.htevents.schemaVersion`; none means "default".
    pub schema_version: Option<(&'a str, bool)>,
    /// The single violation, when there is one.
    pub violation: Option<Violation>,
    /// The verdict line after the event, when it is a declared track event's `allowed_tail`.
    tail: Option<&'a str>,
}

impl<'a> FastVerdict<'a> {
    fn new(
        allowed: bool,
        declared: Option<&'a CompiledEvent>,
        env: fast::Envelope<'a>,
        violation: Option<Violation>,
    ) -> Self {
        // The precomputed tail holds the declared names as written: only for envelope strings
        // without escapes (then written as they are, exactly as `serde_json` writes them).
        let plain = !env.event_type.1 && env.event.is_some_and(|e| !e.1) && env.version.is_none_or(|v| !v.1);
        let tail = declared
            .filter(|_| allowed && violation.is_none() && plain)
            .and_then(|d| d.allowed_tail.as_deref());
        FastVerdict {
            allowed,
            declared: declared.is_some(),
            event_type: env.event_type,
            event_name: env.event,
            schema_version: env.version,
            violation,
            tail,
        }
    }

    pub fn event_type(&self) -> String {
        fast::decode(self.event_type.0, self.event_type.1).into_owned()
    }

    pub fn event_name(&self) -> Option<String> {
        self.event_name.map(|(raw, esc)| fast::decode(raw, esc).into_owned())
    }

    pub fn schema_version(&self) -> String {
        self.schema_version.map_or_else(
            || "default".to_string(),
            |(raw, esc)| fast::decode(raw, esc).into_owned(),
        )
    }
}
