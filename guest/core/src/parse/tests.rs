use super::*;
use crate::diag::Severity;

fn diags(path: &str, text: &str) -> Vec<(String, u32, u32)> {
    parse_file(path, text.as_bytes(), "")
        .diagnostics
        .into_iter()
        .map(|d| (d.code.to_string(), d.span.line, d.span.column))
        .collect()
}

fn one(path: &str, text: &str) -> Diagnostic {
    let mut d = parse_file(path, text.as_bytes(), "").diagnostics;
    assert_eq!(d.len(), 1, "{d:#?}");
    d.remove(0)
}

const MODEL: &str = "name: Stocking list\nsource: aliased-postgres\ntype: table\ntableName: public.workspaces\nisSchema: false\nprimaryKey: id\n";

#[test]
fn classify_places_every_kind() {
    assert!(matches!(
        classify("models/a.yaml", ""),
        Placement::Resource {
            kind: FileKind::Model(ModelKind::Model),
            ..
        }
    ));
    assert!(matches!(
        classify("hightouch/syncs/a.yaml", "hightouch"),
        Placement::Resource {
            kind: FileKind::Sync,
            ..
        }
    ));
    assert_eq!(classify("syncs/a.yaml", "hightouch"), Placement::Ignored);
    assert!(matches!(
        classify("events/contracts/web/x.yaml", ""),
        Placement::Resource { kind: FileKind::Event { .. }, ref slug, .. } if slug == "web/x"
    ));
    assert!(matches!(
        classify("manifest-acme-dev.yaml", "sub"),
        Placement::Resource {
            kind: FileKind::Manifest { .. },
            ..
        }
    ));
    assert!(matches!(classify("models/a.yml", ""), Placement::Misplaced(_)));
    assert!(matches!(classify("models/deep/a.yaml", ""), Placement::Misplaced(_)));
    assert_eq!(classify("README.md", ""), Placement::Ignored);
    assert_eq!(classify("models/README.md", ""), Placement::Ignored);
}

#[test]
fn a_valid_model_parses_with_spans() {
    let p = parse_file("models/stocking-list.yaml", MODEL.as_bytes(), "");
    assert_eq!(p.diagnostics, vec![]);
    let m = p.resource.unwrap();
    assert_eq!(m.slug, "stocking-list");
    let m = m.as_model().unwrap();
    assert_eq!(m.source.as_ref().unwrap().span, Span::new(2, 9, 2, 25));
    assert_eq!(m.query_type, Some(QueryType::Table));
}

#[test]
fn field_names_are_case_sensitive() {
    let d = one("models/m.yaml", &MODEL.replace("source:", "Source:"));
    // `source` is then missing too, so expect exactly the unknown field... plus missing.
    assert_eq!(&*d.code, "GS101");
    assert_eq!((d.span.line, d.span.column), (2, 1));
    assert_eq!(d.message, "unknown field `Source`");
    assert_eq!(d.help.as_deref(), Some("did you mean `source`?"));
    assert_eq!(d.label.as_deref(), Some("field names are case-sensitive"));
}

#[test]
fn missing_required_fields() {
    assert_eq!(
        diags("models/m.yaml", "name: x\ntype: table\ntableName: t\n"),
        vec![("GS102".into(), 1, 1), ("GS102".into(), 1, 1)]
    );
    let d = parse_file(
        "models/m.yaml",
        b"name: x\nsource: s\ntype: table\nprimaryKey: id\n",
        "",
    )
    .diagnostics;
    assert_eq!(d[0].message, "missing required field `tableName` (type is `table`)");
}

#[test]
fn query_fields_must_match_the_type() {
    let text = MODEL.replace("isSchema", "rawSql: select 1\nisSchema");
    let d = one("models/m.yaml", &text);
    assert_eq!((&*d.code, d.span.line), ("GS105", 5));
    let text = MODEL.replace(
        "type: table\ntableName: public.workspaces",
        "type: dbt_model\ndbtModel: orders",
    );
    let d = one("models/m.yaml", &text);
    assert_eq!((&*d.code, d.span.line, d.span.column), ("GS106", 4, 11));
    let text = MODEL.replace("type: table", "type: Table");
    let d = one("models/m.yaml", &text);
    assert_eq!((&*d.code, d.span.line, d.span.column), ("GS104", 3, 7));
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean `table`? (values are case-sensitive)")
    );
}

#[test]
fn is_schema_must_be_false_in_models() {
    let d = one("models/m.yaml", &MODEL.replace("isSchema: false", "isSchema: true"));
    assert_eq!((&*d.code, d.span.line), ("GS107", 5));
    assert_eq!(
        diags(
            "schema/parent-models/m.yaml",
            &MODEL.replace("isSchema: false", "isSchema: true")
        ),
        vec![]
    );
}

#[test]
fn wrong_types_are_named() {
    let d = one("models/m.yaml", &MODEL.replace("primaryKey: id", "primaryKey: 42"));
    assert_eq!((&*d.code, d.span.line, d.span.column), ("GS103", 6, 13));
    assert_eq!(d.message, "`primaryKey` must be a string, found a number");
    assert_eq!(d.help.as_deref(), Some("quote the value: `primaryKey: \"42\"`"));
    let d = one("models/m.yaml", "- name: x\n- source: y\n");
    assert_eq!((&*d.code, d.span.line), ("GS103", 1));
    assert!(d.message.contains("found a list"), "{}", d.message);
}

#[test]
fn file_names_must_be_slugs() {
    let d = one("models/Stocking List.yaml", MODEL);
    assert_eq!(&*d.code, "GS108");
    assert_eq!(d.help.as_deref(), Some("rename the file to `stocking-list.yaml`"));
}

#[test]
fn event_models_need_a_timestamp_column() {
    let d = one("schema/event-models/e.yaml", MODEL);
    assert_eq!(d.message, "missing required field `eventTimestampColumn`");
    let d = one("models/e.yaml", &format!("{MODEL}eventTimestampColumn: ts\n"));
    assert_eq!((&*d.code, d.span.line), ("GS101", 7));
}

#[test]
fn sync_schedules_are_checked() {
    let base = "model: m\ndestination: d\nconfig: {}\n";
    assert_eq!(diags("syncs/s.yaml", base), vec![]);
    let ok = [
        "schedule:\n  type: interval\n  schedule:\n    interval:\n      unit: minute\n      quantity: 15\n",
        "schedule:\n  type: cron\n  schedule:\n    expression: 0 0 12 * * ?\n",
        "schedule:\n  type: visual\n  schedule:\n    expressions:\n      - days: {monday: true, friday: false}\n        time: \"09:30\"\n",
        "schedule:\n  type: dbt\n  schedule:\n    account: {id: 12}\n    job: {id: \"34\"}\n",
    ];
    for s in ok {
        assert_eq!(diags("syncs/s.yaml", &format!("{base}{s}")), vec![], "{s}");
    }
    let bad = [
        (
            "schedule:\n  type: interval\n  schedule:\n    interval:\n      unit: month\n      quantity: 0\n",
            vec![("GS104", 8, 13), ("GS109", 9, 17)],
        ),
        (
            "schedule:\n  type: cron\n  schedule:\n    expression: 0 12 * * *\n",
            vec![("GS110", 7, 17)],
        ),
        (
            "schedule:\n  type: visual\n  schedule:\n    expressions:\n      - days: {Monday: true}\n        time: \"9:30\"\n",
            vec![("GS101", 8, 16), ("GS109", 9, 15)],
        ),
        ("schedule:\n  type: hourly\n", vec![("GS104", 5, 9)]),
    ];
    for (s, want) in bad {
        let got = diags("syncs/s.yaml", &format!("{base}{s}"));
        let want: Vec<(String, u32, u32)> = want.into_iter().map(|(c, l, col)| (c.to_string(), l, col)).collect();
        assert_eq!(got, want, "{s}");
    }
}

#[test]
fn sync_config_must_be_a_mapping() {
    let d = one("syncs/s.yaml", "model: m\ndestination: d\nconfig: [a]\n");
    assert_eq!((&*d.code, d.span.line, d.span.column), ("GS103", 3, 9));
}

#[test]
fn relationships_direct_and_through() {
    let direct = "from:\n  relationshipName: orders\n  slug: users\n  mergeColumns: false\nto:\n  relationshipName: user\n  slug: orders\n  mergeColumns: false\ncardinality: \"1:many\"\nmapping:\n  - fromColumn: id\n    toColumn: user_id\n";
    let p = parse_file("schema/model-relationships/users-orders.yaml", direct.as_bytes(), "");
    assert_eq!(p.diagnostics, vec![]);
    assert!(matches!(
        p.resource.unwrap().body,
        ResourceBody::Relationship(Relationship::Direct(_))
    ));
    let d = one(
        "schema/model-relationships/r.yaml",
        &direct.replace("\"1:many\"", "one-to-many"),
    );
    assert_eq!((&*d.code, d.span.line), ("GS104", 9));
    let d = one(
        "schema/model-relationships/r.yaml",
        &direct.replace("mapping:\n  - fromColumn: id\n    toColumn: user_id\n", "mapping: []\n"),
    );
    assert_eq!((&*d.code, d.span.line), ("GS111", 10));
    let through = "name: Users to items\nfrom:\n  slug: users\nto:\n  slug: items\nthrough:\n  - users-orders\n  - orders-items\n";
    let p = parse_file("schema/model-relationships/users-items.yaml", through.as_bytes(), "");
    assert_eq!(p.diagnostics, vec![]);
    match p.resource.unwrap().body {
        ResourceBody::Relationship(Relationship::Through(t)) => assert_eq!(t.through[1].span.line, 8),
        other => panic!("{other:?}"),
    }
}

#[test]
fn events_parse_with_defaults_and_schema_spans() {
    let text = "name: Sample Event\nonSchemaViolation: ALLOW_EVENT\nonUndeclaredFields: ALLOW_EVENT\nschema:\n  type: object\n  properties:\n    properties:\n      type: object\n      properties:\n        id:\n          type: string\ntype: track\nversion: default\n";
    let p = parse_file(
        "events/contracts/web/sample-event-web-default.yaml",
        text.as_bytes(),
        "",
    );
    assert_eq!(p.diagnostics, vec![]);
    let r = p.resource.unwrap();
    let e = r.as_event().unwrap();
    assert_eq!(e.contract, "web");
    assert!(e.include_built_in_context);
    let id = e
        .schema_spans
        .iter()
        .find(|p| p.pointer == "/properties/properties/properties/id/type")
        .unwrap();
    assert_eq!(id.span.line, 11);
    let json: serde_json::Value = serde_json::from_str(e.schema_json.as_ref().unwrap()).unwrap();
    assert_eq!(json["properties"]["properties"]["properties"]["id"]["type"], "string");
}

#[test]
fn event_schema_may_be_a_json_string() {
    let text = "type: identify\nschema: '{\"type\": \"object\"}'\n";
    let p = parse_file("events/contracts/web/identify-web-default.yaml", text.as_bytes(), "");
    assert_eq!(p.diagnostics, vec![]);
    let d = one(
        "events/contracts/web/identify-web-default.yaml",
        "type: identify\nschema: '{nope'\n",
    );
    assert_eq!((&*d.code, d.span.line), ("GS113", 2));
    let d = one(
        "events/contracts/web/identify-web-default.yaml",
        "type: identify\nschema: '[1]'\n",
    );
    assert_eq!(d.message, "`schema` must be a JSON object, found JSON an array");
}

#[test]
fn manifests_and_aliases() {
    let m = parse_file(
        "manifest-acme.yaml",
        b"# READ ONLY\nsources:\n  pg: {name: PG, type: postgres}\ndestinations:\n  sf: {name: SF, type: salesforce}\n",
        "",
    );
    assert_eq!(m.diagnostics, vec![]);
    let m = m.resource.unwrap();
    let man = m.as_manifest().unwrap();
    assert!(man.has_read_only_header);
    assert_eq!(man.sources[0].id.value, "pg");
    let a = parse_file("aliases-acme.yaml", b"", "").resource.unwrap();
    assert_eq!(a.as_aliases().unwrap().sources, vec![]);
    let d = one("aliases-acme.yaml", "sources:\n  pg: [x]\n");
    assert_eq!((&*d.code, d.span.line, d.span.column), ("GS103", 2, 7));
}

#[test]
fn hostile_input_gets_diagnostics() {
    let d = one("models/m.yaml", "");
    assert_eq!(&*d.code, "GS004");
    let p = parse_file("models/m.yaml", b"name: ok\nsource: \xff\xfe\n", "");
    assert_eq!(p.diagnostics.len(), 1);
    let d = &p.diagnostics[0];
    assert_eq!((&*d.code, d.span.line, d.span.column), ("GS001", 2, 9));
    let d = one("models/m.yaml", "name: x\nname: y\n");
    assert_eq!((&*d.code, d.span.line), ("GS007", 2));
    let d = one("models/m.yaml", "name: [x\n");
    assert_eq!(&*d.code, "GS002");
    assert_eq!(d.severity, Severity::Error);
}

#[test]
fn other_files_are_ignored() {
    assert_eq!(
        parse_file("README.md", b"\xff\xff", ""),
        ParsedFile {
            path: "README.md".into(),
            resource: None,
            diagnostics: vec![]
        }
    );
    let d = one("models/m.yml", MODEL);
    assert_eq!((&*d.code, d.severity), ("GS112", Severity::Warning));
}

#[test]
fn config_files_parse_with_diagnostics() {
    let text = "plugins:\n  naming:\n    settings: {prefix: acme-}\n    grants: [clock, network]\n  old:\n    enabled: false\ncodes:\n  GS112: off\n  ACME001: warning\n  GS504: loud\nlimits:\n  memory: 64\n  timeout: 0\n";
    let (config, diags) = parse_config(".gitsync/config.yaml", text.as_bytes());
    let config = config.unwrap();
    assert_eq!(config.plugins[0].settings_json, r#"{"prefix":"acme-"}"#);
    assert_eq!(config.plugins[0].grants, vec!["clock".to_string()]);
    assert!(!config.plugins[1].enabled);
    assert_eq!(
        config.codes,
        vec![
            ("GS112".to_string(), CodeSetting::Off),
            ("ACME001".to_string(), CodeSetting::Warning)
        ]
    );
    assert_eq!((config.memory_mib, config.timeout_ms), (Some(64), None));
    let got: Vec<(&str, u32)> = diags.iter().map(|d| (&*d.code, d.span.line)).collect();
    assert_eq!(got, [("GS104", 4), ("GS104", 10), ("GS103", 13)]);
}
