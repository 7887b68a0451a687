//! The `schema` policy component: files to typed resources, and resources back to YAML.

wit_bindgen::generate!({
    world: "schema-policy",
    path: "../../wit",
    with: { "gitsync:policy/types@0.1.0": gitsync_guest_common::types },
});

use exports::gitsync::policy::schema::{Guest, ParseOptions, ParsedFile};
use gitsync_guest_common::{self as common, types};

struct Schema;

impl Guest for Schema {
    fn parse(options: ParseOptions, files: Vec<types::SourceFile>) -> Vec<ParsedFile> {
        files
            .into_iter()
            .map(|f| {
                let p = gitsync_core::parse::parse_file(&f.path, &f.contents, &options.path);
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
}

export!(Schema);
