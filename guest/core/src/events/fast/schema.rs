//! The compiled form of the draft-7 keywords the fast path models (`Checks` per schema node) and
//! the compiler that makes it from a JSON Schema, or gives up on what it does not model exactly.

#[allow(unused_imports)]
use super::*;

/// Three answers: the fast path decides only the first two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    Valid,
    Invalid,
    Unknown,
}

pub(crate) const T_NULL: u8 = 1;
pub(crate) const T_BOOL: u8 = 2;
pub(crate) const T_OBJECT: u8 = 4;
pub(crate) const T_ARRAY: u8 = 8;
pub(crate) const T_NUMBER: u8 = 16;
pub(crate) const T_STRING: u8 = 32;
pub(crate) const T_INTEGER: u8 = 64;

/// The names `jsonschema` writes for a single type.
pub(crate) fn type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        T_NULL => "null",
        T_BOOL => "boolean",
        T_OBJECT => "object",
        T_ARRAY => "array",
        T_NUMBER => "number",
        T_STRING => "string",
        T_INTEGER => "integer",
        _ => return None,
    })
}

/// Which groups of keywords a node has, so a check skips absent groups with one test.
pub(crate) const G_ENUM: u8 = 1;
pub(crate) const G_NUMBER: u8 = 2;
pub(crate) const G_STRING: u8 = 4;
pub(crate) const G_ARRAY: u8 = 8;
pub(crate) const G_OBJECT: u8 = 16;
pub(crate) const G_COMBINE: u8 = 32;

/// A compiled schema: a node of the schema, or a reference into the table of compiled nodes.
#[derive(Debug)]
pub enum Schema {
    True,
    False,
    Node(Box<Checks>),
    /// Index into `Compiled::table`.
    Ref(usize),
}

/// A numeric limit: its value and how the schema writes it (for messages).
#[derive(Debug)]
pub(crate) struct Limit {
    pub(crate) value: f64,
    pub(crate) shown: String,
}

#[derive(Debug, Default)]
pub struct Checks {
    pub(crate) groups: u8,
    /// Only annotations: nothing below is an undeclared field (`Shape::Open`).
    pub(crate) open: bool,
    /// A keyword here looks at keys that are not declared properties (or there are too many
    /// properties for the seen-mask): duplicate keys must be ruled out for the whole object.
    pub(crate) counts_every_key: bool,
    pub(crate) types: Option<u8>,
    pub(crate) properties: Vec<(String, Schema)>,
    pub(crate) additional: Option<Schema>,
    pub(crate) required: Vec<String>,
    /// `required` names that are declared properties, as bits of their index in `properties`.
    pub(crate) required_declared: u64,
    /// The other `required` names.
    pub(crate) required_other: Vec<String>,
    pub(crate) items: Option<Schema>,
    pub(crate) tuple: Option<Vec<Schema>>,
    pub(crate) additional_items: Option<Schema>,
    pub(crate) enumeration: Option<Vec<Value>>,
    /// `enum` when every option is a string (the usual case): compared as bytes, no `Value` walk.
    pub(crate) enum_strings: Option<Vec<String>>,
    pub(crate) constant: Option<Value>,
    pub(crate) minimum: Option<Limit>,
    pub(crate) maximum: Option<Limit>,
    pub(crate) exclusive_minimum: Option<Limit>,
    pub(crate) exclusive_maximum: Option<Limit>,
    pub(crate) multiple_of: Option<f64>,
    pub(crate) min_length: Option<u64>,
    pub(crate) max_length: Option<u64>,
    pub(crate) min_items: Option<u64>,
    pub(crate) max_items: Option<u64>,
    pub(crate) unique_items: bool,
    pub(crate) min_properties: Option<u64>,
    pub(crate) max_properties: Option<u64>,
    pub(crate) all_of: Vec<Schema>,
    pub(crate) any_of: Vec<Schema>,
    pub(crate) one_of: Vec<Schema>,
    pub(crate) not: Option<Schema>,
    pub(crate) if_: Option<Schema>,
    pub(crate) then_: Option<Schema>,
    pub(crate) else_: Option<Schema>,
    pub(crate) property_names: Option<Schema>,
    pub(crate) contains: Option<Schema>,
    pub(crate) dependencies: Vec<(String, Dependency)>,
}

#[derive(Debug)]
pub(crate) enum Dependency {
    Required(Vec<String>),
    Schema(Schema),
}

/// A schema compiled for the fast path, with the targets of its local `$ref`s.
#[derive(Debug)]
pub struct Compiled {
    pub(crate) root: Schema,
    pub(crate) table: Vec<Schema>,
    pub(crate) simple: bool,
}

/// Whether a walk also looks for undeclared fields, and whether it is at the top level with the
/// built-in envelope fields counted as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fields {
    Off,
    On,
    TopBuiltIn,
}

/// Keywords that only annotate: ignored by validation.
pub(crate) const ANNOTATIONS: [&str; 9] = [
    "title",
    "description",
    "default",
    "examples",
    "$comment",
    "$schema",
    "definitions",
    "readOnly",
    "writeOnly",
];

pub(crate) struct Compiler<'s> {
    pub(crate) root: &'s Value,
    pub(crate) table: Vec<Option<Schema>>,
    pub(crate) pointers: Vec<String>,
    /// A `$ref`, `allOf`/`anyOf`/`oneOf` or an empty tuple was seen: the declared fields are not
    /// simply each node's own (see `Compiled::simple`).
    pub(crate) folded: bool,
}

impl<'s> Compiler<'s> {
    // Long on purpose: one arm per draft-7 keyword, so the table of what the fast path models reads
    // in one place; each arm is a few lines.
    pub(crate) fn compile(&mut self, s: &'s Value, depth: usize) -> Option<Schema> {
        if depth > 64 {
            return None;
        }
        let m = match s {
            Value::Bool(true) => return Some(Schema::True),
            Value::Bool(false) => return Some(Schema::False),
            Value::Object(m) => m,
            _ => return None,
        };
        if let Some(r) = m.get("$ref") {
            // Draft 7: a `$ref` makes its siblings ignored.
            self.folded = true;
            return self.reference(r.as_str()?);
        }
        let mut c = Checks {
            open: crate::events::is_open(s),
            ..Checks::default()
        };
        let sub = |me: &mut Self, v: &'s Value| me.compile(v, depth + 1);
        let count = |v: &Value| v.as_u64();
        let limit = |v: &Value| {
            Some(Limit {
                value: v.as_f64().filter(|f| f.is_finite())?,
                shown: v.to_string(),
            })
        };
        for (k, v) in m {
            match k.as_str() {
                "type" => {
                    let one = |t: &Value| {
                        Some(match t.as_str()? {
                            "null" => T_NULL,
                            "boolean" => T_BOOL,
                            "object" => T_OBJECT,
                            "array" => T_ARRAY,
                            "number" => T_NUMBER,
                            "string" => T_STRING,
                            "integer" => T_INTEGER,
                            _ => return None,
                        })
                    };
                    c.types = Some(match v {
                        Value::Array(ts) => ts.iter().map(one).try_fold(0u8, |acc, t| Some(acc | t?))?,
                        t => one(t)?,
                    });
                }
                "properties" => {
                    for (name, p) in v.as_object()? {
                        let p = sub(self, p)?;
                        c.properties.push((name.clone(), p));
                    }
                }
                "additionalProperties" => c.additional = Some(sub(self, v)?),
                "required" => {
                    for r in v.as_array()? {
                        c.required.push(r.as_str()?.to_string());
                    }
                }
                "items" => match v {
                    Value::Array(tuple) => {
                        c.tuple = Some(tuple.iter().map(|t| sub(self, t)).collect::<Option<_>>()?);
                    }
                    one => c.items = Some(sub(self, one)?),
                },
                "additionalItems" => c.additional_items = Some(sub(self, v)?),
                "enum" => {
                    let options = v.as_array()?;
                    c.enum_strings = options
                        .iter()
                        .map(|o| o.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>();
                    c.enumeration = Some(options.clone());
                }
                "const" => c.constant = Some(v.clone()),
                "minimum" => c.minimum = Some(limit(v)?),
                "maximum" => c.maximum = Some(limit(v)?),
                "exclusiveMinimum" => c.exclusive_minimum = Some(limit(v)?),
                "exclusiveMaximum" => c.exclusive_maximum = Some(limit(v)?),
                "multipleOf" => c.multiple_of = Some(v.as_f64().filter(|m| m.is_finite() && *m > 0.0)?),
                "minLength" => c.min_length = Some(count(v)?),
                "maxLength" => c.max_length = Some(count(v)?),
                "minItems" => c.min_items = Some(count(v)?),
                "maxItems" => c.max_items = Some(count(v)?),
                "uniqueItems" => c.unique_items = v.as_bool()?,
                "minProperties" => c.min_properties = Some(count(v)?),
                "maxProperties" => c.max_properties = Some(count(v)?),
                "allOf" => c.all_of = v.as_array()?.iter().map(|s| sub(self, s)).collect::<Option<_>>()?,
                "anyOf" => c.any_of = v.as_array()?.iter().map(|s| sub(self, s)).collect::<Option<_>>()?,
                "oneOf" => c.one_of = v.as_array()?.iter().map(|s| sub(self, s)).collect::<Option<_>>()?,
                "not" => c.not = Some(sub(self, v)?),
                "if" => c.if_ = Some(sub(self, v)?),
                "then" => c.then_ = Some(sub(self, v)?),
                "else" => c.else_ = Some(sub(self, v)?),
                "propertyNames" => c.property_names = Some(sub(self, v)?),
                "contains" => c.contains = Some(sub(self, v)?),
                "dependencies" => {
                    for (name, d) in v.as_object()? {
                        let dep = match d {
                            Value::Array(names) => Dependency::Required(
                                names
                                    .iter()
                                    .map(|n| n.as_str().map(String::from))
                                    .collect::<Option<_>>()?,
                            ),
                            schema => Dependency::Schema(sub(self, schema)?),
                        };
                        c.dependencies.push((name.clone(), dep));
                    }
                }
                k if ANNOTATIONS.contains(&k) => {}
                // `format`, `pattern`, `patternProperties`, `$id`, `content*` and anything else:
                // the full path decides.
                _ => return None,
            }
        }
        // Without `items` as a tuple, `additionalItems` means nothing.
        if c.tuple.is_none() {
            c.additional_items = None;
        }
        // `then`/`else` without `if` mean nothing.
        if c.if_.is_none() {
            c.then_ = None;
            c.else_ = None;
        }
        if !c.all_of.is_empty()
            || !c.any_of.is_empty()
            || !c.one_of.is_empty()
            || c.tuple.as_ref().is_some_and(Vec::is_empty)
        {
            self.folded = true;
        }
        c.counts_every_key = c.additional.is_some()
            || c.property_names.is_some()
            || c.min_properties.is_some()
            || c.max_properties.is_some()
            || !c.dependencies.is_empty()
            || c.properties.len() > 64;
        for r in &c.required {
            match c.properties.iter().position(|(name, _)| name == r).filter(|p| *p < 64) {
                Some(p) => c.required_declared |= 1 << p,
                None => c.required_other.push(r.clone()),
            }
        }
        let group = |present: bool, g: u8| if present { g } else { 0 };
        c.groups = group(c.enumeration.is_some() || c.constant.is_some(), G_ENUM)
            | group(
                c.minimum.is_some()
                    || c.maximum.is_some()
                    || c.exclusive_minimum.is_some()
                    || c.exclusive_maximum.is_some()
                    || c.multiple_of.is_some(),
                G_NUMBER,
            )
            | group(c.min_length.is_some() || c.max_length.is_some(), G_STRING)
            | group(
                c.min_items.is_some()
                    || c.max_items.is_some()
                    || c.unique_items
                    || c.items.is_some()
                    || c.tuple.is_some()
                    || c.contains.is_some(),
                G_ARRAY,
            )
            | group(
                c.min_properties.is_some()
                    || c.max_properties.is_some()
                    || !c.required.is_empty()
                    || !c.properties.is_empty()
                    || c.additional.is_some()
                    || c.property_names.is_some()
                    || !c.dependencies.is_empty(),
                G_OBJECT,
            )
            | group(
                !c.all_of.is_empty()
                    || !c.any_of.is_empty()
                    || !c.one_of.is_empty()
                    || c.not.is_some()
                    || c.if_.is_some(),
                G_COMBINE,
            );
        Some(Schema::Node(Box::new(c)))
    }

    /// A local `$ref` (`#` or `#/json/pointer`), compiled once into the table.
    pub(crate) fn reference(&mut self, r: &str) -> Option<Schema> {
        let pointer = r.strip_prefix('#')?;
        if !(pointer.is_empty() || pointer.starts_with('/')) {
            return None;
        }
        if let Some(at) = self.pointers.iter().position(|p| p == pointer) {
            return Some(Schema::Ref(at));
        }
        let decoded = percent_decode(pointer)?;
        let target = self.root.pointer(&decoded)?;
        let at = self.table.len();
        self.pointers.push(pointer.to_string());
        self.table.push(None);
        let compiled = self.compile(target, 0)?;
        self.table[at] = Some(compiled);
        Some(Schema::Ref(at))
    }
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
