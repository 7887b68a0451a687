//! GS601: a model deleted or renamed while a sync of the head still uses it.

use super::context::Context;
use crate::diag::{Diagnostic, Span, codes};

/// Emits GS601.
pub(super) fn check(cx: &mut Context) {
    let gone: Vec<(&str, String)> = cx
        .base
        .models
        .iter()
        .filter(|(slug, _)| !cx.head.models.contains_key(*slug))
        .map(|(slug, model)| (*slug, model.path.clone()))
        .collect();
    for (slug, model_path) in gone {
        for s in cx.syncs_using(slug) {
            let sync = s.as_sync().expect("indexed as a sync");
            let span = sync.model.as_ref().map_or(Span::file_start(), |m| m.span);
            let (message, help) = match cx.renamed.get(slug).filter(|n| cx.head.models.contains_key(**n)) {
                Some(new) => (
                    format!(
                        "model `{slug}` was renamed to `{new}`, but sync `{}` still uses `{slug}`",
                        s.slug
                    ),
                    format!("change this line to `model: {new}` (renaming a model file changes its slug)"),
                ),
                None => (
                    format!("model `{slug}` was deleted, but sync `{}` still uses it", s.slug),
                    format!("restore {model_path} or point the sync at another model"),
                ),
            };
            cx.diagnostics.push(
                Diagnostic::new(codes::BREAKING_MODEL_REMOVED, &s.path, span, message)
                    .label("this sync breaks")
                    .help(help),
            );
            cx.affect_everywhere(s, format!("its model `{slug}` is gone"));
        }
    }
}
