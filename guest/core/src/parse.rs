//! From file bytes to typed resources (docs/layout.md, docs/resources.md), with a diagnostic for everything malformed.

use crate::diag::{Diagnostic, Span, codes};
use crate::resource::*;
use crate::slug::{is_slug, suggest_slug};
use crate::suggest::closest;
use crate::yaml::{self, LoadError, Node, Value};

pub use crate::layout::{FileKind, Placement, classify};

/// The outcome for one file.
#[derive(Clone, Debug, PartialEq)]
pub struct ParsedFile {
    pub path: String,
    pub resource: Option<Resource>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parse one file, with the place of every value in `Resource::spans` (what plugins are given).
/// Files outside the layout yield no resource and no diagnostics.
pub fn parse_file(path: &str, bytes: &[u8], base: &str) -> ParsedFile {
    parse_file_with(path, bytes, base, true)
}

/// Parse one file; `spans: false` leaves `Resource::spans` empty except for contracts and events
/// (whose checks point at their fields), which makes a large repository parse markedly faster.
/// Emits GS001, GS004, GS108, GS112.
pub fn parse_file_with(path: &str, bytes: &[u8], base: &str, spans: bool) -> ParsedFile {
    let mut out = ParsedFile {
        path: path.to_string(),
        resource: None,
        diagnostics: Vec::new(),
    };
    let (kind, stem, slug) = match classify(path, base) {
        Placement::Ignored => return out,
        Placement::Misplaced(reason) => {
            out.diagnostics.push(
                Diagnostic::new(
                    codes::MISPLACED_FILE,
                    path,
                    Span::file_start(),
                    format!("ignored: {reason}"),
                )
                .help("move or rename the file so that it matches the layout in docs/layout.md"),
            );
            return out;
        }
        Placement::Resource { kind, stem, slug } => (kind, stem, slug),
    };
    let mut cx = Cx {
        path,
        diags: &mut out.diagnostics,
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes[..e.valid_up_to()];
            let good = std::str::from_utf8(good).unwrap_or_default();
            let line = good.matches('\n').count() as u32 + 1;
            let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u32 + 1;
            cx.push(
                Diagnostic::new(
                    codes::INVALID_UTF8,
                    path,
                    Span::at(line, column, 1),
                    format!(
                        "file is not valid UTF-8 (byte 0x{:02X} at offset {})",
                        bytes[e.valid_up_to()],
                        e.valid_up_to()
                    ),
                )
                .help("save the file as UTF-8"),
            );
            return out;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_slug_required = !matches!(kind, FileKind::Manifest { .. } | FileKind::Aliases { .. });
    if is_slug_required && !is_slug(&stem) {
        let fixed = suggest_slug(&stem);
        cx.push(
            Diagnostic::new(
                codes::INVALID_SLUG,
                path,
                Span::file_start(),
                format!("file name `{stem}` is not a valid slug"),
            )
            .label("slugs are lowercase letters, digits and `-`")
            .maybe_help((!fixed.is_empty()).then(|| format!("rename the file to `{fixed}.yaml`"))),
        );
    }
    let root = match yaml::load(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            if let FileKind::Aliases { workspace } = &kind {
                out.resource = Some(Resource {
                    path: path.to_string(),
                    slug,
                    body: ResourceBody::Aliases(AliasMap {
                        workspace: workspace.clone(),
                        sources: vec![],
                        destinations: vec![],
                    }),
                    spans: vec![],
                });
            } else {
                cx.push(
                    Diagnostic::new(codes::EMPTY_FILE, path, Span::file_start(), "resource file is empty")
                        .help("write the resource's fields, or delete the file"),
                );
            }
            return out;
        }
        Err(e) => {
            cx.push(load_error(path, e));
            return out;
        }
    };
    let body = match &kind {
        FileKind::Model(k) => model(&mut cx, &root, *k).map(ResourceBody::Model),
        FileKind::Sync => sync(&mut cx, &root).map(ResourceBody::Sync),
        FileKind::Relationship => relationship(&mut cx, &root).map(ResourceBody::Relationship),
        FileKind::Contract => contract(&mut cx, &root).map(ResourceBody::Contract),
        FileKind::Event { contract } => event(&mut cx, &root, contract).map(ResourceBody::Event),
        FileKind::Manifest { workspace } => manifest(&mut cx, &root, workspace, text).map(ResourceBody::Manifest),
        FileKind::Aliases { workspace } => aliases(&mut cx, &root, workspace).map(ResourceBody::Aliases),
    };
    let spans = spans || matches!(kind, FileKind::Contract | FileKind::Event { .. });
    out.resource = body.map(|body| {
        let mut all = Vec::new();
        if spans {
            pointer_spans(&root, &mut String::new(), &mut all);
        }
        let spans = all;
        Resource {
            path: path.to_string(),
            slug,
            body,
            spans,
        }
    });
    out
}

/// Emits GS002, GS005, GS006, GS007, GS008, GS103.
fn load_error(path: &str, e: LoadError) -> Diagnostic {
    match e {
        LoadError::Syntax { span, message } => {
            Diagnostic::new(codes::YAML_SYNTAX, path, span, format!("YAML syntax error: {message}"))
                .help("fix the YAML at this position; indentation and unclosed brackets or quotes are the usual causes")
        }
        LoadError::TooDeep { span } => Diagnostic::new(
            codes::TOO_DEEP,
            path,
            span,
            format!("YAML is nested more than {} levels deep", yaml::MAX_DEPTH),
        )
        .help("flatten the structure; no Git Sync resource needs this depth"),
        LoadError::AliasBomb { span } => Diagnostic::new(
            codes::ALIAS_BOMB,
            path,
            span,
            format!("YAML aliases expand to more than {} nodes", yaml::MAX_ALIAS_NODES),
        )
        .label("this alias is where the limit was reached")
        .help("write the values out instead of nesting anchors and aliases"),
        LoadError::AliasTooLarge { span } => Diagnostic::new(
            codes::ALIAS_BOMB,
            path,
            span,
            format!(
                "YAML aliases expand to more than {} MiB of text",
                yaml::MAX_ALIAS_BYTES >> 20
            ),
        )
        .label("this alias is where the limit was reached")
        .help("write the values out instead of aliasing large values"),
        LoadError::DuplicateKey { key, span, first } => {
            Diagnostic::new(codes::DUPLICATE_KEY, path, span, format!("duplicate key `{key}`"))
                .label(format!("first defined on line {}", first.line))
                .help(format!("keep one `{key}` entry and delete the other"))
        }
        LoadError::ComplexKey { span } => {
            Diagnostic::new(codes::WRONG_TYPE, path, span, "mapping keys must be plain strings")
                .help("use a plain string as the key")
        }
        LoadError::MultipleDocuments { span } => Diagnostic::new(
            codes::MULTIPLE_DOCUMENTS,
            path,
            span,
            "file holds more than one YAML document",
        )
        .help("keep one resource per file: remove the `---` separator and move the rest to its own file"),
    }
}

/// The file being parsed and the findings about it.
struct Cx<'a> {
    path: &'a str,
    diags: &'a mut Vec<Diagnostic>,
}

/// A mapping whose keys were checked against the allowed fields.
struct Obj<'n> {
    node: &'n Node,
    /// Where "missing field" findings point: the key that holds this mapping, or the mapping.
    anchor: Span,
}

impl<'n> Obj<'n> {
    /// The value of `key`; an explicit `null` counts as absent.
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.node.get(key).filter(|n| n.value != Value::Null)
    }

    fn key_span(&self, key: &str) -> Option<Span> {
        self.node
            .as_map()?
            .iter()
            .find(|(k, _)| k.raw == key)
            .map(|(k, _)| k.span)
    }
}

impl<'a> Cx<'a> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Emits GS103.
    fn wrong_type(&mut self, node: &Node, field: &str, expected: &str) {
        let help = match (&node.value, expected) {
            (Value::Int(_) | Value::Float(_) | Value::Bool(_), "a string") => {
                format!("quote the value: `{field}: \"{}\"`", node.raw)
            }
            (Value::Str(s), "a boolean") if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                format!("write `{field}: {}` without quotes", s.to_lowercase())
            }
            _ => format!("write `{field}` as {expected}"),
        };
        self.push(
            Diagnostic::new(
                codes::WRONG_TYPE,
                self.path,
                node.span,
                format!("`{field}` must be {expected}, found {}", node.kind_name()),
            )
            .help(help),
        );
    }

    /// Check that `node` is a mapping with only `allowed` keys.
    /// Emits GS101.
    fn object<'n>(&mut self, node: &'n Node, field: &str, anchor: Span, allowed: &[&str]) -> Option<Obj<'n>> {
        let Some(entries) = node.as_map() else {
            self.wrong_type(node, field, "a mapping");
            return None;
        };
        for (k, _) in entries {
            if !allowed.contains(&k.raw.as_str()) {
                let near = closest(&k.raw, allowed.iter().copied());
                let mut d = Diagnostic::new(
                    codes::UNKNOWN_FIELD,
                    self.path,
                    k.span,
                    format!("unknown field `{}`", k.raw),
                );
                d = match near {
                    Some(n) if n.eq_ignore_ascii_case(&k.raw) => d
                        .label("field names are case-sensitive")
                        .help(format!("did you mean `{n}`?")),
                    Some(n) => d.help(format!("did you mean `{n}`?")),
                    None => d.help(format!("allowed fields here: {}", allowed.join(", "))),
                };
                self.push(d);
            }
        }
        Some(Obj { node, anchor })
    }

    /// Emits GS102.
    fn missing(&mut self, obj: &Obj, key: &str, why: Option<&str>) {
        // `Source:` for `source:` is already reported as an unknown field that names the fix.
        if obj
            .node
            .as_map()
            .is_some_and(|m| m.iter().any(|(k, _)| k.raw != key && k.raw.eq_ignore_ascii_case(key)))
        {
            return;
        }
        let msg = match why {
            Some(why) => format!("missing required field `{key}` ({why})"),
            None => format!("missing required field `{key}`"),
        };
        self.push(Diagnostic::new(codes::MISSING_FIELD, self.path, obj.anchor, msg).help(format!("add `{key}: ...`")));
    }

    fn text(&mut self, obj: &Obj, key: &str, required: bool) -> Option<Text> {
        let Some(node) = obj.get(key) else {
            if required {
                self.missing(obj, key, None);
            }
            return None;
        };
        match node.as_str() {
            Some(s) => Some(Text::new(s, node.span)),
            None => {
                self.wrong_type(node, key, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, obj: &Obj, key: &str, required: bool) -> Option<bool> {
        let Some(node) = obj.get(key) else {
            if required {
                self.missing(obj, key, None);
            }
            return None;
        };
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, key, "a boolean");
                None
            }
        }
    }

    /// Emits GS104.
    fn choice<T: Copy>(&mut self, obj: &Obj, key: &str, required: bool, options: &[(&str, T)]) -> Option<T> {
        let text = self.text(obj, key, required)?;
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == text.value) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let help = match closest(&text.value, names.iter().copied()) {
            Some(n) => format!("did you mean `{n}`? (values are case-sensitive)"),
            None => format!("use one of {list}"),
        };
        self.push(
            Diagnostic::new(
                codes::INVALID_VALUE,
                self.path,
                text.span,
                format!("`{}` is not a valid `{key}`", text.value),
            )
            .label(format!("expected one of {list}"))
            .help(help),
        );
        None
    }

    /// Emits GS111.
    fn list<'n>(&mut self, obj: &Obj<'n>, key: &str) -> Option<&'n [Node]> {
        let Some(node) = obj.get(key) else {
            self.missing(obj, key, None);
            return None;
        };
        match &node.value {
            Value::Seq(items) if items.is_empty() => {
                self.push(
                    Diagnostic::new(
                        codes::EMPTY_LIST,
                        self.path,
                        node.span,
                        format!("`{key}` must not be empty"),
                    )
                    .help(format!("add at least one entry to `{key}`")),
                );
                None
            }
            Value::Seq(items) => Some(items),
            _ => {
                self.wrong_type(node, key, "a list");
                None
            }
        }
    }

    /// An optional mapping whose keys are data (ids, aliases), not fields.
    fn mapping<'n>(&mut self, obj: &Obj<'n>, key: &str) -> &'n [(Node, Node)] {
        match obj.get(key) {
            None => &[],
            Some(node) => match node.as_map() {
                Some(entries) => entries,
                None => {
                    self.wrong_type(node, key, "a mapping");
                    &[]
                }
            },
        }
    }

    /// A nested mapping field, checked against its own allowed keys.
    fn nested<'n>(&mut self, obj: &Obj<'n>, key: &str, required: bool, allowed: &[&str]) -> Option<Obj<'n>> {
        let Some(node) = obj.get(key) else {
            if required {
                self.missing(obj, key, None);
            }
            return None;
        };
        let anchor = obj.key_span(key).unwrap_or(node.span);
        self.object(node, key, anchor, allowed)
    }
}

/// Emits GS103.
fn root<'n>(cx: &mut Cx, node: &'n Node, allowed: &[&str]) -> Option<Obj<'n>> {
    let anchor = Span::at(node.span.line, node.span.column, 1);
    match node.as_map() {
        Some(_) => cx.object(node, "the file", anchor, allowed),
        None => {
            cx.push(
                Diagnostic::new(
                    codes::WRONG_TYPE,
                    cx.path,
                    node.span,
                    format!("the file must hold a mapping of fields, found {}", node.kind_name()),
                )
                .help("write the resource as `field: value` lines"),
            );
            None
        }
    }
}

/// Emits GS105, GS106, GS107.
fn model(cx: &mut Cx, node: &Node, kind: ModelKind) -> Option<Model> {
    let mut allowed = vec![
        "name",
        "source",
        "type",
        "rawSql",
        "tableName",
        "dbtModel",
        "isSchema",
        "primaryKey",
    ];
    match kind {
        ModelKind::ParentModel => allowed.extend(["primaryLabel", "secondaryLabel"]),
        ModelKind::EventModel => allowed.push("eventTimestampColumn"),
        _ => {}
    }
    let obj = root(cx, node, &allowed)?;
    let name = cx.text(&obj, "name", true);
    let source = cx.text(&obj, "source", true);
    let query_type = cx.choice(&obj, "type", true, &QueryType::ALL);
    let raw_sql = cx.text(&obj, "rawSql", false);
    let table_name = cx.text(&obj, "tableName", false);
    let dbt_model = cx.text(&obj, "dbtModel", false);
    if let Some(qt) = query_type {
        for field in ["rawSql", "tableName", "dbtModel"] {
            let wanted = qt.field() == field;
            if wanted && obj.get(field).is_none() {
                cx.missing(&obj, field, Some(&format!("type is `{}`", qt.as_str())));
            } else if !wanted && let Some(span) = obj.get(field).map(|_| obj.key_span(field).unwrap_or_default()) {
                cx.push(
                    Diagnostic::new(
                        codes::FIELD_CONFLICT,
                        cx.path,
                        span,
                        format!("`{field}` is set but `type` is `{}`", qt.as_str()),
                    )
                    .label(format!("only `{}` goes with this type", qt.field()))
                    .help(format!("remove `{field}` (or set it to null), or change `type`")),
                );
            }
        }
    }
    if let Some(dbt) = &dbt_model {
        let parts: Vec<&str> = dbt.value.split('.').collect();
        let ok = parts.len() == 3
            && parts[0] == "model"
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && !p.chars().any(char::is_whitespace));
        if !ok {
            cx.push(
                Diagnostic::new(
                    codes::INVALID_DBT_MODEL,
                    cx.path,
                    dbt.span,
                    format!("`{}` is not of the form model.<package>.<model>", dbt.value),
                )
                .help("write the dbt unique id, for example `model.jaffle_shop.orders`"),
            );
        }
    }
    let is_schema = cx.boolean(&obj, "isSchema", false);
    if kind == ModelKind::Model && is_schema == Some(true) {
        let span = obj.get("isSchema").map(|n| n.span).unwrap_or_default();
        cx.push(
            Diagnostic::new(
                codes::IS_SCHEMA_TRUE,
                cx.path,
                span,
                "`isSchema` must be false for a model in models/",
            )
            .help("set `isSchema: false`; schema models live under schema/"),
        );
    }
    let primary_key = cx.text(&obj, "primaryKey", true);
    let primary_label = cx.text(&obj, "primaryLabel", false);
    let secondary_label = cx.text(&obj, "secondaryLabel", false);
    let event_timestamp_column = cx.text(&obj, "eventTimestampColumn", kind == ModelKind::EventModel);
    Some(Model {
        kind,
        name,
        source,
        query_type,
        raw_sql,
        table_name,
        dbt_model,
        is_schema,
        primary_key,
        primary_label,
        secondary_label,
        event_timestamp_column,
    })
}

fn sync(cx: &mut Cx, node: &Node) -> Option<Sync> {
    let obj = root(
        cx,
        node,
        &["model", "destination", "config", "schedule", "schedulePaused"],
    )?;
    let model = cx.text(&obj, "model", true);
    let destination = cx.text(&obj, "destination", true);
    let config_json = match obj.get("config") {
        None => {
            cx.missing(&obj, "config", None);
            "{}".to_string()
        }
        Some(n) if n.as_map().is_some() => n.to_json().to_string(),
        Some(n) => {
            cx.wrong_type(n, "config", "a mapping");
            "{}".to_string()
        }
    };
    let schedule_json = match obj.get("schedule") {
        None => "null".to_string(),
        Some(n) => {
            schedule(cx, n, obj.key_span("schedule").unwrap_or(n.span));
            n.to_json().to_string()
        }
    };
    let schedule_paused = cx.boolean(&obj, "schedulePaused", false);
    Some(Sync {
        model,
        destination,
        config_json,
        schedule_json,
        schedule_paused,
    })
}

const SCHEDULE_TYPES: [(&str, &str); 4] = [
    ("interval", "interval"),
    ("cron", "cron"),
    ("visual", "visual"),
    ("dbt", "dbt"),
];
const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Emits GS109, GS110.
fn schedule(cx: &mut Cx, node: &Node, anchor: Span) {
    let Some(obj) = cx.object(node, "schedule", anchor, &["type", "schedule"]) else {
        return;
    };
    let Some(kind) = cx.choice(&obj, "type", true, &SCHEDULE_TYPES) else {
        return;
    };
    let bad = |cx: &mut Cx, span: Span, msg: String, help: &str| {
        cx.push(Diagnostic::new(codes::INVALID_SCHEDULE, cx.path, span, msg).help(help.to_string()));
    };
    match kind {
        "interval" => {
            let Some(inner) = cx.nested(&obj, "schedule", true, &["interval"]) else {
                return;
            };
            let Some(interval) = cx.nested(&inner, "interval", true, &["unit", "quantity"]) else {
                return;
            };
            let units = [("minute", ()), ("hour", ()), ("day", ()), ("week", ())];
            cx.choice(&interval, "unit", true, &units);
            match interval.get("quantity") {
                None => cx.missing(&interval, "quantity", None),
                Some(q) => match q.value {
                    Value::Int(n) if n >= 1 => {}
                    Value::Int(n) => bad(
                        cx,
                        q.span,
                        format!("interval quantity must be at least 1, found {n}"),
                        "use a whole number of 1 or more",
                    ),
                    _ => cx.wrong_type(q, "quantity", "a whole number"),
                },
            }
        }
        "cron" => {
            let Some(inner) = cx.nested(&obj, "schedule", true, &["expression"]) else {
                return;
            };
            if let Some(expr) = cx.text(&inner, "expression", true)
                && let Err(e) = crate::cron::check(&expr.value)
            {
                cx.push(
                    Diagnostic::new(codes::INVALID_CRON, cx.path, expr.span, format!("invalid Quartz cron expression: {e}"))
                        .help("Quartz cron has 6 or 7 fields: seconds minutes hours day-of-month month day-of-week [year], e.g. `0 0 12 * * ?` (UTC)"),
                );
            }
        }
        "visual" => {
            let Some(inner) = cx.nested(&obj, "schedule", true, &["expressions"]) else {
                return;
            };
            let Some(items) = cx.list(&inner, "expressions") else {
                return;
            };
            for item in items {
                let Some(e) = cx.object(item, "expressions[]", item.span, &["days", "time"]) else {
                    continue;
                };
                if let Some(days) = cx.nested(&e, "days", true, &WEEKDAYS) {
                    for day in WEEKDAYS {
                        cx.boolean(&days, day, false);
                    }
                }
                if let Some(time) = cx.text(&e, "time", true) {
                    let ok = time.value.len() == 5
                        && time.value.as_bytes()[2] == b':'
                        && time.value[..2].parse::<u32>().is_ok_and(|h| h < 24)
                        && time.value[3..].parse::<u32>().is_ok_and(|m| m < 60);
                    if !ok {
                        bad(
                            cx,
                            time.span,
                            format!("`{}` is not a time of day", time.value),
                            "write the time as \"HH:MM\" in 24-hour UTC, e.g. \"09:30\"",
                        );
                    }
                }
            }
        }
        _ => {
            let Some(inner) = cx.nested(&obj, "schedule", true, &["account", "job"]) else {
                return;
            };
            for key in ["account", "job"] {
                if let Some(part) = cx.nested(&inner, key, true, &["id"]) {
                    match part.get("id") {
                        None => cx.missing(&part, "id", None),
                        Some(id) if matches!(id.value, Value::Str(_) | Value::Int(_)) => {}
                        Some(id) => cx.wrong_type(id, "id", "a string or number"),
                    }
                }
            }
        }
    }
}

const CARDINALITIES: [(&str, ()); 3] = [("1:1", ()), ("1:many", ()), ("many:1", ())];

/// Emits GS104.
fn relationship(cx: &mut Cx, node: &Node) -> Option<Relationship> {
    if node.get("through").is_some() {
        let obj = root(cx, node, &["name", "from", "to", "through"])?;
        let name = cx.text(&obj, "name", true);
        let from_slug = cx
            .nested(&obj, "from", true, &["slug"])
            .and_then(|o| cx.text(&o, "slug", true));
        let to_slug = cx
            .nested(&obj, "to", true, &["slug"])
            .and_then(|o| cx.text(&o, "slug", true));
        let through = cx
            .list(&obj, "through")
            .map(|items| {
                items
                    .iter()
                    .filter_map(|n| match n.as_str() {
                        Some(s) => Some(Text::new(s, n.span)),
                        None => {
                            cx.wrong_type(n, "through[]", "a string (a relationship slug)");
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Some(Relationship::Through(ThroughRelationship {
            name,
            from_slug,
            to_slug,
            through,
        }));
    }
    let obj = root(cx, node, &["from", "to", "cardinality", "mapping"])?;
    let end = |cx: &mut Cx, key: &str| {
        cx.nested(&obj, key, true, &["relationshipName", "slug", "mergeColumns"])
            .map(|o| RelationshipEnd {
                relationship_name: cx.text(&o, "relationshipName", false),
                slug: cx.text(&o, "slug", true),
                merge_columns: cx.boolean(&o, "mergeColumns", false),
            })
            .unwrap_or_default()
    };
    let from = end(cx, "from");
    let to = end(cx, "to");
    let cardinality = cx.text(&obj, "cardinality", true);
    if let Some(c) = &cardinality
        && !CARDINALITIES.iter().any(|(v, _)| *v == c.value)
    {
        cx.push(
            Diagnostic::new(
                codes::INVALID_VALUE,
                cx.path,
                c.span,
                format!("`{}` is not a valid `cardinality`", c.value),
            )
            .label("expected one of `1:1`, `1:many`, `many:1`")
            .help("quote the value: `cardinality: \"1:many\"`"),
        );
    }
    let mut mapping = Vec::new();
    for item in cx.list(&obj, "mapping").unwrap_or_default() {
        let Some(m) = cx.object(item, "mapping[]", item.span, &["fromColumn", "toColumn"]) else {
            continue;
        };
        let from_column = cx.text(&m, "fromColumn", true);
        let to_column = cx.text(&m, "toColumn", true);
        if let (Some(from_column), Some(to_column)) = (from_column, to_column) {
            mapping.push(ColumnMapping { from_column, to_column });
        }
    }
    Some(Relationship::Direct(DirectRelationship {
        from,
        to,
        cardinality,
        mapping,
    }))
}

const ALLOW_BLOCK: [(&str, EventAction); 2] = [
    ("ALLOW_EVENT", EventAction::AllowEvent),
    ("BLOCK_EVENT", EventAction::BlockEvent),
];
const ALLOW_BLOCK_OMIT: [(&str, EventAction); 3] = [
    ("ALLOW_EVENT", EventAction::AllowEvent),
    ("BLOCK_EVENT", EventAction::BlockEvent),
    ("OMIT_FIELDS", EventAction::OmitFields),
];

fn contract(cx: &mut Cx, node: &Node) -> Option<Contract> {
    let obj = root(cx, node, &["name", "description", "onUndeclaredSchema"])?;
    Some(Contract {
        name: cx.text(&obj, "name", true),
        description: cx.text(&obj, "description", false).map(|t| t.value),
        on_undeclared_schema: cx
            .choice(&obj, "onUndeclaredSchema", false, &ALLOW_BLOCK)
            .unwrap_or(EventAction::AllowEvent),
    })
}

/// Emits GS113.
fn event(cx: &mut Cx, node: &Node, contract: &str) -> Option<Event> {
    let obj = root(
        cx,
        node,
        &[
            "type",
            "name",
            "version",
            "onSchemaViolation",
            "onUndeclaredFields",
            "includeBuiltInContext",
            "schema",
        ],
    )?;
    let types: Vec<(&str, &str)> = EVENT_TYPES.iter().map(|t| (*t, *t)).collect();
    let event_type = cx.choice(&obj, "type", true, &types).map(|t| {
        let span = obj.get("type").map(|n| n.span).unwrap_or_default();
        Text::new(t, span)
    });
    let name = cx.text(&obj, "name", false);
    // A number is a fine version (`version: 2`); keep it as written.
    let version = match obj.get("version") {
        None => Text::bare("default"),
        Some(n) => match &n.value {
            Value::Str(s) => Text::new(s.clone(), n.span),
            Value::Int(_) | Value::Float(_) => Text::new(n.raw.clone(), n.span),
            _ => {
                cx.wrong_type(n, "version", "a string");
                Text::bare("default")
            }
        },
    };
    let on_schema_violation = cx
        .choice(&obj, "onSchemaViolation", false, &ALLOW_BLOCK)
        .unwrap_or(EventAction::AllowEvent);
    let on_undeclared_fields = cx
        .choice(&obj, "onUndeclaredFields", false, &ALLOW_BLOCK_OMIT)
        .unwrap_or(EventAction::AllowEvent);
    let include_built_in_context = cx.boolean(&obj, "includeBuiltInContext", false).unwrap_or(true);
    let mut schema_json = None;
    let mut schema_spans = Vec::new();
    let mut schema_span = obj.anchor;
    match obj.get("schema") {
        None => cx.missing(&obj, "schema", None),
        Some(n) => {
            schema_span = n.span;
            match &n.value {
                Value::Map(_) => {
                    schema_json = Some(n.to_json().to_string());
                    pointer_spans(n, &mut String::new(), &mut schema_spans);
                }
                Value::Str(s) => match serde_json::from_str::<serde_json::Value>(s) {
                    Ok(v) if v.is_object() => schema_json = Some(v.to_string()),
                    Ok(v) => cx.push(
                        Diagnostic::new(
                            codes::EVENT_SCHEMA_NOT_JSON,
                            cx.path,
                            n.span,
                            format!("`schema` must be a JSON object, found JSON {}", json_kind(&v)),
                        )
                        .help("write the schema as a mapping, or as a string holding a JSON object"),
                    ),
                    Err(e) => cx.push(
                        Diagnostic::new(
                            codes::EVENT_SCHEMA_NOT_JSON,
                            cx.path,
                            n.span,
                            format!("`schema` string is not JSON: {e}"),
                        )
                        .help("write the schema as a YAML mapping, or fix the JSON text"),
                    ),
                },
                _ => cx.wrong_type(n, "schema", "a mapping (or a string of JSON)"),
            }
        }
    }
    Some(Event {
        contract: contract.to_string(),
        event_type,
        name,
        version,
        on_schema_violation,
        on_undeclared_fields,
        include_built_in_context,
        schema_json,
        schema_spans,
        schema_span,
    })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Record where every part of an event schema sits, keyed by JSON pointer.
fn pointer_spans(node: &Node, pointer: &mut String, out: &mut Vec<PointerSpan>) {
    out.push(PointerSpan {
        pointer: pointer.clone(),
        span: node.span,
    });
    let len = pointer.len();
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                pointer.push('/');
                if k.raw.contains(['~', '/']) {
                    pointer.push_str(&k.raw.replace('~', "~0").replace('/', "~1"));
                } else {
                    pointer.push_str(&k.raw);
                }
                pointer_spans(v, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Seq(items) => {
            for (i, v) in items.iter().enumerate() {
                pointer.push('/');
                pointer.push_str(&i.to_string());
                pointer_spans(v, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

fn manifest(cx: &mut Cx, node: &Node, workspace: &str, text: &str) -> Option<Manifest> {
    let obj = root(cx, node, &["sources", "destinations"])?;
    let entries = |cx: &mut Cx, key: &str| {
        let mut out = Vec::new();
        for (k, v) in cx.mapping(&obj, key) {
            let (mut name, mut kind) = (None, None);
            if v.value != Value::Null
                && let Some(e) = cx.object(v, &k.raw, k.span, &["name", "type"])
            {
                name = cx.text(&e, "name", false).map(|t| t.value);
                kind = cx.text(&e, "type", false).map(|t| t.value);
            }
            out.push(ManifestEntry {
                id: Text::new(k.raw.clone(), k.span),
                name,
                kind,
            });
        }
        out
    };
    let sources = entries(cx, "sources");
    let destinations = entries(cx, "destinations");
    let has_read_only_header = text
        .lines()
        .take_while(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
        .any(|l| l.to_ascii_uppercase().contains("READ ONLY") || l.to_ascii_uppercase().contains("READ-ONLY"));
    Some(Manifest {
        workspace: workspace.to_string(),
        sources,
        destinations,
        has_read_only_header,
    })
}

fn aliases(cx: &mut Cx, node: &Node, workspace: &str) -> Option<AliasMap> {
    let obj = root(cx, node, &["sources", "destinations"])?;
    let entries = |cx: &mut Cx, key: &str| {
        let mut out = Vec::new();
        for (k, v) in cx.mapping(&obj, key) {
            match v.as_str() {
                Some(target) => out.push(AliasEntry {
                    alias: Text::new(k.raw.clone(), k.span),
                    target: Text::new(target, v.span),
                }),
                None => cx.wrong_type(v, &k.raw, "a string (an id from the manifest)"),
            }
        }
        out
    };
    let sources = entries(cx, "sources");
    let destinations = entries(cx, "destinations");
    Some(AliasMap {
        workspace: workspace.to_string(),
        sources,
        destinations,
    })
}

/// What `.gitsync/config.yaml` sets for one plugin.
#[derive(Clone, Debug, PartialEq)]
pub struct PluginSettings {
    pub name: String,
    pub enabled: bool,
    /// The `settings` mapping as JSON (`{}` when absent).
    pub settings_json: String,
    /// WASI capabilities granted to the plugin (`clock`, `random`).
    pub grants: Vec<String>,
}

/// A per-code setting: off, or a severity that replaces the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeSetting {
    Off,
    Error,
    Warning,
    Note,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Config {
    pub plugins: Vec<PluginSettings>,
    pub codes: Vec<(String, CodeSetting)>,
    pub memory_mib: Option<u32>,
    pub timeout_ms: Option<u32>,
}

/// The capabilities a plugin may be granted.
pub const GRANTS: [&str; 2] = ["clock", "random"];

/// Parse `.gitsync/config.yaml`. `None` when the file cannot be read as a config at all.
/// Emits GS001, GS104.
pub fn parse_config(path: &str, bytes: &[u8]) -> (Option<Config>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let mut cx = Cx {
        path,
        diags: &mut diags,
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        cx.push(
            Diagnostic::new(codes::INVALID_UTF8, path, Span::file_start(), "file is not valid UTF-8")
                .help("save the file as UTF-8"),
        );
        return (None, diags);
    };
    let root_node = match yaml::load(text) {
        Ok(Some(n)) => n,
        Ok(None) => return (Some(Config::default()), diags),
        Err(e) => {
            cx.push(load_error(path, e));
            return (None, diags);
        }
    };
    let Some(obj) = root(&mut cx, &root_node, &["plugins", "codes", "limits"]) else {
        return (None, diags);
    };
    let mut config = Config::default();
    for (k, v) in cx.mapping(&obj, "plugins") {
        let mut p = PluginSettings {
            name: k.raw.clone(),
            enabled: true,
            settings_json: "{}".into(),
            grants: vec![],
        };
        if v.value != Value::Null
            && let Some(o) = cx.object(v, &k.raw, k.span, &["enabled", "settings", "grants"])
        {
            p.enabled = cx.boolean(&o, "enabled", false).unwrap_or(true);
            if let Some(settings) = o.get("settings") {
                p.settings_json = settings.to_json().to_string();
            }
            if let Some(grants) = o.get("grants") {
                match &grants.value {
                    Value::Seq(items) => {
                        for g in items {
                            match g.as_str() {
                                Some(name) if GRANTS.contains(&name) => p.grants.push(name.to_string()),
                                _ => cx.push(
                                    Diagnostic::new(
                                        codes::INVALID_VALUE,
                                        path,
                                        g.span,
                                        format!("`{}` is not a capability gitsync can grant", g.raw),
                                    )
                                    .help(format!("grants may list: {}", GRANTS.join(", "))),
                                ),
                            }
                        }
                    }
                    _ => cx.wrong_type(grants, "grants", "a list"),
                }
            }
        }
        config.plugins.push(p);
    }
    let settings = [
        ("off", CodeSetting::Off),
        ("error", CodeSetting::Error),
        ("warning", CodeSetting::Warning),
        ("note", CodeSetting::Note),
    ];
    for (k, v) in cx.mapping(&obj, "codes") {
        // `off` reads as a boolean in YAML 1.1 minds; accept `false` as off too.
        let setting = match (&v.value, v.as_str()) {
            (Value::Bool(false), _) => Some(CodeSetting::Off),
            (_, Some(s)) => settings.iter().find(|(n, _)| *n == s).map(|(_, c)| *c),
            _ => None,
        };
        match setting {
            Some(c) => config.codes.push((k.raw.clone(), c)),
            None => cx.push(
                Diagnostic::new(
                    codes::INVALID_VALUE,
                    path,
                    v.span,
                    format!("`{}` is not a setting for code {}", v.raw, k.raw),
                )
                .help("use off, error, warning or note"),
            ),
        }
    }
    if let Some(limits) = cx.nested(&obj, "limits", false, &["memory", "timeout"]) {
        for (key, slot, unit) in [
            ("memory", &mut config.memory_mib, "MiB"),
            ("timeout", &mut config.timeout_ms, "milliseconds"),
        ] {
            match limits.get(key) {
                None => {}
                Some(n) => match n.value {
                    Value::Int(i) if i >= 1 && i <= u32::MAX as i64 => *slot = Some(i as u32),
                    _ => cx.wrong_type(n, key, &format!("a whole number of {unit}, 1 or more")),
                },
            }
        }
    }
    (Some(config), diags)
}

#[cfg(test)]
mod tests;
