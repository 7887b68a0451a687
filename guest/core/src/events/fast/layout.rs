//! Layouts. The events of one stream are mostly written alike: the same keys in the same order with
//! the same punctuation, and only their strings and numbers change. A layout is such an event's text
//! cut at those values. An event that matches it piece by piece has the template's structure, so
//! what the validation walk decides from structure alone (keys, undeclared fields, `required`,
//! sizes, the types of containers, literals) is decided once per layout and schema — a `Plan` —
//! and each event only has its changing values read and checked.
//!
//! Matching is exact: the fixed text must be byte for byte the template's, strings are scanned as
//! the reader scans them, numbers read as it reads them, and the event must end where the template
//! does. Anything else (another layout, other whitespace, a value of another type) is no match, and
//! the event is read into a tape as usual.

use super::{
    Compiled, Envelope, FIXED, Fast, Kind, Node, Plan, Problem, Scalar, Tape, display, leaf_problems, number_end,
    scan_string,
};

/// How many layouts are kept, the most recently matched first.
const KEEP: usize = 4;
/// After this many events, layouts are given up (for this `Layouts`) when they decided fewer than
/// half: a stream without repeated layouts then pays for no more than these tries.
const TRIAL: u32 = 16;

/// A changing value: the fixed text before it (a range of the template) and what it is.
struct Place {
    fixed: (u32, u32),
    kind: Kind,
    /// Where the template's value ends (a string's closing quote), and whether it has escapes.
    end: u32,
    escaped: bool,
}

struct Layout<'r> {
    text: String,
    places: Vec<Place>,
    /// The template's tape, each node's place (`FIXED` for keys, containers and literals) and each
    /// place's node.
    nodes: Vec<Node>,
    place_of: Vec<u32>,
    node_of: Vec<u32>,
    /// For explaining a violation, made on first use: each place's JSONPath, none when some object
    /// has a key twice (that is left to the full path, as the tape's `explain` leaves it).
    paths: Option<Option<Vec<String>>>,
    /// The places of `type`, `event` and `context.htevents.schemaVersion` when they are strings.
    envelope: [Option<u32>; 3],
    /// Plans by compiled schema (its address) and built-in rule, none where the layout alone does not decide.
    plans: Vec<((usize, bool), Option<Plan<'r>>)>,
}

/// The layouts seen so far, and the values of the event matched last.
#[derive(Default)]
pub(crate) struct Layouts<'r> {
    list: Vec<Layout<'r>>,
    /// (start, end, escaped) of each value of the last match: a string's content, a number's text.
    spans: Vec<(u32, u32, bool)>,
    tried: u32,
    decided: u32,
}

impl<'r> Layouts<'r> {
    /// Whether `line` is written in a known layout; it becomes the current one (the first), and its
    /// values are what `value` and `envelope` read.
    pub(crate) fn find(&mut self, line: &str) -> bool {
        self.find_in(line, |rest| rest.is_empty().then_some(0)).is_some()
    }

    /// `find` for the line at the start of `text` (a batch from some point on), without looking for
    /// its end first: a known layout that matches up to a line end (`\n`, `\r\n`, or the end)
    /// finds it. The line's length and the bytes its end takes.
    pub(crate) fn find_line(&mut self, text: &str) -> Option<(usize, usize)> {
        self.find_in(text, |rest| match rest {
            [] => Some(0),
            [b'\n', ..] | [b'\r'] => Some(1),
            [b'\r', b'\n', ..] => Some(2),
            _ => None,
        })
    }

    /// The first layout that matches a prefix of `text` after which `end` finds the line's end.
    #[inline(always)]
    fn find_in(&mut self, text: &str, end: impl Fn(&[u8]) -> Option<usize>) -> Option<(usize, usize)> {
        if self.list.is_empty() || !self.worth_trying() {
            return None;
        }
        self.tried += 1;
        let b = text.as_bytes();
        // Offsets are kept in u32 (as on the tape).
        let b = &b[..b.len().min(u32::MAX as usize - 1)];
        for k in 0..self.list.len() {
            if let Some(len) = self.list[k].matches(b, &mut self.spans)
                && let Some(ending) = end(&b[len..])
            {
                if k > 0 {
                    let found = self.list.remove(k);
                    self.list.insert(0, found);
                }
                return Some((len, ending));
            }
        }
        None
    }

    /// Count a verdict reached through a layout (see `TRIAL`).
    pub(crate) fn decided(&mut self) {
        self.decided += 1;
    }

    /// How many verdicts layouts reached.
    #[cfg(test)]
    pub(crate) fn verdicts(&self) -> u32 {
        self.decided
    }

    /// Layouts that are never tried (to measure what they save).
    #[cfg(test)]
    pub(crate) fn off() -> Self {
        Layouts {
            tried: TRIAL,
            ..Layouts::default()
        }
    }

    fn worth_trying(&self) -> bool {
        self.tried < TRIAL || self.decided * 2 >= self.tried
    }

    /// Keep the layout of the event just read into `tape` (when it has an envelope to match on).
    pub(crate) fn learn(&mut self, tape: &Tape) {
        if !self.worth_trying() {
            return;
        }
        let Some(layout) = Layout::of(tape) else { return };
        if self.list.len() == KEEP {
            self.list.pop();
        }
        self.list.insert(0, layout);
    }

    /// Value `place` of the event matched last.
    #[inline(always)]
    pub(crate) fn value<'a>(&self, line: &'a str, place: usize) -> Scalar<'a> {
        let (start, end, escaped) = self.spans[place];
        let bytes = &line.as_bytes()[start as usize..end as usize];
        debug_assert!(std::str::from_utf8(bytes).is_ok());
        Scalar {
            kind: self.list[0].places[place].kind,
            // SAFETY: a value's span starts just after a quote or at a digit or minus sign, and ends
            // at a quote or just after a digit: both are char boundaries of `line`, so the bytes
            // between are UTF-8.
            raw: unsafe { std::str::from_utf8_unchecked(bytes) },
            escaped,
        }
    }

    /// The envelope of the event matched last.
    pub(crate) fn envelope<'a>(&self, line: &'a str) -> Option<Envelope<'a>> {
        let [event_type, event, version] = self.list[0].envelope;
        let string = |place: Option<u32>| {
            place.map(|p| {
                let v = self.value(line, p as usize);
                (v.raw, v.escaped)
            })
        };
        Some(Envelope {
            event_type: string(event_type)?,
            event: string(event),
            version: string(version),
        })
    }

    /// Validation and the undeclared-field search (`Compiled::validate_declared`) for the event
    /// matched last: its values checked against the plan of its layout for `compiled`, made on first
    /// use. `Unknown` when the layout has no plan for it.
    pub(crate) fn validate(&mut self, compiled: &'r Compiled, built_in: bool, line: &str) -> Fast {
        let key = (compiled as *const Compiled as usize, built_in);
        let layout = &mut self.list[0];
        let at = match layout.plans.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                let plan = compiled.plan(&layout.tape(), built_in, &layout.place_of);
                layout.plans.push((key, plan));
                layout.plans.len() - 1
            }
        };
        match &self.list[0].plans[at].1 {
            Some(plan) => plan.check(|place| self.value(line, place)),
            None => Fast::Unknown,
        }
    }

    /// The one violation of the event matched last, when `validate` found it invalid: (JSONPath,
    /// message) exactly as `Compiled::explain` words it on the event's tape. None when there are
    /// several, or one it does not word.
    pub(crate) fn explain(&mut self, compiled: &'r Compiled, built_in: bool, line: &str) -> Option<(String, String)> {
        let key = (compiled as *const Compiled as usize, built_in);
        let layout = &mut self.list[0];
        if layout.paths.is_none() {
            let tape = layout.tape();
            let paths = (!tape.has_duplicate_keys())
                .then(|| layout.node_of.iter().map(|&i| tape.path_to(i as usize)).collect());
            layout.paths = Some(paths);
        }
        let layout = &self.list[0];
        let paths = layout.paths.as_ref()?.as_ref()?;
        let plan = layout.plans.iter().find(|(k, _)| *k == key)?.1.as_ref()?;
        // The layout's structure passed when the plan was made: the values' keywords are all that
        // can break, and the tape's `collect` would find exactly these.
        let mut found = None;
        let mut count = 0;
        for &(place, checks) in &plan.0 {
            let worded = leaf_problems(checks, self.value(line, place as usize), &mut |failure| {
                count += 1;
                found = Some((
                    place,
                    Problem {
                        node: place as usize,
                        checks,
                        failure,
                    },
                ));
            });
            if !worded || count > 1 {
                return None;
            }
        }
        let (place, problem) = found?;
        let message = problem.message(|| {
            let v = self.value(line, place as usize);
            match v.kind {
                Kind::Str => display(&format!("\"{}\"", v.raw)),
                _ => display(v.raw),
            }
        })?;
        Some((paths[place as usize].clone(), message))
    }
}

impl Layout<'_> {
    /// The template's tape (a copy of its nodes: made for planning and explaining only).
    fn tape(&self) -> Tape<'_> {
        Tape {
            text: &self.text,
            nodes: self.nodes.clone(),
            open: Vec::new(),
        }
    }

    /// The layout of the event in `tape`; none when it has no string `type` to match on.
    fn of<'r>(tape: &Tape) -> Option<Layout<'r>> {
        let [event_type, event, version] = tape.envelope_nodes()?;
        let mut values = Vec::new();
        collect_values(tape, 0, &mut values);
        let mut place_of = vec![FIXED; tape.nodes.len()];
        let mut places = Vec::with_capacity(values.len());
        let mut at = 0;
        for (place, &i) in values.iter().enumerate() {
            let n = tape.nodes[i];
            place_of[i] = place as u32;
            places.push(Place {
                fixed: (at, n.start),
                kind: n.kind,
                end: n.end,
                escaped: n.escaped,
            });
            at = n.end;
        }
        let string_place = |node: Option<usize>| node.filter(|&i| tape.nodes[i].kind == Kind::Str).map(|i| place_of[i]);
        Some(Layout {
            text: tape.text.to_string(),
            places,
            nodes: tape.nodes.clone(),
            node_of: values.iter().map(|&i| i as u32).collect(),
            paths: None,
            envelope: [
                Some(string_place(Some(event_type?))?),
                string_place(event),
                string_place(version),
            ],
            place_of,
            plans: Vec::new(),
        })
    }

    /// Whether `line` starts with an event written in this layout: where it ends; its values'
    /// spans go to `spans`. Where the line is the template's text byte for byte, values included
    /// (much of an event often is: its context, its library, its currency…), it is compared a word
    /// at a time and those values are taken as the template's; the rest is matched piece by piece.
    /// (A function of its own: inside WebAssembly, inlined into the judging function, its loops
    /// kept their registers on the stack.)
    #[inline(never)]
    fn matches(&self, line: &[u8], spans: &mut Vec<(u32, u32, bool)>) -> Option<usize> {
        let t = self.text.as_bytes();
        spans.clear();
        // The line at `x + shift` is the template at `x`, for every `x < same`.
        let mut shift = 0isize;
        let mut same = common_prefix(line, t);
        let at = |x: u32, shift: isize| (x as isize + shift) as usize;
        for p in &self.places {
            // Strings up to their closing quote, numbers up to the byte after them: then the value
            // is the template's.
            if (p.end as usize) < same {
                spans.push((at(p.fixed.1, shift) as u32, at(p.end, shift) as u32, p.escaped));
                continue;
            }
            // A difference before the value is in its fixed text: no match.
            if same < p.fixed.1 as usize {
                return None;
            }
            let pos = at(p.fixed.1, shift);
            let end = if p.kind == Kind::Str {
                // The fixed text ended with the opening quote.
                let (end, escaped) = scan_string(line, pos - 1)?;
                spans.push((pos as u32, end as u32, escaped));
                end
            } else {
                if !matches!(line.get(pos), Some(b'-' | b'0'..=b'9')) {
                    return None;
                }
                let end = number_end(line, pos)?;
                spans.push((pos as u32, end as u32, false));
                end
            };
            shift = end as isize - p.end as isize;
            same = p.end as usize + common_prefix(&line[end..], &t[p.end as usize..]);
        }
        (same == t.len()).then(|| at(t.len() as u32, shift))
    }
}

/// How many leading bytes `a` and `b` have in common, a word at a time.
#[inline(always)]
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or_default());
    let mut i = 0;
    // Two words a turn: inside WebAssembly every turn of a loop also checks the time limit.
    while i + 16 <= n {
        let x = word(a, i) ^ word(b, i);
        let y = word(a, i + 8) ^ word(b, i + 8);
        if x | y != 0 {
            return i
                + (if x != 0 {
                    x.trailing_zeros()
                } else {
                    64 + y.trailing_zeros()
                } / 8) as usize;
        }
        i += 16;
    }
    if i + 8 <= n {
        let x = word(a, i) ^ word(b, i);
        if x != 0 {
            return i + (x.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    if n >= 8 {
        // The last word overlaps bytes already known equal.
        let x = word(a, n - 8) ^ word(b, n - 8);
        return if x == 0 {
            n
        } else {
            n - 8 + (x.trailing_zeros() / 8) as usize
        };
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// The strings and numbers that are values (not keys) under node `i`, in text order.
fn collect_values(tape: &Tape, i: usize, out: &mut Vec<usize>) {
    match tape.nodes[i].kind {
        Kind::Object => {
            for (_, v) in tape.entries(i) {
                collect_values(tape, v, out);
            }
        }
        Kind::Array => {
            for e in tape.elements(i) {
                collect_values(tape, e, out);
            }
        }
        Kind::Str | Kind::Number => out.push(i),
        Kind::Null | Kind::True | Kind::False => {}
    }
}

#[cfg(test)]
mod tests {
    /// `common_prefix` (two words a turn, an overlapping last word) against a byte loop, for every
    /// length up to 40 and a difference at every position.
    #[test]
    fn common_prefix_agrees_with_a_byte_loop() {
        let a: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for n in 0..=a.len() {
            for cut in 0..=n {
                assert_eq!(super::common_prefix(&a[..n], &a[..cut]), cut);
            }
            for at in 0..n {
                let mut b = a[..n].to_vec();
                b[at] ^= 0x20;
                assert_eq!(super::common_prefix(&a[..n], &b), at, "length {n}, differing at {at}");
            }
        }
    }
}
