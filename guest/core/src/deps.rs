//! References between resources (docs/resources.md): syncs to models, relationships to schema models,
//! through relationships to relationships. Not workspace-specific.

use crate::diag::{Diagnostic, Span, codes};
use crate::resource::*;
use crate::suggest::closest;
use std::collections::{HashMap, HashSet};

/// Emits GS406.
pub fn check(resources: &[Resource]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let models: HashMap<&str, &Resource> = resources
        .iter()
        .filter(|r| r.as_model().is_some_and(|m| m.kind == ModelKind::Model))
        .map(|r| (r.slug.as_str(), r))
        .collect();
    let mut schema_models: HashMap<&str, (&Resource, ModelKind)> = HashMap::new();
    for r in resources {
        let Some(m) = r.as_model().filter(|m| m.kind.is_schema_model()) else {
            continue;
        };
        if let Some((first, kind)) = schema_models.get(r.slug.as_str()) {
            diags.push(
                Diagnostic::new(
                    codes::AMBIGUOUS_SCHEMA_SLUG,
                    &r.path,
                    Span::file_start(),
                    format!(
                        "schema model slug `{}` is also used by {} {}",
                        r.slug,
                        kind.noun(),
                        first.path
                    ),
                )
                .label("relationships name schema models by slug alone")
                .help("rename one of the two files"),
            );
            continue;
        }
        schema_models.insert(&r.slug, (r, m.kind));
    }
    let relationships: HashMap<&str, (&Resource, &Relationship)> = resources
        .iter()
        .filter_map(|r| r.as_relationship().map(|rel| (r.slug.as_str(), (r, rel))))
        .collect();

    for r in resources {
        match &r.body {
            ResourceBody::Sync(s) => {
                if let Some(model) = &s.model {
                    check_sync_model(r, model, &models, &schema_models, &mut diags);
                }
            }
            ResourceBody::Relationship(Relationship::Direct(d)) => {
                for end in [&d.from, &d.to] {
                    if let Some(slug) = &end.slug {
                        check_schema_model(r, slug, &models, &schema_models, &mut diags);
                    }
                }
            }
            ResourceBody::Relationship(Relationship::Through(t)) => {
                for slug in [&t.from_slug, &t.to_slug].into_iter().flatten() {
                    check_schema_model(r, slug, &models, &schema_models, &mut diags);
                }
                check_through(r, t, &relationships, &mut diags);
            }
            _ => {}
        }
    }
    diags
}

/// Emits GS401.
fn check_sync_model(
    r: &Resource,
    model: &Text,
    models: &HashMap<&str, &Resource>,
    schema_models: &HashMap<&str, (&Resource, ModelKind)>,
    diags: &mut Vec<Diagnostic>,
) {
    if models.contains_key(model.value.as_str()) {
        return;
    }
    let by_name = models.iter().find(|(_, m)| {
        m.as_model()
            .and_then(|m| m.name.as_ref())
            .is_some_and(|n| n.value == model.value)
    });
    let help = if let Some((slug, _)) = by_name {
        format!(
            "`{}` is the name of model `{slug}`; a sync names its model by slug: `model: {slug}`",
            model.value
        )
    } else if let Some(near) = closest(&model.value, models.keys().copied()) {
        format!("did you mean `{near}`? (slugs are case-sensitive)")
    } else if let Some((m, kind)) = schema_models.get(model.value.as_str()) {
        format!(
            "`{}` is a {} ({}); syncs use models from models/",
            model.value,
            kind.noun(),
            m.path
        )
    } else {
        format!("create models/{}.yaml, or name an existing model slug", model.value)
    };
    diags.push(
        Diagnostic::new(
            codes::UNKNOWN_MODEL,
            &r.path,
            model.span,
            format!("model `{}` does not exist", model.value),
        )
        .label("no model file has this slug")
        .help(help),
    );
}

/// Emits GS402.
fn check_schema_model(
    r: &Resource,
    slug: &Text,
    models: &HashMap<&str, &Resource>,
    schema_models: &HashMap<&str, (&Resource, ModelKind)>,
    diags: &mut Vec<Diagnostic>,
) {
    if schema_models.contains_key(slug.value.as_str()) {
        return;
    }
    let help = if let Some(near) = closest(&slug.value, schema_models.keys().copied()) {
        format!("did you mean `{near}`? (slugs are case-sensitive)")
    } else if models.contains_key(slug.value.as_str()) {
        format!(
            "`{}` is a model in models/; relationships connect schema models (schema/*-models/)",
            slug.value
        )
    } else {
        "name a parent, related or event model by its file stem".to_string()
    };
    diags.push(
        Diagnostic::new(
            codes::UNKNOWN_SCHEMA_MODEL,
            &r.path,
            slug.span,
            format!("schema model `{}` does not exist", slug.value),
        )
        .label("no file under schema/parent-models, related-models or event-models has this slug")
        .help(help),
    );
}

/// Expand a through relationship into the direct relationships it walks, in order.
fn expand<'a>(
    slug: &'a str,
    relationships: &HashMap<&str, (&'a Resource, &'a Relationship)>,
    stack: &mut Vec<&'a str>,
    out: &mut Vec<(&'a str, &'a str, &'a str)>,
) -> Result<(), Vec<&'a str>> {
    if stack.contains(&slug) {
        let mut cycle = stack.clone();
        cycle.push(slug);
        return Err(cycle);
    }
    match relationships.get(slug) {
        Some((_, Relationship::Direct(d))) => {
            if let (Some(a), Some(b)) = (&d.from.slug, &d.to.slug) {
                out.push((slug, a.value.as_str(), b.value.as_str()));
            }
            Ok(())
        }
        Some((_, Relationship::Through(t))) => {
            stack.push(slug);
            for step in &t.through {
                expand(&step.value, relationships, stack, out)?;
            }
            stack.pop();
            Ok(())
        }
        None => Ok(()),
    }
}

/// Emits GS403, GS404, GS405.
fn check_through(
    r: &Resource,
    t: &ThroughRelationship,
    relationships: &HashMap<&str, (&Resource, &Relationship)>,
    diags: &mut Vec<Diagnostic>,
) {
    let mut all_known = true;
    for step in &t.through {
        if relationships.contains_key(step.value.as_str()) {
            continue;
        }
        all_known = false;
        let help = match closest(&step.value, relationships.keys().copied()) {
            Some(near) => format!("did you mean `{near}`? (slugs are case-sensitive)"),
            None => "name a relationship by its file stem in schema/model-relationships/".to_string(),
        };
        diags.push(
            Diagnostic::new(
                codes::UNKNOWN_RELATIONSHIP,
                &r.path,
                step.span,
                format!("relationship `{}` does not exist", step.value),
            )
            .help(help),
        );
    }
    if !all_known {
        return;
    }
    let (Some(from), Some(to)) = (&t.from_slug, &t.to_slug) else {
        return;
    };
    let mut at = from.value.as_str();
    let mut visited: HashSet<&str> = HashSet::from([at]);
    let mut stack = vec![r.slug.as_str()];
    for step in &t.through {
        let mut edges = Vec::new();
        if let Err(cycle) = expand(&step.value, relationships, &mut stack, &mut edges) {
            diags.push(
                Diagnostic::new(
                    codes::CYCLIC_THROUGH_CHAIN,
                    &r.path,
                    step.span,
                    format!("through chain is cyclic: {}", cycle.join(" → ")),
                )
                .help("a through relationship must not use itself, directly or through others"),
            );
            return;
        }
        // A nested through relationship may be walked backwards (from its `to` end).
        let touches = |e: &(&str, &str, &str)| e.1 == at || e.2 == at;
        if edges.first().is_some_and(|e| !touches(e)) && edges.last().is_some_and(touches) {
            edges.reverse();
        }
        for (rel, a, b) in edges {
            let next = if at == a {
                b
            } else if at == b {
                a
            } else {
                diags.push(
                    Diagnostic::new(
                        codes::BROKEN_THROUGH_CHAIN,
                        &r.path,
                        step.span,
                        format!("relationship `{rel}` connects `{a}` and `{b}`, but the chain has reached `{at}`"),
                    )
                    .help(format!(
                        "list relationships in order from `{}` to `{}`, each starting where the last ended",
                        from.value, to.value
                    )),
                );
                return;
            };
            if !visited.insert(next) {
                diags.push(
                    Diagnostic::new(
                        codes::CYCLIC_THROUGH_CHAIN,
                        &r.path,
                        step.span,
                        format!("through chain visits `{next}` twice"),
                    )
                    .help("remove the relationships that lead back to a model already on the path"),
                );
                return;
            }
            at = next;
        }
    }
    if at != to.value {
        diags.push(
            Diagnostic::new(
                codes::BROKEN_THROUGH_CHAIN,
                &r.path,
                to.span,
                format!("through chain ends at `{at}`, not at `{}`", to.value),
            )
            .help(format!("add the relationships that lead from `{at}` to `{}`", to.value)),
        );
    }
}
