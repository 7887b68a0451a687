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
