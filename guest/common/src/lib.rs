//! The WIT `types` interface, generated once for every built-in guest, and the conversions between
//! it and gitsync-core's domain types. Each stage crate reuses these bindings through wit-bindgen's
//! `with`, so the conversions are written once.

wit_bindgen::generate!({
    world: "types-only",
    path: "../../wit",
});

pub use gitsync::policy::types;
use gitsync_core::{diag, resource as core};
use types as wit;

pub fn span(s: diag::Span) -> wit::Span {
    wit::Span {
        line: s.line,
        column: s.column,
        end_line: s.end_line,
        end_column: s.end_column,
    }
}

fn core_span(s: wit::Span) -> diag::Span {
    diag::Span {
        line: s.line,
        column: s.column,
        end_line: s.end_line,
        end_column: s.end_column,
    }
}

pub fn diagnostic(d: diag::Diagnostic) -> wit::Diagnostic {
    wit::Diagnostic {
        code: d.code.to_string(),
        severity: match d.severity {
            diag::Severity::Error => wit::Severity::Error,
            diag::Severity::Warning => wit::Severity::Warning,
            diag::Severity::Note => wit::Severity::Note,
        },
        message: d.message,
        path: d.path,
        span: span(d.span),
        label: d.label,
        help: d.help,
        workspace: d.workspace,
    }
}

pub fn diagnostics(ds: Vec<diag::Diagnostic>) -> Vec<wit::Diagnostic> {
    ds.into_iter().map(diagnostic).collect()
}

fn pointer_span(p: core::PointerSpan) -> wit::PointerSpan {
    wit::PointerSpan {
        pointer: p.pointer,
        span: span(p.span),
    }
}

fn core_pointer_span(p: wit::PointerSpan) -> core::PointerSpan {
    core::PointerSpan {
        pointer: p.pointer,
        span: core_span(p.span),
    }
}

fn text(t: core::Text) -> wit::Text {
    wit::Text {
        value: t.value,
        span: span(t.span),
    }
}

fn opt(t: Option<core::Text>) -> Option<wit::Text> {
    t.map(text)
}

fn core_text(t: wit::Text) -> core::Text {
    core::Text {
        value: t.value,
        span: core_span(t.span),
    }
}

fn core_opt(t: Option<wit::Text>) -> Option<core::Text> {
    t.map(core_text)
}

fn action(a: core::EventAction) -> wit::EventAction {
    match a {
        core::EventAction::AllowEvent => wit::EventAction::AllowEvent,
        core::EventAction::BlockEvent => wit::EventAction::BlockEvent,
        core::EventAction::OmitFields => wit::EventAction::OmitFields,
    }
}

fn core_action(a: wit::EventAction) -> core::EventAction {
    match a {
        wit::EventAction::AllowEvent => core::EventAction::AllowEvent,
        wit::EventAction::BlockEvent => core::EventAction::BlockEvent,
        wit::EventAction::OmitFields => core::EventAction::OmitFields,
    }
}

fn end(e: core::RelationshipEnd) -> wit::RelationshipEnd {
    wit::RelationshipEnd {
        relationship_name: opt(e.relationship_name),
        slug: opt(e.slug),
        merge_columns: e.merge_columns,
    }
}

fn core_end(e: wit::RelationshipEnd) -> core::RelationshipEnd {
    core::RelationshipEnd {
        relationship_name: core_opt(e.relationship_name),
        slug: core_opt(e.slug),
        merge_columns: e.merge_columns,
    }
}

fn manifest_entry(e: core::ManifestEntry) -> wit::ManifestEntry {
    wit::ManifestEntry {
        id: text(e.id),
        name: e.name,
        kind: e.kind,
    }
}

fn core_manifest_entry(e: wit::ManifestEntry) -> core::ManifestEntry {
    core::ManifestEntry {
        id: core_text(e.id),
        name: e.name,
        kind: e.kind,
    }
}

fn alias_entry(e: core::AliasEntry) -> wit::AliasEntry {
    wit::AliasEntry {
        alias: text(e.alias),
        target: text(e.target),
    }
}

fn core_alias_entry(e: wit::AliasEntry) -> core::AliasEntry {
    core::AliasEntry {
        alias: core_text(e.alias),
        target: core_text(e.target),
    }
}

/// A domain resource as its WIT record.
pub fn resource(r: core::Resource) -> wit::Resource {
    use core::ResourceBody as B;
    let body = match r.body {
        B::Model(m) => wit::ResourceBody::Model(wit::Model {
            kind: match m.kind {
                core::ModelKind::Model => wit::ModelKind::Model,
                core::ModelKind::ParentModel => wit::ModelKind::ParentModel,
                core::ModelKind::RelatedModel => wit::ModelKind::RelatedModel,
                core::ModelKind::EventModel => wit::ModelKind::EventModel,
            },
            name: opt(m.name),
            source: opt(m.source),
            query_type: m.query_type.map(|q| match q {
                core::QueryType::RawSql => wit::QueryType::RawSql,
                core::QueryType::Table => wit::QueryType::Table,
                core::QueryType::DbtModel => wit::QueryType::DbtModel,
            }),
            raw_sql: opt(m.raw_sql),
            table_name: opt(m.table_name),
            dbt_model: opt(m.dbt_model),
            is_schema: m.is_schema,
            primary_key: opt(m.primary_key),
            primary_label: opt(m.primary_label),
            secondary_label: opt(m.secondary_label),
            event_timestamp_column: opt(m.event_timestamp_column),
        }),
        B::Sync(s) => wit::ResourceBody::Sync(wit::Sync {
            model: opt(s.model),
            destination: opt(s.destination),
            config_json: s.config_json,
            schedule_json: s.schedule_json,
            schedule_paused: s.schedule_paused,
        }),
        B::Relationship(core::Relationship::Direct(d)) => {
            wit::ResourceBody::Relationship(wit::Relationship::Direct(wit::DirectRelationship {
                from: end(d.from),
                to: end(d.to),
                cardinality: opt(d.cardinality),
                mapping: d
                    .mapping
                    .into_iter()
                    .map(|m| wit::ColumnMapping {
                        from_column: text(m.from_column),
                        to_column: text(m.to_column),
                    })
                    .collect(),
            }))
        }
        B::Relationship(core::Relationship::Through(t)) => {
            wit::ResourceBody::Relationship(wit::Relationship::Through(wit::ThroughRelationship {
                name: opt(t.name),
                from_slug: opt(t.from_slug),
                to_slug: opt(t.to_slug),
                through: t.through.into_iter().map(text).collect(),
            }))
        }
        B::Contract(c) => wit::ResourceBody::Contract(wit::Contract {
            name: opt(c.name),
            description: c.description,
            on_undeclared_schema: action(c.on_undeclared_schema),
        }),
        B::Event(e) => wit::ResourceBody::Event(wit::Event {
            contract: e.contract,
            event_type: opt(e.event_type),
            name: opt(e.name),
            version: text(e.version),
            on_schema_violation: action(e.on_schema_violation),
            on_undeclared_fields: action(e.on_undeclared_fields),
            include_built_in_context: e.include_built_in_context,
            schema_json: e.schema_json,
            schema_spans: e.schema_spans.into_iter().map(pointer_span).collect(),
            schema_span: span(e.schema_span),
        }),
        B::Manifest(m) => wit::ResourceBody::Manifest(wit::Manifest {
            workspace: m.workspace,
            sources: m.sources.into_iter().map(manifest_entry).collect(),
            destinations: m.destinations.into_iter().map(manifest_entry).collect(),
            has_read_only_header: m.has_read_only_header,
        }),
        B::Aliases(a) => wit::ResourceBody::Aliases(wit::AliasMap {
            workspace: a.workspace,
            sources: a.sources.into_iter().map(alias_entry).collect(),
            destinations: a.destinations.into_iter().map(alias_entry).collect(),
        }),
    };
    wit::Resource {
        path: r.path,
        slug: r.slug,
        body,
        spans: r.spans.into_iter().map(pointer_span).collect(),
    }
}

/// A WIT resource record as the domain type.
pub fn core_resource(r: wit::Resource) -> core::Resource {
    use wit::ResourceBody as B;
    let body = match r.body {
        B::Model(m) => core::ResourceBody::Model(core::Model {
            kind: match m.kind {
                wit::ModelKind::Model => core::ModelKind::Model,
                wit::ModelKind::ParentModel => core::ModelKind::ParentModel,
                wit::ModelKind::RelatedModel => core::ModelKind::RelatedModel,
                wit::ModelKind::EventModel => core::ModelKind::EventModel,
            },
            name: core_opt(m.name),
            source: core_opt(m.source),
            query_type: m.query_type.map(|q| match q {
                wit::QueryType::RawSql => core::QueryType::RawSql,
                wit::QueryType::Table => core::QueryType::Table,
                wit::QueryType::DbtModel => core::QueryType::DbtModel,
            }),
            raw_sql: core_opt(m.raw_sql),
            table_name: core_opt(m.table_name),
            dbt_model: core_opt(m.dbt_model),
            is_schema: m.is_schema,
            primary_key: core_opt(m.primary_key),
            primary_label: core_opt(m.primary_label),
            secondary_label: core_opt(m.secondary_label),
            event_timestamp_column: core_opt(m.event_timestamp_column),
        }),
        B::Sync(s) => core::ResourceBody::Sync(core::Sync {
            model: core_opt(s.model),
            destination: core_opt(s.destination),
            config_json: s.config_json,
            schedule_json: s.schedule_json,
            schedule_paused: s.schedule_paused,
        }),
        B::Relationship(wit::Relationship::Direct(d)) => {
            core::ResourceBody::Relationship(core::Relationship::Direct(core::DirectRelationship {
                from: core_end(d.from),
                to: core_end(d.to),
                cardinality: core_opt(d.cardinality),
                mapping: d
                    .mapping
                    .into_iter()
                    .map(|m| core::ColumnMapping {
                        from_column: core_text(m.from_column),
                        to_column: core_text(m.to_column),
                    })
                    .collect(),
            }))
        }
        B::Relationship(wit::Relationship::Through(t)) => {
            core::ResourceBody::Relationship(core::Relationship::Through(core::ThroughRelationship {
                name: core_opt(t.name),
                from_slug: core_opt(t.from_slug),
                to_slug: core_opt(t.to_slug),
                through: t.through.into_iter().map(core_text).collect(),
            }))
        }
        B::Contract(c) => core::ResourceBody::Contract(core::Contract {
            name: core_opt(c.name),
            description: c.description,
            on_undeclared_schema: core_action(c.on_undeclared_schema),
        }),
        B::Event(e) => core::ResourceBody::Event(core::Event {
            contract: e.contract,
            event_type: core_opt(e.event_type),
            name: core_opt(e.name),
            version: core_text(e.version),
            on_schema_violation: core_action(e.on_schema_violation),
            on_undeclared_fields: core_action(e.on_undeclared_fields),
            include_built_in_context: e.include_built_in_context,
            schema_json: e.schema_json,
            schema_spans: e.schema_spans.into_iter().map(core_pointer_span).collect(),
            schema_span: core_span(e.schema_span),
        }),
        B::Manifest(m) => core::ResourceBody::Manifest(core::Manifest {
            workspace: m.workspace,
            sources: m.sources.into_iter().map(core_manifest_entry).collect(),
            destinations: m.destinations.into_iter().map(core_manifest_entry).collect(),
            has_read_only_header: m.has_read_only_header,
        }),
        B::Aliases(a) => core::ResourceBody::Aliases(core::AliasMap {
            workspace: a.workspace,
            sources: a.sources.into_iter().map(core_alias_entry).collect(),
            destinations: a.destinations.into_iter().map(core_alias_entry).collect(),
        }),
    };
    core::Resource {
        path: r.path,
        slug: r.slug,
        body,
        spans: r.spans.into_iter().map(core_pointer_span).collect(),
    }
}

/// A resolved reference as the WIT record.
pub fn resolved_reference(x: gitsync_core::aliases::ResolvedReference) -> wit::ResolvedReference {
    wit::ResolvedReference {
        path: x.path,
        field: x.field,
        value: x.value,
        id: x.id,
    }
}

pub fn core_resources(rs: Vec<wit::Resource>) -> Vec<core::Resource> {
    rs.into_iter().map(core_resource).collect()
}
