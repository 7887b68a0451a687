//! Native tests of the cross-file checks (aliases, deps, contracts) on small in-memory repositories.

use crate::parse::parse_file;
use crate::resource::Resource;

fn repo(files: &[(&str, &str)]) -> Vec<Resource> {
    files
        .iter()
        .map(|(p, t)| {
            let parsed = parse_file(p, t.as_bytes(), "");
            assert_eq!(parsed.diagnostics, vec![], "{p}");
            parsed.resource.unwrap()
        })
        .collect()
}

const MANIFEST_A: &str = "# READ ONLY\nsources:\n  pg-a: {}\ndestinations:\n  sf-a: {}\n";
const MANIFEST_B: &str = "# READ ONLY\nsources:\n  pg-b: {}\ndestinations:\n  sf-b: {}\n";
const MODEL: &str = "name: M\nsource: db\ntype: table\ntableName: t\nprimaryKey: id\n";
const SYNC: &str = "model: m\ndestination: crm\nconfig: {}\n";

#[test]
fn aliases_resolve_per_workspace() {
    let rs = repo(&[
        ("manifest-a.yaml", MANIFEST_A),
        ("manifest-b.yaml", MANIFEST_B),
        ("aliases-a.yaml", "sources:\n  db: pg-a\ndestinations:\n  crm: sf-a\n"),
        ("aliases-b.yaml", "sources:\n  db: pg-b\n"),
        ("models/m.yaml", MODEL),
        ("syncs/s.yaml", SYNC),
    ]);
    let out = crate::aliases::resolve(&rs);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].workspace, "a");
    assert_eq!(out[0].diagnostics, vec![]);
    let ids: Vec<Option<&str>> = out[0].references.iter().map(|r| r.id.as_deref()).collect();
    assert_eq!(ids, [Some("pg-a"), Some("sf-a")]);
    // Workspace b lacks the `crm` alias: only the destination fails, and only there.
    assert_eq!(out[1].diagnostics.len(), 1);
    let d = &out[1].diagnostics[0];
    assert_eq!((&*d.code, d.workspace.as_deref(), d.span.line), ("GS302", Some("b"), 2));
    assert_eq!(
        d.help.as_deref(),
        Some(
            "`crm` exists in `a` only; use an alias present in every workspace's alias file (add `crm: <destination id>` under `destinations:` in aliases-b.yaml)"
        )
    );
}

#[test]
fn alias_file_rules() {
    let rs = repo(&[
        ("manifest-a.yaml", MANIFEST_A),
        (
            "aliases-a.yaml",
            "sources:\n  db: sf-a\n  x: pg-a\ndestinations:\n  x: sf-a\n",
        ),
    ]);
    let d = &crate::aliases::resolve(&rs)[0].diagnostics;
    let got: Vec<(&str, u32)> = d.iter().map(|d| (&*d.code, d.span.line)).collect();
    assert_eq!(got, [("GS202", 2), ("GS201", 5)]);
    assert_eq!(
        d[0].help.as_deref(),
        Some("`sf-a` is a destination in this workspace; move the alias under `destinations:`")
    );
}

#[test]
fn deps_find_missing_models_and_broken_chains() {
    let rel = |from: &str, to: &str| {
        format!(
            "from:\n  relationshipName: x\n  slug: {from}\nto:\n  relationshipName: y\n  slug: {to}\ncardinality: \"1:many\"\nmapping:\n  - fromColumn: a\n    toColumn: b\n"
        )
    };
    let (ab, bc) = (rel("a", "b"), rel("b", "c"));
    let rs = repo(&[
        ("models/m.yaml", MODEL),
        ("syncs/s.yaml", "model: n\ndestination: crm\nconfig: {}\n"),
        ("schema/parent-models/a.yaml", MODEL),
        ("schema/related-models/b.yaml", MODEL),
        ("schema/related-models/c.yaml", MODEL),
        ("schema/model-relationships/ab.yaml", &ab),
        ("schema/model-relationships/bc.yaml", &bc),
        (
            "schema/model-relationships/ac.yaml",
            "name: A to C\nfrom: {slug: a}\nto: {slug: c}\nthrough: [ab, bc]\n",
        ),
        (
            "schema/model-relationships/ca.yaml",
            "name: C to A\nfrom: {slug: c}\nto: {slug: a}\nthrough: [ac]\n",
        ),
        (
            "schema/model-relationships/bad.yaml",
            "name: Bad\nfrom: {slug: a}\nto: {slug: c}\nthrough: [bc, ab]\n",
        ),
    ]);
    let d = crate::deps::check(&rs);
    let got: Vec<(&str, &str)> = d.iter().map(|d| (&*d.code, d.path.as_str())).collect();
    // `ca` walks `ac` backwards: c → b → a, which is fine.
    assert_eq!(
        got,
        [
            ("GS401", "syncs/s.yaml"),
            ("GS404", "schema/model-relationships/bad.yaml")
        ]
    );
    assert_eq!(
        d[1].message,
        "relationship `bc` connects `b` and `c`, but the chain has reached `a`"
    );
}

#[test]
fn contracts_check_names_versions_and_schemas() {
    let rs = repo(&[
        ("events/contracts/web.yaml", "name: web\n"),
        (
            "events/contracts/web/signup-web-default.yaml",
            "name: Signup\ntype: track\nschema: {type: object}\n",
        ),
        (
            "events/contracts/web/signup-web-v2.yaml",
            "name: Signup\ntype: track\nversion: v2\nschema: {type: object, required: 5}\n",
        ),
    ]);
    let d = crate::contracts::check(&rs);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_eq!((&*d[0].code, d[0].span.line, d[0].span.column), ("GS503", 4, 34));
}
