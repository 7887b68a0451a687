//! The one place WIT records become gitsync-core's vocabulary: findings, severities, affected syncs
//! and event tallies arrive from the components as generated records and leave the engine as the
//! types every other layer (and every reporter) uses.

use crate::bindings::contracts::exports::gitsync::policy::contracts as wit_contracts;
use crate::bindings::deps::exports::gitsync::policy::deps as wit_deps;
use crate::bindings::types as wit;
use gitsync_core::compare::AffectedSync;
use gitsync_core::diag::{Diagnostic, Severity, Span};
use gitsync_core::events::Tally;

pub(crate) fn severity(s: wit::Severity) -> Severity {
    match s {
        wit::Severity::Error => Severity::Error,
        wit::Severity::Warning => Severity::Warning,
        wit::Severity::Note => Severity::Note,
    }
}

pub(crate) fn diagnostic(d: wit::Diagnostic) -> Diagnostic {
    let span = Span::new(d.span.line, d.span.column, d.span.end_line, d.span.end_column);
    let mut out = Diagnostic::custom(d.code, severity(d.severity), &d.path, span, d.message);
    out.label = d.label;
    out.help = d.help;
    out.workspace = d.workspace;
    out
}

pub(crate) fn diagnostics(ds: Vec<wit::Diagnostic>) -> Vec<Diagnostic> {
    ds.into_iter().map(diagnostic).collect()
}

pub(crate) fn affected_sync(a: wit_deps::AffectedSync) -> AffectedSync {
    AffectedSync {
        workspace: a.workspace,
        sync: a.sync,
        path: a.path,
        reasons: a.reasons,
    }
}

pub(crate) fn tally(t: wit_contracts::Tally) -> Tally {
    Tally {
        events: t.events,
        allowed: t.allowed,
        blocked: t.blocked,
        malformed: t.malformed,
        per_event: t.per_event.into_iter().map(|(name, a, b)| (name, [a, b])).collect(),
        per_violation: t.per_violation.into_iter().collect(),
        undeclared_schema: t.undeclared_schema,
        undeclared_fields: t.undeclared_fields,
    }
}
