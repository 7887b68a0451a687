//! GS602: a schema model deleted or renamed while a relationship of the head still uses it.

use super::context::{Context, gone_word, rename_help};
use crate::diag::{Diagnostic, codes};
use crate::resource::{Relationship, Text};

/// Emits GS602.
pub(super) fn check(cx: &mut Context) {
    for slug in cx.base.schema_models.keys() {
        if cx.head.schema_models.contains_key(slug) {
            continue;
        }
        for r in cx.head.relationships.values() {
            let refs: Vec<&Text> = match r.as_relationship() {
                Some(Relationship::Direct(d)) => [&d.from.slug, &d.to.slug].into_iter().flatten().collect(),
                Some(Relationship::Through(t)) => [&t.from_slug, &t.to_slug].into_iter().flatten().collect(),
                None => vec![],
            };
            for t in refs.into_iter().filter(|t| t.value == *slug) {
                cx.diagnostics.push(
                    Diagnostic::new(
                        codes::BREAKING_SCHEMA_MODEL_REMOVED,
                        &r.path,
                        t.span,
                        format!(
                            "schema model `{slug}` was {}, but relationship `{}` still uses it",
                            gone_word(cx.renamed.get(slug)),
                            r.slug
                        ),
                    )
                    .help(rename_help(cx.renamed.get(slug), "slug")),
                );
            }
        }
    }
}
