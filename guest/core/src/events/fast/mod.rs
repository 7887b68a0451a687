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

mod check;
mod explain;
mod layout;
mod schema;
mod tape;

#[allow(unused_imports)]
use check::*;
#[allow(unused_imports)]
use explain::*;
pub(crate) use layout::Layouts;
#[allow(unused_imports)]
pub use schema::*;
#[allow(unused_imports)]
pub use tape::*;
