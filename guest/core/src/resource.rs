//! Typed resources of a Git Sync repository (docs/layout.md, docs/resources.md). They mirror the WIT `types` interface.

use crate::diag::Span;

/// A scalar value with its place in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Text {
    pub value: String,
    pub span: Span,
}

impl Text {
    pub fn new(value: impl Into<String>, span: Span) -> Text {
        Text {
            value: value.into(),
            span,
        }
    }

    /// A value made by a program rather than read from a file.
    pub fn bare(value: impl Into<String>) -> Text {
        Text {
            value: value.into(),
            span: Span::file_start(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Model,
    ParentModel,
    RelatedModel,
    EventModel,
}

impl ModelKind {
    /// The folder the kind lives in, relative to the configured path (from the layout).
    pub fn folder(self) -> &'static str {
        use crate::layout::Kind;
        match self {
            ModelKind::Model => Kind::Model,
            ModelKind::ParentModel => Kind::ParentModel,
            ModelKind::RelatedModel => Kind::RelatedModel,
            ModelKind::EventModel => Kind::EventModel,
        }
        .folder()
    }

    pub fn noun(self) -> &'static str {
        match self {
            ModelKind::Model => "model",
            ModelKind::ParentModel => "parent model",
            ModelKind::RelatedModel => "related model",
            ModelKind::EventModel => "event model",
        }
    }

    pub fn is_schema_model(self) -> bool {
        self != ModelKind::Model
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    RawSql,
    Table,
    DbtModel,
}

impl QueryType {
    pub const ALL: [(&'static str, QueryType); 3] = [
        ("raw_sql", QueryType::RawSql),
        ("table", QueryType::Table),
        ("dbt_model", QueryType::DbtModel),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueryType::RawSql => "raw_sql",
            QueryType::Table => "table",
            QueryType::DbtModel => "dbt_model",
        }
    }

    /// The field that holds the query for this type.
    pub fn field(self) -> &'static str {
        match self {
            QueryType::RawSql => "rawSql",
            QueryType::Table => "tableName",
            QueryType::DbtModel => "dbtModel",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub kind: ModelKind,
    pub name: Option<Text>,
    pub source: Option<Text>,
    pub query_type: Option<QueryType>,
    pub raw_sql: Option<Text>,
    pub table_name: Option<Text>,
    pub dbt_model: Option<Text>,
    pub is_schema: Option<bool>,
    pub primary_key: Option<Text>,
    pub primary_label: Option<Text>,
    pub secondary_label: Option<Text>,
    pub event_timestamp_column: Option<Text>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sync {
    pub model: Option<Text>,
    pub destination: Option<Text>,
    /// The destination-specific `config` mapping, as JSON text.
    pub config_json: String,
    /// `schedule` as JSON text (`null` = manual).
    pub schedule_json: String,
    pub schedule_paused: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct RelationshipEnd {
    pub relationship_name: Option<Text>,
    pub slug: Option<Text>,
    pub merge_columns: Option<bool>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ColumnMapping {
    pub from_column: Text,
    pub to_column: Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DirectRelationship {
    pub from: RelationshipEnd,
    pub to: RelationshipEnd,
    pub cardinality: Option<Text>,
    pub mapping: Vec<ColumnMapping>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ThroughRelationship {
    pub name: Option<Text>,
    pub from_slug: Option<Text>,
    pub to_slug: Option<Text>,
    pub through: Vec<Text>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Relationship {
    Direct(DirectRelationship),
    Through(ThroughRelationship),
}

/// What happens to an event that breaks a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventAction {
    AllowEvent,
    BlockEvent,
    OmitFields,
}

impl EventAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::AllowEvent => "ALLOW_EVENT",
            EventAction::BlockEvent => "BLOCK_EVENT",
            EventAction::OmitFields => "OMIT_FIELDS",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Contract {
    pub name: Option<Text>,
    pub description: Option<String>,
    pub on_undeclared_schema: EventAction,
}

/// A JSON pointer (`/config/mode`, `/columns/0`) and where that value sits in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct PointerSpan {
    pub pointer: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The contract slug: the folder the file is in.
    pub contract: String,
    pub event_type: Option<Text>,
    pub name: Option<Text>,
    pub version: Text,
    pub on_schema_violation: EventAction,
    pub on_undeclared_fields: EventAction,
    pub include_built_in_context: bool,
    pub schema_json: Option<String>,
    pub schema_spans: Vec<PointerSpan>,
    pub schema_span: Span,
}

pub const EVENT_TYPES: [&str; 6] = ["track", "identify", "group", "page", "screen", "alias"];

#[derive(Clone, Debug, PartialEq)]
pub struct ManifestEntry {
    pub id: Text,
    pub name: Option<String>,
    pub kind: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub workspace: String,
    pub sources: Vec<ManifestEntry>,
    pub destinations: Vec<ManifestEntry>,
    pub has_read_only_header: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AliasEntry {
    pub alias: Text,
    pub target: Text,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AliasMap {
    pub workspace: String,
    pub sources: Vec<AliasEntry>,
    pub destinations: Vec<AliasEntry>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ResourceBody {
    Model(Model),
    Sync(Sync),
    Relationship(Relationship),
    Contract(Contract),
    Event(Event),
    Manifest(Manifest),
    Aliases(AliasMap),
}

/// A typed resource read from one file. `slug` is the file stem (for events `<contract>/<stem>`).
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub path: String,
    pub slug: String,
    pub body: ResourceBody,
    /// Where every value of the file sits, by JSON pointer (`""` is the whole document,
    /// `/schedulePaused`, `/config/mode`, `/columns/0`), in document order.
    pub spans: Vec<PointerSpan>,
}

impl Resource {
    /// Where the value at `pointer` sits (`/schedule/expression`); `None` when the file has no such value.
    /// Keys holding `/` or `~` are written `~1` and `~0`, as in any JSON pointer.
    pub fn span_at(&self, pointer: &str) -> Option<Span> {
        self.spans.iter().find(|p| p.pointer == pointer).map(|p| p.span)
    }

    pub fn as_model(&self) -> Option<&Model> {
        match &self.body {
            ResourceBody::Model(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_sync(&self) -> Option<&Sync> {
        match &self.body {
            ResourceBody::Sync(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_relationship(&self) -> Option<&Relationship> {
        match &self.body {
            ResourceBody::Relationship(r) => Some(r),
            _ => None,
        }
    }
    pub fn as_event(&self) -> Option<&Event> {
        match &self.body {
            ResourceBody::Event(e) => Some(e),
            _ => None,
        }
    }
    pub fn as_contract(&self) -> Option<&Contract> {
        match &self.body {
            ResourceBody::Contract(c) => Some(c),
            _ => None,
        }
    }
    pub fn as_manifest(&self) -> Option<&Manifest> {
        match &self.body {
            ResourceBody::Manifest(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_aliases(&self) -> Option<&AliasMap> {
        match &self.body {
            ResourceBody::Aliases(a) => Some(a),
            _ => None,
        }
    }
}
