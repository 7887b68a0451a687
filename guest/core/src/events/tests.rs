use super::*;
use crate::parse::parse_file;
use serde_json::json;

fn rules(contract: &str, events: &[(&str, &str)]) -> ContractRules {
    let mut rs = vec![
        parse_file("events/contracts/web.yaml", contract.as_bytes(), "")
            .resource
            .unwrap(),
    ];
    for (path, text) in events {
        let p = parse_file(path, text.as_bytes(), "");
        assert_eq!(p.diagnostics, vec![], "{path}");
        rs.push(p.resource.unwrap());
    }
    ContractRules::new(&rs, "web").unwrap()
}

const ORDER: &str = "name: Order Completed\ntype: track\nonSchemaViolation: BLOCK_EVENT\nonUndeclaredFields: OMIT_FIELDS\nschema:\n  type: object\n  properties:\n    properties:\n      type: object\n      required: [order_id]\n      properties:\n        order_id: {type: string}\n        products:\n          type: array\n          items:\n            type: object\n            properties:\n              sku: {type: string}\n";

fn order_rules(contract: &str, order: &str) -> ContractRules {
    rules(
        contract,
        &[("events/contracts/web/order-completed-web-default.yaml", order)],
    )
}

fn judge(r: &ContractRules, event: Value) -> Value {
    verdict_json(&r.judge(event))
}

#[test]
fn a_valid_event_is_allowed_with_nothing_flagged() {
    let r = order_rules("name: web\n", ORDER);
    let e = json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o1"}, "context": {"ip": "1.2.3.4"}, "messageId": "m"});
    assert_eq!(
        judge(&r, e.clone()),
        json!({"verdict": "allowed", "event": e, "omitted": [], "event_name": "Order Completed", "event_type": "track",
               "schema_version": "default", "has_undeclared_schema": false, "has_undeclared_fields": false,
               "has_schema_violated": false, "violations": []})
    );
}

#[test]
fn nested_undeclared_fields_are_omitted() {
    let r = order_rules("name: web\n", ORDER);
    let e = json!({"type": "track", "event": "Order Completed", "coupon": "X",
                   "properties": {"order_id": "o1", "gift": true, "products": [{"sku": "a", "color": "red"}, {"sku": "b"}]}});
    let v = judge(&r, e);
    assert_eq!(v["verdict"], "allowed");
    assert_eq!(
        v["omitted"],
        json!(["$.coupon", "$.properties.gift", "$.properties.products[0].color"])
    );
    assert_eq!(
        v["event"],
        json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o1", "products": [{"sku": "a"}, {"sku": "b"}]}})
    );
    assert_eq!(v["has_undeclared_fields"], true);
}

#[test]
fn schema_violations_block_or_flag() {
    let r = order_rules("name: web\n", ORDER);
    let v = judge(
        &r,
        json!({"type": "track", "event": "Order Completed", "properties": {"order_id": 7}}),
    );
    assert_eq!(v["verdict"], "blocked");
    assert_eq!(v["has_schema_violated"], true);
    assert_eq!(
        v["violations"],
        json!([{"path": "$.properties.order_id", "message": "7 is not of type \"string\""}])
    );
    let allow = order_rules(
        "name: web\n",
        &ORDER.replace("onSchemaViolation: BLOCK_EVENT", "onSchemaViolation: ALLOW_EVENT"),
    );
    let v = judge(
        &allow,
        json!({"type": "track", "event": "Order Completed", "properties": {}}),
    );
    assert_eq!(
        (v["verdict"].as_str(), v["has_schema_violated"].as_bool()),
        (Some("allowed"), Some(true))
    );
    assert_eq!(v["violations"][0]["path"], "$.properties");
}

#[test]
fn undeclared_fields_block_or_allow() {
    let block = order_rules("name: web\n", &ORDER.replace("OMIT_FIELDS", "BLOCK_EVENT"));
    let e = json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o", "x": 1}});
    let v = judge(&block, e.clone());
    assert_eq!((v["verdict"].as_str(), &v["omitted"]), (Some("blocked"), &json!([])));
    assert_eq!(v["event"], e);
    let allow = order_rules("name: web\n", &ORDER.replace("OMIT_FIELDS", "ALLOW_EVENT"));
    let v = judge(&allow, e.clone());
    assert_eq!(
        (v["verdict"].as_str(), v["has_undeclared_fields"].as_bool()),
        (Some("allowed"), Some(true))
    );
}

#[test]
fn undeclared_schema_follows_the_contract() {
    let allow = order_rules("name: web\n", ORDER);
    let e = json!({"type": "track", "event": "Signed Up"});
    let v = judge(&allow, e.clone());
    assert_eq!(
        (v["verdict"].as_str(), v["has_undeclared_schema"].as_bool()),
        (Some("allowed"), Some(true))
    );
    let block = order_rules("name: web\nonUndeclaredSchema: BLOCK_EVENT\n", ORDER);
    assert_eq!(judge(&block, e)["verdict"], "blocked");
    // A version that is not declared is an undeclared schema too.
    let v = judge(
        &block,
        json!({"type": "track", "event": "Order Completed", "context": {"htevents": {"schemaVersion": "v9"}}, "properties": {"order_id": "o"}}),
    );
    assert_eq!(
        (v["verdict"].as_str(), v["schema_version"].as_str()),
        (Some("blocked"), Some("v9"))
    );
}

#[test]
fn built_in_context_can_be_switched_off() {
    let strict = order_rules("name: web\n", &format!("{ORDER}includeBuiltInContext: false\n"));
    let v = judge(
        &strict,
        json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o"}, "messageId": "m"}),
    );
    assert_eq!(v["omitted"], json!(["$.type", "$.event", "$.messageId"]));
}

#[test]
fn versions_types_and_combinators_are_followed() {
    let identify = "type: identify\nversion: v2\nonUndeclaredFields: OMIT_FIELDS\nschema:\n  definitions:\n    plan: {type: string, enum: [free, pro]}\n  type: object\n  properties:\n    traits:\n      allOf:\n        - properties: {email: {type: string}}\n        - properties: {plan: {$ref: '#/definitions/plan'}}\n      patternProperties:\n        '^x_': {type: string}\n";
    let r = rules(
        "name: web\n",
        &[("events/contracts/web/identify-web-v2.yaml", identify)],
    );
    let v = judge(
        &r,
        json!({"type": "identify", "context": {"htevents": {"schemaVersion": "v2"}}, "traits": {"email": "a@b", "plan": "pro", "x_team": "t", "age": 3}}),
    );
    assert_eq!(v["omitted"], json!(["$.traits.age"]));
    assert_eq!(v["verdict"], "allowed");
    let v = judge(
        &r,
        json!({"type": "identify", "context": {"htevents": {"schemaVersion": "v2"}}, "traits": {"plan": "gold"}}),
    );
    assert_eq!(v["has_schema_violated"], true);
    assert_eq!(v["violations"][0]["path"], "$.traits.plan");
}

#[test]
fn malformed_lines_get_their_own_verdict() {
    let r = order_rules("name: web\n", ORDER);
    let v = verdict_json(&r.judge_line("{not json"));
    assert_eq!(v["verdict"], "blocked");
    assert!(v["error"].as_str().unwrap().starts_with("not JSON: "), "{v}");
    assert_eq!(
        verdict_json(&r.judge_line("[1,2]"))["error"],
        "an event must be a JSON object"
    );
    assert_eq!(
        verdict_json(&r.judge_line("{\"event\": \"x\"}"))["error"],
        "the event has no string `type`"
    );
}

#[test]
fn json_paths_quote_odd_keys() {
    assert_eq!(json_path("/properties/items/0/a b"), "$.properties.items[0][\"a b\"]");
    assert_eq!(json_path(""), "$");
}

#[test]
fn check_instances_uses_remotes() {
    let schema = r#"{"$ref": "http://localhost:1234/integer.json"}"#;
    let remotes = vec![(
        "http://localhost:1234/integer.json".to_string(),
        r#"{"type": "integer"}"#.to_string(),
    )];
    assert_eq!(
        check_instances(schema, &["1".into(), "\"a\"".into()], &remotes),
        Ok(vec![true, false])
    );
}

#[test]
fn verdict_lines_match_the_json_verdicts() {
    let r = order_rules("name: web\n", ORDER);
    let input = [
        r#"{"type": "track", "event": "Order Completed", "properties": {"order_id": "o1", "x": 1}}"#,
        r#"{"type":"track","event":"Order Completed","properties":{"order_id":"o1"}}"#,
        "",
        "{oops",
    ];
    let lines = r.judge_lines(&input.join("\n"));
    let got: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let want: Vec<Value> = input
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| verdict_json(&r.judge_line(l)))
        .collect();
    assert_eq!(got, want);
    // An unchanged event is passed on as written.
    assert!(
        lines
            .lines()
            .nth(1)
            .unwrap()
            .contains(r#""event":{"type":"track","event":"Order Completed","properties":{"order_id":"o1"}}"#)
    );
}

/// The fast path against `jsonschema` on every case of the official draft-7 suite (required and
/// optional): wherever the fast path decides, it decides as `jsonschema` does.
#[test]
fn the_fast_path_agrees_with_jsonschema_on_the_official_suite() {
    // Fetched, pinned, from PyPI by the project's own script when `.ci/run` has not fetched it yet,
    // into `<target>/tmp/testdata` as for the end-to-end tests. A unit test has no
    // CARGO_TARGET_TMPDIR: the target folder is the nearest one above this test binary that holds
    // cargo's `.rustc_info.json` (or CACHEDIR.TAG), wherever CARGO_TARGET_DIR points.
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .find(|d| d.join(".rustc_info.json").is_file() || d.join("CACHEDIR.TAG").is_file())
        .unwrap_or_else(|| panic!("no target folder (.rustc_info.json) above {}", exe.display()));
    let testdata = target.join("tmp/testdata");
    let root = testdata.join("json-schema-test-suite/tests/draft7");
    if !root.is_dir() {
        let fetched = std::process::Command::new("bash")
            .arg(repo.join("tests/support/fetch-testdata.sh"))
            .arg(&testdata)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            fetched,
            "tests/support/fetch-testdata.sh failed (it needs the PyPI registry)"
        );
    }
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("optional")] {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "json") {
                files.push(path);
            }
        }
    }
    let (mut decided, mut cases, mut compiled, mut explained) = (0, 0, 0, 0);
    let mut disagreements = Vec::new();
    for path in files {
        let groups: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for group in groups.as_array().unwrap() {
            let schema = &group["schema"];
            let Ok(validator) = jsonschema::draft7::new(schema) else {
                continue;
            };
            let fast = super::fast::Compiled::new(schema);
            compiled += usize::from(fast.is_some());
            for test in group["tests"].as_array().unwrap() {
                cases += 1;
                let Some(fast) = &fast else { continue };
                let text = serde_json::to_string(&test["data"]).unwrap();
                let mut tape = super::fast::Tape::default();
                if !tape.read(&text) || tape.has_duplicate_keys() {
                    continue;
                }
                let expected = validator.is_valid(&test["data"]);
                let got = match fast.validate(&tape) {
                    super::fast::Fast::Valid => true,
                    super::fast::Fast::Invalid => false,
                    super::fast::Fast::Unknown => continue,
                };
                decided += 1;
                let case = || {
                    format!(
                        "{}: {} / {}",
                        path.file_name().unwrap().to_string_lossy(),
                        group["description"],
                        test["description"]
                    )
                };
                if got != expected {
                    disagreements.push(format!("{}: fast says {got}", case()));
                }
                // Where the fast path words the violation itself, it words it as `jsonschema` does.
                if !got && let Some(mine) = fast.explain(&tape) {
                    explained += 1;
                    let theirs: Vec<(String, String)> = validator
                        .iter_errors(&test["data"])
                        .map(|e| (json_path(e.instance_path().as_str()), e.to_string()))
                        .collect();
                    if theirs != [mine.clone()] {
                        disagreements.push(format!("{}: fast explains {mine:?}, jsonschema {theirs:?}", case()));
                    }
                }
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    // It must decide most of the suite, or it is not the fast path for anything.
    assert!(
        decided * 10 >= cases * 6,
        "decided {decided} of {cases} cases ({compiled} schemas compiled)"
    );
    assert!(explained >= 140, "explained only {explained} invalid cases");
    eprintln!("fast path decided {decided} of {cases} suite cases and explained {explained} violations");
}

#[test]
fn the_fast_path_writes_what_the_full_path_writes() {
    let r = order_rules("name: web\nonUndeclaredSchema: BLOCK_EVENT\n", ORDER);
    let input = [
        // Fast: declared, valid, nothing undeclared; and no declared event at all.
        r#"{"type":"track","event":"Order Completed","properties":{"order_id":"o1"}}"#,
        r#"{"type":"track","event":"Signed Up","properties":{}}"#,
        r#"{"type":"identify","traits":{"email":"a@b.c"}}"#,
        // Full path: undeclared field, invalid, escapes, duplicate keys, not JSON.
        r#"{"type":"track","event":"Order Completed","properties":{"order_id":"o1","x":1}}"#,
        r#"{"type":"track","event":"Order Completed","properties":{"order_id":5}}"#,
        r#"{"type":"track","event":"Order\u0020Completed","properties":{"order_id":"o1"}}"#,
        r#"{"type":"track","type":"track","event":"Order Completed","properties":{"order_id":"o1"}}"#,
        r#"{"type":"track","event":"Order Completed","properties":{"order_id":"\ud83d\ude00"}}"#,
        "[1,2]",
    ];
    let got = r.judge_lines(&input.join("\n"));
    let mut want = String::new();
    for line in input {
        write_verdict_line(&r.judge_line(line), line, &mut want);
    }
    assert_eq!(got, want);
}

#[test]
fn schemas_from_yaml_compile_for_the_fast_path() {
    let r = order_rules(
        "name: web\n",
        "name: Order Completed\ntype: track\nschema:\n  type: object\n  properties:\n    properties:\n      type: object\n      properties:\n        id: {type: string, minLength: 3}\n        amount: {type: number, minimum: 0}\n        qty: {type: integer, minimum: 1}\n        currency: {type: string, enum: [USD, EUR]}\n",
    );
    assert!(
        r.events.values().all(|e| e.fast.is_some()),
        "{:?}",
        r.events.values().map(|e| e.fast.is_some()).collect::<Vec<_>>()
    );
}

/// One measured part of the fast path, run on a line with a reused tape.
type Part<'r> = dyn for<'x> Fn(&mut super::fast::Tape<'x>, &'x str) + 'r;

/// Run `f` on every line with one tape reused throughout, keeping its buffers.
fn reuse<'x>(lines: &'x [String], f: &mut dyn FnMut(&mut super::fast::Tape<'x>, &'x str)) {
    let mut tape = super::fast::Tape::default();
    for l in lines {
        f(&mut tape, l);
    }
}

/// Where the fast path's time goes (run with `cargo test --release -p gitsync-core -- --ignored fast_path_parts --nocapture`).
#[test]
#[ignore]
fn fast_path_parts() {
    let r = order_rules(
        "name: web\n",
        "name: Order Completed\ntype: track\nonUndeclaredFields: OMIT_FIELDS\nschema:\n  type: object\n  properties:\n    properties:\n      type: object\n      required: [id, amount, items]\n      properties:\n        id: {type: string, minLength: 3}\n        amount: {type: number, minimum: 0}\n        currency: {type: string, enum: [USD, EUR, GBP]}\n        items:\n          type: array\n          items:\n            type: object\n            required: [sku, qty]\n            properties:\n              sku: {type: string}\n              qty: {type: integer, minimum: 1}\n              price: {type: number}\n        customer:\n          type: object\n          properties:\n            tier: {type: string}\n            country: {type: string}\n",
    );
    let lines: Vec<String> = (0..200_000)
        .map(|i| {
            serde_json::json!({
                "type": "track", "event": "Order Completed", "messageId": format!("msg-{i:012}"),
                "timestamp": "2026-11-29T10:00:00.000Z", "userId": format!("user-{}", i % 50_000),
                "context": {"ip": "203.0.113.7", "library": {"name": "analytics.js", "version": "4.1.0"}},
                "properties": {"id": format!("ord-{i:08}"), "amount": (i % 997) as f64 + 0.5, "currency": "EUR",
                    "items": [{"sku": "SKU-0001", "qty": 2, "price": 9.99}, {"sku": "SKU-0042", "qty": 1, "price": 19.5}],
                    "customer": {"tier": "gold", "country": "DE"}}
            })
            .to_string()
        })
        .collect();
    let rules = r.events.values().next().unwrap();
    let compiled = rules.fast.as_ref().unwrap();
    let t = std::time::Instant::now();
    for l in &lines {
        assert!(super::fast::Tape::default().read(l));
    }
    eprintln!(
        "tape read, a new tape per event: {:.0} events/s",
        lines.len() as f64 / t.elapsed().as_secs_f64()
    );
    // The parts in the order `fast_verdict` runs them (this schema has no `$ref` or combinator, so
    // validation and the undeclared-field walk are one).
    let parts: [(&str, &Part<'_>); 3] = [
        ("tape read", &|tape, l| assert!(tape.read(l))),
        ("+ envelope", &|tape, l| {
            assert!(tape.read(l) && tape.envelope().is_some())
        }),
        ("+ validation and undeclared fields", &|tape, l| {
            assert!(tape.read(l) && tape.envelope().is_some());
            assert_eq!(compiled.validate_declared(tape, true), super::fast::Fast::Valid);
        }),
    ];
    for (what, f) in parts {
        let t = std::time::Instant::now();
        reuse(&lines, &mut |tape, l| f(tape, l));
        eprintln!("{what}: {:.0} events/s", lines.len() as f64 / t.elapsed().as_secs_f64());
    }
    // Batches of 1,024 lines, as `gitsync events validate` sends them.
    let batches: Vec<String> = lines.chunks(1024).map(|b| b.join("\n")).collect();
    // Verdict lines for every batch, counted where `count` says, and the rate.
    let timed = |what: &str, batches: &[String], count: &dyn Fn(&str) -> bool| {
        let t = std::time::Instant::now();
        let n: usize = batches
            .iter()
            .map(|b| r.judge_lines(b).lines().filter(|l| count(l)).count())
            .sum();
        eprintln!("{what}: {:.0} events/s", lines.len() as f64 / t.elapsed().as_secs_f64());
        n
    };
    let verdicts = timed("judge_lines", &batches, &|_| true);
    assert_eq!(verdicts, lines.len());
    // The same events all invalid (a negative amount): the fast path explains the one violation.
    let invalid: Vec<String> = batches
        .iter()
        .map(|b| b.replace("\"amount\":", "\"amount\":-"))
        .collect();
    let blocked = timed("judge_lines, every event invalid", &invalid, &|l| {
        l.contains("\"has_schema_violated\":true")
    });
    assert_eq!(blocked, lines.len());
    // Layouts against none: on these events (one layout), and on events whose fields come in a
    // different order each time, so that layouts hardly ever repeat (what trying them costs).
    let shuffled: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l).unwrap();
            let props = v["properties"].as_object().unwrap();
            let mut keys: Vec<&String> = props.keys().collect();
            let n = keys.len();
            keys.rotate_left(i % n);
            if i / n % 2 == 1 {
                keys.reverse();
            }
            let body: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), props[*k]))
                .collect();
            l.replace(&props_text(&v), &format!("{{{}}}", body.join(",")))
        })
        .collect();
    for (what, events) in [("one layout", &lines), ("layouts that hardly repeat", &shuffled)] {
        let batches: Vec<String> = events.chunks(1024).map(|b| b.join("\n")).collect();
        let mut rates = Vec::new();
        for layouts in [true, false] {
            let t = std::time::Instant::now();
            for b in &batches {
                let scratch = if layouts {
                    super::Scratch::default()
                } else {
                    super::Scratch::without_layouts()
                };
                std::hint::black_box(r.judge_batch(b, scratch));
            }
            rates.push(events.len() as f64 / t.elapsed().as_secs_f64());
        }
        eprintln!(
            "judge_lines, {what}: {:.0} events/s with layouts, {:.0} without ({:.2}x)",
            rates[0],
            rates[1],
            rates[0] / rates[1]
        );
    }
}

/// The text of an event's `properties` as `to_string` writes it.
fn props_text(v: &Value) -> String {
    v["properties"].to_string()
}

/// A small deterministic generator (xorshift): no dependency, same events every run.
fn xorshift(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    }
}

/// `judge_lines` (fast path where it decides) against the full path, line by line; the lines.
fn same_lines_on_both_paths(r: &ContractRules, lines: &[String], what: &str) -> String {
    let got = r.judge_lines(&lines.join("\n"));
    let mut want = String::new();
    for line in lines {
        write_verdict_line(&r.judge_line(line), line, &mut want);
    }
    for ((g, w), line) in got.lines().zip(want.lines()).zip(lines) {
        assert_eq!(g, w, "{what}: {line}");
    }
    assert_eq!(got, want);
    got
}

/// `tally_lines` (fast path where it decides) against counting the full path's verdicts.
fn same_tally_on_both_paths(r: &ContractRules, lines: &[String]) {
    let mut want = Tally::default();
    for line in lines {
        want.add(&r.judge_line(line));
    }
    let got = r.tally_lines(&lines.join("\n"));
    assert_eq!(got, want);
    assert_eq!(blocked_lines(&r.judge_lines(&lines.join("\n"))), want.blocked);
    assert!(got.violations_counted() > 0 && got.per_event.len() > 1, "{got:?}");
    // Halves tallied apart and merged: the same counts.
    let (a, b) = lines.split_at(lines.len() / 2);
    let mut merged = r.tally_lines(&a.join("\n"));
    merged.merge(r.tally_lines(&b.join("\n")));
    assert_eq!(merged, want);
}

/// Many generated events, valid and not, through both paths: the lines must be identical.
#[test]
fn generated_events_get_the_same_verdict_lines_on_both_paths() {
    let r = order_rules(
        "name: web\n",
        "name: Order Completed\ntype: track\nonSchemaViolation: BLOCK_EVENT\nonUndeclaredFields: OMIT_FIELDS\nschema:\n  type: object\n  definitions:\n    sku: {type: string, minLength: 2, maxLength: 8}\n  properties:\n    properties:\n      type: object\n      required: [id, amount]\n      additionalProperties: false\n      properties:\n        id: {type: [string, integer]}\n        amount: {type: number, minimum: 0, exclusiveMaximum: 1000}\n        qty: {type: integer, multipleOf: 2}\n        currency: {enum: [USD, EUR, null, 1.5]}\n        flags: {type: array, uniqueItems: true, maxItems: 3}\n        items:\n          type: array\n          items: {$ref: '#/definitions/sku'}\n        note: {not: {const: forbidden}}\n        kind: {oneOf: [{type: string}, {type: number}]}\n",
    );
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    let values = [
        "\"o-1\"",
        "12",
        "-3",
        "0",
        "999.5",
        "1000",
        "2.0",
        "3",
        "true",
        "null",
        "\"USD\"",
        "\"EUR\"",
        "1.5",
        "[1,2]",
        "[1,1]",
        "[\"ab\",\"abcdefghij\"]",
        "[\"ab\",\"cd\"]",
        "{}",
        "{\"a\":1}",
        "\"forbidden\"",
        "\"caf\\u00e9\"",
        "1e2",
        "12345678901234567890",
    ];
    let fields = [
        "id", "amount", "qty", "currency", "flags", "items", "note", "kind", "extra",
    ];
    let mut lines = Vec::new();
    for i in 0..3000 {
        let mut props = Vec::new();
        for f in fields {
            if next(3) != 0 {
                props.push(format!("\"{f}\":{}", values[next(values.len() as u64) as usize]));
            }
        }
        let event = if i % 7 == 0 { "Signed Up" } else { "Order Completed" };
        lines.push(format!(
            "{{\"type\":\"track\",\"event\":\"{event}\",\"userId\":\"u{i}\",\"properties\":{{{}}}}}",
            props.join(",")
        ));
    }
    let got = same_lines_on_both_paths(&r, &lines, "");
    let allowed = got
        .lines()
        .filter(|l| l.starts_with("{\"verdict\":\"allowed\""))
        .count();
    assert!(allowed > 300 && allowed < 2700, "a mix of verdicts: {allowed} allowed");
    let fast = lines
        .iter()
        .filter(|l| r.judge_fast(l, &mut super::Scratch::default(), &mut String::new()))
        .count();
    assert!(fast > 300 && fast < 2700, "both paths taken: {fast} fast");
}

/// The one-walk check of a schema without `$ref`s or combinators (validation and undeclared fields
/// together, duplicate keys ruled out only where they matter) against the full path, on generated
/// events with nested objects and arrays, undeclared and built-in fields, duplicate keys and bad
/// values at every depth: the lines must be identical.
#[test]
fn nested_generated_events_get_the_same_verdict_lines_on_both_paths() {
    let schema = "name: Order Completed\ntype: track\nonSchemaViolation: BLOCK_EVENT\nonUndeclaredFields: OMIT_FIELDS\nincludeBuiltInContext: true\nschema:\n  type: object\n  properties:\n    context:\n      type: object\n      properties:\n        ip: {type: string}\n    properties:\n      type: object\n      required: [id, amount]\n      properties:\n        id: {type: string, minLength: 3}\n        amount: {type: number, minimum: 0}\n        currency: {type: string, enum: [USD, EUR, GBP]}\n        tags: {type: array, maxItems: 3}\n        meta: {description: anything}\n        items:\n          type: array\n          items:\n            type: object\n            required: [sku]\n            properties:\n              sku: {type: string}\n              qty: {type: integer, minimum: 1}\n        customer:\n          type: object\n          additionalProperties: {type: string}\n          properties:\n            tier: {type: string}\n";
    for built_in in [true, false] {
        let text = if built_in {
            schema.to_string()
        } else {
            schema.replace("includeBuiltInContext: true", "includeBuiltInContext: false")
        };
        let r = order_rules("name: web\n", &text);
        assert!(r.events.values().all(|e| e.fast.as_ref().is_some_and(|f| f.simple())));
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let pick = |options: &[&str], next: &mut dyn FnMut(u64) -> u64| {
            options[next(options.len() as u64) as usize].to_string()
        };
        let mut lines = Vec::new();
        for i in 0..4000 {
            let mut props = Vec::new();
            let fields: [(&str, &[&str]); 9] = [
                ("id", &["\"ord-1\"", "\"o\"", "7", "\"caf\\u00e9s\""]),
                ("amount", &["12.5", "-1", "0", "\"x\"", "1e2"]),
                ("currency", &["\"EUR\"", "\"JPY\"", "null"]),
                ("tags", &["[]", "[1,2,3,4]", "[\"a\",{\"b\":1}]"]),
                ("meta", &["{\"anything\":{\"goes\":[1]}}", "3"]),
                (
                    "items",
                    &[
                        "[{\"sku\":\"a\",\"qty\":2}]",
                        "[{\"sku\":\"a\",\"qty\":0}]",
                        "[{\"qty\":1}]",
                        "[{\"sku\":\"a\",\"color\":\"red\"}]",
                        "[{\"sku\":\"a\",\"sku\":5}]",
                        "[{\"sku\":5,\"sku\":\"a\"}]",
                        "{}",
                    ],
                ),
                (
                    "customer",
                    &[
                        "{\"tier\":\"gold\",\"extra\":\"x\"}",
                        "{\"tier\":1}",
                        "{\"extra\":2}",
                        "{\"tier\":\"a\",\"tier\":\"b\"}",
                    ],
                ),
                ("coupon", &["\"X\"", "{\"nested\":true}"]),
                ("amount", &["5", "-5"]),
            ];
            for (k, (name, values)) in fields.iter().enumerate() {
                // The last two are rare: an undeclared field and a duplicate key.
                let skip = if k >= 7 { next(6) != 0 } else { next(4) == 0 };
                if !skip {
                    props.push(format!("\"{name}\":{}", pick(values, &mut next)));
                }
            }
            let context = pick(
                &[
                    "{\"ip\":\"1.2.3.4\"}",
                    "{\"ip\":5}",
                    "{\"ip\":\"1.2.3.4\",\"library\":{\"name\":\"x\"}}",
                    "{\"htevents\":{\"schemaVersion\":\"v2\"}}",
                    "{\"htevents\":{\"schemaVersion\":\"default\",\"schemaVersion\":\"v2\"}}",
                    "{\"htevents\":{},\"htevents\":{\"schemaVersion\":\"v2\"}}",
                ],
                &mut next,
            );
            let top = pick(
                &[
                    "",
                    ",\"userId\":\"u\"",
                    ",\"extra\":1",
                    ",\"type\":\"identify\"",
                    ",\"event\":\"Signed Up\"",
                ],
                &mut next,
            );
            lines.push(format!(
                "{{\"type\":\"track\",\"event\":\"Order Completed\",\"messageId\":\"m{i}\",\"context\":{context}{top},\"properties\":{{{}}}}}",
                props.join(",")
            ));
        }
        let got = same_lines_on_both_paths(&r, &lines, &format!("built-in context {built_in}"));
        same_tally_on_both_paths(&r, &lines);
        let fast = lines
            .iter()
            .filter(|l| r.judge_fast(l, &mut super::Scratch::default(), &mut String::new()))
            .count();
        let violated = got
            .lines()
            .filter(|l| l.contains("\"has_schema_violated\":true"))
            .count();
        assert!(fast > 300 && fast < 3600, "both paths taken: {fast} fast");
        assert!(violated > 400, "violations among them: {violated}");
    }
}

/// Events written in a few layouts (the same keys and punctuation, other values), with values of
/// every kind in every place: good and bad strings (escapes, multi-byte characters, surrogates),
/// numbers (exponents, too long, not JSON), values of another type, undeclared and duplicate keys,
/// undeclared events. The layout path must give exactly the full path's lines, and decide most.
#[test]
fn events_in_repeated_layouts_get_the_same_verdict_lines_on_both_paths() {
    let schema = "name: Order Completed\ntype: track\nonSchemaViolation: BLOCK_EVENT\nonUndeclaredFields: OMIT_FIELDS\nincludeBuiltInContext: BUILT_IN\nschema:\n  type: object\n  properties:\n    properties:\n      type: object\n      required: [id, amount]\n      properties:\n        id: {type: string, minLength: 3, maxLength: 12}\n        amount: {type: number, minimum: 0, exclusiveMaximum: 1000}\n        currency: {enum: [USD, EUR, GBP]}\n        qty: {type: integer, multipleOf: 2}\n        on: {type: boolean}\n        tags: {type: array, maxItems: 3, items: {type: [string, integer]}}\n        customer:\n          type: object\n          properties:\n            tier: {const: gold}\n";
    let strings = [
        "\"abc\"",
        "\"a\"",
        "\"abcdefghijklmnop\"",
        "\"USD\"",
        "\"EUR\"",
        "\"usd\"",
        "\"\\u0055SD\"",
        "\"caf\\u00e9\"",
        "\"\u{e9}\u{1F600}\u{e9}\"",
        "\"a\\\"b\\\\c\"",
        "\"\"",
        "\"tab\\there\"",
        "\"\\ud83d\\ude00\"",
        "\"gold\"",
        "\"bad\\x\"",
        "\"unterminated",
    ];
    let numbers = [
        "0",
        "1",
        "-1",
        "2",
        "2.5",
        "1e2",
        "-0",
        "4.0",
        "1000",
        "999.99",
        "1E-2",
        "12345678901234567890",
        "01",
        "-",
        "7",
        "1.5e400",
    ];
    let others = ["null", "true", "false", "[]", "{}", "[1,2]", "{\"x\":1}"];
    let names = ["\"Order Completed\"", "\"Other\"", "\"Order\\u0020Completed\"", "7"];
    // `@x`: a value from pool `x`, usually its first (a good one), else any (good or bad).
    let layouts = [
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"userId\":@s,\"properties\":{\"id\":@s,\"amount\":@n,\"currency\":@c,\"qty\":@n,\"on\":true,\"tags\":[@s,@n],\"customer\":{\"tier\":@g}}}",
        "{\"anonymousId\":@s,\"context\":{\"ip\":@s},\"event\":\"Order Completed\",\"properties\":{\"amount\":@n,\"id\":@s},\"type\":\"track\"}",
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"properties\":{\"id\":@s,\"amount\":@n,\"extra\":@s}}",
        "{\"type\":\"track\",\"event\":@e,\"properties\":{\"id\":@s,\"amount\":@n}}",
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"properties\":{\"id\":@s,\"amount\":@n,\"amount\":@n}}",
        "{\"type\":\"track\",\"event\":\"Order Completed\",\"properties\":{\"id\":@a,\"amount\":@a,\"qty\":@a}}",
        "{\"type\":@t,\"event\":\"Order Completed\",\"properties\":{\"id\":@s,\"amount\":@n}}",
        " {\"type\":\"track\", \"event\":\"Order Completed\",\"properties\":{\"id\":@s,\"amount\":@n}} ",
    ];
    let pools: [(char, &str, &[&str]); 7] = [
        ('s', "\"abc\"", &strings),
        ('c', "\"USD\"", &strings),
        ('g', "\"gold\"", &strings),
        ('n', "2", &numbers),
        ('e', "\"Order Completed\"", &names),
        ('t', "\"track\"", &["\"identify\"", "\"tr\\u0061ck\"", "5"]),
        ('a', "\"abc\"", &others),
    ];
    for built_in in ["true", "false"] {
        let r = order_rules("name: web\n", &schema.replace("BUILT_IN", built_in));
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let mut lines = Vec::new();
        for _ in 0..6000 {
            // The first two layouts most of the time, so they repeat.
            let layout = match next(10) {
                0..=3 => layouts[0],
                4..=6 => layouts[1],
                _ => layouts[next(layouts.len() as u64) as usize],
            };
            let mut parts = layout.split('@');
            let mut line = parts.next().unwrap().to_string();
            for part in parts {
                let (_, good, pool) = pools.iter().find(|(x, _, _)| part.starts_with(*x)).unwrap();
                let value = if next(8) != 0 {
                    good
                } else {
                    pool[next(pool.len() as u64) as usize]
                };
                line.push_str(value);
                line.push_str(&part[1..]);
            }
            lines.push(line);
        }
        let got = same_lines_on_both_paths(&r, &lines, &format!("built-in context {built_in}"));
        same_tally_on_both_paths(&r, &lines);
        let violated = got
            .lines()
            .filter(|l| l.contains("\"has_schema_violated\":true"))
            .count();
        assert!(violated > 300, "violations among them: {violated}");
        // Layouts find the line ends themselves: `\r\n`, blank lines and a last `\r` change nothing.
        assert_eq!(r.judge_lines(&lines.join("\r\n")), got);
        assert_eq!(r.judge_lines(&format!("\n{}\r", lines.join("\n \n"))), got);
        // The layouts decided most events (with built-in fields declared; without, `userId` and
        // the like are undeclared, and the full path omits them).
        let mut scratch = super::Scratch::default();
        let mut out = String::new();
        let decided = lines.iter().filter(|l| r.judge_fast(l, &mut scratch, &mut out)).count();
        let by_layout = scratch.decided_by_layouts();
        if built_in == "true" {
            // (Measured: 4,096, about 2,200 of them valid: the rest explained or undeclared events.)
            assert!(
                by_layout > 3500,
                "decided through layouts: {by_layout} of {decided} fast"
            );
        }
    }
}

/// `eq_bytes` (words, overlapping tails) against `==`, for every length up to 40 and a difference
/// at every position.
#[test]
fn byte_equality_agrees_with_slices() {
    let a: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
    for n in 0..=a.len() {
        let x = &a[..n];
        assert!(super::fast::eq_bytes(x, x));
        assert!(!super::fast::eq_bytes(x, &a[..n.saturating_sub(1)]) || n == 0);
        for at in 0..n {
            let mut y = x.to_vec();
            y[at] ^= 0x20;
            assert!(!super::fast::eq_bytes(x, &y), "length {n}, differing at {at}");
        }
    }
}

/// Events of a few layouts, each edited at random places (a byte of structure or of a value
/// replaced, inserted or removed: quotes, brackets, commas, colons, escapes, digits, spaces,
/// multi-byte characters), judged through the layouts and through the full path: the lines must be
/// identical. The layouts see events that are their template but for one edit anywhere, which is
/// where a matcher that trusts too much would take a different verdict. `GITSYNC_MUTATIONS=N`
/// runs N events instead of 4,000 (a longer hunt: `cargo test --release -p gitsync-core --lib
/// edited_events`).
#[test]
fn edited_events_get_the_same_verdict_lines_on_both_paths() {
    let schema = "name: Order Completed\ntype: track\nonSchemaViolation: BLOCK_EVENT\nonUndeclaredFields: OMIT_FIELDS\nincludeBuiltInContext: true\nschema:\n  type: object\n  properties:\n    properties:\n      type: object\n      required: [id, amount, items]\n      properties:\n        id: {type: string, minLength: 3}\n        amount: {type: number, minimum: 0}\n        currency: {type: string, enum: [USD, EUR, GBP]}\n        items:\n          type: array\n          items:\n            type: object\n            required: [sku, qty]\n            properties:\n              sku: {type: string}\n              qty: {type: integer, minimum: 1}\n              price: {type: number}\n        customer:\n          type: object\n          properties:\n            tier: {type: string}\n";
    let r = order_rules("name: web\nonUndeclaredSchema: BLOCK_EVENT\n", schema);
    let templates = [
        r#"{"type":"track","event":"Order Completed","messageId":"msg-000000000001","userId":"user-1","context":{"ip":"203.0.113.7","library":{"name":"analytics.js","version":"4.1.0"}},"properties":{"id":"ord-00000001","amount":1.5,"currency":"EUR","items":[{"sku":"SKU-0001","qty":2,"price":9.99},{"sku":"SKU-0042","qty":1,"price":19.5}],"customer":{"tier":"gold"}}}"#,
        r#"{"type": "track", "event": "Order Completed", "properties": {"id": "ord-2", "amount": 0, "items": [], "note": "x"}}"#,
        r#"{"anonymousId":"a1","type":"track","properties":{"items":[{"qty":3,"sku":"s"}],"amount":-0.0,"id":"abc\u00e9"},"event":"Order Completed"}"#,
    ];
    let alphabet: Vec<char> = "{}[]\",:\\ \t0123456789-+.eEtrufalsn\u{e9}\u{1F600}xu/"
        .chars()
        .collect();
    let count = std::env::var("GITSYNC_MUTATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000);
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    let mut lines = Vec::with_capacity(count);
    for _ in 0..count {
        let template = match next(20) {
            0..=13 => templates[0],
            14..=16 => templates[1],
            _ => templates[2],
        };
        let mut line: Vec<char> = template.chars().collect();
        // Three events in four unedited, so the layouts stay in use (a stream whose layouts do not
        // repeat has them given up); the others one to three edits.
        if next(4) == 0 {
            for _ in 0..=next(3) {
                let at = next(line.len() as u64) as usize;
                let c = alphabet[next(alphabet.len() as u64) as usize];
                match next(3) {
                    0 => line[at] = c,
                    1 => line.insert(at, c),
                    _ => {
                        line.remove(at);
                    }
                }
            }
        }
        let line: String = line.into_iter().collect();
        if !line.trim().is_empty() {
            lines.push(line);
        }
    }
    let got = same_lines_on_both_paths(&r, &lines, "edited event");
    same_tally_on_both_paths(&r, &lines);
    let allowed = got
        .lines()
        .filter(|l| l.starts_with("{\"verdict\":\"allowed\""))
        .count();
    let malformed = got.lines().filter(|l| l.contains(",\"error\":")).count();
    // Both kinds are there in numbers: the edits did not all break the JSON, nor none of it.
    assert!(
        allowed > count / 2 && malformed > count / 20,
        "allowed {allowed}, malformed {malformed} of {count}"
    );
    // And the layouts took part: most unedited events, and edited ones whose edit is in a value.
    let mut scratch = super::Scratch::default();
    let mut out = String::new();
    for l in &lines {
        r.judge_fast(l, &mut scratch, &mut out);
    }
    let by_layout = scratch.decided_by_layouts() as usize;
    eprintln!("allowed {allowed}, malformed {malformed}, through layouts {by_layout} of {count}");
    assert!(by_layout > count / 2, "decided through layouts: {by_layout} of {count}");
}
