//! `gitsync policy new NAME`: a plugin crate that builds and passes its own tests out of the box.

use anyhow::{Context, Result, bail};
use std::path::Path;

/// Words a crate or its Rust type cannot be named: Rust's keywords (strict, reserved and the
/// path roots) and the standard crates.
const RESERVED: [&str; 56] = [
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "std",
    "core",
    "alloc",
    "test",
    "proc-macro",
];

/// A plugin name must become a crate name, a Rust type and a code prefix.
fn check_name(name: &str) -> Result<()> {
    let shape = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if !shape {
        bail!(
            "plugin name `{name}` must be lowercase letters, digits and single `-` between them (e.g. `acme-naming`)"
        );
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        bail!(
            "plugin name `{name}` must start with a letter: a crate name cannot start with a digit (e.g. `acme-{name}`)"
        );
    }
    if RESERVED.contains(&name) {
        bail!(
            "plugin name `{name}` is a Rust keyword or a standard crate, which a crate cannot be named; pick another (e.g. `acme-{name}`)"
        );
    }
    Ok(())
}

// Long on purpose: most of it is the crate's files as text, kept together so the scaffold reads as
// what it writes.
pub fn new_plugin(name: &str, dir: &Path, sdk: Option<&Path>) -> Result<()> {
    check_name(name)?;
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{} already exists and is not empty; pick another --dir", dir.display());
    }
    // Written as TOML strings: a path is quoted, and `\` and `"` in it escaped.
    let sdk = match sdk {
        None => {
            super::kit::write_sdk(&dir.join("sdk"))?;
            format!("sdk/{}", super::kit::SDK_CRATE)
        }
        Some(given) => {
            let krate = [given.join(super::kit::SDK_CRATE), given.to_path_buf()]
                .into_iter()
                .find(|p| p.join("Cargo.toml").is_file())
                .with_context(|| {
                    format!(
                        "no gitsync SDK at {}; write one with `gitsync policy sdk --out {}`, or leave out --sdk for a copy inside the plugin",
                        given.display(),
                        given.display()
                    )
                })?;
            std::fs::canonicalize(&krate)?.display().to_string()
        }
    }
    .replace('\\', "\\\\")
    .replace('"', "\\\"");
    let code = name.replace('-', "").to_uppercase().chars().take(4).collect::<String>();
    // `GS…` codes are gitsync's own: a plugin emitting one is refused.
    let code = if code.starts_with("GS") {
        format!("P{code}001")
    } else {
        format!("{code}001")
    };
    let ident: String = name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    let files = [
        (
            "Cargo.toml",
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
gitsync-sdk = {{ path = "{sdk}" }}
serde_json = "1"

[profile.release]
opt-level = "s"
lto = true
strip = true
panic = "abort"

# A crate of its own, not part of any enclosing workspace.
[workspace]
"#
            ),
        ),
        (
            "Cargo.lock",
            super::kit::plugin_lockfile(name, &["gitsync-sdk", "serde_json"])?,
        ),
        (".gitignore", "/target\n".to_string()),
        (
            "src/lib.rs",
            format!(
                r##"//! gitsync plugin `{name}`: every model's primary key is named in the settings' `keys` list
//! (default: `id`). Replace the rule with yours; keep it a plain function so it tests natively.

use gitsync_sdk::core::resource::{{Resource, ResourceBody}};
use gitsync_sdk::{{CodeInfo, Context, Diagnostic, Guest, Metadata, Severity, diagnostic, resources, settings}};

pub const CODE: &str = "{code}";

/// The primary-key names the settings allow.
pub fn allowed_keys(settings_json: &str) -> Result<Vec<String>, String> {{
    let s = settings(settings_json)?;
    match s.get("keys") {{
        None => Ok(vec!["id".to_string()]),
        Some(v) => v
            .as_array()
            .ok_or("`keys` must be a list of column names")?
            .iter()
            .map(|k| k.as_str().map(String::from).ok_or("`keys` must hold strings".to_string()))
            .collect(),
    }}
}}

/// The rule itself, on domain types.
pub fn findings(resources: &[Resource], keys: &[String]) -> Vec<Diagnostic> {{
    let mut out = Vec::new();
    for r in resources {{
        let ResourceBody::Model(m) = &r.body else {{ continue }};
        let Some(pk) = &m.primary_key else {{ continue }};
        if !keys.contains(&pk.value) {{
            out.push(diagnostic(
                CODE,
                Severity::Error,
                &r.path,
                pk.span,
                format!("primary key `{{}}` is not one of {{}}", pk.value, keys.join(", ")),
                "rename the key column, or add it to `keys` in .gitsync/config.yaml",
            ));
        }}
    }}
    out
}}

// Only the component exports it; natively (`cargo test`) nothing constructs it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct {ident};

impl Guest for {ident} {{
    fn metadata() -> Metadata {{
        Metadata {{
            name: "{name}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Primary keys use the team's column names".into(),
            codes: vec![CodeInfo {{ code: CODE.into(), severity: Severity::Error, summary: "primary key not allowed".into() }}],
            // The page documenting the codes (https://…): SARIF reports link each rule there.
            help_uri: None,
        }}
    }}

    fn validate_settings(settings_json: String) -> Result<(), String> {{
        allowed_keys(&settings_json).map(|_| ())
    }}

    fn check(context: Context) -> Vec<Diagnostic> {{
        match allowed_keys(&context.settings_json) {{
            Ok(keys) => findings(&resources(&context), &keys),
            Err(_) => vec![],
        }}
    }}
}}

#[cfg(target_arch = "wasm32")]
gitsync_sdk::export!({ident});

#[cfg(test)]
mod tests {{
    use super::*;
    use gitsync_sdk::core::parse::parse_file;

    fn model(primary_key: &str) -> Resource {{
        let text = format!("name: M\nsource: pg\ntype: table\ntableName: t\nisSchema: false\nprimaryKey: {{primary_key}}\n");
        parse_file("models/m.yaml", text.as_bytes(), "").resource.unwrap()
    }}

    #[test]
    fn flags_keys_outside_the_list() {{
        let keys = allowed_keys("{{}}").unwrap();
        assert!(findings(&[model("id")], &keys).is_empty());
        let found = findings(&[model("uuid")], &keys);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].code.as_str(), found[0].span.line, found[0].span.column), (CODE, 6, 13));
    }}

    #[test]
    fn settings_are_checked() {{
        assert_eq!(allowed_keys(r#"{{"keys": ["uuid"]}}"#).unwrap(), vec!["uuid".to_string()]);
        assert!(allowed_keys(r#"{{"keys": "uuid"}}"#).is_err());
    }}
}}
"##
            ),
        ),
        (
            "tests/fixtures/bad-key/models/orders.yaml",
            "name: Orders\nsource: pg\ntype: table\ntableName: public.orders\nisSchema: false\nprimaryKey: order_uuid\n".to_string(),
        ),
        (
            "tests/fixtures/bad-key/expected.json",
            format!("[\n  {{\"code\": \"{code}\", \"path\": \"models/orders.yaml\", \"line\": 6}}\n]\n"),
        ),
        (
            "tests/fixtures/good-key/models/orders.yaml",
            "name: Orders\nsource: pg\ntype: table\ntableName: public.orders\nisSchema: false\nprimaryKey: id\n".to_string(),
        ),
        ("tests/fixtures/good-key/expected.json", "[]\n".to_string()),
        (
            "README.md",
            format!(
                "# {name}\n\nA gitsync policy plugin.\n\nSet-up, once: Rust (rustup.rs) and its WebAssembly target, `rustup target add wasm32-wasip2`.\n\n```sh\ncargo test                                        # the rule, natively\ncargo build --target wasm32-wasip2 --release      # the component\ngitsync policy test target/wasm32-wasip2/release/{lib}.wasm tests/fixtures/*\ngitsync policy test --watch target/wasm32-wasip2/release/{lib}.wasm tests/fixtures/*   # rebuild and rerun on every save\n```\n\n`sdk/` is the gitsync plugin SDK this crate builds against, written by `gitsync policy new`;\n`Cargo.lock` pins every dependency to the versions gitsync was tested with. After upgrading gitsync,\nrefresh it with `gitsync policy sdk --out sdk` and rebuild.\n\nInstall the plugin by copying the `.wasm` into a repository's `.gitsync/policies/`; configure it under\n`plugins: {name}:` in `.gitsync/config.yaml`.\n",
                lib = name.replace('-', "_")
            ),
        ),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().expect("files have a folder"))?;
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(())
}
