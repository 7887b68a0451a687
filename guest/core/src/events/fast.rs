//! The fast path for the common event: one that matches a declared event, has no undeclared field and
//! is valid. The event is read into a flat tape that borrows from its text (no tree of owned maps and
//! strings), and checked against a compiled form of the draft-7 keywords it supports.
//!
//! It only ever answers "valid" when `jsonschema` would: anything it does not model exactly (a
//! `format`, `pattern`, `multipleOf` on non-integers, `$id`, remote `$ref`s, very long numbers,
//! duplicate keys…) makes it answer `Unknown`, and an invalid event always goes to the full path,
//! which produces the violations. `tests.rs` runs the official draft-7 suite through both.

use serde_json::Value;

/// What a tape node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    True,
    False,
    Number,
    /// A string; `text` is its raw content between the quotes (escapes not decoded).
    Str,
    /// `text` holds only a marker; `count` children follow (objects: key, value, key, value…).
    Array,
    Object,
}

#[derive(Clone, Copy, Debug)]
struct Node<'a> {
    kind: Kind,
    text: &'a str,
    /// Arrays: elements; objects: entries.
    count: u32,
    /// The index just past this node's subtree.
    next: u32,
    /// Strings: the raw text contains a backslash.
    escaped: bool,
}

/// An event read into a tape. Reused across events to keep allocation out of the loop.
#[derive(Default)]
pub struct Tape<'a> {
    nodes: Vec<Node<'a>>,
}

const MAX_DEPTH: usize = 128;

impl<'a> Tape<'a> {
    /// Read `text`; false when it is not JSON this reader handles (the full path then decides).
    pub fn read(&mut self, text: &'a str) -> bool {
        self.nodes.clear();
        let bytes = text.as_bytes();
        let mut pos = skip_ws(bytes, 0);
        if !self.value(text, bytes, &mut pos, 0) {
            return false;
        }
        skip_ws(bytes, pos) == bytes.len()
    }

    fn value(&mut self, text: &'a str, b: &[u8], pos: &mut usize, depth: usize) -> bool {
        if depth > MAX_DEPTH || *pos >= b.len() {
            return false;
        }
        let at = self.nodes.len();
        match b[*pos] {
            b'{' => {
                self.nodes.push(Node {
                    kind: Kind::Object,
                    text: "",
                    count: 0,
                    next: 0,
                    escaped: false,
                });
                *pos = skip_ws(b, *pos + 1);
                let mut count = 0;
                if b.get(*pos) == Some(&b'}') {
                    *pos += 1;
                } else {
                    loop {
                        if b.get(*pos) != Some(&b'"') || !self.string(text, b, pos) {
                            return false;
                        }
                        *pos = skip_ws(b, *pos);
                        if b.get(*pos) != Some(&b':') {
                            return false;
                        }
                        *pos = skip_ws(b, *pos + 1);
                        if !self.value(text, b, pos, depth + 1) {
                            return false;
                        }
                        count += 1;
                        *pos = skip_ws(b, *pos);
                        match b.get(*pos) {
                            Some(b',') => *pos = skip_ws(b, *pos + 1),
                            Some(b'}') => {
                                *pos += 1;
                                break;
                            }
                            _ => return false,
                        }
                    }
                }
                self.nodes[at].count = count;
            }
            b'[' => {
                self.nodes.push(Node {
                    kind: Kind::Array,
                    text: "",
                    count: 0,
                    next: 0,
                    escaped: false,
                });
                *pos = skip_ws(b, *pos + 1);
                let mut count = 0;
                if b.get(*pos) == Some(&b']') {
                    *pos += 1;
                } else {
                    loop {
                        if !self.value(text, b, pos, depth + 1) {
                            return false;
                        }
                        count += 1;
                        *pos = skip_ws(b, *pos);
                        match b.get(*pos) {
                            Some(b',') => *pos = skip_ws(b, *pos + 1),
                            Some(b']') => {
                                *pos += 1;
                                break;
                            }
                            _ => return false,
                        }
                    }
                }
                self.nodes[at].count = count;
            }
            b'"' => {
                if !self.string(text, b, pos) {
                    return false;
                }
                return true;
            }
            b't' | b'f' | b'n' => {
                let (word, kind): (&[u8], Kind) = match b[*pos] {
                    b't' => (b"true", Kind::True),
                    b'f' => (b"false", Kind::False),
                    _ => (b"null", Kind::Null),
                };
                if !b[*pos..].starts_with(word) {
                    return false;
                }
                *pos += word.len();
                self.leaf(kind, "", false);
            }
            b'-' | b'0'..=b'9' => {
                let start = *pos;
                if b[*pos] == b'-' {
                    *pos += 1;
                }
                let digits = |pos: &mut usize| {
                    let s = *pos;
                    while *pos < b.len() && b[*pos].is_ascii_digit() {
                        *pos += 1;
                    }
                    *pos > s
                };
                let int_start = *pos;
                if !digits(pos) || (b[int_start] == b'0' && *pos - int_start > 1) {
                    return false;
                }
                if b.get(*pos) == Some(&b'.') {
                    *pos += 1;
                    if !digits(pos) {
                        return false;
                    }
                }
                if matches!(b.get(*pos), Some(b'e' | b'E')) {
                    *pos += 1;
                    if matches!(b.get(*pos), Some(b'+' | b'-')) {
                        *pos += 1;
                    }
                    if !digits(pos) {
                        return false;
                    }
                }
                self.leaf(Kind::Number, &text[start..*pos], false);
            }
            _ => return false,
        }
        let next = self.nodes.len() as u32;
        self.nodes[at].next = next;
        true
    }

    fn leaf(&mut self, kind: Kind, text: &'a str, escaped: bool) {
        let next = self.nodes.len() as u32 + 1;
        self.nodes.push(Node {
            kind,
            text,
            count: 0,
            next,
            escaped,
        });
    }

    /// A string starting at the opening quote; control characters and bad escapes are refused.
    fn string(&mut self, text: &'a str, b: &[u8], pos: &mut usize) -> bool {
        let start = *pos + 1;
        let mut i = start;
        let mut escaped = false;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    self.leaf(Kind::Str, &text[start..i], escaped);
                    *pos = i + 1;
                    return true;
                }
                b'\\' => {
                    escaped = true;
                    match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            if i + 6 > b.len() || !b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) {
                                return false;
                            }
                            // Surrogates (pairs or lone ones) are left to the full reader.
                            if matches!(b[i + 2], b'd' | b'D')
                                && matches!(b[i + 3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                            {
                                return false;
                            }
                            i += 6;
                        }
                        _ => return false,
                    }
                }
                0..=0x1f => return false,
                _ => i += 1,
            }
        }
        false
    }

    fn root(&self) -> usize {
        0
    }

    /// The decoded text of a string node (borrowed when it has no escapes).
    fn str_at(&self, i: usize) -> std::borrow::Cow<'a, str> {
        let n = self.nodes[i];
        decode(n.text, n.escaped)
    }

    /// Raw text of a string node, when it is a string.
    pub fn string_field(&self, object: usize, key: &str) -> Option<(&'a str, bool)> {
        let v = self.get(object, key)?;
        let n = self.nodes[v];
        (n.kind == Kind::Str).then_some((n.text, n.escaped))
    }

    /// The value of `key` in the object at `object` (first match).
    pub fn get(&self, object: usize, key: &str) -> Option<usize> {
        if self.nodes.get(object)?.kind != Kind::Object {
            return None;
        }
        self.entries(object).find(|(k, _)| self.key_is(*k, key)).map(|(_, v)| v)
    }

    fn key_is(&self, k: usize, key: &str) -> bool {
        let n = self.nodes[k];
        if n.escaped {
            self.str_at(k) == key
        } else {
            n.text == key
        }
    }

    /// (key node, value node) of an object.
    fn entries(&self, object: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let count = self.nodes[object].count;
        let mut at = object + 1;
        (0..count).map(move |_| {
            let k = at;
            let v = k + 1;
            at = self.nodes[v].next as usize;
            (k, v)
        })
    }

    fn elements(&self, array: usize) -> impl Iterator<Item = usize> + '_ {
        let count = self.nodes[array].count;
        let mut at = array + 1;
        (0..count).map(move |_| {
            let e = at;
            at = self.nodes[e].next as usize;
            e
        })
    }

    /// Whether any object in the tape has the same key twice (the full reader keeps the last one;
    /// this one would see both).
    pub fn has_duplicate_keys(&self) -> bool {
        self.nodes.iter().enumerate().any(|(i, n)| {
            n.kind == Kind::Object
                && n.count > 1
                && self
                    .entries(i)
                    .enumerate()
                    .any(|(a, (ka, _))| self.entries(i).skip(a + 1).any(|(kb, _)| self.raw_key_eq(ka, kb)))
        })
    }

    fn raw_key_eq(&self, a: usize, b: usize) -> bool {
        let (x, y) = (self.nodes[a], self.nodes[b]);
        if !x.escaped && !y.escaped {
            x.text == y.text
        } else {
            self.str_at(a) == self.str_at(b)
        }
    }

    pub fn root_index(&self) -> usize {
        self.root()
    }
}

/// Append a JSON string for raw string content: as written when it has no escapes (valid JSON
/// string content without escapes is exactly how serde_json writes it), else decoded and re-escaped.
pub fn push_json_string(out: &mut String, raw: &str, escaped: bool) {
    if escaped {
        out.push_str(&Value::from(decode(raw, true).as_ref()).to_string());
    } else {
        out.push('"');
        out.push_str(raw);
        out.push('"');
    }
}

/// The text of a JSON string's raw content (between the quotes), escapes decoded.
pub fn decode(raw: &str, escaped: bool) -> std::borrow::Cow<'_, str> {
    if !escaped {
        return std::borrow::Cow::Borrowed(raw);
    }
    match serde_json::from_str::<String>(&format!("\"{raw}\"")) {
        Ok(s) => std::borrow::Cow::Owned(s),
        Err(_) => std::borrow::Cow::Borrowed(raw),
    }
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && matches!(b[pos], b' ' | b'\t' | b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

/// A number node as f64, when that is exact enough to decide: none for long mantissas (where f64
/// would round) or values out of range.
fn number(text: &str) -> Option<f64> {
    let mantissa_digits = text
        .split(['e', 'E'])
        .next()
        .unwrap_or("")
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    if mantissa_digits > 15 {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Three answers: the fast path decides only the first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    Valid,
    Invalid,
    Unknown,
}

impl Fast {
    fn and(self, other: impl FnOnce() -> Fast) -> Fast {
        match self {
            Fast::Valid => other(),
            x => x,
        }
    }
}

const T_NULL: u8 = 1;
const T_BOOL: u8 = 2;
const T_OBJECT: u8 = 4;
const T_ARRAY: u8 = 8;
const T_NUMBER: u8 = 16;
const T_STRING: u8 = 32;
const T_INTEGER: u8 = 64;

/// A compiled schema: a node of the schema, or a reference into the table of compiled nodes.
#[derive(Debug)]
pub enum Schema {
    True,
    False,
    Node(Box<Checks>),
    /// Index into `Compiled::table`.
    Ref(usize),
}

#[derive(Debug, Default)]
pub struct Checks {
    types: Option<u8>,
    properties: Vec<(String, Schema)>,
    additional: Option<Schema>,
    required: Vec<String>,
    items: Option<Schema>,
    tuple: Option<Vec<Schema>>,
    additional_items: Option<Schema>,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    multiple_of: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    all_of: Vec<Schema>,
    any_of: Vec<Schema>,
    one_of: Vec<Schema>,
    not: Option<Schema>,
    if_: Option<Schema>,
    then_: Option<Schema>,
    else_: Option<Schema>,
    property_names: Option<Schema>,
    contains: Option<Schema>,
    dependencies: Vec<(String, Dependency)>,
}

#[derive(Debug)]
enum Dependency {
    Required(Vec<String>),
    Schema(Schema),
}

/// A schema compiled for the fast path, with the targets of its local `$ref`s.
#[derive(Debug)]
pub struct Compiled {
    root: Schema,
    table: Vec<Schema>,
}

/// Keywords that only annotate: ignored by validation.
const ANNOTATIONS: [&str; 9] = [
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

struct Compiler<'s> {
    root: &'s Value,
    table: Vec<Option<Schema>>,
    pointers: Vec<String>,
}

impl Compiled {
    /// Compile `schema`; none when it uses something the fast path does not model exactly.
    pub fn new(schema: &Value) -> Option<Compiled> {
        let mut c = Compiler {
            root: schema,
            table: Vec::new(),
            pointers: Vec::new(),
        };
        let root = c.compile(schema, 0)?;
        let table = c.table.into_iter().collect::<Option<Vec<_>>>()?;
        Some(Compiled { root, table })
    }

    /// Is the tape's root valid?
    pub fn validate(&self, tape: &Tape) -> Fast {
        self.check(&self.root, tape, tape.root_index(), 0)
    }

    fn check(&self, s: &Schema, t: &Tape, i: usize, depth: usize) -> Fast {
        if depth > 64 {
            return Fast::Unknown;
        }
        match s {
            Schema::True => Fast::Valid,
            Schema::False => Fast::Invalid,
            Schema::Ref(r) => self.check(&self.table[*r], t, i, depth + 1),
            Schema::Node(c) => self.checks(c, t, i, depth + 1),
        }
    }

    fn checks(&self, c: &Checks, t: &Tape, i: usize, depth: usize) -> Fast {
        let n = t.nodes[i];
        let number = || if n.kind == Kind::Number { number(n.text) } else { None };
        if let Some(types) = c.types {
            let ok = match n.kind {
                Kind::Null => types & T_NULL != 0,
                Kind::True | Kind::False => types & T_BOOL != 0,
                Kind::Object => types & T_OBJECT != 0,
                Kind::Array => types & T_ARRAY != 0,
                Kind::Str => types & T_STRING != 0,
                Kind::Number => {
                    types & T_NUMBER != 0
                        || (types & T_INTEGER != 0 && {
                            match number() {
                                Some(f) => f.fract() == 0.0,
                                None => return Fast::Unknown,
                            }
                        })
                }
            };
            if !ok {
                return Fast::Invalid;
            }
        }
        if let Some(values) = &c.enumeration {
            match values.iter().map(|v| equal(t, i, v)).find(|r| *r != Some(false)) {
                Some(Some(true)) => {}
                Some(None) => return Fast::Unknown,
                _ => return Fast::Invalid,
            }
        }
        if let Some(v) = &c.constant {
            match equal(t, i, v) {
                Some(true) => {}
                Some(false) => return Fast::Invalid,
                None => return Fast::Unknown,
            }
        }
        let mut result = Fast::Valid;
        match n.kind {
            Kind::Number
                if (c.minimum.is_some()
                    || c.maximum.is_some()
                    || c.exclusive_minimum.is_some()
                    || c.exclusive_maximum.is_some()
                    || c.multiple_of.is_some()) =>
            {
                let Some(f) = number() else { return Fast::Unknown };
                let bad = c.minimum.is_some_and(|m| f < m)
                    || c.maximum.is_some_and(|m| f > m)
                    || c.exclusive_minimum.is_some_and(|m| f <= m)
                    || c.exclusive_maximum.is_some_and(|m| f >= m);
                if bad {
                    return Fast::Invalid;
                }
                if let Some(m) = c.multiple_of {
                    // Only integers divide exactly in f64; the rest goes to the full path.
                    if f.fract() != 0.0 || m.fract() != 0.0 || f.abs() > 9.0e15 {
                        return Fast::Unknown;
                    }
                    if f % m != 0.0 {
                        return Fast::Invalid;
                    }
                }
            }
            Kind::Str if (c.min_length.is_some() || c.max_length.is_some()) => {
                let len = t.str_at(i).chars().count() as u64;
                if c.min_length.is_some_and(|m| len < m) || c.max_length.is_some_and(|m| len > m) {
                    return Fast::Invalid;
                }
            }
            Kind::Array => {
                let len = n.count as u64;
                if c.min_items.is_some_and(|m| len < m) || c.max_items.is_some_and(|m| len > m) {
                    return Fast::Invalid;
                }
                if c.unique_items {
                    for (a, x) in t.elements(i).enumerate() {
                        for y in t.elements(i).skip(a + 1) {
                            match same(t, x, y) {
                                Some(true) => return Fast::Invalid,
                                Some(false) => {}
                                None => return Fast::Unknown,
                            }
                        }
                    }
                }
                for (k, e) in t.elements(i).enumerate() {
                    let s = match (&c.tuple, &c.items) {
                        (Some(tuple), _) => tuple.get(k).or(c.additional_items.as_ref()),
                        (None, Some(items)) => Some(items),
                        (None, None) => None,
                    };
                    if let Some(s) = s {
                        result = result.and(|| self.check(s, t, e, depth));
                        if result == Fast::Invalid {
                            return result;
                        }
                    }
                }
                if let Some(s) = &c.contains {
                    let mut any = Fast::Invalid;
                    for e in t.elements(i) {
                        match self.check(s, t, e, depth) {
                            Fast::Valid => {
                                any = Fast::Valid;
                                break;
                            }
                            Fast::Unknown => any = Fast::Unknown,
                            Fast::Invalid => {}
                        }
                    }
                    if any != Fast::Valid {
                        return any;
                    }
                }
            }
            Kind::Object => {
                let len = n.count as u64;
                if c.min_properties.is_some_and(|m| len < m) || c.max_properties.is_some_and(|m| len > m) {
                    return Fast::Invalid;
                }
                for r in &c.required {
                    if t.get(i, r).is_none() {
                        return Fast::Invalid;
                    }
                }
                for (k, v) in t.entries(i) {
                    let key = t.str_at(k);
                    let declared = c.properties.iter().find(|(name, _)| *name == key);
                    let s = match declared {
                        Some((_, s)) => Some(s),
                        None => c.additional.as_ref(),
                    };
                    if let Some(s) = s {
                        result = result.and(|| self.check(s, t, v, depth));
                        if result == Fast::Invalid {
                            return result;
                        }
                    }
                    if let Some(s) = &c.property_names {
                        result = result.and(|| self.check(s, t, k, depth));
                        if result == Fast::Invalid {
                            return result;
                        }
                    }
                }
                for (key, dep) in &c.dependencies {
                    if t.get(i, key).is_none() {
                        continue;
                    }
                    match dep {
                        Dependency::Required(names) => {
                            if names.iter().any(|name| t.get(i, name).is_none()) {
                                return Fast::Invalid;
                            }
                        }
                        Dependency::Schema(s) => {
                            result = result.and(|| self.check(s, t, i, depth));
                            if result == Fast::Invalid {
                                return result;
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        for s in &c.all_of {
            result = result.and(|| self.check(s, t, i, depth));
            if result == Fast::Invalid {
                return result;
            }
        }
        if !c.any_of.is_empty() {
            let mut any = Fast::Invalid;
            for s in &c.any_of {
                match self.check(s, t, i, depth) {
                    Fast::Valid => {
                        any = Fast::Valid;
                        break;
                    }
                    Fast::Unknown => any = Fast::Unknown,
                    Fast::Invalid => {}
                }
            }
            result = result.and(|| any);
            if result == Fast::Invalid {
                return result;
            }
        }
        if !c.one_of.is_empty() {
            let mut valid = 0;
            for s in &c.one_of {
                match self.check(s, t, i, depth) {
                    Fast::Valid => valid += 1,
                    Fast::Unknown => return Fast::Unknown,
                    Fast::Invalid => {}
                }
            }
            if valid != 1 {
                return Fast::Invalid;
            }
        }
        if let Some(s) = &c.not {
            match self.check(s, t, i, depth) {
                Fast::Valid => return Fast::Invalid,
                Fast::Unknown => return Fast::Unknown,
                Fast::Invalid => {}
            }
        }
        if let Some(cond) = &c.if_ {
            let branch = match self.check(cond, t, i, depth) {
                Fast::Valid => c.then_.as_ref(),
                Fast::Invalid => c.else_.as_ref(),
                Fast::Unknown => return Fast::Unknown,
            };
            if let Some(s) = branch {
                result = result.and(|| self.check(s, t, i, depth));
            }
        }
        result
    }
}

impl<'s> Compiler<'s> {
    fn compile(&mut self, s: &'s Value, depth: usize) -> Option<Schema> {
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
            return self.reference(r.as_str()?);
        }
        let mut c = Checks::default();
        let sub = |me: &mut Self, v: &'s Value| me.compile(v, depth + 1);
        let count = |v: &Value| v.as_u64();
        let num = |v: &Value| v.as_f64().filter(|f| f.is_finite());
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
                "enum" => c.enumeration = Some(v.as_array()?.clone()),
                "const" => c.constant = Some(v.clone()),
                "minimum" => c.minimum = Some(num(v)?),
                "maximum" => c.maximum = Some(num(v)?),
                "exclusiveMinimum" => c.exclusive_minimum = Some(num(v)?),
                "exclusiveMaximum" => c.exclusive_maximum = Some(num(v)?),
                "multipleOf" => c.multiple_of = Some(num(v).filter(|m| *m > 0.0)?),
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
        Some(Schema::Node(Box::new(c)))
    }

    /// A local `$ref` (`#` or `#/json/pointer`), compiled once into the table.
    fn reference(&mut self, r: &str) -> Option<Schema> {
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

fn percent_decode(s: &str) -> Option<String> {
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

/// JSON equality of a tape node and a value (numbers by value); none when unsure.
fn equal(t: &Tape, i: usize, v: &Value) -> Option<bool> {
    let n = t.nodes[i];
    Some(match (n.kind, v) {
        (Kind::Null, Value::Null) => true,
        (Kind::True, Value::Bool(b)) => *b,
        (Kind::False, Value::Bool(b)) => !*b,
        (Kind::Number, Value::Number(x)) => {
            let a = number(n.text)?;
            let b = x.as_f64()?;
            // A large integer in the schema is not exact as f64.
            if !x.is_f64() && b.abs() >= 9.0e15 {
                return None;
            }
            a == b
        }
        (Kind::Str, Value::String(s)) => t.str_at(i) == s.as_str(),
        (Kind::Array, Value::Array(items)) => {
            if n.count as usize != items.len() {
                return Some(false);
            }
            for (e, item) in t.elements(i).zip(items) {
                if !equal(t, e, item)? {
                    return Some(false);
                }
            }
            true
        }
        (Kind::Object, Value::Object(m)) => {
            if n.count as usize != m.len() {
                return Some(false);
            }
            for (k, val) in t.entries(i) {
                match m.get(t.str_at(k).as_ref()) {
                    Some(other) => {
                        if !equal(t, val, other)? {
                            return Some(false);
                        }
                    }
                    None => return Some(false),
                }
            }
            true
        }
        _ => false,
    })
}

/// JSON equality of two tape nodes; none when unsure.
fn same(t: &Tape, a: usize, b: usize) -> Option<bool> {
    let (x, y) = (t.nodes[a], t.nodes[b]);
    Some(match (x.kind, y.kind) {
        (Kind::Null, Kind::Null) | (Kind::True, Kind::True) | (Kind::False, Kind::False) => true,
        (Kind::Number, Kind::Number) => number(x.text)? == number(y.text)?,
        (Kind::Str, Kind::Str) => t.str_at(a) == t.str_at(b),
        (Kind::Array, Kind::Array) => {
            if x.count != y.count {
                return Some(false);
            }
            for (p, q) in t.elements(a).zip(t.elements(b)) {
                if !same(t, p, q)? {
                    return Some(false);
                }
            }
            true
        }
        (Kind::Object, Kind::Object) => {
            if x.count != y.count {
                return Some(false);
            }
            for (k, v) in t.entries(a) {
                let Some(w) = t.get(b, &t.str_at(k)) else {
                    return Some(false);
                };
                if !same(t, v, w)? {
                    return Some(false);
                }
            }
            true
        }
        _ => false,
    })
}

/// The event's top-level fields the matcher needs, read from the tape.
pub struct Envelope<'a> {
    pub event_type: (&'a str, bool),
    pub event: Option<(&'a str, bool)>,
    pub version: Option<(&'a str, bool)>,
}

impl<'a> Tape<'a> {
    pub fn envelope(&self) -> Option<Envelope<'a>> {
        let root = self.root();
        if self.nodes.first()?.kind != Kind::Object {
            return None;
        }
        let version = self
            .get(root, "context")
            .and_then(|c| self.get(c, "htevents"))
            .and_then(|h| self.string_field(h, "schemaVersion"));
        Some(Envelope {
            event_type: self.string_field(root, "type")?,
            event: self.string_field(root, "event"),
            version,
        })
    }

    /// Does the event have a field the shape does not declare? (Same rules as `Shape::undeclared`.)
    pub fn has_undeclared(&self, shape: &super::Shape, built_in: bool) -> bool {
        self.undeclared_at(shape, self.root(), built_in, true)
    }

    fn undeclared_at(&self, shape: &super::Shape, i: usize, built_in: bool, top: bool) -> bool {
        if matches!(shape, super::Shape::Open) {
            return false;
        }
        match self.nodes[i].kind {
            Kind::Object => self.entries(i).any(|(k, v)| {
                let key = self.str_at(k);
                if top && built_in && super::is_built_in(&key) {
                    return false;
                }
                match shape.for_key(&key) {
                    Some(s) => self.undeclared_at(s, v, built_in, false),
                    None => true,
                }
            }),
            Kind::Array => self.elements(i).enumerate().any(|(k, e)| {
                shape
                    .for_index(k)
                    .is_some_and(|s| self.undeclared_at(s, e, built_in, false))
            }),
            _ => false,
        }
    }
}
