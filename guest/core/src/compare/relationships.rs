//! GS603: a relationship deleted or renamed while a through relationship of the head still uses it.

use super::context::{Context, gone_word, rename_help};
use crate::diag::{Diagnostic, codes};
use crate::resource::Relationship;

/// Emits GS603.
pub(super) fn check(cx: &mut Context) {
    for slug in cx.base.relationships.keys() {
        if cx.head.relationships.contains_key(slug) {
            continue;
        }
        for r in cx.head.relationships.values() {
            let Some(Relationship::Through(t)) = r.as_relationship() else {
                continue;
            };
            for step in t.through.iter().filter(|s| s.value == *slug) {
                cx.diagnostics.push(
                    Diagnostic::new(
                        codes::BREAKING_RELATIONSHIP_REMOVED,
                        &r.path,
                        step.span,
                        format!(
                            "relationship `{slug}` was {}, but through relationship `{}` still uses it",
                            gone_word(cx.renamed.get(slug)),
                            r.slug
                        ),
                    )
                    .help(rename_help(cx.renamed.get(slug), "entry")),
                );
            }
        }
    }
}
