//! The flat tape an event is read into: byte offsets into its text, no tree of owned maps and
//! strings; the string, number and line scanning it is built on; the built-in envelope fields.

#[allow(unused_imports)]
use super::*;

/// What a tape node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
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
pub(crate) struct Node {
    pub(crate) kind: Kind,
    /// Strings: the raw text contains a backslash.
    pub(crate) escaped: bool,
    /// Arrays: elements; objects: entries.
    pub(crate) count: u32,
    /// The index just past this node's subtree.
    pub(crate) next: u32,
    /// Strings: just after the opening quote; everything else: the first byte.
    pub(crate) start: u32,
    /// Strings: the closing quote; everything else: just past the last byte.
    pub(crate) end: u32,
}

/// A string, number or literal of an event: what the keywords on a single value look at.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scalar<'a> {
    pub(crate) kind: Kind,
    /// The text as written (a string's content between its quotes, escapes not decoded).
    pub(crate) raw: &'a str,
    /// Strings: `raw` contains a backslash.
    pub(crate) escaped: bool,
}

impl<'a> Scalar<'a> {
    /// A string's text with escapes decoded (borrowed when it has none).
    #[inline(always)]
    pub(crate) fn text(&self) -> Cow<'a, str> {
        decode(self.raw, self.escaped)
    }
}

/// An event read into a tape. Reused across events to keep allocation out of the loop.
#[derive(Default)]
pub struct Tape<'a> {
    pub(crate) text: &'a str,
    pub(crate) nodes: Vec<Node>,
    /// The containers still open while reading.
    pub(crate) open: Vec<u32>,
}

pub(crate) const MAX_DEPTH: usize = 128;

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
    pub(crate) fn key(&mut self, b: &[u8], pos: usize) -> Option<usize> {
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
    pub(crate) fn leaf(&mut self, kind: Kind, start: usize, end: usize, escaped: bool) {
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
    pub(crate) fn string(&mut self, b: &[u8], pos: usize) -> Option<usize> {
        let (end, escaped) = scan_string(b, pos)?;
        self.leaf(Kind::Str, pos + 1, end, escaped);
        Some(end + 1)
    }

    /// A string, number or literal node.
    #[inline(always)]
    pub(crate) fn scalar(&self, i: usize) -> Scalar<'a> {
        let n = self.nodes[i];
        Scalar {
            kind: n.kind,
            raw: self.raw(i),
            escaped: n.escaped,
        }
    }

    /// The raw bytes of a node (a string's content without its quotes).
    #[inline(always)]
    pub(crate) fn bytes(&self, i: usize) -> &'a [u8] {
        let n = self.nodes[i];
        &self.text.as_bytes()[n.start as usize..n.end as usize]
    }

    /// The raw text of a node (a string's content without its quotes).
    #[inline(always)]
    pub(crate) fn raw(&self, i: usize) -> &'a str {
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
    pub(crate) fn json(&self, i: usize) -> &'a str {
        let n = self.nodes[i];
        if n.kind == Kind::Str {
            &self.text[n.start as usize - 1..n.end as usize + 1]
        } else {
            self.raw(i)
        }
    }

    /// The decoded text of a string node (borrowed when it has no escapes).
    #[inline(always)]
    pub(crate) fn str_at(&self, i: usize) -> Cow<'a, str> {
        decode(self.raw(i), self.nodes[i].escaped)
    }

    /// Raw text of a string node, when it is a string.
    #[inline(always)]
    pub(crate) fn string_value(&self, v: usize) -> Option<(&'a str, bool)> {
        let n = self.nodes[v];
        (n.kind == Kind::Str).then(|| (self.raw(v), n.escaped))
    }

    /// The value of `key` in the object at `object` (first match).
    pub(crate) fn get(&self, object: usize, key: &str) -> Option<usize> {
        if self.nodes.get(object)?.kind != Kind::Object {
            return None;
        }
        self.entries(object).find(|(k, _)| self.key_is(*k, key)).map(|(_, v)| v)
    }

    #[inline(always)]
    pub(crate) fn key_is(&self, k: usize, key: &str) -> bool {
        if self.nodes[k].escaped {
            self.str_at(k) == key
        } else {
            eq_bytes(self.bytes(k), key.as_bytes())
        }
    }

    /// (key node, value node) of an object.
    #[inline(always)]
    pub(crate) fn entries(&self, object: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let count = self.nodes[object].count;
        let mut at = object + 1;
        (0..count).map(move |_| {
            let k = at;
            at = self.nodes[k + 1].next as usize;
            (k, k + 1)
        })
    }

    #[inline(always)]
    pub(crate) fn elements(&self, array: usize) -> impl Iterator<Item = usize> + '_ {
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
    pub(crate) fn object_has_duplicates(&self, i: usize) -> bool {
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
    pub(crate) fn same_key(&self, a: usize, b: usize) -> bool {
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
    pub(crate) fn path_to(&self, target: usize) -> String {
        let mut path = String::from("$");
        let mut at = 0;
        while at != target {
            let n = self.nodes[at];
            let mut found = None;
            match n.kind {
                Kind::Object => {
                    for (k, v) in self.entries(at) {
                        if v <= target && target < self.nodes[v].next as usize {
                            crate::events::push_key(&mut path, &self.str_at(k));
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
    pub(crate) fn display(&self, i: usize) -> Option<String> {
        display(self.json(i))
    }
}

/// JSON text as `serde_json` displays it (how `jsonschema` writes the instance in a message).
pub(crate) fn display(json: &str) -> Option<String> {
    serde_json::from_str::<Value>(json).ok().map(|v| v.to_string())
}

/// The lines of a batch (`\n` or `\r\n` ends, as `str::lines`), found eight bytes at a time.
pub struct Lines<'a> {
    pub(crate) text: &'a str,
    pub(crate) pos: usize,
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
pub(crate) fn specials(w: u64) -> u64 {
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
pub(crate) fn scan_string(b: &[u8], pos: usize) -> Option<(usize, bool)> {
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
pub(crate) fn number_end(b: &[u8], mut p: usize) -> Option<usize> {
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
pub(crate) fn in_range(text: &[u8]) -> bool {
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
pub(crate) fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && matches!(b[pos], b' ' | b'\t' | b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

/// Powers of ten exact in f64.
pub(crate) const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A number node as f64, when that is exact enough to decide: none for long mantissas (where f64
/// would round) or values out of range. Plain decimals skip the general parser: with at most 15
/// digits the mantissa and the power of ten are exact, so one division rounds correctly, giving the
/// same f64 as `str::parse`.
#[inline(always)]
pub(crate) fn number(text: &str) -> Option<f64> {
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
pub(crate) fn number_general(text: &str) -> Option<f64> {
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
    pub(crate) fn envelope_nodes(&self) -> Option<[Option<usize>; 3]> {
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
    pub(crate) fn fields<const N: usize>(&self, object: usize, keys: [&[u8]; N]) -> Option<[Option<usize>; N]> {
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
    pub(crate) fn has_undeclared(&self, shape: &crate::events::Shape, built_in: bool) -> bool {
        self.undeclared_at(shape, 0, built_in, true)
    }

    pub(crate) fn undeclared_at(&self, shape: &crate::events::Shape, i: usize, built_in: bool, top: bool) -> bool {
        if matches!(shape, crate::events::Shape::Open) {
            return false;
        }
        match self.nodes[i].kind {
            Kind::Object => self.entries(i).any(|(k, v)| {
                let key = self.str_at(k);
                if top && built_in && crate::events::is_built_in(&key) {
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
