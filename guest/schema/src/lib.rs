//! The `schema` policy component: files to typed resources, and resources back to YAML.

wit_bindgen::generate!({
    world: "schema-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
});

use exports::gitsync::policy::schema::{
    CodeOverride, CodeSetting, Config, Guest, ParseOptions, ParsedFile, PluginSettings,
};
use gitsync_core::parse as core;
use gitsync_guest_common::{self as common, types};

struct Schema;

impl Guest for Schema {
    fn parse(options: ParseOptions, files: Vec<types::SourceFile>) -> Vec<ParsedFile> {
        files
            .into_iter()
            .map(|f| {
                let p = gitsync_core::parse::parse_file_with(&f.path, &f.contents, &options.path, options.spans);
                ParsedFile {
                    path: p.path,
                    resource: p.resource.map(common::resource),
                    diagnostics: common::diagnostics(p.diagnostics),
                }
            })
            .collect()
    }

    fn render(item: types::Resource) -> Result<String, String> {
        gitsync_core::render::render(&common::core_resource(item))
    }

    fn fields_as_json(yaml: String) -> Result<String, String> {
        gitsync_core::render::fields_as_json(&yaml)
    }

    fn parse_config(file: types::SourceFile) -> (Option<Config>, Vec<types::Diagnostic>) {
        let (config, diags) = core::parse_config(&file.path, &file.contents);
        let config = config.map(|c| Config {
            plugins: c
                .plugins
                .into_iter()
                .map(|p| PluginSettings {
                    name: p.name,
                    enabled: p.enabled,
                    settings_json: p.settings_json,
                    grants: p.grants,
                })
                .collect(),
            codes: c
                .codes
                .into_iter()
                .map(|(code, s)| CodeOverride {
                    code,
                    setting: match s {
                        core::CodeSetting::Off => CodeSetting::Off,
                        core::CodeSetting::Error => CodeSetting::Error,
                        core::CodeSetting::Warning => CodeSetting::Warning,
                        core::CodeSetting::Note => CodeSetting::Note,
                    },
                })
                .collect(),
            memory_mib: c.memory_mib,
            timeout_ms: c.timeout_ms,
        });
        (config, common::diagnostics(diags))
    }
}

export!(Schema);
