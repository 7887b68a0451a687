//! GS605: a model's primary key changed while syncs use it.

use super::context::Context;
use crate::diag::{Diagnostic, codes};

/// Emits GS605.
pub(super) fn check(cx: &mut Context) {
    let models: Vec<_> = cx.head.models.iter().map(|(slug, m)| (*slug, *m)).collect();
    for (slug, hm) in models {
        let base_slug = cx
            .renamed
            .iter()
            .find(|(_, new)| **new == slug)
            .map_or(slug, |(old, _)| *old);
        let Some(bm) = cx.base.models.get(base_slug) else {
            continue;
        };
        let (Some(old), Some(new)) = (
            bm.as_model().and_then(|m| m.primary_key.as_ref()),
            hm.as_model().and_then(|m| m.primary_key.as_ref()),
        ) else {
            continue;
        };
        let users = cx.syncs_using(slug);
        if old.value == new.value || users.is_empty() {
            continue;
        }
        let names: Vec<&str> = users.iter().map(|s| s.slug.as_str()).collect();
        cx.diagnostics.push(
            Diagnostic::new(
                codes::PRIMARY_KEY_CHANGED,
                &hm.path,
                new.span,
                format!("primary key of model `{slug}` changed from `{}` to `{}` while syncs use it", old.value, new.value),
            )
            .label(format!("used by {}", names.join(", ")))
            .help("syncs match rows by primary key: expect their next run to treat every row as new; pause them or reset their state"),
        );
        for s in &users {
            cx.affect_everywhere(s, format!("the primary key of model `{slug}` changed"));
        }
    }
}
