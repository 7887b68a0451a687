//! A YAML loader that keeps every node's place in the file and refuses hostile input.
//!
//! Built on saphyr-parser's event stream (an iterative state machine, so deep input cannot overflow
//! the stack) rather than on serde: we need spans on keys and values, duplicate-key detection, and a
//! budget on alias expansion ("billion laughs") and nesting depth.

use crate::diag::Span;
use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};
use std::collections::HashMap;

/// Deeper than this is refused; real resource files nest a handful of levels, JSON Schemas a few dozen.
pub const MAX_DEPTH: usize = 128;
/// Nodes that alias expansion may copy per file before the file is refused.
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Bytes of text that alias expansion may copy per file before the file is refused: a few aliases
/// of one large scalar would otherwise cost gigabytes while staying far under the node budget.
pub const MAX_ALIAS_BYTES: usize = 16 << 20;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string scalar (quoted, block, or plain text that is not null, bool or a number).
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub span: Span,
    /// The scalar as written (for plain numbers and keys); empty for collections.
    pub raw: String,
}

impl Node {
    /// What kind of value this is, as a person would say it.
    pub fn kind_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.raw == key).map(|(_, v)| v)
    }

    /// The node as JSON; keys become strings. Used for `config`, `schedule` and event schemas.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map(J::Number).unwrap_or(J::Null),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|(k, v)| (k.raw.clone(), v.to_json())).collect()),
        }
    }
}

/// Why a file could not be loaded.
#[derive(Clone, Debug, PartialEq)]
pub enum LoadError {
    Syntax {
        span: Span,
        message: String,
    },
    TooDeep {
        span: Span,
    },
    AliasBomb {
        span: Span,
    },
    /// Aliases would copy more than [`MAX_ALIAS_BYTES`] of text.
    AliasTooLarge {
        span: Span,
    },
    DuplicateKey {
        key: String,
        span: Span,
        first: Span,
    },
    ComplexKey {
        span: Span,
    },
    MultipleDocuments {
        span: Span,
    },
}

/// Maps character indices (what the parser reports) to 1-based line and column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        let mut chars = text.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '\n' => starts.push(i + 1),
                '\r' => {
                    if matches!(chars.peek(), Some((_, '\n'))) {
                        chars.next();
                        starts.push(i + 2);
                    } else {
                        starts.push(i + 1);
                    }
                }
                _ => {}
            }
        }
        LineIndex { starts }
    }

    fn position(&self, char_index: usize) -> (u32, u32) {
        let line = match self.starts.binary_search(&char_index) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        (line as u32 + 1, (char_index - self.starts[line]) as u32 + 1)
    }

    fn span(&self, s: &saphyr_parser::Span) -> Span {
        let (line, column) = self.position(s.start.index());
        let (end_line, end_column) = self.position(s.end.index().max(s.start.index()));
        Span {
            line,
            column,
            end_line,
            end_column,
        }
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        /// Where each key was first seen (by its text): a duplicate is found in constant time, so
        /// a mapping of 600,000 keys loads in linear time.
        keys: HashMap<String, Span>,
        span: Span,
        anchor: usize,
    },
}

// Long on purpose: one loop over the parser's events, with the stack of open collections, the
// anchors and the alias budget as its locals; split, every piece would take all of them.
/// Load one YAML document. `Ok(None)` is an empty document (nothing but comments or whitespace).
pub fn load(text: &str) -> Result<Option<Node>, LoadError> {
    let lines = LineIndex::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut copied = 0usize;
    let mut copied_bytes = 0usize;
    let mut root: Option<Node> = None;
    let mut documents = 0;

    let syntax = |e: ScanError| {
        let (line, column) = lines.position(e.marker().index());
        let span = Span::at(line, column, 1);
        // The scanner has its own nesting limit for flow collections; report it as what it is.
        if e.info().contains("recursion limit") {
            LoadError::TooDeep { span }
        } else {
            LoadError::Syntax {
                span,
                message: e.info().to_string(),
            }
        }
    };

    while let Some(next) = parser.next_event() {
        let (event, raw_span) = next.map_err(syntax)?;
        let span = lines.span(&raw_span);
        let node = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => continue,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(LoadError::MultipleDocuments { span });
                }
                continue;
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(LoadError::TooDeep { span });
                }
                stack.push(Frame::Seq {
                    items: Vec::new(),
                    span,
                    anchor,
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(LoadError::TooDeep { span });
                }
                stack.push(Frame::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    keys: HashMap::new(),
                    span,
                    anchor,
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match stack.pop() {
                    Some(Frame::Seq {
                        items,
                        span: start,
                        anchor,
                    }) => (
                        Node {
                            value: Value::Seq(items),
                            span: join(start, span),
                            raw: String::new(),
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        entries,
                        span: start,
                        anchor,
                        ..
                    }) => (
                        Node {
                            value: Value::Map(entries),
                            span: join(start, span),
                            raw: String::new(),
                        },
                        anchor,
                    ),
                    None => continue,
                };
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Scalar(text, style, anchor, _tag) => {
                let node = scalar(&text, style, span);
                if anchor > 0 {
                    anchors.insert(anchor, node.clone());
                }
                node
            }
            Event::Alias(id) => {
                let Some(target) = anchors.get(&id) else {
                    return Err(LoadError::Syntax {
                        span,
                        message: "alias to an unknown anchor".into(),
                    });
                };
                copied += count_nodes(target, MAX_ALIAS_NODES - copied.min(MAX_ALIAS_NODES));
                if copied >= MAX_ALIAS_NODES {
                    return Err(LoadError::AliasBomb { span });
                }
                copied_bytes += count_bytes(target, MAX_ALIAS_BYTES - copied_bytes.min(MAX_ALIAS_BYTES));
                if copied_bytes >= MAX_ALIAS_BYTES {
                    return Err(LoadError::AliasTooLarge { span });
                }
                let mut node = target.clone();
                node.span = span;
                node
            }
        };
        // Attach the finished node to its parent.
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                keys,
                ..
            }) => match pending_key.take() {
                None => {
                    if matches!(node.value, Value::Seq(_) | Value::Map(_)) {
                        return Err(LoadError::ComplexKey { span: node.span });
                    }
                    if let Some(first) = keys.get(&node.raw) {
                        return Err(LoadError::DuplicateKey {
                            key: node.raw.clone(),
                            span: node.span,
                            first: *first,
                        });
                    }
                    keys.insert(node.raw.clone(), node.span);
                    *pending_key = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
        }
    }
    Ok(root.filter(|n| !(n.value == Value::Null && n.raw.is_empty())))
}

fn join(start: Span, end: Span) -> Span {
    Span {
        line: start.line,
        column: start.column,
        end_line: end.end_line,
        end_column: end.end_column,
    }
}

/// Count nodes of `node`, stopping once `limit` is reached (so a bomb is never walked in full).
/// The text a copy of `node` holds (scalars and keys, as written), counted up to `limit`.
fn count_bytes(node: &Node, limit: usize) -> usize {
    weigh(node, limit, |n| {
        n.raw.len()
            + match &n.value {
                Value::Str(s) => s.len(),
                _ => 0,
            }
    })
}

/// The nodes a copy of `node` holds, counted up to `limit`.
fn count_nodes(node: &Node, limit: usize) -> usize {
    weigh(node, limit, |_| 1)
}

/// The sum of `weight` over `node` and everything in it, stopping at `limit`.
fn weigh(node: &Node, limit: usize, weight: impl Fn(&Node) -> usize) -> usize {
    let mut total = 0;
    let mut todo = vec![node];
    while let Some(n) = todo.pop() {
        total += weight(n);
        if total >= limit {
            return limit;
        }
        match &n.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => {
                for (k, v) in entries {
                    todo.push(k);
                    todo.push(v);
                }
            }
            _ => {}
        }
    }
    total
}

/// Resolve a scalar with the YAML 1.2 core schema (plain scalars only; quoted ones are strings).
fn scalar(text: &str, style: ScalarStyle, span: Span) -> Node {
    let value = if style != ScalarStyle::Plain {
        Value::Str(text.to_string())
    } else {
        match text {
            "" | "~" | "null" | "Null" | "NULL" => Value::Null,
            "true" | "True" | "TRUE" => Value::Bool(true),
            "false" | "False" | "FALSE" => Value::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Value::Float(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
            _ => number(text).unwrap_or_else(|| Value::Str(text.to_string())),
        }
    };
    Node {
        value,
        span,
        raw: text.to_string(),
    }
}

fn number(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    let first = *bytes.first()?;
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return None;
    }
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(Value::Int);
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok().map(Value::Int);
    }
    let digits = text.trim_start_matches(['-', '+']);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .map(Value::Int)
            .or_else(|| text.parse().ok().map(Value::Float));
    }
    // Core-schema floats: digits with an optional fraction and exponent.
    let valid_float = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
        && digits.bytes().any(|b| b.is_ascii_digit());
    if valid_float {
        text.parse::<f64>().ok().map(Value::Float)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Node {
        load(text).unwrap().unwrap()
    }

    #[test]
    fn keys_and_values_carry_their_place() {
        let n = ok("name: Stocking list\nsource:  aliased-postgres\n");
        let (k, v) = &n.as_map().unwrap()[1];
        assert_eq!(k.span, Span::new(2, 1, 2, 7));
        assert_eq!(v.span, Span::new(2, 10, 2, 26));
        assert_eq!(v.as_str(), Some("aliased-postgres"));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let n = ok("name: \"Ünïcödé\"\nsource: pg\n");
        let (_, v) = &n.as_map().unwrap()[0];
        assert_eq!(v.span.end_column, 16);
        let (k, _) = &n.as_map().unwrap()[1];
        assert_eq!((k.span.line, k.span.column), (2, 1));
    }

    #[test]
    fn core_schema_scalars() {
        let n = ok("a: 1\nb: -2.5\nc: true\nd: ~\ne: '1'\nf: 1.2.3\ng: 0x1F\nh:\n");
        let v: Vec<&Value> = n.as_map().unwrap().iter().map(|(_, v)| &v.value).collect();
        assert_eq!(v[0], &Value::Int(1));
        assert_eq!(v[1], &Value::Float(-2.5));
        assert_eq!(v[2], &Value::Bool(true));
        assert_eq!(v[3], &Value::Null);
        assert_eq!(v[4], &Value::Str("1".into()));
        assert_eq!(v[5], &Value::Str("1.2.3".into()));
        assert_eq!(v[6], &Value::Int(31));
        assert_eq!(v[7], &Value::Null);
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_places() {
        let err = load("name: a\nsource: b\nname: c\n").unwrap_err();
        assert_eq!(
            err,
            LoadError::DuplicateKey {
                key: "name".into(),
                span: Span::new(3, 1, 3, 5),
                first: Span::new(1, 1, 1, 5)
            }
        );
    }

    #[test]
    fn syntax_errors_have_a_position() {
        match load("name: [a, b\nsource: x\n").unwrap_err() {
            LoadError::Syntax { span, .. } => assert!(span.line >= 1),
            other => panic!("{other:?}"),
        }
        match load("a: b\n  c: d\n").unwrap_err() {
            LoadError::Syntax { span, message } => {
                assert_eq!(span.line, 2, "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(matches!(load(&text), Err(LoadError::AliasBomb { .. })));
    }

    #[test]
    fn aliases_of_a_large_scalar_are_refused_by_the_bytes_they_copy() {
        // 512 KiB once, aliased 40 times: 20 MiB copied, 41 nodes.
        let text = format!(
            "big: &big \"{}\"\ncopies: [{}]\n",
            "x".repeat(512 << 10),
            vec!["*big"; 40].join(", ")
        );
        assert!(matches!(load(&text), Err(LoadError::AliasTooLarge { .. })));
        let text = format!("big: &big \"{}\"\ncopies: [*big, *big]\n", "x".repeat(512 << 10));
        assert!(load(&text).is_ok());
    }

    #[test]
    fn a_mapping_of_many_keys_loads_and_still_finds_a_duplicate() {
        // Quadratic duplicate detection made 600,000 keys run past the component's time limit.
        let mut text: String = (0..200_000).map(|i| format!("k{i}: {i}\n")).collect();
        let n = load(&text).unwrap().unwrap();
        let Value::Map(entries) = &n.value else { panic!() };
        assert_eq!(entries.len(), 200_000);
        text.push_str("k7: again\n");
        let Err(LoadError::DuplicateKey { key, span, first }) = load(&text) else {
            panic!("the duplicate was not found")
        };
        assert_eq!((key.as_str(), span.line, first.line), ("k7", 200_001, 8));
    }

    #[test]
    fn small_aliases_expand() {
        let n = ok("base: &b {x: 1}\ncopy: *b\n");
        assert_eq!(n.get("copy").unwrap().get("x").unwrap().value, Value::Int(1));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(load(&text), Err(LoadError::TooDeep { .. })));
        let text = (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i * 2)))
            .collect::<String>();
        assert!(matches!(load(&text), Err(LoadError::TooDeep { .. })));
    }

    #[test]
    fn empty_documents_are_none() {
        assert_eq!(load("").unwrap(), None);
        assert_eq!(load("# only a comment\n").unwrap(), None);
    }

    #[test]
    fn two_documents_are_refused() {
        assert!(matches!(load("a: 1\n---\nb: 2\n"), Err(LoadError::MultipleDocuments { span }) if span.line == 2));
    }

    #[test]
    fn to_json_keeps_key_order() {
        let n = ok("z: 1\na: [x, {b: null}]\n");
        assert_eq!(n.to_json().to_string(), r#"{"z":1,"a":["x",{"b":null}]}"#);
    }
}
