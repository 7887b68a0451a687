//! The repository layout (docs/layout.md), defined once: the resource kinds and their folders, how a
//! repository path maps to a kind and slug and back, and the slug rule. The parser, the repository
//! reader, the workspace store and the sync engine all ask this module.

use crate::resource::ModelKind;
use crate::slug::is_slug;

/// A kind of resource the workspace holds, one file each in the repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Model,
    Sync,
    ParentModel,
    RelatedModel,
    EventModel,
    Relationship,
    Contract,
    Event,
}

impl Kind {
    /// Every kind, in the order commands list them.
    pub const ALL: [Kind; 8] = [
        Kind::Model,
        Kind::Sync,
        Kind::ParentModel,
        Kind::RelatedModel,
        Kind::EventModel,
        Kind::Relationship,
        Kind::Contract,
        Kind::Event,
    ];

    /// The name commands and the store use: `model`, `parent-model`, ….
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::Sync => "sync",
            Kind::ParentModel => "parent-model",
            Kind::RelatedModel => "related-model",
            Kind::EventModel => "event-model",
            Kind::Relationship => "relationship",
            Kind::Contract => "contract",
            Kind::Event => "event",
        }
    }

    /// The folder under the configured path that holds this kind's files.
    pub const fn folder(self) -> &'static str {
        match self {
            Kind::Model => "models",
            Kind::Sync => "syncs",
            Kind::ParentModel => "schema/parent-models",
            Kind::RelatedModel => "schema/related-models",
            Kind::EventModel => "schema/event-models",
            Kind::Relationship => "schema/model-relationships",
            Kind::Contract | Kind::Event => "events/contracts",
        }
    }

    /// The kind called `name`, or an error that lists the names.
    pub fn parse(name: &str) -> Result<Kind, String> {
        Kind::ALL.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown kind `{name}`; use one of {}", names.join(", "))
        })
    }

    /// The kind of a file the parser placed, if it is a workspace resource (manifests and alias
    /// files are not).
    pub fn of_file(kind: &FileKind) -> Option<Kind> {
        Some(match kind {
            FileKind::Model(ModelKind::Model) => Kind::Model,
            FileKind::Model(ModelKind::ParentModel) => Kind::ParentModel,
            FileKind::Model(ModelKind::RelatedModel) => Kind::RelatedModel,
            FileKind::Model(ModelKind::EventModel) => Kind::EventModel,
            FileKind::Sync => Kind::Sync,
            FileKind::Relationship => Kind::Relationship,
            FileKind::Contract => Kind::Contract,
            FileKind::Event { .. } => Kind::Event,
            FileKind::Manifest { .. } | FileKind::Aliases { .. } => return None,
        })
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The largest resource file gitsync reads by default (`--max-file-size`): larger ones are reported
/// (GS003), not read; the workspace refuses to hold one (`workspace put`).
pub const MAX_FILE_SIZE: u64 = 8 << 20;

/// The folders under the configured path that hold resource files (the repository root holds the
/// manifests and alias files).
pub const RESOURCE_FOLDERS: [&str; 4] = ["models", "syncs", "schema", "events/contracts"];

/// Whether a file at the repository root is one gitsync reads (a manifest or an alias file).
pub fn is_root_file(name: &str) -> bool {
    name.starts_with("manifest-") || name.starts_with("aliases-")
}

/// The manifest of workspace `id`, at the repository root.
pub fn manifest_path(id: &str) -> String {
    format!("manifest-{id}.yaml")
}

/// The alias file of workspace `id`, at the repository root.
pub fn aliases_path(id: &str) -> String {
    format!("aliases-{id}.yaml")
}

/// `rest` under the configured sub-folder `base` (empty: the repository root).
pub fn join(base: &str, rest: &str) -> String {
    if base.is_empty() {
        rest.to_string()
    } else {
        format!("{base}/{rest}")
    }
}

/// The longest slug (or part of an event's slug) that still makes a file name.
pub const MAX_SLUG_LEN: usize = 200;

/// Whether `slug` is a valid slug of a `kind` resource: one slug, or for an event
/// `<contract>/<event>`, two. The same rule the parser applies to file names (GS108).
pub fn check_slug(kind: Kind, slug: &str) -> Result<(), String> {
    let parts: Vec<&str> = slug.split('/').collect();
    // A file name is at most 255 bytes on common file systems; `.yaml` takes five.
    if let Some(long) = parts.iter().find(|p| p.len() > MAX_SLUG_LEN) {
        return Err(format!(
            "slug `{}…` is {} characters; at most {MAX_SLUG_LEN} fit in a file name",
            long.chars().take(40).collect::<String>(),
            long.len()
        ));
    }
    let valid = match kind {
        Kind::Event => parts.len() == 2 && parts.iter().all(|p| is_slug(p)),
        _ => is_slug(slug),
    };
    match (valid, kind) {
        (true, _) => Ok(()),
        (false, Kind::Event) => Err(format!(
            "an event's slug is `<contract>/<event-slug>`, each lowercase letters, digits and single `-` between them (got `{slug}`)"
        )),
        (false, _) => Err(format!(
            "slug `{slug}` must be lowercase letters, digits and single `-` between them (no `-` at either end)"
        )),
    }
}

/// The path of a resource relative to the configured sub-folder: `<folder>/<slug>.yaml`.
pub fn path_of(kind: Kind, slug: &str) -> Result<String, String> {
    check_slug(kind, slug)?;
    Ok(format!("{}/{slug}.yaml", kind.folder()))
}

/// [`path_of`] for a kind given by name, as commands and the store name kinds.
pub fn resource_path(kind: &str, slug: &str) -> Result<String, String> {
    path_of(Kind::parse(kind)?, slug)
}

/// Every folder of the layout under the configured path, each once (contracts and events share one).
pub fn folders() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in Kind::ALL {
        if !out.contains(&k.folder()) {
            out.push(k.folder());
        }
    }
    out
}

/// Check a configured sub-folder (`--path`): relative, no `..` or `.`, no backslashes; returned
/// without surrounding slashes.
pub fn checked_base(base: &str) -> Result<String, String> {
    let trimmed = base.trim_matches('/');
    if base.starts_with('/') || trimmed.split('/').any(|c| c == ".." || c == ".") || base.contains('\\') {
        return Err(format!(
            "--path `{base}` must be a folder inside the repository (relative, without `..`)"
        ));
    }
    if !trimmed.is_empty() && trimmed.split('/').any(str::is_empty) {
        return Err(format!(
            "--path `{base}` has an empty folder name (`//`); write it as `{}`",
            trimmed
                .split('/')
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
                .join("/")
        ));
    }
    Ok(trimmed.to_string())
}

/// What a path is in the Git Sync layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    Model(ModelKind),
    Sync,
    Relationship,
    Contract,
    Event { contract: String },
    Manifest { workspace: String },
    Aliases { workspace: String },
}

/// Where a path falls in the layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A resource file: its kind and slug (the file stem; for events `<contract>/<stem>`).
    Resource { kind: FileKind, stem: String, slug: String },
    /// Looks meant as a resource but will be ignored; the reason says why.
    Misplaced(String),
    /// Not a Git Sync file (README, CI config, ...).
    Ignored,
}

/// Place `path` (repository-relative, `/`-separated) given the configured sub-folder `base`.
pub fn classify(path: &str, base: &str) -> Placement {
    let base = base.trim_matches('/');
    if !path.contains('/') {
        for (prefix, manifest) in [("manifest-", true), ("aliases-", false)] {
            if let Some(rest) = path.strip_prefix(prefix) {
                if let Some(workspace) = rest.strip_suffix(".yaml").filter(|w| !w.is_empty()) {
                    let workspace = workspace.to_string();
                    let kind = if manifest {
                        FileKind::Manifest {
                            workspace: workspace.clone(),
                        }
                    } else {
                        FileKind::Aliases {
                            workspace: workspace.clone(),
                        }
                    };
                    return Placement::Resource {
                        kind,
                        stem: workspace.clone(),
                        slug: workspace,
                    };
                }
                if rest.ends_with(".yml") {
                    return Placement::Misplaced(format!("`{path}` ends in .yml; gitsync reads `.yaml` files only"));
                }
            }
        }
    }
    let inner = if base.is_empty() {
        path
    } else {
        match path.strip_prefix(base).and_then(|p| p.strip_prefix('/')) {
            Some(p) => p,
            None => return Placement::Ignored,
        }
    };
    for kind in Kind::ALL {
        let file_kind = match kind {
            Kind::Model => FileKind::Model(ModelKind::Model),
            Kind::ParentModel => FileKind::Model(ModelKind::ParentModel),
            Kind::RelatedModel => FileKind::Model(ModelKind::RelatedModel),
            Kind::EventModel => FileKind::Model(ModelKind::EventModel),
            Kind::Sync => FileKind::Sync,
            Kind::Relationship => FileKind::Relationship,
            Kind::Contract | Kind::Event => continue,
        };
        if let Some(file) = inner.strip_prefix(kind.folder()).and_then(|p| p.strip_prefix('/')) {
            return place_file(path, file, file_kind, None);
        }
    }
    if let Some(rest) = inner
        .strip_prefix(Kind::Contract.folder())
        .and_then(|p| p.strip_prefix('/'))
    {
        return match rest.split_once('/') {
            None => place_file(path, rest, FileKind::Contract, None),
            Some((contract, file)) => place_file(
                path,
                file,
                FileKind::Event {
                    contract: contract.to_string(),
                },
                Some(contract),
            ),
        };
    }
    Placement::Ignored
}

fn place_file(path: &str, file: &str, kind: FileKind, contract: Option<&str>) -> Placement {
    if file.contains('/') {
        return Placement::Misplaced(format!(
            "`{path}` is in a sub-folder; resource files sit directly in their folder"
        ));
    }
    if let Some(stem) = file.strip_suffix(".yaml") {
        let slug = match contract {
            Some(c) => format!("{c}/{stem}"),
            None => stem.to_string(),
        };
        return Placement::Resource {
            kind,
            stem: stem.to_string(),
            slug,
        };
    }
    if file.ends_with(".yml") {
        return Placement::Misplaced(format!("`{path}` ends in .yml; gitsync reads `.yaml` files only"));
    }
    Placement::Ignored
}

/// The kind and slug of a resource file from its path alone (a deleted file has no content to
/// parse); none for a path that is not a valid resource file of the layout.
pub fn locate(path: &str, base: &str) -> Option<(Kind, String)> {
    match classify(path, base) {
        Placement::Resource { kind, slug, .. } => {
            let kind = Kind::of_file(&kind)?;
            check_slug(kind, &slug).ok()?;
            Some((kind, slug))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_and_its_kind_and_slug_map_both_ways() {
        for kind in Kind::ALL {
            let slug = if kind == Kind::Event {
                "web/signup-web-default"
            } else {
                "orders-eu"
            };
            let path = path_of(kind, slug).unwrap();
            assert_eq!(locate(&path, ""), Some((kind, slug.to_string())), "{path}");
            assert_eq!(
                locate(&join("hightouch", &path), "hightouch"),
                Some((kind, slug.to_string()))
            );
            assert_eq!(Kind::parse(kind.name()), Ok(kind));
        }
        assert_eq!(locate("README.md", ""), None);
        assert_eq!(locate("models/archive/old.yaml", ""), None);
        assert!(Kind::parse("modle").unwrap_err().contains("use one of model, sync"));
    }

    /// One rule decides what a slug is: the store refuses exactly what the parser reports as GS108.
    #[test]
    fn the_store_and_the_parser_agree_on_slugs() {
        for bad in ["-a", "a-", "a--b", "A", "a_b", "", "a b", "é"] {
            assert!(path_of(Kind::Model, bad).is_err(), "{bad:?}");
            assert_eq!(locate(&format!("models/{bad}.yaml"), ""), None, "{bad:?}");
            let parsed = crate::parse::parse_file(&format!("models/{bad}.yaml"), b"name: x\n", "");
            if !bad.is_empty() {
                assert!(
                    parsed
                        .diagnostics
                        .iter()
                        .any(|d| d.code == crate::diag::codes::INVALID_SLUG.id),
                    "{bad:?}: {:?}",
                    parsed.diagnostics
                );
            }
        }
        for good in ["a", "a-b", "a1-2b", "orders"] {
            assert!(path_of(Kind::Model, good).is_ok(), "{good}");
        }
        assert!(path_of(Kind::Event, "web/a").is_ok());
        assert!(path_of(Kind::Event, "web").is_err());
        assert!(path_of(Kind::Event, "web/-a").is_err());
        assert!(path_of(Kind::Contract, "web/a").is_err());
        assert!(path_of(Kind::Model, &"a".repeat(MAX_SLUG_LEN)).is_ok());
        let long = path_of(Kind::Model, &"a".repeat(300)).unwrap_err();
        assert!(
            long.ends_with("is 300 characters; at most 200 fit in a file name"),
            "{long}"
        );
        assert!(
            path_of(Kind::Model, &"é".repeat(150)).is_err(),
            "no panic on a long multi-byte slug"
        );
    }

    #[test]
    fn the_configured_path_is_a_folder_inside_the_repository() {
        assert_eq!(
            checked_base("/hightouch/").unwrap_err(),
            "--path `/hightouch/` must be a folder inside the repository (relative, without `..`)"
        );
        assert_eq!(checked_base("hightouch/"), Ok("hightouch".to_string()));
        assert_eq!(checked_base(""), Ok(String::new()));
        assert_eq!(
            checked_base("a//b").unwrap_err(),
            "--path `a//b` has an empty folder name (`//`); write it as `a/b`"
        );
        assert!(checked_base("a/../b").is_err());
    }
}
