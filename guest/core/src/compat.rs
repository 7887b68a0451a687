//! Does a new JSON Schema accept every event the old one accepted? A structural comparison over the
//! draft-7 keywords whose effect is simple to reason about; anything else that changed is reported as
//! "cannot prove" rather than guessed at.

use serde_json::{Map, Value};

/// One reason the new schema may reject what the old one accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// JSON pointer into the new schema where the change is.
    pub pointer: String,
    pub message: String,
    /// True when the change certainly rejects some old-valid event; false when it cannot be proven
    /// either way.
    pub breaking: bool,
}

/// Keywords that do not affect validation.
const ANNOTATIONS: [&str; 8] = [
    "title",
    "description",
    "default",
    "examples",
    "$comment",
    "$schema",
    "$id",
    "readOnly",
];
/// Keywords this comparison understands.
const UNDERSTOOD: [&str; 21] = [
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "uniqueItems",
    "pattern",
    "multipleOf",
    "format",
];

/// Compare `old` and `new`; an empty result means every instance valid under `old` is valid under `new`.
pub fn compare(old: &Value, new: &Value) -> Vec<Finding> {
    let mut out = Vec::new();
    walk(old, new, "", &mut out);
    out
}

fn walk(old: &Value, new: &Value, at: &str, out: &mut Vec<Finding>) {
    if old == new {
        return;
    }
    let empty = Map::new();
    let (o, n) = match (old, new) {
        (_, Value::Bool(true)) => return,
        (Value::Bool(false), _) => return,
        (Value::Bool(true), Value::Object(n)) => (&empty, n),
        (Value::Object(o), Value::Bool(false)) => {
            let _ = o;
            return breaking(out, at, "the schema is now `false` and rejects every event".into());
        }
        (Value::Object(o), Value::Object(n)) => (o, n),
        _ => return unknown(out, at, "the schema is not an object".into()),
    };
    // Keywords outside what we understand: any change there cannot be proven compatible.
    for (k, nv) in n {
        if ANNOTATIONS.contains(&k.as_str()) || UNDERSTOOD.contains(&k.as_str()) {
            continue;
        }
        if o.get(k) != Some(nv) {
            unknown(
                out,
                &ptr(at, k),
                format!("`{k}` changed; gitsync cannot prove the new schema accepts every old event"),
            );
        }
    }
    types(o, n, at, out);
    enums(o, n, at, out);
    required(o, n, at, out);
    properties(o, n, at, out);
    if let Some(ni) = n.get("items") {
        match (o.get("items"), ni) {
            (Some(oi), Value::Object(_) | Value::Bool(_)) if !oi.is_array() => walk(oi, ni, &ptr(at, "items"), out),
            (None, Value::Object(_) | Value::Bool(_)) => walk(&Value::Bool(true), ni, &ptr(at, "items"), out),
            (oi, _) if oi != Some(ni) => unknown(
                out,
                &ptr(at, "items"),
                "tuple `items` changed; compatibility cannot be proven".into(),
            ),
            _ => {}
        }
    }
    bounds(o, n, at, out);
    if let Some(p) = n.get("pattern")
        && o.get("pattern") != Some(p)
    {
        let msg = match o.get("pattern") {
            Some(old) => format!("`pattern` changed from {old} to {p}"),
            None => format!("`pattern` {p} was added"),
        };
        breaking(out, &ptr(at, "pattern"), msg);
    }
    if let Some(m) = n.get("multipleOf")
        && o.get("multipleOf") != Some(m)
    {
        unknown(
            out,
            &ptr(at, "multipleOf"),
            format!("`multipleOf` is now {m}; compatibility cannot be proven"),
        );
    }
    if let Some(f) = n.get("format")
        && o.get("format") != Some(f)
    {
        unknown(
            out,
            &ptr(at, "format"),
            format!("`format` is now {f}; validators that assert formats may reject old events"),
        );
    }
    if n.get("uniqueItems") == Some(&Value::Bool(true)) && o.get("uniqueItems") != Some(&Value::Bool(true)) {
        breaking(out, &ptr(at, "uniqueItems"), "`uniqueItems: true` was added".into());
    }
}

fn breaking(out: &mut Vec<Finding>, at: &str, message: String) {
    out.push(Finding {
        pointer: at.to_string(),
        message,
        breaking: true,
    });
}

fn unknown(out: &mut Vec<Finding>, at: &str, message: String) {
    out.push(Finding {
        pointer: at.to_string(),
        message,
        breaking: false,
    });
}

fn ptr(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn type_set(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(a.iter().filter_map(|t| t.as_str().map(String::from)).collect()),
        _ => None,
    }
}

fn types(o: &Map<String, Value>, n: &Map<String, Value>, at: &str, out: &mut Vec<Finding>) {
    let Some(new) = type_set(n.get("type")) else { return };
    let covers = |t: &str| new.iter().any(|x| x == t || (x == "number" && t == "integer"));
    match type_set(o.get("type")) {
        None => breaking(
            out,
            &ptr(at, "type"),
            format!("`type` {} was added; other types are now rejected", show(&new)),
        ),
        Some(old) => {
            let lost: Vec<String> = old.into_iter().filter(|t| !covers(t)).collect();
            if !lost.is_empty() {
                breaking(
                    out,
                    &ptr(at, "type"),
                    format!("`type` narrowed: {} no longer accepted", show(&lost)),
                );
            }
        }
    }
}

fn show(items: &[String]) -> String {
    items.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(", ")
}

fn enums(o: &Map<String, Value>, n: &Map<String, Value>, at: &str, out: &mut Vec<Finding>) {
    let allowed = |m: &Map<String, Value>| -> Option<Vec<Value>> {
        match (m.get("enum"), m.get("const")) {
            (Some(Value::Array(a)), _) => Some(a.clone()),
            (_, Some(c)) => Some(vec![c.clone()]),
            _ => None,
        }
    };
    let Some(new) = allowed(n) else { return };
    let key = if n.contains_key("enum") { "enum" } else { "const" };
    match allowed(o) {
        None => breaking(
            out,
            &ptr(at, key),
            format!("`{key}` was added; other values are now rejected"),
        ),
        Some(old) => {
            let lost: Vec<String> = old.iter().filter(|v| !new.contains(v)).map(|v| v.to_string()).collect();
            if !lost.is_empty() {
                breaking(
                    out,
                    &ptr(at, key),
                    format!("`{key}` narrowed: {} no longer accepted", lost.join(", ")),
                );
            }
        }
    }
}

fn required(o: &Map<String, Value>, n: &Map<String, Value>, at: &str, out: &mut Vec<Finding>) {
    let list = |m: &Map<String, Value>| -> Vec<String> {
        m.get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    let old = list(o);
    for r in list(n) {
        if !old.contains(&r) {
            breaking(out, &ptr(at, "required"), format!("property `{r}` is now required"));
        }
    }
}

fn properties(o: &Map<String, Value>, n: &Map<String, Value>, at: &str, out: &mut Vec<Finding>) {
    let empty = Map::new();
    let op = o.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let np = n.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let any = Value::Bool(true);
    let old_extra = o.get("additionalProperties").unwrap_or(&any);
    let new_extra = n.get("additionalProperties").unwrap_or(&any);
    // What the old schema accepted for a property it did not declare.
    for (k, nv) in np {
        // Declaring a new optional property is how schemas grow; it is not treated as breaking even
        // though an old event could have carried a field of that name with another shape.
        if !op.contains_key(k) && *old_extra == Value::Bool(true) {
            continue;
        }
        let ov = op.get(k).unwrap_or(old_extra);
        walk(ov, nv, &ptr(&ptr(at, "properties"), k), out);
    }
    for (k, ov) in op {
        if np.contains_key(k) {
            continue;
        }
        if *new_extra == Value::Bool(false) {
            breaking(
                out,
                &ptr(at, "properties"),
                format!("property `{k}` was removed while `additionalProperties` is false"),
            );
        } else {
            walk(ov, new_extra, &ptr(at, "additionalProperties"), out);
        }
    }
    if old_extra != new_extra && n.contains_key("additionalProperties") {
        if *new_extra == Value::Bool(false) {
            if *old_extra != Value::Bool(false) {
                breaking(
                    out,
                    &ptr(at, "additionalProperties"),
                    "`additionalProperties: false` now rejects properties the schema does not declare".into(),
                );
            }
        } else {
            walk(old_extra, new_extra, &ptr(at, "additionalProperties"), out);
        }
    }
}

fn num(m: &Map<String, Value>, k: &str) -> Option<f64> {
    m.get(k).and_then(Value::as_f64)
}

fn bounds(o: &Map<String, Value>, n: &Map<String, Value>, at: &str, out: &mut Vec<Finding>) {
    // (keyword, true when a larger value is stricter)
    let keys = [
        ("minimum", true),
        ("exclusiveMinimum", true),
        ("minLength", true),
        ("minItems", true),
        ("minProperties", true),
        ("maximum", false),
        ("exclusiveMaximum", false),
        ("maxLength", false),
        ("maxItems", false),
        ("maxProperties", false),
    ];
    for (k, larger_is_stricter) in keys {
        let Some(new) = num(n, k) else { continue };
        let stricter = match num(o, k) {
            None => true,
            Some(old) if larger_is_stricter => new > old,
            Some(old) => new < old,
        };
        if stricter {
            let was = num(o, k).map_or("absent".to_string(), |v| v.to_string());
            breaking(out, &ptr(at, k), format!("`{k}` tightened from {was} to {new}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn breaking_messages(old: Value, new: Value) -> Vec<String> {
        compare(&old, &new)
            .into_iter()
            .filter(|f| f.breaking)
            .map(|f| format!("{}: {}", f.pointer, f.message))
            .collect()
    }

    fn event(props: Value) -> Value {
        json!({"type": "object", "properties": {"properties": props}})
    }

    #[test]
    fn loosening_is_compatible() {
        let old = event(
            json!({"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "maxLength": 5}}}),
        );
        let new = event(
            json!({"type": "object", "properties": {"id": {"type": ["string", "null"], "maxLength": 10}, "extra": {"type": "number"}}, "description": "x"}),
        );
        assert_eq!(compare(&old, &new), vec![]);
    }

    #[test]
    fn each_kind_of_narrowing_is_breaking() {
        let base = json!({"type": "object", "properties": {"id": {"type": "string"}, "n": {"type": "number"}, "c": {"type": "string", "enum": ["USD", "EUR"]}}});
        let cases = [
            (
                json!({"required": ["id"]}),
                "/properties/properties/required: property `id` is now required",
            ),
            (
                json!({"properties": {"n": {"type": "integer"}}}),
                "/properties/properties/properties/n/type: `type` narrowed: `number` no longer accepted",
            ),
            (
                json!({"properties": {"c": {"type": "string", "enum": ["USD"]}}}),
                "/properties/properties/properties/c/enum: `enum` narrowed: \"EUR\" no longer accepted",
            ),
            (
                json!({"properties": {"n": {"type": "number", "minimum": 0}}}),
                "/properties/properties/properties/n/minimum: `minimum` tightened from absent to 0",
            ),
            (
                json!({"properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}}),
                "/properties/properties/properties/id/pattern: `pattern` \"^[a-z]+$\" was added",
            ),
            (
                json!({"additionalProperties": false}),
                "/properties/properties/additionalProperties: `additionalProperties: false` now rejects properties the schema does not declare",
            ),
        ];
        for (patch, want) in cases {
            let mut new = base.clone();
            for (k, v) in patch.as_object().unwrap() {
                if k == "properties" {
                    for (pk, pv) in v.as_object().unwrap() {
                        new["properties"][pk] = pv.clone();
                    }
                } else {
                    new[k] = v.clone();
                }
            }
            assert_eq!(
                breaking_messages(event(base.clone()), event(new)),
                vec![want.to_string()]
            );
        }
    }

    #[test]
    fn removing_a_property_under_closed_objects_is_breaking() {
        let old = event(json!({"type": "object", "additionalProperties": false, "properties": {"a": {}, "b": {}}}));
        let new = event(json!({"type": "object", "additionalProperties": false, "properties": {"a": {}}}));
        assert_eq!(
            breaking_messages(old, new),
            vec!["/properties/properties/properties: property `b` was removed while `additionalProperties` is false"]
        );
    }

    #[test]
    fn unknown_changes_are_not_guessed() {
        let old = event(json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/x"}}}));
        let new = event(json!({"type": "object", "properties": {"a": {"$ref": "#/definitions/y"}}}));
        let found = compare(&old, &new);
        assert_eq!(found.len(), 1);
        assert!(!found[0].breaking);
        assert_eq!(found[0].pointer, "/properties/properties/properties/a/$ref");
    }

    #[test]
    fn nested_arrays_are_compared() {
        let old = event(
            json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}}}}),
        );
        let new = event(
            json!({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}}}}}),
        );
        assert_eq!(
            breaking_messages(old, new),
            vec!["/properties/properties/properties/items/items/required: property `sku` is now required"]
        );
    }
}
