//! Event contracts and events (docs/resources.md, "Event contracts"): naming, uniqueness, and each schema against JSON Schema draft 7.

use crate::diag::{Diagnostic, Span, codes};
use crate::resource::*;
use crate::slug::{event_slug, slugify};
use std::collections::{HashMap, HashSet};

/// Emits GS501, GS502, GS504, GS505, GS506.
pub fn check(resources: &[Resource]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut contracts: HashSet<&str> = HashSet::new();
    for r in resources {
        let Some(c) = r.as_contract() else { continue };
        contracts.insert(&r.slug);
        if let Some(name) = &c.name {
            let expected = slugify(&name.value);
            if !expected.is_empty() && expected != r.slug {
                diags.push(
                    Diagnostic::new(
                        codes::CONTRACT_FILE_NAME,
                        &r.path,
                        name.span,
                        format!(
                            "contract `{}` should be in {expected}.yaml, not {}.yaml",
                            name.value, r.slug
                        ),
                    )
                    .label("the file name is the slug of the contract name")
                    .help(format!(
                        "rename the file to `{expected}.yaml` (and its events folder to `{expected}/`)"
                    )),
                );
            }
        }
    }
    let mut seen: HashMap<(&str, &str, &str, &str), &str> = HashMap::new();
    let meta = jsonschema::draft7::meta::validator();
    for r in resources {
        let Some(e) = r.as_event() else { continue };
        if !contracts.contains(e.contract.as_str()) {
            diags.push(
                Diagnostic::new(
                    codes::EVENT_WITHOUT_CONTRACT,
                    &r.path,
                    Span::file_start(),
                    format!("event belongs to contract `{}`, which has no file", e.contract),
                )
                .help(format!(
                    "create events/contracts/{}.yaml with at least `name:`",
                    e.contract
                )),
            );
        }
        if let Some(t) = &e.event_type {
            match (t.value == "track", &e.name) {
                (true, None) => diags.push(
                    Diagnostic::new(codes::EVENT_NAME_RULE, &r.path, t.span, "track events need a `name`")
                        .help("add `name:` with the event name that `track` calls send"),
                ),
                (false, Some(n)) => diags.push(
                    Diagnostic::new(
                        codes::EVENT_NAME_RULE,
                        &r.path,
                        n.span,
                        format!("`name` is only allowed on track events, not on `{}`", t.value),
                    )
                    .help("remove `name`, or change `type` to `track`"),
                ),
                _ => {}
            }
            let name = e.name.as_ref().map_or("", |n| n.value.as_str());
            let key = (e.contract.as_str(), t.value.as_str(), name, e.version.value.as_str());
            if let Some(first) = seen.get(&key) {
                diags.push(
                    Diagnostic::new(
                        codes::DUPLICATE_EVENT,
                        &r.path,
                        t.span,
                        format!(
                            "contract `{}` already has a {} event{} with version `{}`",
                            e.contract,
                            t.value,
                            if name.is_empty() {
                                String::new()
                            } else {
                                format!(" `{name}`")
                            },
                            e.version.value
                        ),
                    )
                    .label(format!("same as {first}"))
                    .help("change `version` to add a new version, or delete one of the two files"),
                );
            } else {
                seen.insert(key, &r.path);
            }
            let stem = r.slug.rsplit('/').next().unwrap_or_default();
            let name_rule_broken = t.value == "track" && e.name.is_none();
            let expected = event_slug(
                if name.is_empty() { &t.value } else { name },
                &e.contract,
                &e.version.value,
            );
            if stem != expected && !name_rule_broken {
                diags.push(
                    Diagnostic::new(
                        codes::EVENT_FILE_NAME,
                        &r.path,
                        Span::file_start(),
                        format!("event file is named `{stem}.yaml`; its slug is `{expected}`"),
                    )
                    .label("the slug is <name or type>-<contract>-<version>")
                    .help(format!("rename the file to `{expected}.yaml`")),
                );
            }
        }
        if let Some(json) = &e.schema_json {
            check_schema(r, e, json, &meta, &mut diags);
        }
    }
    diags
}

/// Emits GS503.
fn check_schema(
    r: &Resource,
    e: &Event,
    json: &str,
    meta: &jsonschema::meta::MetaValidator<'_>,
    diags: &mut Vec<Diagnostic>,
) {
    let Ok(schema) = serde_json::from_str::<serde_json::Value>(json) else {
        return;
    };
    let span_of = |pointer: &str| schema_span_of(e, pointer);
    let mut any = false;
    for err in meta.iter_errors(&schema).take(20) {
        any = true;
        let pointer = err.instance_path().as_str().to_string();
        let at = if pointer.is_empty() {
            "the schema root".to_string()
        } else {
            format!("`{pointer}`")
        };
        diags.push(
            Diagnostic::new(
                codes::INVALID_EVENT_SCHEMA,
                &r.path,
                span_of(&pointer),
                format!("invalid JSON Schema at {at}: {err}"),
            )
            .help("fix the schema so it follows JSON Schema draft 7 (https://json-schema.org/draft-07)"),
        );
    }
    if !any && let Err(err) = jsonschema::draft7::new(&schema) {
        let pointer = err.instance_path().as_str().to_string();
        diags.push(
            Diagnostic::new(
                codes::INVALID_EVENT_SCHEMA,
                &r.path,
                span_of(&pointer),
                format!("JSON Schema cannot be compiled: {err}"),
            )
            .help("check regular expressions in `pattern` and that every `$ref` points inside the schema"),
        );
    }
}

/// Where a JSON pointer into an event's schema sits: the deepest recorded part that contains it.
fn schema_span_of(e: &Event, pointer: &str) -> Span {
    let mut p = pointer;
    loop {
        if let Some(ps) = e.schema_spans.iter().find(|ps| ps.pointer == p) {
            return ps.span;
        }
        match p.rfind('/') {
            Some(i) => p = &p[..i],
            None => return e.schema_span,
        }
    }
}

fn field_span(r: &Resource, field: &str) -> Span {
    r.span_at(&format!("/{field}")).unwrap_or(Span::file_start())
}

type EventKey<'a> = (&'a str, &'a str, &'a str, &'a str);

fn event_key(e: &Event) -> Option<EventKey<'_>> {
    Some((
        e.contract.as_str(),
        e.event_type.as_ref()?.value.as_str(),
        e.name.as_ref().map_or("", |n| n.value.as_str()),
        e.version.value.as_str(),
    ))
}

/// The version to propose for a new copy of `event`: `v<N>` one past the highest number any
/// version of the same event uses (`default` counts as 1), so no file of that event has it yet.
fn next_version<'a>(event: &Event, all: impl Iterator<Item = &'a Event>) -> String {
    let same = |e: &Event| {
        let (a, b) = (event_key(e), event_key(event));
        a.zip(b).is_some_and(|(a, b)| a.0 == b.0 && a.1 == b.1 && a.2 == b.2)
    };
    let number = |v: &str| -> u64 {
        let digits = v.strip_prefix(['v', 'V']).unwrap_or(v);
        digits.parse().unwrap_or(1)
    };
    let highest = all
        .filter(|e| same(e))
        .map(|e| number(&e.version.value))
        .chain([number(&event.version.value)])
        .max()
        .unwrap_or(1);
    format!("v{}", highest + 1)
}

/// Event changes between two revisions that reject events the base accepted (docs/check.md).
/// Emits GS606, GS607, GS608.
pub fn compare(base: &[Resource], head: &[Resource]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let base_events: HashMap<EventKey, &Event> = base
        .iter()
        .filter_map(|r| r.as_event())
        .filter_map(|e| event_key(e).map(|k| (k, e)))
        .collect();
    for r in head {
        let Some(new) = r.as_event() else { continue };
        let Some(old) = event_key(new).and_then(|k| base_events.get(&k)) else {
            continue;
        };
        let next = next_version(new, base.iter().chain(head).filter_map(|r| r.as_event()));
        let next_file = format!(
            "{}.yaml",
            crate::slug::event_slug(
                new.name
                    .as_ref()
                    .or(new.event_type.as_ref())
                    .map_or("", |t| t.value.as_str()),
                &new.contract,
                &next,
            )
        );
        let version_help = format!(
            "add a new version instead: keep this version as it was, and put the new schema in a copy with `version: {next}` ({next_file})"
        );
        for (field, before, after) in [
            ("onSchemaViolation", old.on_schema_violation, new.on_schema_violation),
            ("onUndeclaredFields", old.on_undeclared_fields, new.on_undeclared_fields),
        ] {
            if after == EventAction::BlockEvent && before != EventAction::BlockEvent {
                diags.push(
                    Diagnostic::new(
                        codes::BLOCKING_ACTION,
                        &r.path,
                        field_span(r, field),
                        format!(
                            "`{field}` changed from {} to BLOCK_EVENT: events that passed will now be blocked",
                            before.as_str()
                        ),
                    )
                    .help(version_help.clone()),
                );
            }
        }
        if old.include_built_in_context && !new.include_built_in_context {
            diags.push(
                Diagnostic::new(
                    codes::UNPROVEN_EVENT_SCHEMA,
                    &r.path,
                    field_span(r, "includeBuiltInContext"),
                    "`includeBuiltInContext` turned off: envelope fields such as `context` now count as undeclared",
                )
                .help(version_help.clone()),
            );
        }
        let (Some(old_json), Some(new_json)) = (&old.schema_json, &new.schema_json) else {
            continue;
        };
        if old_json == new_json {
            continue;
        }
        let (Ok(old_schema), Ok(new_schema)) = (
            serde_json::from_str::<serde_json::Value>(old_json),
            serde_json::from_str::<serde_json::Value>(new_json),
        ) else {
            continue;
        };
        for f in crate::compat::compare(&old_schema, &new_schema) {
            let span = schema_span_of(new, &f.pointer);
            diags.push(if f.breaking {
                Diagnostic::new(
                    codes::BREAKING_EVENT_SCHEMA,
                    &r.path,
                    span,
                    format!("breaking change to version `{}`: {}", new.version.value, f.message),
                )
                .label("events valid under the old schema would be rejected")
                .help(version_help.clone())
            } else {
                Diagnostic::new(codes::UNPROVEN_EVENT_SCHEMA, &r.path, span, f.message)
                    .help("check that events already being sent still validate, or add a new version")
            });
        }
    }
    let base_contracts: HashMap<&str, &Contract> = base
        .iter()
        .filter_map(|r| r.as_contract().map(|c| (r.slug.as_str(), c)))
        .collect();
    for r in head {
        let Some(new) = r.as_contract() else { continue };
        let Some(old) = base_contracts.get(r.slug.as_str()) else {
            continue;
        };
        if new.on_undeclared_schema == EventAction::BlockEvent && old.on_undeclared_schema != EventAction::BlockEvent {
            diags.push(
                Diagnostic::new(
                    codes::BLOCKING_ACTION,
                    &r.path,
                    field_span(r, "onUndeclaredSchema"),
                    "`onUndeclaredSchema` changed to BLOCK_EVENT: events without a declared schema will now be blocked",
                )
                .help("declare every event the sources send first, then block the rest"),
            );
        }
    }
    diags
}
