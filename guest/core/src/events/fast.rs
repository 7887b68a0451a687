//! The fast path for the common event: one that matches a declared event and has no undeclared
//! field. The event is read into a flat tape of byte offsets into its text (no tree of owned maps and
//! strings) and checked against a compiled form of the draft-7 keywords it supports. A valid event's
//! verdict is decided here; so is an invalid one's when it breaks exactly one keyword whose message
//! this module writes as `jsonschema` does (`explain`).
//!
//! It only ever decides when `jsonschema` would decide the same: anything it does not model exactly
//! (a `format`, `pattern`, `multipleOf` on non-integers, `$id`, remote `$ref`s, very long numbers,
//! duplicate keys, several violations…) makes it answer `Unknown`, and the full path decides.
//! `tests.rs` runs the official draft-7 suite through both and compares.

use serde_json::Value;
use std::borrow::Cow;

mod layout;
pub(crate) use layout::Layouts;

/// What a tape node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    True,
    False,
    Number,
    /// A string; its span is the raw content between the quotes (escapes not decoded).
    Str,
    /// `count` children follow (objects: key, value, key, value…).
    Array,
    Object,
}

/// One value of the event. Offsets, not slices: half the size natively, and the tape is rewritten
/// for every event.
#[derive(Clone, Copy, Debug)]
struct Node {
    kind: Kind,
    /// Strings: the raw text contains a backslash.
    escaped: bool,
    /// Arrays: elements; objects: entries.
    count: u32,
    /// The index just past this node's subtree.
    next: u32,
    /// Strings: just after the opening quote; everything else: the first byte.
    start: u32,
    /// Strings: the closing quote; everything else: just past the last byte.
    end: u32,
}

/// A string, number or literal of an event: what the keywords on a single value look at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scalar<'a> {
    kind: Kind,
    /// The text as written (a string's content between its quotes, escapes not decoded).
    raw: &'a str,
    /// Strings: `raw` contains a backslash.
    escaped: bool,
}

impl<'a> Scalar<'a> {
    /// A string's text with escapes decoded (borrowed when it has none).
    #[inline(always)]
    fn text(&self) -> Cow<'a, str> {
        decode(self.raw, self.escaped)
    }
}

/// An event read into a tape. Reused across events to keep allocation out of the loop.
#[derive(Default)]
pub struct Tape<'a> {
    text: &'a str,
    nodes: Vec<Node>,
    /// The containers still open while reading.
    open: Vec<u32>,
}

const MAX_DEPTH: usize = 128;

impl<'a> Tape<'a> {
    /// Read `text`; false when it is not JSON this reader handles (the full path then decides).
    /// One loop with an explicit stack: no call per value, which matters most inside WebAssembly.
    pub fn read(&mut self, text: &'a str) -> bool {
        self.text = text;
        self.nodes.clear();
        self.open.clear();
        let b = text.as_bytes();
        if b.len() >= u32::MAX as usize {
            return false;
        }
        let mut pos = skip_ws(b, 0);
        loop {
            // A value starts at `pos`.
            let Some(&c) = b.get(pos) else { return false };
            match c {
                b'"' => match self.string(b, pos) {
                    Some(p) => pos = p,
                    None => return false,
                },
                b'-' | b'0'..=b'9' => match number_end(b, pos) {
                    Some(e) => {
                        self.leaf(Kind::Number, pos, e, false);
                        pos = e;
                    }
                    None => return false,
                },
                b'{' | b'[' => {
                    if self.open.len() >= MAX_DEPTH {
                        return false;
                    }
                    let at = self.nodes.len() as u32;
                    let (kind, close) = if c == b'{' {
                        (Kind::Object, b'}')
                    } else {
                        (Kind::Array, b']')
                    };
                    self.nodes.push(Node {
                        kind,
                        escaped: false,
                        count: 0,
                        next: at + 1,
                        start: pos as u32,
                        end: pos as u32 + 2,
                    });
                    pos = skip_ws(b, pos + 1);
                    if b.get(pos) == Some(&close) {
                        // Empty: complete already.
                        pos += 1;
                        self.nodes[at as usize].end = pos as u32;
                    } else {
                        self.open.push(at);
                        if kind == Kind::Object {
                            match self.key(b, pos) {
                                Some(p) => pos = p,
                                None => return false,
                            }
                        }
                        continue;
                    }
                }
                b't' | b'f' | b'n' => {
                    let (word, kind): (&[u8], Kind) = match c {
                        b't' => (b"true", Kind::True),
                        b'f' => (b"false", Kind::False),
                        _ => (b"null", Kind::Null),
                    };
                    if !b[pos..].starts_with(word) {
                        return false;
                    }
                    self.leaf(kind, pos, pos + word.len(), false);
                    pos += word.len();
                }
                _ => return false,
            }
            // A value is complete: go on in its container, close containers, or finish.
            loop {
                let Some(&top) = self.open.last() else {
                    return skip_ws(b, pos) == b.len();
                };
                let top = top as usize;
                self.nodes[top].count += 1;
                pos = skip_ws(b, pos);
                let object = self.nodes[top].kind == Kind::Object;
                match b.get(pos) {
                    Some(b',') => {
                        pos = skip_ws(b, pos + 1);
                        if object {
                            match self.key(b, pos) {
                                Some(p) => pos = p,
                                None => return false,
                            }
                        }
                        break;
                    }
                    Some(b'}') if object => {}
                    Some(b']') if !object => {}
                    _ => return false,
                }
                pos += 1;
                self.open.pop();
                let next = self.nodes.len() as u32;
                let n = &mut self.nodes[top];
                n.end = pos as u32;
                n.next = next;
            }
        }
    }

    /// A key at `pos` and its colon; the position of its value.
    #[inline(always)]
    fn key(&mut self, b: &[u8], pos: usize) -> Option<usize> {
        if b.get(pos) != Some(&b'"') {
            return None;
        }
        let p = skip_ws(b, self.string(b, pos)?);
        if b.get(p) != Some(&b':') {
            return None;
        }
        Some(skip_ws(b, p + 1))
    }

    #[inline(always)]
    fn leaf(&mut self, kind: Kind, start: usize, end: usize, escaped: bool) {
        let next = self.nodes.len() as u32 + 1;
        self.nodes.push(Node {
            kind,
            escaped,
            count: 0,
            next,
            start: start as u32,
            end: end as u32,
        });
    }

    /// A string starting at the opening quote; the position after its closing quote.
    #[inline(always)]
    fn string(&mut self, b: &[u8], pos: usize) -> Option<usize> {
        let (end, escaped) = scan_string(b, pos)?;
        self.leaf(Kind::Str, pos + 1, end, escaped);
        Some(end + 1)
    }

    /// A string, number or literal node.
    #[inline(always)]
    fn scalar(&self, i: usize) -> Scalar<'a> {
        let n = self.nodes[i];
        Scalar {
            kind: n.kind,
            raw: self.raw(i),
            escaped: n.escaped,
        }
    }

    /// The raw bytes of a node (a string's content without its quotes).
    #[inline(always)]
    fn bytes(&self, i: usize) -> &'a [u8] {
        let n = self.nodes[i];
        &self.text.as_bytes()[n.start as usize..n.end as usize]
    }

    /// The raw text of a node (a string's content without its quotes).
    #[inline(always)]
    fn raw(&self, i: usize) -> &'a str {
        let n = self.nodes[i];
        let bytes = &self.text.as_bytes()[n.start as usize..n.end as usize];
        debug_assert!(self.text.is_char_boundary(n.start as usize) && self.text.is_char_boundary(n.end as usize));
        // SAFETY: every offset the reader records is next to an ASCII byte it matched (a quote, a
        // bracket, a digit, a letter of a literal) or is the text's end, so it is a char boundary
        // of `text` and the bytes between two of them are UTF-8. (Skips `str` slicing's boundary
        // checks, which were 4% of the component's time.)
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The whole JSON text of a node (a string with its quotes).
    fn json(&self, i: usize) -> &'a str {
        let n = self.nodes[i];
        if n.kind == Kind::Str {
            &self.text[n.start as usize - 1..n.end as usize + 1]
        } else {
            self.raw(i)
        }
    }

    /// The decoded text of a string node (borrowed when it has no escapes).
    #[inline(always)]
    fn str_at(&self, i: usize) -> Cow<'a, str> {
        decode(self.raw(i), self.nodes[i].escaped)
    }

    /// Raw text of a string node, when it is a string.
    #[inline(always)]
    fn string_value(&self, v: usize) -> Option<(&'a str, bool)> {
        let n = self.nodes[v];
        (n.kind == Kind::Str).then(|| (self.raw(v), n.escaped))
    }

    /// The value of `key` in the object at `object` (first match).
    fn get(&self, object: usize, key: &str) -> Option<usize> {
        if self.nodes.get(object)?.kind != Kind::Object {
            return None;
        }
        self.entries(object).find(|(k, _)| self.key_is(*k, key)).map(|(_, v)| v)
    }

    #[inline(always)]
    fn key_is(&self, k: usize, key: &str) -> bool {
        if self.nodes[k].escaped {
            self.str_at(k) == key
        } else {
            eq_bytes(self.bytes(k), key.as_bytes())
        }
    }

    /// (key node, value node) of an object.
    #[inline(always)]
    fn entries(&self, object: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let count = self.nodes[object].count;
        let mut at = object + 1;
        (0..count).map(move |_| {
            let k = at;
            at = self.nodes[k + 1].next as usize;
            (k, k + 1)
        })
    }

    #[inline(always)]
    fn elements(&self, array: usize) -> impl Iterator<Item = usize> + '_ {
        let count = self.nodes[array].count;
        let mut at = array + 1;
        (0..count).map(move |_| {
            let e = at;
            at = self.nodes[e].next as usize;
            e
        })
    }

    /// Whether any object in the tape has the same key twice (the judging path checks only where it
    /// matters; a layout once, for explaining).
    pub(crate) fn has_duplicate_keys(&self) -> bool {
        (0..self.nodes.len()).any(|i| self.object_has_duplicates(i))
    }

    /// Whether the object at `i` has the same key twice (false for anything else).
    fn object_has_duplicates(&self, i: usize) -> bool {
        let n = self.nodes[i];
        if n.kind != Kind::Object || n.count < 2 {
            return false;
        }
        if n.count > 16 {
            // Sorting beats comparing every pair once objects grow.
            let mut keys: Vec<Cow<str>> = self.entries(i).map(|(k, _)| self.str_at(k)).collect();
            keys.sort_unstable();
            return keys.windows(2).any(|w| w[0] == w[1]);
        }
        let mut a = i + 1;
        for x in 1..n.count {
            let mut b = self.nodes[a + 1].next as usize;
            for _ in x..n.count {
                if self.same_key(a, b) {
                    return true;
                }
                b = self.nodes[b + 1].next as usize;
            }
            a = self.nodes[a + 1].next as usize;
        }
        false
    }

    #[inline(always)]
    fn same_key(&self, a: usize, b: usize) -> bool {
        let (x, y) = (self.nodes[a], self.nodes[b]);
        if !x.escaped && !y.escaped {
            eq_bytes(self.bytes(a), self.bytes(b))
        } else {
            self.str_at(a) == self.str_at(b)
        }
    }

    /// The JSONPath of node `target` (`$.properties.items[1].qty`), found by descending from the root
    /// into the child whose subtree holds it. Only asked for a violation, so no path is kept while
    /// validating.
    fn path_to(&self, target: usize) -> String {
        let mut path = String::from("$");
        let mut at = 0;
        while at != target {
            let n = self.nodes[at];
            let mut found = None;
            match n.kind {
                Kind::Object => {
                    for (k, v) in self.entries(at) {
                        if v <= target && target < self.nodes[v].next as usize {
                            super::push_key(&mut path, &self.str_at(k));
                            found = Some(v);
                            break;
                        }
                    }
                }
                Kind::Array => {
                    for (x, e) in self.elements(at).enumerate() {
                        if e <= target && target < self.nodes[e].next as usize {
                            path.push_str(&format!("[{x}]"));
                            found = Some(e);
                            break;
                        }
                    }
                }
                _ => {}
            }
            match found {
                Some(v) => at = v,
                None => break,
            }
        }
        path
    }

    /// A node as `serde_json` displays it (how `jsonschema` writes the instance in a message).
    fn display(&self, i: usize) -> Option<String> {
        display(self.json(i))
    }
}

/// JSON text as `serde_json` displays it (how `jsonschema` writes the instance in a message).
fn display(json: &str) -> Option<String> {
    serde_json::from_str::<Value>(json).ok().map(|v| v.to_string())
}

/// The lines of a batch (`\n` or `\r\n` ends, as `str::lines`), found eight bytes at a time.
pub struct Lines<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lines<'a> {
    pub fn new(text: &'a str) -> Lines<'a> {
        Lines { text, pos: 0 }
    }

    /// The text from the next line on.
    pub fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    /// Go on `n` bytes further (past a line found another way).
    pub fn advance(&mut self, n: usize) {
        self.pos += n;
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let b = self.text.as_bytes();
        let start = self.pos;
        if start >= b.len() {
            return None;
        }
        let mut i = start;
        while let Some(chunk) = b.get(i..i + 8) {
            let x = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) ^ (ONES * u64::from(b'\n'));
            let m = x.wrapping_sub(ONES) & !x & HIGH;
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while i < b.len() && b[i] != b'\n' {
            i += 1;
        }
        self.pos = i + 1;
        let line = &self.text[start..i];
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

/// Byte equality without a call to `memcmp` (inside WebAssembly that is an out-of-line byte loop, and
/// keys are short): eight bytes per compare, and the last (or only) bytes in overlapping words
/// rather than a byte loop.
#[inline(always)]
pub(crate) fn eq_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or_default());
    if n >= 8 {
        let mut i = 0;
        while i + 8 < n {
            if word(a, i) != word(b, i) {
                return false;
            }
            i += 8;
        }
        return word(a, n - 8) == word(b, n - 8);
    }
    if n >= 4 {
        return half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4);
    }
    match n {
        0 => true,
        1 => a[0] == b[0],
        2 => a[..2] == b[..2],
        _ => a[..2] == b[..2] && a[2] == b[2],
    }
}

/// A mask with the high bit set in every byte of `w` that is a quote, a backslash or a control
/// character; only its lowest set bit is exact (borrows can flag bytes above a real hit), which is the
/// one the reader uses.
#[inline(always)]
fn specials(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let quote = w ^ (ONES * b'"' as u64);
    let backslash = w ^ (ONES * b'\\' as u64);
    let zero = |x: u64| x.wrapping_sub(ONES) & !x;
    (zero(quote) | zero(backslash) | (w.wrapping_sub(ONES * 0x20) & !w)) & HIGH
}

/// The string whose opening quote is at `pos`: where its closing quote is, and whether it has
/// escapes. Control characters and bad escapes are refused. Eight bytes at a time until something
/// needs a look.
#[inline(always)]
fn scan_string(b: &[u8], pos: usize) -> Option<(usize, bool)> {
    let mut i = pos + 1;
    let mut escaped = false;
    loop {
        while let Some(chunk) = b.get(i..i + 8) {
            let m = specials(u64::from_le_bytes(chunk.try_into().ok()?));
            if m != 0 {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match *b.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                match b.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        let hex = b.get(i + 2..i + 6)?;
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        // Surrogates (pairs or lone ones) are left to the full reader.
                        if matches!(hex[0], b'd' | b'D') && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F') {
                            return None;
                        }
                        i += 6;
                    }
                    _ => return None,
                }
            }
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// Where the number starting at `p` ends; none when it is not a JSON number.
#[inline(always)]
fn number_end(b: &[u8], mut p: usize) -> Option<usize> {
    let start = p;
    let digits = |p: &mut usize| {
        let s = *p;
        while *p < b.len() && b[*p].is_ascii_digit() {
            *p += 1;
        }
        *p > s
    };
    if b[p] == b'-' {
        p += 1;
    }
    let int = p;
    if !digits(&mut p) || (b[int] == b'0' && p - int > 1) {
        return None;
    }
    if b.get(p) == Some(&b'.') {
        p += 1;
        if !digits(&mut p) {
            return None;
        }
    }
    if matches!(b.get(p), Some(b'e' | b'E')) {
        p += 1;
        if matches!(b.get(p), Some(b'+' | b'-')) {
            p += 1;
        }
        if !digits(&mut p) || !in_range(&b[start..p]) {
            return None;
        }
    } else if p - start > 300 && !in_range(&b[start..p]) {
        return None;
    }
    Some(p)
}

/// Whether a number is within f64's range: the full reader refuses the others ("number out of
/// range"), so the fast path must not take them.
#[inline(never)]
fn in_range(text: &[u8]) -> bool {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .is_some_and(f64::is_finite)
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
#[inline(always)]
pub fn decode(raw: &str, escaped: bool) -> Cow<'_, str> {
    if !escaped {
        return Cow::Borrowed(raw);
    }
    match serde_json::from_str::<String>(&format!("\"{raw}\"")) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed(raw),
    }
}

#[inline(always)]
fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && matches!(b[pos], b' ' | b'\t' | b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

/// Powers of ten exact in f64.
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A number node as f64, when that is exact enough to decide: none for long mantissas (where f64
/// would round) or values out of range. Plain decimals skip the general parser: with at most 15
/// digits the mantissa and the power of ten are exact, so one division rounds correctly, giving the
/// same f64 as `str::parse`.
#[inline(always)]
fn number(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (mut mantissa, mut count, mut fraction, mut seen_dot) = (0u64, 0usize, 0usize, false);
    let mut plain = true;
    for &c in digits {
        match c {
            b'0'..=b'9' => {
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                count += 1;
                fraction += usize::from(seen_dot);
            }
            b'.' => seen_dot = true,
            _ => {
                plain = false;
                break;
            }
        }
    }
    if plain && count <= 15 {
        let f = mantissa as f64 / POW10[fraction];
        return Some(if negative { -f } else { f });
    }
    number_general(text)
}

/// `number` for exponents and long mantissas: out of line, so the common case stays small.
#[inline(never)]
fn number_general(text: &str) -> Option<f64> {
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

/// Three answers: the fast path decides only the first two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    Valid,
    Invalid,
    Unknown,
}

const T_NULL: u8 = 1;
const T_BOOL: u8 = 2;
const T_OBJECT: u8 = 4;
const T_ARRAY: u8 = 8;
const T_NUMBER: u8 = 16;
const T_STRING: u8 = 32;
const T_INTEGER: u8 = 64;

/// The names `jsonschema` writes for a single type.
fn type_name(t: u8) -> Option<&'static str> {
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
const G_ENUM: u8 = 1;
const G_NUMBER: u8 = 2;
const G_STRING: u8 = 4;
const G_ARRAY: u8 = 8;
const G_OBJECT: u8 = 16;
const G_COMBINE: u8 = 32;

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
struct Limit {
    value: f64,
    shown: String,
}

#[derive(Debug, Default)]
pub struct Checks {
    groups: u8,
    /// Only annotations: nothing below is an undeclared field (`Shape::Open`).
    open: bool,
    /// A keyword here looks at keys that are not declared properties (or there are too many
    /// properties for the seen-mask): duplicate keys must be ruled out for the whole object.
    counts_every_key: bool,
    types: Option<u8>,
    properties: Vec<(String, Schema)>,
    additional: Option<Schema>,
    required: Vec<String>,
    /// `required` names that are declared properties, as bits of their index in `properties`.
    required_declared: u64,
    /// The other `required` names.
    required_other: Vec<String>,
    items: Option<Schema>,
    tuple: Option<Vec<Schema>>,
    additional_items: Option<Schema>,
    enumeration: Option<Vec<Value>>,
    /// `enum` when every option is a string (the usual case): compared as bytes, no `Value` walk.
    enum_strings: Option<Vec<String>>,
    constant: Option<Value>,
    minimum: Option<Limit>,
    maximum: Option<Limit>,
    exclusive_minimum: Option<Limit>,
    exclusive_maximum: Option<Limit>,
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
    simple: bool,
}

/// Fold one more answer into `result`: it is computed only while everything so far is valid, and the
/// walk stops at the first invalid one. (A macro, not a method taking a closure: inside WebAssembly
/// the closure stayed a call of its own on the hottest loop.)
macro_rules! fold {
    ($result:ident, $next:expr) => {
        if $result == Fast::Valid {
            $result = $next;
        }
        if $result == Fast::Invalid {
            return $result;
        }
    };
}

/// How the validation walk applies the keywords on a value itself (`scalar_checks`): now, or — when
/// planning for a layout — later, for the strings and numbers that change from event to event.
/// (A type parameter, so the judging walk is compiled without a trace of planning.)
trait Values<'c> {
    fn check(&mut self, c: &'c Checks, t: &Tape, i: usize) -> Fast;
}

/// Check values as the walk meets them.
struct Now;

impl<'c> Values<'c> for Now {
    #[inline(always)]
    fn check(&mut self, c: &'c Checks, t: &Tape, i: usize) -> Fast {
        scalar_checks(c, t, i)
    }
}

/// Node index to place among a layout's changing values; `FIXED` for the rest.
pub(crate) const FIXED: u32 = u32::MAX;

/// Note the keywords of changing values instead of checking them; check the rest (keys, literals,
/// containers' types) now, since every event of the layout has them as they are here.
struct Later<'c, 'p> {
    place_of: &'p [u32],
    plan: Vec<(u32, &'c Checks)>,
}

impl<'c> Values<'c> for Later<'c, '_> {
    fn check(&mut self, c: &'c Checks, t: &Tape, i: usize) -> Fast {
        match self.place_of.get(i).copied().unwrap_or(FIXED) {
            FIXED => {
                // Keywords that read the values inside an array or object differ by event.
                let container = matches!(t.nodes[i].kind, Kind::Array | Kind::Object);
                if container
                    && (c.groups & (G_ENUM | G_COMBINE) != 0
                        || c.unique_items
                        || c.contains.is_some()
                        || !c.dependencies.is_empty())
                {
                    return Fast::Unknown;
                }
                scalar_checks(c, t, i)
            }
            place => {
                self.plan.push((place, c));
                Fast::Valid
            }
        }
    }
}

/// The keywords each changing value of a layout must pass: (place, keywords), in walk order.
pub(crate) struct Plan<'c>(Vec<(u32, &'c Checks)>);

impl Plan<'_> {
    /// Valid when every value passes; `Invalid` or `Unknown` at the first that does not (the
    /// judging path then reads the event and decides as usual).
    #[inline(never)]
    pub(crate) fn check<'a>(&self, value: impl Fn(usize) -> Scalar<'a>) -> Fast {
        for (place, c) in &self.0 {
            let r = leaf_checks(c, value(*place as usize));
            if r != Fast::Valid {
                return r;
            }
        }
        Fast::Valid
    }
}

/// Whether a walk also looks for undeclared fields, and whether it is at the top level with the
/// built-in envelope fields counted as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fields {
    Off,
    On,
    TopBuiltIn,
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
    /// A `$ref`, `allOf`/`anyOf`/`oneOf` or an empty tuple was seen: the declared fields are not
    /// simply each node's own (see `Compiled::simple`).
    folded: bool,
}

/// A broken keyword found by `explain`, as `jsonschema` reports it.
#[derive(Debug)]
enum Failure {
    Type,
    Enum,
    Const,
    Minimum,
    Maximum,
    ExclusiveMinimum,
    ExclusiveMaximum,
    MinLength(u64),
    MaxLength(u64),
    MinItems(u64),
    MaxItems(u64),
    MinProperties(u64),
    MaxProperties(u64),
    Required(String),
}

struct Problem<'c> {
    node: usize,
    checks: &'c Checks,
    failure: Failure,
}

impl Problem<'_> {
    /// The message `jsonschema` writes for this failure (its `ValidationError` display).
    fn message(&self, instance: impl FnOnce() -> Option<String>) -> Option<String> {
        let c = self.checks;
        let plural = |n: u64, one: &'static str, many: &'static str| if n == 1 { one } else { many };
        if let Failure::Required(name) = &self.failure {
            return Some(format!("{} is a required property", Value::from(name.as_str())));
        }
        let inst = instance()?;
        Some(match &self.failure {
            Failure::Type => format!("{inst} is not of type \"{}\"", type_name(c.types?)?),
            Failure::Enum => {
                let options = c.enumeration.as_ref()?;
                let mut m = format!("{inst} is not one of ");
                if options.len() <= 3 {
                    for (i, o) in options.iter().enumerate() {
                        let sep = match i {
                            0 => "",
                            _ if i == options.len() - 1 => " or ",
                            _ => ", ",
                        };
                        m.push_str(&format!("{sep}{o}"));
                    }
                } else {
                    m.push_str(&format!(
                        "{}, {} or {} other candidates",
                        options[0],
                        options[1],
                        options.len() - 2
                    ));
                }
                m
            }
            Failure::Const => format!("{} was expected", c.constant.as_ref()?),
            Failure::Minimum => format!("{inst} is less than the minimum of {}", c.minimum.as_ref()?.shown),
            Failure::Maximum => format!("{inst} is greater than the maximum of {}", c.maximum.as_ref()?.shown),
            Failure::ExclusiveMinimum => format!(
                "{inst} is less than or equal to the minimum of {}",
                c.exclusive_minimum.as_ref()?.shown
            ),
            Failure::ExclusiveMaximum => format!(
                "{inst} is greater than or equal to the maximum of {}",
                c.exclusive_maximum.as_ref()?.shown
            ),
            Failure::MinLength(l) => format!("{inst} is shorter than {l} {}", plural(*l, "character", "characters")),
            Failure::MaxLength(l) => format!("{inst} is longer than {l} {}", plural(*l, "character", "characters")),
            Failure::MinItems(l) => format!("{inst} has less than {l} {}", plural(*l, "item", "items")),
            Failure::MaxItems(l) => format!("{inst} has more than {l} {}", plural(*l, "item", "items")),
            Failure::MinProperties(l) => format!("{inst} has less than {l} {}", plural(*l, "property", "properties")),
            Failure::MaxProperties(l) => format!("{inst} has more than {l} {}", plural(*l, "property", "properties")),
            Failure::Required(_) => return None,
        })
    }
}

impl Compiled {
    /// Compile `schema`; none when it uses something the fast path does not model exactly.
    pub fn new(schema: &Value) -> Option<Compiled> {
        let mut c = Compiler {
            root: schema,
            table: Vec::new(),
            pointers: Vec::new(),
            folded: false,
        };
        let root = c.compile(schema, 0)?;
        let simple = !c.folded;
        let table = c.table.into_iter().collect::<Option<Vec<_>>>()?;
        Some(Compiled { root, table, simple })
    }

    /// Is the tape's root valid?
    pub fn validate(&self, tape: &Tape) -> Fast {
        self.check(&self.root, tape, 0, 0)
    }

    /// Whether `validate_declared` can stand in for validation plus `Tape::has_undeclared`: the
    /// schema has no `$ref` and no `allOf`/`anyOf`/`oneOf`, so which fields it declares at each place
    /// is what its own `properties`, `additionalProperties` and `items` say.
    pub fn simple(&self) -> bool {
        self.simple
    }

    /// Validation and the search for undeclared fields in one walk (only for `simple` schemas): an
    /// undeclared field answers `Unknown`, which sends the event to the full path. `Invalid` comes as
    /// soon as something breaks, so fields further on are not looked at.
    pub fn validate_declared(&self, tape: &Tape, built_in: bool) -> Fast {
        let fields = if built_in { Fields::TopBuiltIn } else { Fields::On };
        self.check_fields(&self.root, tape, 0, 0, fields, &mut Now)
    }

    /// `validate_declared` with the keywords on strings and numbers left out, for events laid out
    /// like `tape` (same keys and structure, other values; see `layout.rs`): the keywords each such
    /// value must pass, by its place among them (`place_of` maps node index to place). None when the
    /// layout alone does not settle everything else (an undeclared field, a broken structure, a
    /// keyword that compares whole arrays or objects…).
    pub(crate) fn plan<'c>(&'c self, tape: &Tape, built_in: bool, place_of: &[u32]) -> Option<Plan<'c>> {
        if !self.simple {
            return None;
        }
        let fields = if built_in { Fields::TopBuiltIn } else { Fields::On };
        let mut later = Later {
            place_of,
            plan: Vec::new(),
        };
        (self.check_fields(&self.root, tape, 0, 0, fields, &mut later) == Fast::Valid).then_some(Plan(later.plan))
    }

    /// The one violation of an invalid tape, as (JSONPath, message) exactly as `jsonschema` reports
    /// it; none when there are several, or one this module does not word (the full path then
    /// reports).
    pub fn explain(&self, tape: &Tape) -> Option<(String, String)> {
        let mut found = Vec::new();
        if !self.collect(&self.root, tape, 0, 0, &mut found) || found.len() != 1 {
            return None;
        }
        let p = &found[0];
        Some((tape.path_to(p.node), p.message(|| tape.display(p.node))?))
    }

    #[inline(always)]
    fn check(&self, s: &Schema, t: &Tape, i: usize, depth: usize) -> Fast {
        self.check_fields(s, t, i, depth, Fields::Off, &mut Now)
    }

    /// `check_fields` for a child value, with leaf values under plain schemas checked in place.
    #[inline(always)]
    fn child<'c, V: Values<'c>>(
        &'c self,
        s: &'c Schema,
        t: &Tape,
        i: usize,
        depth: usize,
        fields: Fields,
        v: &mut V,
    ) -> Fast {
        if let Schema::Node(c) = s
            && c.groups & G_COMBINE == 0
            && !matches!(t.nodes[i].kind, Kind::Array | Kind::Object)
        {
            return v.check(c, t, i);
        }
        self.check_fields(s, t, i, depth, fields, v)
    }

    fn check_fields<'c, V: Values<'c>>(
        &'c self,
        s: &'c Schema,
        t: &Tape,
        i: usize,
        depth: usize,
        fields: Fields,
        v: &mut V,
    ) -> Fast {
        if depth > 64 {
            return Fast::Unknown;
        }
        match s {
            Schema::True => Fast::Valid,
            Schema::False => Fast::Invalid,
            Schema::Ref(r) => self.check_fields(&self.table[*r], t, i, depth + 1, Fields::Off, v),
            Schema::Node(c) => self.checks(c, t, i, depth + 1, fields, v),
        }
    }

    fn checks<'c, V: Values<'c>>(
        &'c self,
        c: &'c Checks,
        t: &Tape,
        i: usize,
        depth: usize,
        fields: Fields,
        v: &mut V,
    ) -> Fast {
        // Below a schema that declares nothing, nothing is undeclared; very deep, the shape walk
        // counts everything as declared, so the full path decides there.
        let fields = match fields {
            _ if c.open => Fields::Off,
            Fields::Off => Fields::Off,
            _ if depth > 20 => return Fast::Unknown,
            f => f,
        };
        let n = t.nodes[i];
        let scalar = v.check(c, t, i);
        if scalar != Fast::Valid {
            return scalar;
        }
        let mut result = Fast::Valid;
        match n.kind {
            Kind::Array if c.groups & G_ARRAY != 0 => {
                let len = u64::from(n.count);
                if c.min_items.is_some_and(|m| len < m) || c.max_items.is_some_and(|m| len > m) {
                    return Fast::Invalid;
                }
                if c.unique_items {
                    match unique(t, i) {
                        Some(true) => {}
                        Some(false) => return Fast::Invalid,
                        None => return Fast::Unknown,
                    }
                }
                let child = if fields == Fields::Off { Fields::Off } else { Fields::On };
                for (k, e) in t.elements(i).enumerate() {
                    if let Some(s) = c.item(k) {
                        fold!(result, self.child(s, t, e, depth, child, v));
                    }
                }
                if let Some(s) = &c.contains {
                    fold!(result, self.contains(s, t, i, depth));
                }
            }
            Kind::Object if c.groups & G_OBJECT != 0 || (fields != Fields::Off && n.count > 0) => {
                let len = u64::from(n.count);
                if c.min_properties.is_some_and(|m| len < m) || c.max_properties.is_some_and(|m| len > m) {
                    return Fast::Invalid;
                }
                if c.counts_every_key && t.object_has_duplicates(i) {
                    return Fast::Unknown;
                }
                // Declared properties seen, by index: `required` among them is one mask test. A key
                // seen twice needs no test here: every value is checked, so "valid" holds for the
                // last one the full reader keeps, and `explain` refuses duplicates.
                let mut seen = 0u64;
                for (k, value) in t.entries(i) {
                    let (declared, s) = c.property(t, k);
                    if let Some(p) = declared.filter(|p| *p < 64) {
                        seen |= 1 << p;
                    }
                    let child = match fields {
                        Fields::Off => Fields::Off,
                        Fields::TopBuiltIn if super::is_built_in(&t.str_at(k)) => Fields::Off,
                        // An undeclared field: the full path omits it or blocks the event.
                        _ if s.is_none() => return Fast::Unknown,
                        _ => Fields::On,
                    };
                    if let Some(s) = s {
                        fold!(result, self.child(s, t, value, depth, child, v));
                    }
                    if let Some(s) = &c.property_names {
                        fold!(result, self.check(s, t, k, depth));
                    }
                }
                if seen & c.required_declared != c.required_declared
                    || c.required_other.iter().any(|r| t.get(i, r).is_none())
                {
                    return Fast::Invalid;
                }
                if !c.dependencies.is_empty() {
                    fold!(result, self.dependencies(c, t, i, depth));
                }
            }
            _ => {}
        }
        if c.groups & G_COMBINE != 0 && result == Fast::Valid {
            result = self.combinations(c, t, i, depth);
        }
        result
    }

    fn contains(&self, s: &Schema, t: &Tape, i: usize, depth: usize) -> Fast {
        let mut any = Fast::Invalid;
        for e in t.elements(i) {
            match self.check(s, t, e, depth) {
                Fast::Valid => return Fast::Valid,
                Fast::Unknown => any = Fast::Unknown,
                Fast::Invalid => {}
            }
        }
        any
    }

    fn dependencies(&self, c: &Checks, t: &Tape, i: usize, depth: usize) -> Fast {
        let mut result = Fast::Valid;
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
                    fold!(result, self.check(s, t, i, depth));
                }
            }
        }
        result
    }

    /// `allOf`, `anyOf`, `oneOf`, `not` and `if`/`then`/`else` at node `i`.
    fn combinations(&self, c: &Checks, t: &Tape, i: usize, depth: usize) -> Fast {
        let mut result = Fast::Valid;
        for s in &c.all_of {
            fold!(result, self.check(s, t, i, depth));
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
            fold!(result, any);
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
            if let Some(s) = branch
                && result == Fast::Valid
            {
                result = self.check(s, t, i, depth);
            }
        }
        result
    }

    /// Every broken keyword under `s` at node `i`, as `jsonschema`'s error iterator finds them; false
    /// when something broken is not one `Failure` can word (a combinator, `uniqueItems`, …).
    /// Stops as soon as a second problem shows up: only a single one is explained.
    fn collect<'c>(&'c self, s: &'c Schema, t: &Tape, i: usize, depth: usize, out: &mut Vec<Problem<'c>>) -> bool {
        if depth > 64 || out.len() > 1 {
            return false;
        }
        let c = match s {
            Schema::True => return true,
            Schema::False => return false,
            Schema::Ref(r) => return self.collect(&self.table[*r], t, i, depth + 1, out),
            Schema::Node(c) => c,
        };
        let depth = depth + 1;
        let n = t.nodes[i];
        let mut problem = |failure| {
            out.push(Problem {
                node: i,
                checks: c,
                failure,
            });
        };
        if !matches!(n.kind, Kind::Array | Kind::Object) {
            return leaf_problems(c, t.scalar(i), &mut problem)
                && (c.groups & G_COMBINE == 0 || self.combinations(c, t, i, depth) == Fast::Valid)
                && out.len() <= 1;
        }
        if let Some(types) = c.types {
            match type_ok(types, n.kind, || None) {
                Some(true) => {}
                Some(false) if types.count_ones() == 1 => problem(Failure::Type),
                _ => return false,
            }
        }
        if c.groups & G_ENUM != 0 {
            match (enum_ok(c, t, i), enum_failure(c)) {
                (Some(true), _) => {}
                (Some(false), Some(f)) => problem(f),
                _ => return false,
            }
        }
        match n.kind {
            Kind::Array if c.groups & G_ARRAY != 0 => {
                let len = u64::from(n.count);
                outside(len, c.min_items, c.max_items, Failure::MinItems, Failure::MaxItems).for_each(&mut problem);
                if c.unique_items && unique(t, i) != Some(true) {
                    return false;
                }
                if c.contains
                    .as_ref()
                    .is_some_and(|s| self.contains(s, t, i, depth) != Fast::Valid)
                {
                    return false;
                }
                for (k, e) in t.elements(i).enumerate() {
                    if let Some(s) = c.item(k)
                        && !self.collect(s, t, e, depth, out)
                    {
                        return false;
                    }
                }
            }
            Kind::Object if c.groups & G_OBJECT != 0 => {
                let len = u64::from(n.count);
                outside(
                    len,
                    c.min_properties,
                    c.max_properties,
                    Failure::MinProperties,
                    Failure::MaxProperties,
                )
                .for_each(&mut problem);
                for r in &c.required {
                    if t.get(i, r).is_none() {
                        problem(Failure::Required(r.clone()));
                    }
                }
                if self.dependencies(c, t, i, depth) != Fast::Valid || t.object_has_duplicates(i) {
                    return false;
                }
                for (k, v) in t.entries(i) {
                    if let Some(s) = &c.property_names
                        && self.check(s, t, k, depth) != Fast::Valid
                    {
                        return false;
                    }
                    if let Some(s) = c.property(t, k).1
                        && !self.collect(s, t, v, depth, out)
                    {
                        return false;
                    }
                }
            }
            _ => {}
        }
        if c.groups & G_COMBINE != 0 && self.combinations(c, t, i, depth) != Fast::Valid {
            return false;
        }
        out.len() <= 1
    }
}

impl Checks {
    /// The schema for element `k` of an array.
    #[inline(always)]
    fn item(&self, k: usize) -> Option<&Schema> {
        match (&self.tuple, &self.items) {
            (Some(tuple), _) => tuple.get(k).or(self.additional_items.as_ref()),
            (None, Some(items)) => Some(items),
            (None, None) => None,
        }
    }

    /// The schema for the field whose key is node `k`: declared by name (with the declaration's
    /// index), else `additionalProperties`.
    #[inline(always)]
    fn property(&self, t: &Tape, k: usize) -> (Option<usize>, Option<&Schema>) {
        let decoded;
        let key = if t.nodes[k].escaped {
            decoded = t.str_at(k);
            decoded.as_bytes()
        } else {
            t.bytes(k)
        };
        for (p, (name, s)) in self.properties.iter().enumerate() {
            if eq_bytes(name.as_bytes(), key) {
                return (Some(p), Some(s));
            }
        }
        (None, self.additional.as_ref())
    }
}

/// The keywords of `c` that look at node `i` itself, not into it: `type`, `enum`/`const`, numbers'
/// and strings' limits. Inlined into the walk, so a leaf value costs no call.
#[inline(always)]
fn scalar_checks(c: &Checks, t: &Tape, i: usize) -> Fast {
    let n = t.nodes[i];
    if matches!(n.kind, Kind::Array | Kind::Object) {
        return container_checks(c, t, i);
    }
    leaf_checks(c, t.scalar(i))
}

/// The broken keywords of `c` on a string, number or literal, as `collect` reports them; false when
/// one cannot be worded (a `multipleOf`, a type list, an integer too long to tell…).
#[inline]
fn leaf_problems(c: &Checks, v: Scalar, problem: &mut impl FnMut(Failure)) -> bool {
    let number = || if v.kind == Kind::Number { number(v.raw) } else { None };
    if let Some(types) = c.types {
        match type_ok(types, v.kind, number) {
            Some(true) => {}
            Some(false) if types.count_ones() == 1 => problem(Failure::Type),
            _ => return false,
        }
    }
    if c.groups & G_ENUM != 0 {
        match (enum_scalar(c, v), enum_failure(c)) {
            (Some(true), _) => {}
            (Some(false), Some(f)) => problem(f),
            _ => return false,
        }
    }
    match v.kind {
        Kind::Number if c.groups & G_NUMBER != 0 => {
            let Some(f) = number() else { return false };
            if c.minimum.as_ref().is_some_and(|m| f < m.value) {
                problem(Failure::Minimum);
            }
            if c.maximum.as_ref().is_some_and(|m| f > m.value) {
                problem(Failure::Maximum);
            }
            if c.exclusive_minimum.as_ref().is_some_and(|m| f <= m.value) {
                problem(Failure::ExclusiveMinimum);
            }
            if c.exclusive_maximum.as_ref().is_some_and(|m| f >= m.value) {
                problem(Failure::ExclusiveMaximum);
            }
            multiple_ok(c, f) == Some(true)
        }
        Kind::Str if c.groups & G_STRING != 0 => {
            let len = v.text().chars().count() as u64;
            outside(len, c.min_length, c.max_length, Failure::MinLength, Failure::MaxLength).for_each(problem);
            true
        }
        _ => true,
    }
}

/// Which failure a broken `enum`/`const` is; none when the schema has both, or an empty list (which
/// one broke is not worth telling apart).
fn enum_failure(c: &Checks) -> Option<Failure> {
    match (&c.enumeration, &c.constant) {
        (Some(values), None) if !values.is_empty() => Some(Failure::Enum),
        (None, Some(_)) => Some(Failure::Const),
        _ => None,
    }
}

/// `type` and `enum`/`const` of a container (its sizes and members are the walk's).
fn container_checks(c: &Checks, t: &Tape, i: usize) -> Fast {
    let kind = t.nodes[i].kind;
    if let Some(types) = c.types
        && type_ok(types, kind, || None) != Some(true)
    {
        return Fast::Invalid;
    }
    if c.groups & G_ENUM != 0 {
        match enum_ok(c, t, i) {
            Some(true) => {}
            Some(false) => return Fast::Invalid,
            None => return Fast::Unknown,
        }
    }
    Fast::Valid
}

/// The keywords of `c` for a string, number or literal.
#[inline(always)]
fn leaf_checks(c: &Checks, v: Scalar) -> Fast {
    // A number is parsed once, and only when a keyword needs its value (`integer` or a limit).
    let parse = v.kind == Kind::Number
        && (c.groups & G_NUMBER != 0 || c.types.is_some_and(|t| t & T_NUMBER == 0 && t & T_INTEGER != 0));
    let value = if parse { number(v.raw) } else { None };
    if let Some(types) = c.types {
        match type_ok(types, v.kind, || value) {
            Some(true) => {}
            Some(false) => return Fast::Invalid,
            None => return Fast::Unknown,
        }
    }
    if c.groups & G_ENUM != 0 {
        match enum_scalar(c, v) {
            Some(true) => {}
            Some(false) => return Fast::Invalid,
            None => return Fast::Unknown,
        }
    }
    match v.kind {
        Kind::Number if c.groups & G_NUMBER != 0 => {
            let Some(f) = value else { return Fast::Unknown };
            if c.minimum.as_ref().is_some_and(|m| f < m.value)
                || c.maximum.as_ref().is_some_and(|m| f > m.value)
                || c.exclusive_minimum.as_ref().is_some_and(|m| f <= m.value)
                || c.exclusive_maximum.as_ref().is_some_and(|m| f >= m.value)
            {
                return Fast::Invalid;
            }
            match multiple_ok(c, f) {
                Some(true) => {}
                Some(false) => return Fast::Invalid,
                None => return Fast::Unknown,
            }
        }
        Kind::Str if c.groups & G_STRING != 0 && !length_ok(c, v) => return Fast::Invalid,
        _ => {}
    }
    Fast::Valid
}

/// `minLength`/`maxLength` (counted in characters) of a string. Without escapes a string of `b`
/// bytes has between `b / 4` and `b` characters, which decides most bounds without counting.
#[inline(always)]
fn length_ok(c: &Checks, v: Scalar) -> bool {
    let within = |len: u64| c.min_length.is_none_or(|m| len >= m) && c.max_length.is_none_or(|m| len <= m);
    if !v.escaped {
        let bytes = v.raw.len() as u64;
        if within(bytes) && within(bytes.div_ceil(4)) {
            return true;
        }
    }
    within(v.text().chars().count() as u64)
}

/// The failures of a size `len` against optional lower and upper bounds.
fn outside(
    len: u64,
    min: Option<u64>,
    max: Option<u64>,
    below: fn(u64) -> Failure,
    above: fn(u64) -> Failure,
) -> impl Iterator<Item = Failure> {
    let low = min.filter(|m| len < *m).map(below);
    let high = max.filter(|m| len > *m).map(above);
    low.into_iter().chain(high)
}

/// Does a node of `kind` have one of `types`? None when it cannot tell (a number too long for f64
/// asked to be an integer).
#[inline(always)]
fn type_ok(types: u8, kind: Kind, number: impl FnOnce() -> Option<f64>) -> Option<bool> {
    Some(match kind {
        Kind::Null => types & T_NULL != 0,
        Kind::True | Kind::False => types & T_BOOL != 0,
        Kind::Object => types & T_OBJECT != 0,
        Kind::Array => types & T_ARRAY != 0,
        Kind::Str => types & T_STRING != 0,
        Kind::Number => types & T_NUMBER != 0 || (types & T_INTEGER != 0 && number()?.fract() == 0.0),
    })
}

/// `enum` and `const` at node `i`.
fn enum_ok(c: &Checks, t: &Tape, i: usize) -> Option<bool> {
    if !matches!(t.nodes[i].kind, Kind::Array | Kind::Object) {
        return enum_scalar(c, t.scalar(i));
    }
    if let Some(values) = &c.enumeration {
        match values.iter().map(|v| equal(t, i, v)).find(|r| *r != Some(false)) {
            Some(Some(true)) => {}
            Some(None) => return None,
            _ => return Some(false),
        }
    }
    if let Some(v) = &c.constant {
        return equal(t, i, v);
    }
    Some(true)
}

/// `enum` and `const` for a string, number or literal.
#[inline(always)]
fn enum_scalar(c: &Checks, v: Scalar) -> Option<bool> {
    if let Some(options) = &c.enum_strings {
        if v.kind != Kind::Str {
            return Some(false);
        }
        // A loop, not `any`: inside WebAssembly the iterator stayed a call of its own.
        let text = v.text();
        let mut found = false;
        for o in options {
            if eq_bytes(o.as_bytes(), text.as_bytes()) {
                found = true;
                break;
            }
        }
        if !found {
            return Some(false);
        }
    } else if let Some(values) = &c.enumeration {
        match values.iter().map(|o| equal_scalar(v, o)).find(|r| *r != Some(false)) {
            Some(Some(true)) => {}
            Some(None) => return None,
            _ => return Some(false),
        }
    }
    if let Some(o) = &c.constant {
        return equal_scalar(v, o);
    }
    Some(true)
}

/// `multipleOf`: only integers divide exactly in f64; the rest goes to the full path.
fn multiple_ok(c: &Checks, f: f64) -> Option<bool> {
    let Some(m) = c.multiple_of else { return Some(true) };
    if f.fract() != 0.0 || m.fract() != 0.0 || f.abs() > 9.0e15 {
        return None;
    }
    Some(f % m == 0.0)
}

/// `uniqueItems` at array node `i`.
fn unique(t: &Tape, i: usize) -> Option<bool> {
    for (a, x) in t.elements(i).enumerate() {
        for y in t.elements(i).skip(a + 1) {
            if same(t, x, y)? {
                return Some(false);
            }
        }
    }
    Some(true)
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
            self.folded = true;
            return self.reference(r.as_str()?);
        }
        let mut c = Checks {
            open: super::is_open(s),
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
    match t.nodes[i].kind {
        Kind::Array | Kind::Object => equal_container(t, i, v),
        _ => equal_scalar(t.scalar(i), v),
    }
}

/// JSON equality of a string, number or literal with a schema value; none when unsure.
fn equal_scalar(x: Scalar, v: &Value) -> Option<bool> {
    Some(match (x.kind, v) {
        (Kind::Null, Value::Null) => true,
        (Kind::True, Value::Bool(b)) => *b,
        (Kind::False, Value::Bool(b)) => !*b,
        (Kind::Number, Value::Number(n)) => {
            let a = number(x.raw)?;
            let b = n.as_f64()?;
            // A large integer in the schema is not exact as f64.
            if !n.is_f64() && b.abs() >= 9.0e15 {
                return None;
            }
            a == b
        }
        (Kind::Str, Value::String(s)) => x.text() == s.as_str(),
        _ => false,
    })
}

/// JSON equality of an array or object node with a schema value; none when unsure.
fn equal_container(t: &Tape, i: usize, v: &Value) -> Option<bool> {
    let n = t.nodes[i];
    Some(match (n.kind, v) {
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
            if t.object_has_duplicates(i) {
                return None;
            }
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
        (Kind::Number, Kind::Number) => number(t.raw(a))? == number(t.raw(b))?,
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
            if t.object_has_duplicates(a) || t.object_has_duplicates(b) {
                return None;
            }
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
    /// `type`, `event` and `context.htevents.schemaVersion`, in one pass over the top level.
    pub(crate) fn envelope(&self) -> Option<Envelope<'a>> {
        let [event_type, event, version] = self.envelope_nodes()?;
        Some(Envelope {
            event_type: self.string_value(event_type?)?,
            event: event.and_then(|v| self.string_value(v)),
            version: version.and_then(|v| self.string_value(v)),
        })
    }

    /// The nodes of `type`, `event` and `context.htevents.schemaVersion`; none when the event is not
    /// an object or one of the keys on the way is there twice.
    fn envelope_nodes(&self) -> Option<[Option<usize>; 3]> {
        if self.nodes.first()?.kind != Kind::Object {
            return None;
        }
        // Each of these keys at most once: the full reader keeps a key's last value. (Other
        // duplicate keys are ruled out where the schema looks.)
        let [event_type, event, context] = self.fields(0, [b"type".as_slice(), b"event", b"context"])?;
        let [htevents] = match context {
            Some(c) if self.nodes[c].kind == Kind::Object => self.fields(c, [b"htevents".as_slice()])?,
            _ => [None],
        };
        let [version] = match htevents {
            Some(h) if self.nodes[h].kind == Kind::Object => self.fields(h, [b"schemaVersion".as_slice()])?,
            _ => [None],
        };
        Some([event_type, event, version])
    }

    /// The values of `keys` in the object at `object`; none when one of them is there twice.
    fn fields<const N: usize>(&self, object: usize, keys: [&[u8]; N]) -> Option<[Option<usize>; N]> {
        let mut found = [None; N];
        for (k, v) in self.entries(object) {
            let decoded;
            let key = if self.nodes[k].escaped {
                decoded = self.str_at(k);
                decoded.as_bytes()
            } else {
                self.bytes(k)
            };
            for (slot, name) in found.iter_mut().zip(keys) {
                if eq_bytes(key, name) {
                    if slot.is_some() {
                        return None;
                    }
                    *slot = Some(v);
                }
            }
        }
        Some(found)
    }

    /// Does the event have a field the shape does not declare? (Same rules as `Shape::undeclared`.)
    pub(super) fn has_undeclared(&self, shape: &super::Shape, built_in: bool) -> bool {
        self.undeclared_at(shape, 0, built_in, true)
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
                    Some(s) => self.nodes[v].count > 0 && self.undeclared_at(s, v, built_in, false),
                    None => true,
                }
            }),
            Kind::Array => self.elements(i).enumerate().any(|(k, e)| {
                self.nodes[e].count > 0
                    && shape
                        .for_index(k)
                        .is_some_and(|s| self.undeclared_at(s, e, built_in, false))
            }),
            _ => false,
        }
    }
}
