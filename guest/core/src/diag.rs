//! Diagnostics are data: a stable code, a place, a message and a help line. Renderers live in the host.
//!
//! This is the one vocabulary of findings: the components build these, the host receives them (the
//! engine converts the WIT record into this type once) and every reporter renders them. A plugin's
//! codes are its own, so a code is text; the built-in ones are the constants of [`codes`].

use std::borrow::Cow;

/// A range in a file; lines and columns are 1-based, columns count characters. The end is exclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    pub end_line: u32,
    pub end_column: u32,
}

impl Span {
    pub const fn new(line: u32, column: u32, end_line: u32, end_column: u32) -> Span {
        Span {
            line,
            column,
            end_line,
            end_column,
        }
    }

    /// The start of a file: where file-level findings point.
    pub const fn file_start() -> Span {
        Span::new(1, 1, 1, 1)
    }

    /// A one-line span of `len` characters starting at `line:column`.
    pub const fn at(line: u32, column: u32, len: u32) -> Span {
        Span::new(line, column, line, column + len)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// The plugin that found a finding, and what it declares about the finding's code: reporters show
/// who found it and describe the rule (a plugin's code is not in gitsync's registry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginRule {
    /// The plugin's name, as its metadata gives it.
    pub plugin: String,
    /// The one-line summary the plugin declares for the code.
    pub summary: String,
    /// The severity the plugin declares for the code.
    pub severity: Severity,
    /// The page documenting the plugin's codes, when its metadata gives one.
    pub help_uri: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Cow<'static, str>,
    pub severity: Severity,
    pub message: String,
    pub path: String,
    pub span: Span,
    pub label: Option<String>,
    pub help: Option<String>,
    pub workspace: Option<String>,
    /// Set when a plugin found it (none: gitsync itself).
    pub plugin: Option<PluginRule>,
}

impl Diagnostic {
    /// A finding with the code's default severity.
    pub fn new(code: Code, path: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::custom(code.id, code.severity, path, span, message)
    }

    /// A finding about a whole file: it points at line 1, column 1.
    pub fn file_level(code: Code, path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(code, path, Span::file_start(), message)
    }

    /// A finding under a code that is not one of gitsync's own (a plugin's), with its severity.
    pub fn custom(
        code: impl Into<Cow<'static, str>>,
        severity: Severity,
        path: &str,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            code: code.into(),
            severity,
            message: message.into(),
            path: path.to_string(),
            span,
            label: None,
            help: None,
            workspace: None,
            plugin: None,
        }
    }

    fn sort_key(&self) -> (&str, u32, u32, &str, Option<&str>, &str) {
        (
            &self.path,
            self.span.line,
            self.span.column,
            &self.code,
            self.workspace.as_deref(),
            &self.message,
        )
    }

    pub fn label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn maybe_help(mut self, help: Option<String>) -> Diagnostic {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    pub fn workspace(mut self, workspace: &str) -> Diagnostic {
        self.workspace = Some(workspace.to_string());
        self
    }
}

/// Sort findings by file and position, and drop exact repeats: the order every report shows.
pub fn normalize(diags: &mut Vec<Diagnostic>) {
    diags.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diags.dedup();
}

/// Whether any finding is an error (what exit code 1 means).
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

/// A check's identity: stable code, default severity and a title for the docs table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    pub id: &'static str,
    pub severity: Severity,
    pub title: &'static str,
}

macro_rules! codes {
    ($($name:ident = $id:literal, $sev:ident, $title:literal;)*) => {
        $(pub const $name: Code = Code { id: $id, severity: Severity::$sev, title: $title };)*
        /// Every code, in order: the table docs/diagnostics.md documents.
        pub const ALL: &[Code] = &[$($name),*];
    };
}

/// The codes of every built-in check. Numbers never change meaning once released.
pub mod codes {
    use super::{Code, Severity};
    codes! {
        INVALID_UTF8 = "GS001", Error, "file is not valid UTF-8";
        YAML_SYNTAX = "GS002", Error, "YAML syntax error";
        FILE_TOO_LARGE = "GS003", Error, "file is larger than the size limit";
        EMPTY_FILE = "GS004", Error, "resource file is empty";
        TOO_DEEP = "GS005", Error, "YAML nested too deeply";
        ALIAS_BOMB = "GS006", Error, "YAML aliases expand to too many nodes";
        DUPLICATE_KEY = "GS007", Error, "duplicate key";
        MULTIPLE_DOCUMENTS = "GS008", Error, "more than one YAML document in a file";
        POLICY_FAILURE = "GS009", Error, "a policy component failed";
        UNREADABLE_FILE = "GS010", Error, "file cannot be read";
        SYMBOLIC_LINK = "GS011", Warning, "file is a symbolic link";
        UNKNOWN_CODE = "GS012", Warning, "the config names a code nothing declares";
        CONFIG_CHANGED = "GS013", Warning, "the change edits gitsync's own configuration";
        UNKNOWN_FIELD = "GS101", Error, "unknown field";
        MISSING_FIELD = "GS102", Error, "required field is missing";
        WRONG_TYPE = "GS103", Error, "value has the wrong type";
        INVALID_VALUE = "GS104", Error, "value is not one of the allowed values";
        FIELD_CONFLICT = "GS105", Error, "field does not go with the model type";
        INVALID_DBT_MODEL = "GS106", Error, "dbtModel is not of the form model.<package>.<model>";
        IS_SCHEMA_TRUE = "GS107", Error, "isSchema must be false";
        INVALID_SLUG = "GS108", Error, "file name is not a valid slug";
        INVALID_SCHEDULE = "GS109", Error, "invalid sync schedule";
        INVALID_CRON = "GS110", Error, "invalid Quartz cron expression";
        EMPTY_LIST = "GS111", Error, "list must not be empty";
        MISPLACED_FILE = "GS112", Warning, "file looks like a resource but is not in the Git Sync layout";
        EVENT_SCHEMA_NOT_JSON = "GS113", Error, "event schema is not a JSON object";
        DUPLICATE_ALIAS = "GS201", Error, "alias defined more than once";
        UNKNOWN_ALIAS_TARGET = "GS202", Error, "alias points at an id that is not in the manifest";
        MANIFEST_HEADER = "GS203", Warning, "manifest lacks its READ ONLY header";
        ALIASES_WITHOUT_MANIFEST = "GS204", Warning, "alias file has no manifest";
        UNRESOLVED_SOURCE = "GS301", Error, "source does not resolve in the workspace";
        UNRESOLVED_DESTINATION = "GS302", Error, "destination does not resolve in the workspace";
        UNKNOWN_MODEL = "GS401", Error, "sync uses a model that does not exist";
        UNKNOWN_SCHEMA_MODEL = "GS402", Error, "relationship uses a schema model that does not exist";
        UNKNOWN_RELATIONSHIP = "GS403", Error, "through relationship uses a relationship that does not exist";
        BROKEN_THROUGH_CHAIN = "GS404", Error, "through chain does not connect `from` to `to`";
        CYCLIC_THROUGH_CHAIN = "GS405", Error, "through chain is cyclic";
        AMBIGUOUS_SCHEMA_SLUG = "GS406", Error, "two schema models share a slug";
        EVENT_WITHOUT_CONTRACT = "GS501", Error, "event has no contract file";
        DUPLICATE_EVENT = "GS502", Error, "event type, name and version repeat within a contract";
        INVALID_EVENT_SCHEMA = "GS503", Error, "event schema is not valid JSON Schema draft 7";
        EVENT_FILE_NAME = "GS504", Warning, "event file name does not match its slug";
        CONTRACT_FILE_NAME = "GS505", Warning, "contract file name does not match its name";
        EVENT_NAME_RULE = "GS506", Error, "track events need a name; other events must not have one";
        BREAKING_MODEL_REMOVED = "GS601", Error, "model deleted or renamed while a sync uses it";
        BREAKING_SCHEMA_MODEL_REMOVED = "GS602", Error, "schema model deleted or renamed while a relationship uses it";
        BREAKING_RELATIONSHIP_REMOVED = "GS603", Error, "relationship deleted or renamed while a through relationship uses it";
        BREAKING_REFERENCE = "GS604", Error, "source or destination no longer resolves in a workspace";
        PRIMARY_KEY_CHANGED = "GS605", Warning, "primary key changed while syncs use the model";
        BREAKING_EVENT_SCHEMA = "GS606", Error, "new event schema rejects events the old one accepted";
        UNPROVEN_EVENT_SCHEMA = "GS607", Warning, "event schema change cannot be proven compatible";
        BLOCKING_ACTION = "GS608", Error, "an event rule now blocks events it allowed";
        MANIFEST_EDITED = "GS609", Warning, "manifest edited in Git";
    }
}

pub use codes::ALL as ALL_CODES;

/// Look a code up by its id (`"GS101"`).
pub fn code(id: &str) -> Option<Code> {
    codes::ALL.iter().copied().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut ids: Vec<&str> = codes::ALL.iter().map(|c| c.id).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate code ids");
        for id in ids {
            assert!(id.len() == 5 && id.starts_with("GS"), "{id}");
            assert!(id[2..].chars().all(|c| c.is_ascii_digit()), "{id}");
        }
    }
}
