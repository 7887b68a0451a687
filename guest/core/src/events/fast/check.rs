//! The validation walk: a tape against compiled checks — now, or planned for a layout's changing
//! values — and the equality of tape values with schema values (`enum`, `const`, `uniqueItems`).

#[allow(unused_imports)]
use super::*;

/// How the validation walk applies the keywords on a value itself (`scalar_checks`): now, or — when
/// planning for a layout — later, for the strings and numbers that change from event to event.
/// (A type parameter, so the judging walk is compiled without a trace of planning.)
pub(crate) trait Values<'c> {
    fn check(&mut self, c: &'c Checks, t: &Tape, i: usize) -> Fast;
}

/// Check values as the walk meets them.
pub(crate) struct Now;

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
pub(crate) struct Later<'c, 'p> {
    pub(crate) place_of: &'p [u32],
    pub(crate) plan: Vec<(u32, &'c Checks)>,
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
pub(crate) struct Plan<'c>(pub(crate) Vec<(u32, &'c Checks)>);

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
    pub(crate) fn check(&self, s: &Schema, t: &Tape, i: usize, depth: usize) -> Fast {
        self.check_fields(s, t, i, depth, Fields::Off, &mut Now)
    }

    /// `check_fields` for a child value, with leaf values under plain schemas checked in place.
    #[inline(always)]
    pub(crate) fn child<'c, V: Values<'c>>(
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

    pub(crate) fn check_fields<'c, V: Values<'c>>(
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

    pub(crate) fn checks<'c, V: Values<'c>>(
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
                        Fields::TopBuiltIn if crate::events::is_built_in(&t.str_at(k)) => Fields::Off,
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

    pub(crate) fn contains(&self, s: &Schema, t: &Tape, i: usize, depth: usize) -> Fast {
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

    pub(crate) fn dependencies(&self, c: &Checks, t: &Tape, i: usize, depth: usize) -> Fast {
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
    pub(crate) fn combinations(&self, c: &Checks, t: &Tape, i: usize, depth: usize) -> Fast {
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
    pub(crate) fn collect<'c>(
        &'c self,
        s: &'c Schema,
        t: &Tape,
        i: usize,
        depth: usize,
        out: &mut Vec<Problem<'c>>,
    ) -> bool {
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
    pub(crate) fn item(&self, k: usize) -> Option<&Schema> {
        match (&self.tuple, &self.items) {
            (Some(tuple), _) => tuple.get(k).or(self.additional_items.as_ref()),
            (None, Some(items)) => Some(items),
            (None, None) => None,
        }
    }

    /// The schema for the field whose key is node `k`: declared by name (with the declaration's
    /// index), else `additionalProperties`.
    #[inline(always)]
    pub(crate) fn property(&self, t: &Tape, k: usize) -> (Option<usize>, Option<&Schema>) {
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
pub(crate) fn scalar_checks(c: &Checks, t: &Tape, i: usize) -> Fast {
    let n = t.nodes[i];
    if matches!(n.kind, Kind::Array | Kind::Object) {
        return container_checks(c, t, i);
    }
    leaf_checks(c, t.scalar(i))
}

/// The broken keywords of `c` on a string, number or literal, as `collect` reports them; false when
/// one cannot be worded (a `multipleOf`, a type list, an integer too long to tell…).
#[inline]
pub(crate) fn leaf_problems(c: &Checks, v: Scalar, problem: &mut impl FnMut(Failure)) -> bool {
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
pub(crate) fn enum_failure(c: &Checks) -> Option<Failure> {
    match (&c.enumeration, &c.constant) {
        (Some(values), None) if !values.is_empty() => Some(Failure::Enum),
        (None, Some(_)) => Some(Failure::Const),
        _ => None,
    }
}

/// `type` and `enum`/`const` of a container (its sizes and members are the walk's).
pub(crate) fn container_checks(c: &Checks, t: &Tape, i: usize) -> Fast {
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
pub(crate) fn leaf_checks(c: &Checks, v: Scalar) -> Fast {
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
pub(crate) fn length_ok(c: &Checks, v: Scalar) -> bool {
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
pub(crate) fn outside(
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
pub(crate) fn type_ok(types: u8, kind: Kind, number: impl FnOnce() -> Option<f64>) -> Option<bool> {
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
pub(crate) fn enum_ok(c: &Checks, t: &Tape, i: usize) -> Option<bool> {
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
pub(crate) fn enum_scalar(c: &Checks, v: Scalar) -> Option<bool> {
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
pub(crate) fn multiple_ok(c: &Checks, f: f64) -> Option<bool> {
    let Some(m) = c.multiple_of else { return Some(true) };
    if f.fract() != 0.0 || m.fract() != 0.0 || f.abs() > 9.0e15 {
        return None;
    }
    Some(f % m == 0.0)
}

/// `uniqueItems` at array node `i`.
pub(crate) fn unique(t: &Tape, i: usize) -> Option<bool> {
    for (a, x) in t.elements(i).enumerate() {
        for y in t.elements(i).skip(a + 1) {
            if same(t, x, y)? {
                return Some(false);
            }
        }
    }
    Some(true)
}

/// JSON equality of a tape node and a value (numbers by value); none when unsure.
pub(crate) fn equal(t: &Tape, i: usize, v: &Value) -> Option<bool> {
    match t.nodes[i].kind {
        Kind::Array | Kind::Object => equal_container(t, i, v),
        _ => equal_scalar(t.scalar(i), v),
    }
}

/// JSON equality of a string, number or literal with a schema value; none when unsure.
pub(crate) fn equal_scalar(x: Scalar, v: &Value) -> Option<bool> {
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
pub(crate) fn equal_container(t: &Tape, i: usize, v: &Value) -> Option<bool> {
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
pub(crate) fn same(t: &Tape, a: usize, b: usize) -> Option<bool> {
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
