//! `gitsync serve` end to end: the real binary listening on loopback, real HTTP from a client,
//! real bare repositories as remotes, webhook bodies signed as GitHub and GitLab sign them.

mod common;

use common::service::*;
use common::*;
use serde_json::{Value, json};

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

const ADA: &str = "Ada Lovelace <ada@example.com>";
const GRACE: &str = "Grace Hopper <grace@example.com>";
const ORDERS: &str = "name: Orders\nsource: staging-postgres\ntype: table\ntableName: public.orders\nprimaryKey: id\n";

const RES: &str = "/api/v1/workspaces/acme-staging/resources";

#[test]
fn every_route_authenticates_and_answers_as_documented() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    init_named_workspace(&data, "production");
    let ada = token(&data, ADA, &[]);
    let staging_only = token(&data, GRACE, &["--scope", "acme-staging"]);
    let reader = token(&data, GRACE, &["--read-only"]);
    let s = Service::start(&data, &[], &[]);

    // 401 without a token, with an unknown one; 403 for another workspace or a write when read-only.
    assert_eq!(s.call("GET", "/api/v1/workspaces", None, &[], None).status, 401);
    let r = s.call("GET", "/api/v1/workspaces", Some("gst_nope"), &[], None);
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(
        s.get("/api/v1/workspaces/acme-production/status", &staging_only).status,
        403
    );
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &reader, ORDERS).status, 403);
    assert_eq!(s.get("/api/v1/workspaces/acme-production/status", &reader).status, 200);
    let ids = |t: &str| -> Vec<String> {
        s.get("/api/v1/workspaces", t)
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&ada), ["acme-production", "acme-staging"]);
    assert_eq!(ids(&staging_only), ["acme-staging"]);
    assert_eq!(s.get("/api/v1/workspaces/nope/status", &ada).status, 404);

    // PUT (YAML): 201 with the GET body, then 200; authored by the token's person.
    let r = s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS);
    assert_eq!(r.status, 201, "{}", r.body);
    let v = r.json();
    assert_eq!(
        (v["kind"].as_str(), v["slug"].as_str(), v["updated_by"].as_str()),
        (Some("model"), Some("orders"), Some(ADA))
    );
    assert_eq!(v["resource"]["tableName"], "public.orders");
    let again = s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS);
    assert_eq!(again.status, 200);
    assert_eq!(s.get(&format!("{RES}/model/orders"), &ada).json(), again.json());
    // JSON works as well.
    let body = json!({"name": "Customers", "source": "staging-postgres", "type": "table", "tableName": "c", "primaryKey": "id"});
    let r = s.call(
        "PUT",
        &format!("{RES}/model/customers"),
        Some(&ada),
        &[("Content-Type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let list = s.get(RES, &ada).json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let mut keys = list[0].as_object().unwrap().keys().collect::<Vec<_>>();
    keys.sort();
    assert_eq!(keys, ["kind", "slug", "updated_at", "updated_by"]);
    assert_eq!(s.get(&format!("{RES}?kind=sync"), &ada).json(), json!([]));

    // Invalid: 422 with the diagnostics, nothing stored.
    let r = s.put_yaml(
        &format!("{RES}/model/broken"),
        &ada,
        "name: B\nsource: staging-postgres\ntype: tabel\ntableName: t\nprimaryKey: id\n",
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let d = &r.json()["diagnostics"][0];
    assert_eq!(
        (d["code"].as_str(), d["line"].as_u64(), d["column"].as_u64()),
        (Some("GS104"), Some(3), Some(7))
    );
    assert_eq!(d["help"], "did you mean `table`? (values are case-sensitive)");
    assert_eq!(s.get(&format!("{RES}/model/broken"), &ada).status, 404);
    // Malformed JSON and YAML: 400 with the parser's position.
    let r = s.call(
        "PUT",
        &format!("{RES}/model/broken"),
        Some(&ada),
        &[("Content-Type", "application/json")],
        Some(b"{\"name\": \n  \"B\",,}"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        (
            r.json()["diagnostics"][0]["line"].as_u64(),
            r.json()["diagnostics"][0]["column"].as_u64()
        ),
        (Some(2), Some(7))
    );
    let r = s.put_yaml(&format!("{RES}/model/broken"), &ada, "name: [B\n");
    assert_eq!(
        (r.status, r.json()["diagnostics"][0]["code"].as_str()),
        (400, Some("GS002"))
    );
    // Bounded: over 1 MiB is 413; bad kinds and slugs are 400 before anything is touched.
    let big = format!("name: Big\n# {}\n", "x".repeat(1 << 20));
    assert_eq!(s.put_yaml(&format!("{RES}/model/big"), &ada, &big).status, 413);
    assert_eq!(s.put_yaml(&format!("{RES}/audience/x"), &ada, ORDERS).status, 400);
    assert_eq!(
        s.put_yaml(&format!("{RES}/model/..%2F..%2Fetc"), &ada, ORDERS).status,
        400
    );
    assert_eq!(s.put_yaml(&format!("{RES}/model/Orders"), &ada, ORDERS).status, 400);
    assert_eq!(
        s.call(
            "PUT",
            &format!("{RES}/model/x"),
            Some(&ada),
            &[("Content-Type", "image/png")],
            Some(b"x")
        )
        .status,
        415
    );
    // Unknown routes 404, wrong methods 405, both as JSON errors.
    let r = s.get("/api/v1/nothing", &ada);
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (404, Some("not_found")));
    let r = s.call("PATCH", &format!("{RES}/model/orders"), Some(&ada), &[], None);
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );

    // Sources and destinations.
    let src = json!({"id": "warehouse", "name": "Warehouse", "type": "snowflake"}).to_string();
    let r = s.call(
        "POST",
        "/api/v1/workspaces/acme-staging/sources",
        Some(&ada),
        &[],
        Some(src.as_bytes()),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            201,
            json!({"id": "warehouse", "name": "Warehouse", "type": "snowflake"})
        )
    );
    assert_eq!(
        s.call(
            "POST",
            "/api/v1/workspaces/acme-staging/sources",
            Some(&ada),
            &[],
            Some(src.as_bytes())
        )
        .status,
        409
    );
    // Every field is bounded and checked: 422 with what is wrong, nothing added.
    for (body, says) in [
        (
            json!({"id": "big", "name": "N".repeat(60_000), "type": "snowflake"}),
            "the name of `big` must be 1 to 200 characters on one line (60000 given)",
        ),
        (
            json!({"id": "two-lines", "name": "a\nb", "type": "snowflake"}),
            "the name of `two-lines` must be 1 to 200 characters on one line (3 given)",
        ),
        (
            json!({"id": "odd", "name": "Odd", "type": "Snow Flake"}),
            "the type of `odd` must be 1 to 64 lowercase letters, digits, `-` or `_`",
        ),
        (
            json!({"id": "a b", "name": "A", "type": "x"}),
            "id `a b` must be 1 to 200 characters without spaces",
        ),
    ] {
        let r = s.call(
            "POST",
            "/api/v1/workspaces/acme-staging/sources",
            Some(&ada),
            &[],
            Some(body.to_string().as_bytes()),
        );
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(
            r.json()["error"]["message"].as_str().unwrap().starts_with(says),
            "{}",
            r.body
        );
    }
    // DELETE: refused while used, 204 otherwise; 404 when absent.
    let sync = "model: orders\ndestination: staging-salesforce\nconfig: {}\n";
    assert_eq!(s.put_yaml(&format!("{RES}/sync/orders-to-sf"), &ada, sync).status, 201);
    let r = s.call("DELETE", &format!("{RES}/model/orders"), Some(&ada), &[], None);
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (409, Some("in_use")));
    assert_eq!(
        s.call("DELETE", &format!("{RES}/sync/orders-to-sf"), Some(&ada), &[], None)
            .status,
        204
    );
    assert_eq!(
        s.call("DELETE", &format!("{RES}/sync/orders-to-sf"), Some(&ada), &[], None)
            .status,
        404
    );

    // Status, log and conflicts.
    let st = s.get("/api/v1/workspaces/acme-staging/status", &ada).json();
    for key in [
        "workspace",
        "repository",
        "branch",
        "path",
        "last_applied",
        "queued",
        "conflicts",
        "resources",
        "last_pass",
    ] {
        assert!(st.get(key).is_some(), "status lacks `{key}`: {st}");
    }
    let log = s.get("/api/v1/workspaces/acme-staging/log?limit=3", &ada).json();
    assert_eq!(log.as_array().unwrap().len(), 3);
    assert_eq!(s.get("/api/v1/workspaces/acme-staging/log?limit=0", &ada).status, 400);
    assert_eq!(
        s.get("/api/v1/workspaces/acme-staging/conflicts", &ada).json(),
        json!([])
    );
    assert_eq!(s.call("GET", "/healthz", None, &[], None).body, "ok");

    // Every write route: 403 for a read-only token and for a token of another workspace, and
    // nothing anywhere changes (resources, sources, destinations, queue, the remote's branch).
    let production_only = token(&data, GRACE, &["--scope", "acme-production"]);
    // What was asked for above has gone out: the view below stays as it is unless a refused write
    // changes it.
    eventually("the queue pushed and no pass running", || {
        let st = s.status("acme-staging", &ada);
        st["queued"] == json!([]) && st["running"] == false
    });
    let before = store_view(&data, "acme-staging", &remote);
    let src2 = json!({"id": "wh2", "name": "W", "type": "snowflake"}).to_string();
    let writes: [(&str, String, Option<&[u8]>); 7] = [
        ("PUT", format!("{RES}/model/refused"), Some(ORDERS.as_bytes())),
        ("PUT", format!("{RES}/model/orders"), Some(ORDERS.as_bytes())),
        ("DELETE", format!("{RES}/model/customers"), None),
        (
            "POST",
            "/api/v1/workspaces/acme-staging/sources".into(),
            Some(src2.as_bytes()),
        ),
        (
            "POST",
            "/api/v1/workspaces/acme-staging/destinations".into(),
            Some(src2.as_bytes()),
        ),
        ("POST", "/api/v1/workspaces/acme-staging/sync".into(), None),
        ("POST", "/api/v1/workspaces/acme-staging/resync".into(), None),
    ];
    let passes = s.passes("acme-staging", &ada);
    for who in [&reader, &production_only] {
        for (method, path, body) in &writes {
            let r = s.call(method, path, Some(who), &[("Content-Type", "application/yaml")], *body);
            assert_eq!(
                (r.status, r.json()["error"]["code"].as_str()),
                (403, Some("forbidden")),
                "{method} {path}: {}",
                r.body
            );
        }
    }
    for path in ["status", "resources", "log", "conflicts"] {
        let r = s.get(&format!("/api/v1/workspaces/acme-staging/{path}"), &production_only);
        assert_eq!(r.status, 403, "GET {path} with a token of another workspace");
    }
    assert_eq!(
        store_view(&data, "acme-staging", &remote),
        before,
        "a refused write changed something"
    );
    // The refused source and destination were not added: adding them now is a creation.
    for kind in ["sources", "destinations"] {
        let path = format!("/api/v1/workspaces/acme-staging/{kind}");
        let r = s.call("POST", &path, Some(&ada), &[], Some(src2.as_bytes()));
        assert_eq!(r.status, 201, "{kind}: {}", r.body);
    }

    // POST …/sync and …/resync: 202, and a pass (a full resync) runs.
    let r = s.call("POST", "/api/v1/workspaces/acme-staging/sync", Some(&ada), &[], None);
    assert_eq!(r.status, 202, "{}", r.body);
    let st = s.settled_after("acme-staging", &ada, passes);
    assert_eq!(st["last_pass"]["resync"], false, "{st}");
    let r = s.call(
        "POST",
        "/api/v1/workspaces/acme-staging/resync",
        Some(&ada),
        &[("Content-Type", "application/json")],
        Some(br#"{"confirm": true}"#),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let st = s.settled_after("acme-staging", &ada, st["last_pass"]["number"].as_u64().unwrap());
    assert_eq!(st["last_pass"]["resync"], true, "{st}");
    assert_eq!(st["last_pass"]["outcome"], "ok", "{st}");

    // The page's live updates: 401 without a token, an event stream with one.
    let head = raw_head(&s, "GET /events HTTP/1.1\r\n\r\n", "\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    let stream = raw_head(
        &s,
        &format!("GET /events HTTP/1.1\r\nAuthorization: Bearer {ada}\r\n\r\n"),
        "retry: 2000",
    );
    assert!(stream.starts_with("HTTP/1.1 200"), "{stream}");
    assert!(
        stream.to_ascii_lowercase().contains("content-type: text/event-stream"),
        "{stream}"
    );
    // Signing out takes the page's own form (its anti-forgery value); then it clears the cookie.
    let out = raw_head(&s, "POST /logout HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    let form = "csrf=0123456789abcdef0123456789abcdef";
    let out = raw_head(
        &s,
        &format!(
            "POST /logout HTTP/1.1\r\nCookie: gitsync_csrf=0123456789abcdef0123456789abcdef\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
        "\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 303"), "{out}");
    assert!(out.contains("location: /\r\n"), "{out}");
    assert!(
        out.contains("set-cookie: gitsync_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
        "{out}"
    );

    // The bearer scheme in any case (RFC 9110); the page's cookie is not an API credential.
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let r = s.call(
            "GET",
            "/api/v1/workspaces",
            None,
            &[("Authorization", &format!("{scheme} {ada}"))],
            None,
        );
        assert_eq!(r.status, 200, "{scheme}: {}", r.body);
    }
    let r = s.call(
        "GET",
        "/api/v1/workspaces",
        None,
        &[("Cookie", &format!("gitsync_session={ada}"))],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.body);
}

/// A bare remote, workspace `acme-staging` connected to its `main` (first pass done), Ada's token
/// for every workspace, and the service on it (no poll, a short debounce).
fn served() -> (Remote, PathBuf, String, Service) {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &[], &[]);
    (remote, data, ada, s)
}

/// What a refused request must not change: the workspace's resources (with their contents) and
/// queue, read with the CLI, and the head of the remote's branch.
fn store_view(data: &std::path::Path, ws: &str, remote: &Remote) -> Value {
    let cli = |args: &[&str]| -> String {
        let mut all = vec!["--workspace", ws];
        all.extend_from_slice(args);
        ok_with_data(data, &all)
    };
    let list: Value = serde_json::from_str(&cli(&["workspace", "list", "--format", "json"])).unwrap();
    let resources: Vec<Value> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let (kind, slug) = (r["kind"].as_str().unwrap(), r["slug"].as_str().unwrap());
            json!([kind, slug, cli(&["workspace", "get", kind, slug, "--format", "json"])])
        })
        .collect();
    let status: Value = serde_json::from_str(&cli(&["status", "--format", "json"])).unwrap();
    json!({
        "list": list,
        "resources": resources,
        "queued": status["queued"],
        "head": git(&remote.bare, &["rev-parse", "main"]),
    })
}

/// Send `request` (raw HTTP/1.1; a Host header is added) and read the answer until `until` appears
/// (at most 20 s); the answer so far, with header names in lower case.
fn raw_head(s: &Service, request: &str, until: &str) -> String {
    use std::io::{Read, Write};
    let addr = s.base.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let (line, rest) = request.split_once("\r\n").unwrap();
    conn.write_all(format!("{line}\r\nHost: {addr}\r\n{rest}").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(until) {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    // Header names are case-insensitive: compare them in lower case.
    text.lines()
        .map(|l| match l.split_once(": ") {
            Some((k, v)) if !l.starts_with("HTTP/") => format!("{}: {v}", k.to_ascii_lowercase()),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
        + if text.ends_with("\r\n") { "\r\n" } else { "" }
}

#[test]
fn changes_go_out_by_themselves_one_commit_each_authored_by_their_person() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let grace = token(&data, GRACE, &[]);
    let s = Service::start(&data, &[], &[]);
    let before = remote.history("main").len();
    // A burst: three changes by two people, then one made with the CLI on the same data directory.
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    assert_eq!(
        s.put_yaml(
            &format!("{RES}/model/customers"),
            &grace,
            &ORDERS.replace("Orders", "Customers")
        )
        .status,
        201
    );
    assert_eq!(
        s.put_yaml(
            &format!("{RES}/model/orders"),
            &grace,
            &ORDERS.replace("public.orders", "public.orders_v2")
        )
        .status,
        200
    );
    eventually("three commits on the remote", || {
        remote.history("main").len() == before + 3
    });
    let history = remote.history("main");
    assert_eq!(
        history[..3],
        [
            "update model orders|Grace Hopper",
            "update model customers|Grace Hopper",
            "update model orders|Ada Lovelace"
        ]
    );
    put(&data, "model", "shipments", &ORDERS.replace("Orders", "Shipments"), ADA);
    eventually("the CLI's change on the remote", || {
        remote.history("main")[0] == "update model shipments|Ada Lovelace"
    });
    // The pass that pushed it has recorded the push once none runs.
    let st = s.settled("acme-staging", &ada);
    assert_eq!(st["queued"], json!([]), "{st}");
    assert_eq!(st["last_pass"]["outcome"], "ok", "{st}");
    let mut s = s;
    assert!(s.stop().success());
}

#[test]
fn webhooks_start_a_pass_only_when_signed_and_for_the_branch() {
    // The remote is a real `git daemon` on loopback, as a hosted remote would be.
    let remote = Remote::new(true);
    let (_daemon, data) = remote.over_daemon("staging");
    let ada = token(&data, ADA, &[]);
    let secret = "a-webhook-secret-of-some-length";
    let r = run_with_env(&data, &["webhook", "secret", "--from-env", "S"], None, &[("S", secret)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s = Service::start(&data, &[], &[]);
    // The pass every start runs (for changes queued while it was down) is over before the push.
    let first = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();
    remote.commit("main", &[("models/orders.yaml", Some(ORDERS))], "orders", GRACE);
    let push =
        json!({"ref": "refs/heads/main", "after": "0000", "repository": {"full_name": "acme/config"}}).to_string();
    let hook = |provider: &str, headers: &[(&str, &str)], body: &str| {
        s.call(
            "POST",
            &format!("/hooks/{provider}/acme-staging"),
            None,
            headers,
            Some(body.as_bytes()),
        )
    };
    let sig = |body: &str| github_signature(secret, body);
    // Unsigned or wrongly signed: 401, nothing happens.
    assert_eq!(hook("github", &[], &push).status, 401);
    assert_eq!(
        hook(
            "github",
            &[("X-Hub-Signature-256", &github_signature("wrong", &push))],
            &push
        )
        .status,
        401
    );
    assert_eq!(hook("gitlab", &[("X-Gitlab-Token", "wrong")], &push).status, 401);
    // Another branch: accepted, nothing to do.
    let other = json!({"ref": "refs/heads/develop"}).to_string();
    let r = hook(
        "github",
        &[
            ("X-Hub-Signature-256", &sig(&other)),
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "d-0"),
        ],
        &other,
    );
    assert_eq!((r.status, r.json()["result"].as_str()), (202, Some("other_branch")));
    // None of these started a pass: the counter has not moved and none runs (a pass one of them
    // had kicked would be running or over by now: the worker was idle and takes a kick at once).
    let st = s.status("acme-staging", &ada);
    assert_eq!(
        (st["last_pass"]["number"].as_u64(), &st["running"]),
        (Some(first), &json!(false)),
        "a refused or other-branch webhook started a pass"
    );
    assert_eq!(s.get(&format!("{RES}/model/orders"), &ada).status, 404, "no pass ran");
    // Signed, for main: a pass, and the change is readable through the API.
    let r = hook(
        "github",
        &[
            ("X-Hub-Signature-256", &sig(&push)),
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "d-1"),
        ],
        &push,
    );
    assert_eq!((r.status, r.json()["started"].as_bool()), (202, Some(true)));
    let st = s.settled_after("acme-staging", &ada, first);
    assert_eq!(st["last_pass"]["number"].as_u64(), Some(first + 1), "one pass: {st}");
    assert_eq!(
        s.get(&format!("{RES}/model/orders"), &ada).status,
        200,
        "orders applied"
    );
    // The same delivery again starts nothing new.
    let r = hook(
        "github",
        &[
            ("X-Hub-Signature-256", &sig(&push)),
            ("X-GitHub-Event", "push"),
            ("X-GitHub-Delivery", "d-1"),
        ],
        &push,
    );
    assert_eq!(r.json()["result"], "redelivery");
    // Signed deliveries that cannot move the branch are answered and start nothing: other events,
    // a tag push, GitHub's ping, and a form-encoded push (GitHub's default content type) to another
    // branch, whose payload is read like JSON.
    let tag = json!({"ref": "refs/tags/v1.0.0"}).to_string();
    let form = "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fdevelop%22%7D";
    for (event, body, content_type, result, what) in [
        ("issues", push.as_str(), "application/json", "ignored", Some("issues")),
        ("star", push.as_str(), "application/json", "ignored", Some("star")),
        ("push", tag.as_str(), "application/json", "ignored", Some("tag push")),
        ("ping", "{}", "application/json", "ping", None),
        ("push", form, "application/x-www-form-urlencoded", "other_branch", None),
    ] {
        let r = hook(
            "github",
            &[
                ("X-Hub-Signature-256", &sig(body)),
                ("X-GitHub-Event", event),
                ("Content-Type", content_type),
            ],
            body,
        );
        assert_eq!(
            (r.status, r.json()["result"].as_str(), r.json()["event"].as_str()),
            (202, Some(result), what),
            "{event}: {}",
            r.body
        );
    }
    let r = hook(
        "gitlab",
        &[("X-Gitlab-Token", secret), ("X-Gitlab-Event", "Tag Push Hook")],
        &push,
    );
    assert_eq!(r.json()["result"], "ignored", "{}", r.body);
    let st = s.status("acme-staging", &ada);
    assert_eq!(
        (st["last_pass"]["number"].as_u64(), &st["running"]),
        (Some(first + 1), &json!(false)),
        "a redelivery or an event that cannot move the branch started a pass"
    );
    // GitLab's token and the generic signature.
    remote.commit(
        "main",
        &[("models/customers.yaml", Some(&ORDERS.replace("Orders", "Customers")))],
        "customers",
        GRACE,
    );
    let r = hook(
        "gitlab",
        &[("X-Gitlab-Token", secret), ("X-Gitlab-Event", "Push Hook")],
        &push,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    s.settled_after("acme-staging", &ada, first + 1);
    assert_eq!(
        s.get(&format!("{RES}/model/customers"), &ada).status,
        200,
        "customers applied"
    );
    let r = hook("generic", &[("X-Signature", &sig("anything"))], "anything");
    assert_eq!((r.status, r.json()["started"].as_bool()), (202, Some(true)));
    // A push of many commits makes a large delivery: 3 MiB is taken (its signature checked over the
    // whole body, its branch read from the start); past --max-webhook-body (25 MiB) it is 413.
    let large = format!(
        "{{\"ref\": \"refs/heads/main\", \"commits\": [{}\"x\"]}}",
        "\"a commit of the push\", ".repeat((3 << 20) / 20)
    );
    assert!(large.len() > 3 << 20);
    let r = hook("generic", &[("X-Signature", &sig(&large))], &large);
    assert_eq!(
        (r.status, r.json()["started"].as_bool()),
        (202, Some(true)),
        "{}",
        r.body
    );
    let r = hook("generic", &[("X-Signature", &sig("tampered"))], &large);
    assert_eq!(r.status, 401, "the whole body is signed");
    let huge = "x".repeat((25 << 20) + 1);
    assert_eq!(hook("generic", &[("X-Signature", &sig(&huge))], &huge).status, 413);
    let metrics = s.call("GET", "/metrics", Some(&ada), &[], None).body;
    assert!(
        metrics.contains("gitsync_webhook_requests_total{provider=\"github\",result=\"bad_signature\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitsync_webhook_requests_total{provider=\"github\",result=\"started\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitsync_passes_total{workspace=\"acme-staging\",outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitsync_pass_duration_seconds_count{workspace=\"acme-staging\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitsync_outbound_queue{workspace=\"acme-staging\"} 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitsync_last_applied_commit_timestamp_seconds{workspace=\"acme-staging\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gitsync_http_requests_total{route=\"/hooks/{provider}/{ws}\",status=\"401\"} 4\n"),
        "{metrics}"
    );
}

#[test]
fn sigterm_lets_the_running_pass_finish_then_exits_0() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let marks = scratch("serve-failpoints");
    let mut s = Service::start(
        &data,
        &[],
        &[
            ("GITSYNC_FAILPOINTS", "before-push=pause"),
            ("GITSYNC_FAILPOINT_DIR", marks.to_str().unwrap()),
        ],
    );
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    eventually("the pass held before its push", || marks.join("before-push").exists());
    signal(s.child.as_ref().unwrap(), "TERM");
    // No new requests are taken while the pass finishes.
    eventually("the listener closed", || {
        std::net::TcpStream::connect(s.base.trim_start_matches("http://")).is_err()
    });
    std::fs::remove_file(marks.join("before-push")).unwrap();
    let status = s.wait_exit();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        remote.history("main")[0],
        "update model orders|Ada Lovelace",
        "the running pass finished its push"
    );
    // ...and recorded it before the process ended: nothing is left queued to be pushed again.
    let st: Value = serde_json::from_str(&ok_with_data(&data, &["status", "--format", "json"])).unwrap();
    assert_eq!(st["queued"], json!([]), "{st}");
    let log = ok_with_data(&data, &["log"]);
    let newest = log.lines().find(|l| l.contains("model/orders")).unwrap_or_default();
    assert!(newest.contains("pushed"), "{log}");
}

#[test]
fn killed_in_a_pass_then_restarted_nothing_is_lost_and_nothing_doubled() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let before = remote.history("main").len();
    {
        // The pass pushes, then the process dies before recording it (as kill -9 would).
        let mut s = Service::start(&data, &[], &[("GITSYNC_FAILPOINTS", "after-push=abort")]);
        assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
        let mut child = s.child.take().unwrap();
        eventually("the service died in its pass", || child.try_wait().unwrap().is_some());
    }
    assert_eq!(remote.history("main").len(), before + 1, "pushed once");
    let s = Service::start(&data, &[], &[]);
    // The first pass after the restart is the one that would push again: once it is over, the
    // change is recorded as pushed and the remote has it once.
    let st = s.settled("acme-staging", &ada);
    assert_eq!(st["queued"], json!([]), "{st}");
    assert_eq!(remote.history("main").len(), before + 1, "no duplicate commit");
    assert_eq!(s.get(&format!("{RES}/model/orders"), &ada).status, 200);
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
#[test]
fn random_requests_never_stop_the_service_or_touch_the_store() {
    let (remote, data, ada, s) = served();
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    eventually("orders pushed", || {
        remote.history("main")[0].starts_with("update model orders")
    });
    s.settled("acme-staging", &ada);
    let before = store_view(&data, "acme-staging", &remote);
    let passes = s.passes("acme-staging", &ada);
    let paths = [
        "/",
        "/healthz",
        "/metrics",
        "/workspaces/acme-staging",
        "/workspaces/%FF%FE",
        "/api/v1/workspaces",
        "/api/v1/workspaces/acme-staging/status",
        "/api/v1/workspaces/acme-staging/resources?kind=%00",
        "/api/v1/workspaces/acme-staging/resources/model/orders/../../x",
        "/api/v1/workspaces/acme-staging/resources/event/a/b/c",
        "/api/v1/workspaces/acme-staging/resources/model/%2e%2e",
        "/api/v1/workspaces/acme-staging/sources",
        "/api/v1/workspaces/acme-staging/destinations",
        "/api/v1/workspaces/acme-staging/conflicts",
        "/api/v1/workspaces/acme-staging/resync",
        "/api/v1/workspaces/acme-staging/resources/model/fuzz",
        "/api/v1/workspaces/acme-staging/resources/sync/fuzz",
        "/api/v1/workspaces/acme-staging/resources/event/web/fuzz-web-v1",
        "/logout",
        "/api/v1/workspaces/acme-staging/log?limit=99999999999999999999",
        "/api/v1/workspaces/acme-staging/sync",
        "/hooks/github/acme-staging",
        "/hooks/gitlab/acme-staging",
        "/hooks/generic/x",
        "/hooks/unknown/acme-staging",
        "/api/v1/workspaces/%ZZ/status",
    ];
    let methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"];
    let types = [
        "application/json",
        "application/yaml",
        "text/plain",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    ];
    let tokens = [Some(ada.as_str()), Some("gst_x"), None];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..400 {
        let path = *rng.pick(&paths);
        let method = *rng.pick(&methods);
        let body = rng.bytes(2048);
        let ct = *rng.pick(&types);
        let token = *rng.pick(&tokens);
        let junk: String = rng.bytes(20).iter().map(|b| char::from(b'!' + b % 94)).collect();
        let cookie = format!("gitsync_session={junk}");
        let sig = format!("sha256={:x}", rng.next());
        let auth = format!("Bearer {junk}");
        let mut headers = vec![
            ("Content-Type", ct),
            ("X-Hub-Signature-256", sig.as_str()),
            ("X-Gitlab-Token", "x"),
            ("X-GitHub-Delivery", junk.as_str()),
        ];
        if token.is_none() && rng.next().is_multiple_of(2) {
            headers.push(("Authorization", auth.as_str()));
        }
        if rng.next().is_multiple_of(3) {
            headers.push(("Cookie", cookie.as_str()));
        }
        let r = s.call(
            method,
            path,
            token,
            &headers,
            (method != "GET" && method != "HEAD").then_some(&body[..]),
        );
        assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.body);
        *statuses.entry(r.status).or_insert(0) += 1;
    }
    assert_eq!(s.call("GET", "/healthz", None, &[], None).body, "ok");
    // Nothing reached the store or the remote. A pass may have been asked for (the random POSTs to
    // …/sync with the right token); it had nothing to do.
    let st = s.settled_after("acme-staging", &ada, passes - 1);
    assert_eq!(st["last_pass"]["outcome"], "ok", "{st}");
    assert_eq!(store_view(&data, "acme-staging", &remote), before);
    assert!(
        statuses.len() >= 5,
        "the requests reached several kinds of answers: {statuses:?}"
    );
}

/// An answer given before the body was read (here a 401) lets the client finish sending it, and
/// the connection stays usable: a client that keeps connections open is not cut off mid-request.
#[test]
fn an_answer_given_before_the_body_is_read_keeps_the_connection() {
    use std::io::{Read, Write};
    let (_remote, _data, ada, s) = served();
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    conn.write_all(
        format!(
            "PUT /api/v1/workspaces/acme-staging/resources/model/x HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/yaml\r\nContent-Length: 4096\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    // The service decides from the headers alone: its request counter shows the 401 while none of
    // the body has been sent. (The answer itself is held until the body is read and dropped.)
    let counted =
        "gitsync_http_requests_total{route=\"/api/v1/workspaces/{ws}/resources/{kind}/{*slug}\",status=\"401\"} 1\n";
    eventually("the 401 decided before the body was sent", || {
        s.call("GET", "/metrics", Some(&ada), &[], None).body.contains(counted)
    });
    conn.write_all(&[b'#'; 4096]).unwrap();
    conn.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).ends_with("\r\n\r\nok") {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 401"), "{got}");
    assert_eq!(
        got.matches("HTTP/1.1 ").count(),
        2,
        "both requests answered on one connection: {got}"
    );
    assert!(got.ends_with("\r\n\r\nok"), "{got}");
}

#[test]
fn serve_help_has_an_example() {
    let r = run_in(&PathBuf::from("."), &["serve", "--help"], &shared_cache());
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("gitsync --data ./ws serve"), "{}", r.stdout);
}

/// Headless Chromium driven over the DevTools protocol (a WebSocket), with its own profile.
struct Browser {
    _server: Server,
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    id: u64,
}

impl Browser {
    fn start() -> Browser {
        if command("sh")
            .args(["-c", "command -v chromium"])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            let st = command("bash")
                .arg(root().join("tests/support/install-chromium.sh"))
                .status()
                .unwrap();
            assert!(st.success(), "tests/support/install-chromium.sh failed");
        }
        let profile = scratch("chromium-profile");
        // Its own process group: the browser's helper processes end with it.
        let server = Server::spawn(
            command("chromium")
                .args([
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--no-first-run",
                    "--remote-debugging-port=0",
                    "--window-size=1200,900",
                    &format!("--user-data-dir={}", profile.display()),
                    "about:blank",
                ])
                // Its temporary files stay in the system's temporary folder: under a deep scratch folder
                // the path of its singleton socket would pass the 108 bytes a socket path may have.
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "chromium (tests/support/install-chromium.sh installs it)",
            0,
        );
        let port_file = profile.join("DevToolsActivePort");
        let mut port = String::new();
        eventually("Chromium's DevTools port", || {
            port = std::fs::read_to_string(&port_file).unwrap_or_default();
            port.lines().count() >= 2
        });
        let port = port.lines().next().unwrap().trim().to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
        let mut page = None;
        eventually("a page target", || {
            let list: Value = agent
                .get(&format!("http://127.0.0.1:{port}/json/list"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json().ok())
                .unwrap_or(Value::Null);
            page = list
                .as_array()
                .and_then(|l| l.iter().find(|t| t["type"] == "page"))
                .and_then(|t| t["webSocketDebuggerUrl"].as_str())
                .map(String::from);
            page.is_some()
        });
        let (ws, _) = tungstenite::connect(page.unwrap()).expect("DevTools WebSocket");
        Browser {
            _server: server,
            ws,
            id: 0,
        }
    }

    /// Sign in on the service's page with `token`; true when the page took it.
    fn sign_in(&mut self, base: &str, token: &str) {
        self.navigate(&format!("{base}/"));
        self.wait_for(
            "the token form",
            "document.title === 'sign in · gitsync' && !!document.querySelector('input[name=token]')",
        );
        self.eval(&format!(
            "document.querySelector('input[name=token]').value = {token:?}; document.forms[0].submit(); true"
        ));
        self.wait_for("the workspace list", "document.body.innerText.includes('signed in as')");
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        match self.try_call(method, params) {
            Ok(result) => result,
            Err(answer) => panic!("{method}: {answer}"),
        }
    }

    /// The result of `method`, or the whole answer when it is an error.
    fn try_call(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.id += 1;
        let msg = json!({"id": self.id, "method": method, "params": params}).to_string();
        self.ws.send(tungstenite::Message::Text(msg.into())).unwrap();
        loop {
            let m = self.ws.read().unwrap();
            let Ok(text) = m.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v["id"].as_u64() == Some(self.id) {
                return match v.get("error") {
                    None => Ok(v["result"].clone()),
                    Some(_) => Err(v),
                };
            }
        }
    }

    fn eval(&mut self, js: &str) -> Value {
        match self.evaluate(js) {
            Ok(value) => value,
            Err(answer) => panic!("Runtime.evaluate: {answer}"),
        }
    }

    /// The value of `js`, or the browser's answer when it could not evaluate it.
    fn evaluate(&mut self, js: &str) -> Result<Value, Value> {
        let params = json!({"expression": js, "returnByValue": true, "awaitPromise": true});
        self.try_call("Runtime.evaluate", params)
            .map(|r| r["result"]["value"].clone())
    }

    /// Whether `js` is true now; false while the page is between documents (a form just sent: the
    /// old page's context is gone before the new one's is there).
    fn holds(&mut self, js: &str) -> bool {
        match self.evaluate(js) {
            Ok(value) => value == json!(true),
            Err(answer) => {
                let message = answer["error"]["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains("navigated or closed") || message.contains("context"),
                    "Runtime.evaluate: {answer}"
                );
                false
            }
        }
    }

    /// A PNG of what the page shows now, kept as `<target tmp>/<name>` for a person to look at.
    fn screenshot(&mut self, name: &str) {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        std::fs::write(target_tmp().join(name), &png).unwrap();
    }

    fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        self.wait_for(
            "the page loaded",
            &format!("location.href === {url:?} && document.readyState === 'complete'"),
        );
    }

    fn wait_for(&mut self, what: &str, js: &str) {
        let start = Instant::now();
        while !self.holds(js) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the page never showed: {what}\n{}",
                self.eval("document.body ? document.body.innerText : ''")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[test]
fn the_status_page_signs_in_with_a_token_and_shows_a_change_without_a_reload() {
    let (_remote, _data, ada, s) = served();
    let mut b = Browser::start();
    // Asked for a token first; a wrong one is refused.
    b.navigate(&format!("{}/", s.base));
    b.wait_for(
        "the token form",
        "document.title === 'sign in · gitsync' && !!document.querySelector('input[name=token]')",
    );
    b.eval("document.querySelector('input[name=token]').value = 'gst_wrong'; document.forms[0].submit(); true");
    b.wait_for(
        "the refusal",
        "document.body.innerText.includes('The token is unknown or revoked.')",
    );
    b.eval(&format!(
        "document.querySelector('input[name=token]').value = {ada:?}; document.forms[0].submit(); true"
    ));
    b.wait_for(
        "the workspace list",
        "document.body.innerText.includes('signed in as Ada Lovelace')",
    );
    // The cookie is HttpOnly: scripts cannot read the token.
    assert_eq!(b.eval("document.cookie"), json!(""));
    b.navigate(&format!("{}/workspaces/acme-staging", s.base));
    b.wait_for(
        "the workspace page",
        "document.body.innerText.includes('Queued changes (0)')",
    );
    // A change through the API appears on the open page by itself: no navigation happens (the marker
    // set on this page survives).
    b.eval("window.__same_page = 1; true");
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    b.wait_for(
        "the pushed change in the log",
        "document.getElementById('log').innerText.includes('model orders') && document.getElementById('log').innerText.includes('pushed') && document.body.innerText.includes('Queued changes (0)')",
    );
    assert_eq!(
        b.eval("window.__same_page"),
        json!(1),
        "the page was reloaded instead of updated"
    );
    let last_pass = b.eval("document.body.innerText");
    assert!(
        last_pass
            .as_str()
            .unwrap()
            .contains("OUTBOUND: pushed 1 commit to main"),
        "{last_pass}"
    );
    b.screenshot("status-page.png");
}

#[test]
fn without_a_webhook_the_poll_takes_in_a_push_within_its_interval() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &["--poll", "1s"], &[]);
    let first = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();
    remote.commit("main", &[("models/orders.yaml", Some(ORDERS))], "orders", GRACE);
    // Nothing else asks for a pass (no webhook, no write): the poll sees the branch move and the very
    // next pass takes the push in. (How soon is the benchmark's business, not a timed test's.)
    eventually("orders applied by a poll", || {
        s.get(&format!("{RES}/model/orders"), &ada).status == 200
    });
    let st = s.settled_after("acme-staging", &ada, first);
    assert_eq!(st["last_pass"]["number"].as_u64(), Some(first + 1), "{st}");
    assert!(
        st["last_pass"]["summary"]
            .as_str()
            .unwrap()
            .contains("INBOUND: 1 commit"),
        "{st}"
    );
}

#[test]
fn a_failing_pass_shows_in_the_status_and_is_retried_until_it_lands() {
    let (remote, _data, ada, s) = served();
    s.settled("acme-staging", &ada);
    // The remote goes away.
    let away = remote.root.join("remote-away.git");
    std::fs::rename(&remote.bare, &away).unwrap();
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    eventually("a failed pass in the status", || {
        s.get("/api/v1/workspaces/acme-staging/status", &ada).json()["last_pass"]["outcome"] == "failed"
    });
    let st = s.get("/api/v1/workspaces/acme-staging/status", &ada).json();
    assert!(
        st["last_pass"]["summary"]
            .as_str()
            .unwrap()
            .contains("cannot fetch `main`"),
        "{st}"
    );
    assert_eq!(st["queued"].as_array().unwrap().len(), 1, "the change is kept");
    let list = s.get("/api/v1/workspaces", &ada).json();
    assert_eq!(list[0]["status"], "failing");
    // Why, beside the state: in the list and on the page.
    let reason = list[0]["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("cannot fetch `main`"), "{list}");
    let set = sign_in_raw(&s, &ada);
    let page = s
        .call("GET", "/", None, &[("Cookie", set.split(';').next().unwrap())], None)
        .body;
    assert!(
        page.contains("<td class=\"failing\">failing<div class=\"reason\">") && page.contains("cannot fetch `main`"),
        "{page}"
    );
    // Back: a retry (backoff 1 s, 2 s, …) pushes it without anyone asking.
    std::fs::rename(&away, &remote.bare).unwrap();
    eventually("the change pushed by a retry", || {
        remote.history("main")[0] == "update model orders|Ada Lovelace"
    });
    eventually("the status clear", || {
        let st = s.get("/api/v1/workspaces/acme-staging/status", &ada).json();
        st["queued"] == json!([]) && st["last_pass"]["outcome"] == "ok"
    });
}

#[test]
fn over_ssh_a_change_made_through_the_api_is_pushed_by_the_service() {
    // The remote is reached through a real sshd on loopback with a key, as a deploy key would be.
    let remote = Remote::new(true);
    let key = remote.root.join("id_deploy");
    keygen(&key, "");
    let sshd = Sshd::start(&remote.root.join("sshd"), &[key.with_extension("pub")]);
    let home = sshd.home.to_str().unwrap().to_string();
    let env = [("HOME", home.as_str())];
    let data = remote.workspace("staging");
    let url = sshd.url(&remote.bare);
    let connect = [
        "connect",
        "--repo",
        &url,
        "--branch",
        "main",
        "--ssh-key",
        key.to_str().unwrap(),
    ];
    let r = run_with_env(&data, &connect, None, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &[], &env);
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    eventually("the change pushed over ssh", || {
        remote.history("main")[0] == "update model orders|Ada Lovelace"
    });
    let st = s.get("/api/v1/workspaces/acme-staging/status", &ada).json();
    assert!(st["repository"].as_str().unwrap().starts_with("ssh://"), "{st}");
}

/// A resource changed in the workspace and in Git between two passes: the service's pass takes
/// Git's version, keeps the workspace's, and says so through the API and on the page.
#[test]
fn a_conflict_shows_through_the_api_and_on_the_page() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    put(&data, "model", "orders", ORDERS, ADA);
    ok_with_data(&data, &["sync"]);
    // While no service runs: the workspace changes the key one way, Git another.
    let mine = ORDERS.replace("primaryKey: id", "primaryKey: workspace_id");
    put(&data, "model", "orders", &mine, ADA);
    let theirs = ORDERS.replace("primaryKey: id", "primaryKey: git_id");
    let commit = remote.commit("main", &[("models/orders.yaml", Some(&theirs))], "change key", GRACE);
    let s = Service::start(&data, &[], &[]);
    let st = s.settled("acme-staging", &ada);
    assert_eq!(st["last_pass"]["outcome"], "attention", "{st}");
    assert_eq!(st["conflicts"], 1, "{st}");
    assert_eq!(s.get("/api/v1/workspaces", &ada).json()[0]["status"], "attention");
    let conflicts = s.get("/api/v1/workspaces/acme-staging/conflicts", &ada).json();
    assert_eq!(
        (
            conflicts[0]["kind"].as_str(),
            conflicts[0]["slug"].as_str(),
            conflicts[0]["commit"].as_str(),
            conflicts[0]["kept_yaml"].as_str()
        ),
        (
            Some("model"),
            Some("orders"),
            Some(commit.as_str()),
            // Kept as the workspace stored it: canonical YAML, defaults written out.
            Some(mine.replace("primaryKey", "isSchema: false\nprimaryKey").as_str())
        ),
        "{conflicts}"
    );
    let current = s.get(&format!("{RES}/model/orders"), &ada).json();
    assert_eq!(current["resource"]["primaryKey"], "git_id", "Git's version won");
    assert_eq!(remote.show("main:models/orders.yaml"), theirs);

    let mut b = Browser::start();
    b.sign_in(&s.base, &ada);
    b.navigate(&format!("{}/workspaces/acme-staging", s.base));
    b.wait_for(
        "the kept conflict",
        &format!(
            "document.body.innerText.includes('Conflicts kept (1)') && document.body.innerText.includes({:?}) && document.getElementById('state').innerText === 'attention'",
            &commit[..10]
        ),
    );
    // Side by side, as a reviewer reads it: the line that differs, Git's beside the workspace's.
    let row = b.eval(
        "Array.from(document.querySelectorAll('table.diff tr')).map(r => Array.from(r.cells).map(c => c.className + ':' + c.innerText)).filter(r => r[0].startsWith('del:'))",
    );
    assert_eq!(row, json!([["del:primaryKey: git_id", "ins:primaryKey: workspace_id"]]));
    b.eval("document.getElementById('conflict-1').scrollIntoView(); true");
    b.screenshot("conflict-diff.png");
}

/// A remote that refuses the push (branch protection): the service's pass fails with the remote's
/// reason and what to do, keeps the change queued, and shows the workspace as failing.
#[test]
fn a_push_refused_by_branch_protection_shows_in_the_service() {
    let remote = Remote::new(true);
    let (_daemon, data) = remote.over_daemon("staging");
    remote.pre_receive(PROTECTED_BRANCH_HOOK);
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &[], &[]);
    let first = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();
    let before = remote.history("main");
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    let st = s.settled_after("acme-staging", &ada, first);
    assert_eq!(st["last_pass"]["outcome"], "failed", "{st}");
    let summary = st["last_pass"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("Protected branch update failed - Changes must be made through a pull request")
            && summary.contains("allow gitsync (the account or app it pushes as) to bypass the protection of `main`"),
        "{summary}"
    );
    assert_eq!(st["queued"].as_array().unwrap().len(), 1, "the change is kept: {st}");
    assert_eq!(s.get("/api/v1/workspaces", &ada).json()[0]["status"], "failing");
    assert_eq!(remote.history("main"), before, "nothing landed");
}

/// `kill -9` of the whole service at a random moment while clients write through the API, then a
/// restart: every write the API accepted reaches the remote exactly once, and a write whose answer
/// was lost with the process is on the remote exactly when the workspace has it. The seed is
/// printed; `GITSYNC_TEST_SEED=N` replays one.
#[test]
fn killed_at_a_random_moment_under_writes_every_accepted_change_lands_once() {
    let seed = test_seed().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
            | 1
    });
    eprintln!("seed {seed} (replay: GITSYNC_TEST_SEED={seed})");
    let mut rng = Rng(seed);
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let (total, kill_after) = (24u64, 4 + rng.next() % 16);
    let model = |i: u64| ORDERS.replace("Orders", &format!("Model {i}"));
    // Writes: `kill_after` of them, then the kill lands while the next ones are in flight.
    let mut accepted = Vec::new();
    let mut lost = Vec::new();
    {
        let s = Service::start(&data, &["--debounce", "10ms"], &[]);
        let base = s.base.clone();
        let writer = {
            let ada = ada.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(20)))
                    .build()
                    .into();
                (0..total)
                    .map(|i| {
                        let r = agent
                            .put(&format!("{base}{RES}/model/m{i}"))
                            .header("Authorization", &format!("Bearer {ada}"))
                            .header("Content-Type", "application/yaml")
                            .send(model(i).as_bytes());
                        (i, r.map(|r| r.status().as_u16()).ok())
                    })
                    .collect::<Vec<_>>()
            })
        };
        // The kill: once `kill_after` writes are in the workspace, plus a random few milliseconds.
        eventually("the first writes stored", || {
            s.get(RES, &ada)
                .json()
                .as_array()
                .is_some_and(|l| l.len() as u64 >= kill_after)
        });
        std::thread::sleep(Duration::from_millis(rng.next() % 40));
        kill_group(s.child.as_ref().unwrap().id());
        for (i, status) in writer.join().unwrap() {
            match status {
                Some(201) => accepted.push(i),
                Some(other) => panic!("write {i}: {other}"),
                None => lost.push(i),
            }
        }
    }
    // The writes are one after another: the last one stored may have lost its answer to the kill.
    assert!(accepted.len() as u64 + 1 >= kill_after, "{accepted:?}");
    // Restarted: what was queued goes out; the writes the kill cut off are sent again.
    let s = Service::start(&data, &["--debounce", "10ms"], &[]);
    for i in &lost {
        let r = s.put_yaml(&format!("{RES}/model/m{i}"), &ada, &model(*i));
        assert!(r.status == 201 || r.status == 200, "{}", r.body);
    }
    eventually("every model on the remote", || {
        remote
            .history("main")
            .iter()
            .filter(|c| c.starts_with("update model m"))
            .count() as u64
            >= total
    });
    let st = s.settled("acme-staging", &ada);
    assert_eq!(st["queued"], json!([]), "{st}");
    let history = remote.history("main");
    for i in 0..total {
        let subject = format!("update model m{i}|Ada Lovelace");
        assert_eq!(
            history.iter().filter(|c| **c == subject).count(),
            1,
            "seed {seed}: model m{i} (accepted before the kill: {}) committed once:\n{}",
            accepted.contains(&i),
            history.join("\n")
        );
        assert_eq!(
            remote.show(&format!("main:models/m{i}.yaml")),
            model(i).replace("primaryKey", "isSchema: false\nprimaryKey"),
            "seed {seed}"
        );
    }
}

/// One service per data directory: a second one exits at once with status 2, naming the first, and
/// the first goes on serving.
#[test]
fn a_second_service_on_the_same_data_directory_is_refused() {
    let (_remote, data, ada, s) = served();
    let out = gitsync()
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--poll", "off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let pid = s.child.as_ref().unwrap().id();
    assert!(
        stderr.contains(&format!(
            "another `gitsync serve` already serves {} (pid {pid}, listening on {})",
            data.display(),
            s.base
        )),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "it never listened: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(s.get("/api/v1/workspaces", &ada).status, 200);
}

/// A page on another origin (another port of the same host, so the same site: a `SameSite=Strict`
/// cookie still goes with its requests) that a signed-in user opens auto-submits forms at the
/// service: a new source and a resync through the API, a sign-out. None has any effect.
#[test]
fn a_page_on_another_origin_cannot_act_for_a_signed_in_browser() {
    use std::io::BufRead;
    let (_remote, _data, ada, s) = served();
    let passes = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();
    let site = scratch("attacker");
    let api = format!("{}/api/v1/workspaces/acme-staging", s.base);
    std::fs::write(
        site.join("index.html"),
        format!(
            r#"<!doctype html><html><body>
<form id=a method=post action="{api}/sources" enctype="text/plain" target=f1><input name='{{"id":"evil","name":"Evil","type":"snowflake","x":"' value='"}}'></form>
<form id=b method=post action="{api}/resync" enctype="text/plain" target=f2><input name=x value=y></form>
<form id=c method=post action="{base}/logout" target=f3><input name=x value=y></form>
<iframe name=f1></iframe><iframe name=f2></iframe><iframe name=f3></iframe>
<script>for (const f of ['a', 'b', 'c']) document.getElementById(f).submit(); document.title = 'sent';</script>
</body></html>"#,
            base = s.base
        ),
    )
    .unwrap();
    let mut attacker = Server::spawn(
        command("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory"])
            .arg(&site)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
        "python3 -m http.server",
        0,
    );
    let mut line = String::new();
    std::io::BufReader::new(attacker.child().stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split(" port ")
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .unwrap_or_else(|| panic!("http.server said {line:?}"));

    let mut b = Browser::start();
    b.sign_in(&s.base, &ada);
    b.navigate(&format!("http://127.0.0.1:{port}/"));
    b.wait_for("the forms sent", "document.title === 'sent'");
    // The three requests reached the service and were refused.
    for (route, status) in [
        ("/api/v1/workspaces/{ws}/sources", 401),
        ("/api/v1/workspaces/{ws}/resync", 401),
        ("/logout", 403),
    ] {
        let counted = format!("gitsync_http_requests_total{{route=\"{route}\",status=\"{status}\"}} 1\n");
        eventually(&format!("{route} answered {status}"), || {
            s.call("GET", "/metrics", Some(&ada), &[], None).body.contains(&counted)
        });
    }
    // No source, no pass, and the browser is still signed in.
    let evil = json!({"id": "evil", "name": "Evil", "type": "snowflake"}).to_string();
    let r = s.call(
        "POST",
        &format!("{api}/sources").replacen(&s.base, "", 1),
        Some(&ada),
        &[],
        Some(evil.as_bytes()),
    );
    assert_eq!(r.status, 201, "the forged source was added: {}", r.body);
    let st = s.status("acme-staging", &ada);
    assert_eq!(
        st["last_pass"]["number"].as_u64(),
        Some(passes),
        "a forged resync ran: {st}"
    );
    b.navigate(&format!("{}/", s.base));
    b.wait_for(
        "still signed in",
        "document.body.innerText.includes('signed in as Ada Lovelace')",
    );
}

/// The data directory holds token hashes, webhook secrets and every workspace: while the service
/// runs (its stores open, their `-wal` and `-shm` files present), the folders are 0700 and every
/// database file 0600 — also those an older version left readable by others.
#[test]
fn the_data_directory_and_its_databases_are_private() {
    // About the SQLite files themselves.
    on_sqlite_files();
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    // As an older version left them.
    let store = ws_folder(&data).join("workspace.db");
    for p in [&data, &store] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let s = Service::start(&data, &[], &[]);
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    eventually("orders pushed", || {
        remote.history("main")[0].starts_with("update model orders")
    });
    s.settled("acme-staging", &ada);
    // Another program with the stores open (as a CLI command would be): their journal files exist,
    // made by SQLite with the mode of the database file.
    let _open: Vec<rusqlite::Connection> = [data.join("access.db"), store.clone()]
        .iter()
        .map(|db| {
            let c = rusqlite::Connection::open(db).unwrap();
            let _: i64 = c
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .unwrap();
            c
        })
        .collect();
    let files = files_under(&data);
    let databases: Vec<_> = files
        .iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_string_lossy();
            name.ends_with(".db") || name.ends_with(".db-wal") || name.ends_with(".db-shm")
        })
        .collect();
    let names: Vec<String> = databases
        .iter()
        .map(|f| f.strip_prefix(&data).unwrap().display().to_string())
        .collect();
    for want in [
        "access.db",
        "access.db-wal",
        "workspaces/acme-staging/workspace.db",
        "workspaces/acme-staging/workspace.db-wal",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
    for f in &databases {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    assert_eq!(mode(&data), 0o700, "the data directory");
    assert_eq!(mode(&ws_folder(&data)), 0o700, "the workspace's folder");
}

/// `/metrics` names every workspace: on the service's address it takes a token for every workspace;
/// `--metrics-listen` serves it without one on an address of its own (for a private network).
#[test]
fn metrics_tell_the_unauthenticated_nothing() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let staging_only = token(&data, GRACE, &["--scope", "acme-staging"]);
    let s = Service::start(&data, &["--metrics-listen", "127.0.0.1:0"], &[]);
    s.settled("acme-staging", &ada);
    let r = s.call("GET", "/metrics", None, &[], None);
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(!r.body.contains("acme-staging"), "{}", r.body);
    assert_eq!(s.call("GET", "/metrics", Some(&staging_only), &[], None).status, 403);
    let r = s.call("GET", "/metrics", Some(&ada), &[], None);
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("gitsync_passes_total{workspace=\"acme-staging\",outcome=\"ok\"} 1\n"),
        "{}",
        r.body
    );
    // The metrics address: no token, and nothing else there.
    let metrics = s.metrics.clone().expect("the metrics address on the first line");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut open = agent.get(&metrics).call().unwrap();
    assert_eq!(open.status().as_u16(), 200);
    let text = open.body_mut().read_to_string().unwrap();
    assert!(
        text.contains("gitsync_passes_total{workspace=\"acme-staging\",outcome=\"ok\"} 1\n"),
        "{text}"
    );
    let api = metrics.replace("/metrics", "/api/v1/workspaces");
    assert_eq!(
        agent
            .get(&api)
            .header("Authorization", &format!("Bearer {ada}"))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

/// The README's one command for the service runs the gitsync it is given (`GITSYNC=…`, or the one on
/// PATH) without building: here with no cargo on PATH at all.
#[test]
fn the_serve_example_runs_the_gitsync_it_is_given() {
    use std::io::BufRead;
    let dir = scratch("serve-example");
    let mut script = Server::spawn(
        command("bash")
            .arg(root().join("tools/serve-example.sh"))
            .arg(&dir)
            .args(["--listen", "127.0.0.1:0", "--poll", "off"])
            .env("GITSYNC", bin())
            .env("GITSYNC_CACHE_DIR", shared_cache())
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "tools/serve-example.sh",
        0,
    );
    let mut said = Vec::new();
    let mut base = None;
    for line in std::io::BufReader::new(script.child().stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("gitsync serve: listening on ") {
            base = Some(rest.split_whitespace().next().unwrap().to_string());
            break;
        }
        said.push(line);
    }
    let Some(base) = base else {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut script.child().stderr.take().unwrap(), &mut err).unwrap();
        panic!("the example did not serve:\n{}\n{err}", said.join("\n"));
    };
    assert!(
        said.iter()
            .any(|l| l == &format!("serve-example: using {} (gitsync {})", bin(), env!("CARGO_PKG_VERSION"))),
        "{said:?}"
    );
    assert!(!said.iter().any(|l| l.contains("building")), "{said:?}");
    let token = said
        .iter()
        .find_map(|l| l.strip_prefix("serve-example: API token (Ada Lovelace): "))
        .unwrap()
        .to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent
        .get(&format!("{base}/api/v1/workspaces"))
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let list: Value = r.body_mut().read_json().unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme-production", "acme-staging"]);
}

/// When the service itself fails (here a workspace store that is no longer a database), the client
/// gets a code, a message meant for it and the request id, never a path or a library's words; the
/// log has the detail under that id.
#[test]
fn an_internal_failure_tells_the_client_an_id_and_the_log_the_detail() {
    // About the SQLite files themselves.
    on_sqlite_files();
    let (_remote, data, ada, s) = served();
    s.settled("acme-staging", &ada);
    let store = ws_folder(&data).join("workspace.db");
    let garbage = store.with_extension("garbage");
    std::fs::write(&garbage, vec![b'x'; 8192]).unwrap();
    std::fs::rename(&garbage, &store).unwrap();
    let r = s.get("/api/v1/workspaces/acme-staging/status", &ada);
    assert_eq!(r.status, 500, "{}", r.body);
    let id = r.request_id.clone().expect("X-Request-Id");
    assert!(id.starts_with("req_"), "{id}");
    assert_eq!(
        r.json(),
        json!({"error": {"code": "internal", "message": "the service could not do this; its log has the detail under this request id", "request_id": id}})
    );
    assert!(
        !r.body.contains(&data.display().to_string()) && !r.body.contains("database"),
        "{}",
        r.body
    );
    eventually("the detail in the log under the id", || {
        std::fs::read_to_string(&s.log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(&id) && l.contains("internal error: file is not a database"))
    });
    // Every answer carries its id; refusals say theirs in the body too.
    let r = s.get("/api/v1/workspaces", "gst_unknown");
    assert_eq!(
        (r.status, r.json()["error"]["request_id"].as_str()),
        (401, r.request_id.as_deref())
    );
    assert!(r.request_id.is_some_and(|other| other != id), "each request its own id");
}

/// A failing pass is retried with a backoff that doubles from 1 s but never past the poll interval
/// (so once the remote is back the queue goes out within one interval), and anyone asking for a pass
/// (`POST …/sync`, a webhook, a change) starts the backoff over. Read from the service's own record
/// of each failed pass (`retry_in_ms`), not from a clock.
#[test]
fn the_retry_backoff_is_capped_at_the_poll_interval_and_reset_by_a_request() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &["--poll", "2s"], &[]);
    let first = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();
    let away = remote.root.join("remote-away.git");
    std::fs::rename(&remote.bare, &away).unwrap();
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    // Failed passes in a row: retried after 1 s, then 2 s, 2 s, 2 s (uncapped: 4 s, 8 s).
    let mut retries = Vec::new();
    for n in first + 1..=first + 4 {
        let st = s.settled_after("acme-staging", &ada, n - 1);
        assert_eq!(st["last_pass"]["outcome"], "failed", "{st}");
        assert_eq!(st["last_pass"]["number"].as_u64(), Some(n), "one pass at a time: {st}");
        retries.push(st["last_pass"]["retry_in_ms"].as_u64().unwrap());
    }
    assert_eq!(retries, [1000, 2000, 2000, 2000]);
    // Asked for: the backoff starts over.
    let asked = s.passes("acme-staging", &ada);
    let r = s.call("POST", "/api/v1/workspaces/acme-staging/sync", Some(&ada), &[], None);
    assert_eq!(r.status, 202);
    let st = s.settled_after("acme-staging", &ada, asked);
    assert_eq!(st["last_pass"]["retry_in_ms"], 1000, "{st}");
    // The remote is back: the next retry pushes the change.
    std::fs::rename(&away, &remote.bare).unwrap();
    eventually("the change pushed by a retry", || {
        remote.history("main")[0] == "update model orders|Ada Lovelace"
    });
    let st = s.settled("acme-staging", &ada);
    assert_eq!(
        (st["queued"].clone(), st["last_pass"]["retry_in_ms"].clone()),
        (json!([]), Value::Null),
        "{st}"
    );
}

/// A workspace added from the CLI while the service runs (`workspace init`, `connect`) is served
/// within a tick, though no request ever names it: a change made to it with the CLI goes out.
#[test]
fn a_workspace_added_while_the_service_runs_is_served() {
    let (remote, data, ada, s) = served();
    s.settled("acme-staging", &ada);
    init_named_workspace(&data, "production");
    let prod = |args: &[&str]| {
        let mut all = vec!["--workspace", "acme-production"];
        all.extend_from_slice(args);
        ok_with_data(&data, &all)
    };
    prod(&["connect", "--repo", &remote.url, "--branch", "main"]);
    let file = remote.root.join("prod-orders.yaml");
    std::fs::write(&file, ORDERS.replace("staging-postgres", "production-postgres")).unwrap();
    prod(&[
        "workspace",
        "put",
        "model",
        "prod-orders",
        "--file",
        file.to_str().unwrap(),
        "--as",
        ADA,
    ]);
    eventually("the new workspace's change pushed by the service", || {
        remote.history("main")[0] == "update model prod-orders|Ada Lovelace"
    });
    let st = s.settled("acme-production", &ada);
    assert_eq!(st["queued"], json!([]), "{st}");
}

/// Read from `conn` until the service closes it; what it sent. Panics if it is still open after
/// 20 s (the service held a client it should have cut off).
fn until_closed(conn: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    conn.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                panic!(
                    "the connection was still open after 20 s: {}",
                    String::from_utf8_lossy(&got)
                )
            }
            Err(_) => break, // reset: closed too
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Slow and idle clients are cut off: headers sent a byte at a time, a kept-alive connection left
/// idle, and a body dripped slower than the body deadline.
#[test]
fn slow_and_idle_clients_are_cut_off() {
    use std::io::{Read, Write};
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &["--header-timeout", "1s", "--body-timeout", "2s"], &[]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let drip = |mut conn: std::net::TcpStream, byte: u8| {
        std::thread::spawn(move || {
            for _ in 0..200 {
                if conn.write_all(&[byte]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        })
    };
    // Headers that never end.
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").unwrap();
    let dripping = drip(slow.try_clone().unwrap(), b'a');
    assert!(!until_closed(&mut slow).contains("\r\n\r\nok"));
    dripping.join().unwrap();
    // A kept-alive connection, answered once, then left idle.
    let mut idle = std::net::TcpStream::connect(&addr).unwrap();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut first = [0u8; 1024];
    let n = idle.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    assert_eq!(until_closed(&mut idle), "", "nothing more, then closed");
    // A body dripped a byte at a time: 408 once the body deadline passes, and the connection closes.
    let mut body = std::net::TcpStream::connect(&addr).unwrap();
    body.write_all(
        format!(
            "PUT {RES}/model/slow HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ada}\r\n\
             Content-Type: application/yaml\r\nContent-Length: 1000\r\n\r\n"
        )
        .as_bytes(),
    )
    .unwrap();
    let dripping = drip(body.try_clone().unwrap(), b'#');
    let answer = until_closed(&mut body);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"too_slow\""), "{answer}");
    dripping.join().unwrap();
    assert_eq!(s.get(&format!("{RES}/model/slow"), &ada).status, 404, "nothing stored");
}

/// With the process limited to 128 file descriptors, 300 idle connections do not lock the service
/// out: it goes on answering once the idle ones are cut off.
#[test]
fn idle_connections_past_the_descriptor_limit_do_not_lock_the_service_out() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let s = Service::start_wrapped(
        &["prlimit", "--nofile=128:128", "--"],
        &data,
        &["--header-timeout", "2s"],
        &[],
    );
    let addr = s.base.trim_start_matches("http://").to_string();
    let held: Vec<std::net::TcpStream> = (0..300)
        .filter_map(|_| std::net::TcpStream::connect(&addr).ok())
        .collect();
    assert!(held.len() > 128, "only {} connections made", held.len());
    eventually("/healthz answering", || {
        s.try_call("GET", "/healthz").is_some_and(|r| r.body == "ok")
    });
    drop(held);
}

/// SIGTERM with a request half sent and a pass stuck on a remote that never answers: the service
/// exits 0 within its --shutdown-timeout, not after the network timeout (60 s) or never.
#[test]
fn sigterm_ends_the_service_within_its_shutdown_timeout() {
    use std::io::Write;
    let remote = Remote::new(true);
    let (daemon, data) = remote.over_daemon("staging");
    let ada = token(&data, ADA, &[]);
    // The remote now accepts connections and never answers.
    let port = daemon.port;
    drop(daemon);
    let silent = std::net::TcpListener::bind(("127.0.0.1", port)).expect("the daemon's port again");
    let mut s = Service::start(&data, &["--shutdown-timeout", "2s"], &[]);
    eventually("the first pass stuck on the remote", || {
        s.status("acme-staging", &ada)["running"] == true
    });
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut half = std::net::TcpStream::connect(&addr).unwrap();
    half.write_all(
        b"PUT /api/v1/workspaces/acme-staging/resources/model/x HTTP/1.1\r\nContent-Length: 100\r\n\r\nname: ",
    )
    .unwrap();
    signal(s.child.as_ref().unwrap(), "TERM");
    let status = s.wait_exit();
    assert!(status.success(), "{status:?}");
    drop(silent);
}

/// Sign in on the page's form as a browser would (its anti-forgery value in cookie and field); the
/// `Set-Cookie` of the answer.
fn sign_in_raw(s: &Service, token: &str) -> String {
    sign_in_raw_with(s, token, "")
}

/// `sign_in_raw`, with more header lines (each ending in CRLF).
fn sign_in_raw_with(s: &Service, token: &str, headers: &str) -> String {
    let csrf = "0123456789abcdef0123456789abcdef";
    let form = format!("csrf={csrf}&token={token}");
    let out = raw_head(
        s,
        &format!(
            "POST / HTTP/1.1\r\nCookie: gitsync_csrf={csrf}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             {headers}Content-Length: {}\r\nConnection: close\r\n\r\n{form}",
            form.len()
        ),
        "\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 303"), "{out}");
    out.lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie: {out}"))
        .to_string()
}

/// The page's cookie is a session of its own, not the API token: made at sign-in, stored hashed,
/// with an expiry; sign-out and revoking the token end it; `Secure` behind an HTTPS address.
#[test]
fn the_page_cookie_is_a_session_not_the_token() {
    // About the SQLite files themselves.
    on_sqlite_files();
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &["--session-ttl", "2h"], &[]);
    let set = sign_in_raw(&s, &ada);
    assert!(set.starts_with("gitsync_session=gss_"), "{set}");
    assert!(
        set.ends_with("; HttpOnly; SameSite=Strict; Path=/; Max-Age=7200"),
        "{set}"
    );
    assert!(!set.contains(&ada[4..]), "the token is not in the cookie");
    let session = set.split(';').next().unwrap().to_string();
    let page = |cookie: &str| {
        let r = s.call("GET", "/", None, &[("Cookie", cookie)], None);
        r.body.contains("signed in as Ada Lovelace")
    };
    assert!(page(&session));
    // Not an API credential, and stored only as a hash.
    let secret = session.trim_start_matches("gitsync_session=");
    assert_eq!(s.get("/api/v1/workspaces", secret).status, 401);
    let raw = std::fs::read(data.join("access.db")).unwrap_or_default();
    let wal = std::fs::read(data.join("access.db-wal")).unwrap_or_default();
    assert!(
        !raw.windows(secret.len())
            .chain(wal.windows(secret.len()))
            .any(|w| w == secret.as_bytes())
    );
    // Sign-out ends it: the same cookie, kept, opens nothing.
    let form = "csrf=0123456789abcdef0123456789abcdef";
    let out = raw_head(
        &s,
        &format!(
            "POST /logout HTTP/1.1\r\nCookie: gitsync_csrf=0123456789abcdef0123456789abcdef; {session}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
        "\r\n\r\n",
    );
    assert!(out.starts_with("HTTP/1.1 303"), "{out}");
    assert!(!page(&session), "the session outlived sign-out");
    // Revoking the token ends its sessions.
    let again = sign_in_raw(&s, &ada);
    let again = again.split(';').next().unwrap().to_string();
    assert!(page(&again));
    let list: Value = serde_json::from_str(&ok_with_data(&data, &["token", "list", "--format", "json"])).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    ok_with_data(&data, &["token", "revoke", &id]);
    assert!(!page(&again), "the session outlived its token");
    // Reached over HTTPS (behind a proxy): the cookie is Secure.
    let mut s = s;
    assert!(s.stop().success());
    let grace = token(&data, GRACE, &[]);
    let s = Service::start(&data, &["--public-url", "https://gitsync.example.com"], &[]);
    let set = sign_in_raw(&s, &grace);
    assert!(set.contains("; Secure"), "{set}");
    // Behind a proxy that passes its own Host on, a form from the public address is the page's own;
    // one from anywhere else is not.
    let csrf = "0123456789abcdef0123456789abcdef";
    let form = format!("csrf={csrf}&token={grace}");
    for (origin, status) in [
        ("https://gitsync.example.com", "303"),
        ("https://evil.example.com", "403"),
    ] {
        let out = raw_head(
            &s,
            &format!(
                "POST / HTTP/1.1\r\nOrigin: {origin}\r\nCookie: gitsync_csrf={csrf}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
                form.len()
            ),
            "\r\n\r\n",
        );
        assert!(out.starts_with(&format!("HTTP/1.1 {status}")), "{origin}: {out}");
    }
}

/// The log: one JSON object a line with `--log-format json`; with `RUST_LOG=debug` a line per
/// request with its id and client address; a failed pass is a warning with its reason. At the
/// default level refused requests are counted, not logged one line each.
#[test]
fn the_log_is_json_on_request_with_request_lines_and_failed_passes_as_warnings() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &["--log-format", "json"], &[("RUST_LOG", "debug")]);
    let first = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();
    let refused = s.get("/api/v1/workspaces", "gst_unknown");
    assert_eq!(refused.status, 401);
    let id = refused.request_id.clone().unwrap();
    let away = remote.root.join("remote-away.git");
    std::fs::rename(&remote.bare, &away).unwrap();
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    let st = s.settled_after("acme-staging", &ada, first);
    assert_eq!(st["last_pass"]["outcome"], "failed", "{st}");
    let lines = || -> Vec<Value> {
        std::fs::read_to_string(&s.log)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    };
    eventually("the request line and the failed pass in the log", || {
        let all = lines();
        let request = all.iter().any(|l| {
            l["fields"]["request_id"] == id.as_str()
                && l["fields"]["status"] == 401
                && l["fields"]["client"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("127.0.0.1:"))
                && l["fields"]["path"] == "/api/v1/workspaces"
        });
        let failed = all.iter().any(|l| {
            l["level"] == "WARN"
                && l["fields"]["workspace"] == "acme-staging"
                && l["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("pass failed: ") && m.contains("cannot fetch"))
        });
        request && failed
    });
    std::fs::rename(&away, &remote.bare).unwrap();

    // The default level: a burst of refused requests leaves no line each.
    let mut s = s;
    assert!(s.stop().success());
    let quiet = Service::start(&data, &[], &[]);
    for _ in 0..50 {
        assert_eq!(quiet.get("/api/v1/workspaces", "gst_unknown").status, 401);
    }
    let metrics = quiet.call("GET", "/metrics", Some(&ada), &[], None).body;
    assert!(
        metrics.contains("gitsync_http_requests_total{route=\"/api/v1/workspaces\",status=\"401\"} 50\n"),
        "{metrics}"
    );
    let log = std::fs::read_to_string(&quiet.log).unwrap();
    // No request line (`status=401`), no token; "401" alone may be in a timestamp's microseconds.
    assert!(!log.contains("status=401") && !log.contains("gst_unknown"), "{log}");
}

/// The pages of a list, followed through their `Link: <…>; rel="next"` headers to the end.
fn all_pages(s: &Service, token: &str, first: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut next) = (Vec::new(), 0, Some(first.to_string()));
    while let Some(path) = next {
        let r = s.get(&path, token);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        items.extend(r.json().as_array().unwrap().iter().cloned());
        pages += 1;
        next = r.header("link").map(|l| {
            assert!(l.ends_with(">; rel=\"next\""), "{l}");
            l.trim_start_matches('<').split('>').next().unwrap().to_string()
        });
        assert!(pages < 100, "the pages do not end");
    }
    (items, pages)
}

/// What a tool automating a workspace needs: `POST …/sync` answers with a run to follow; a full
/// resync must be confirmed and is authored by the token's person; lists come in pages; sources and
/// destinations are listed and removed (refused while used), through the API and the CLI.
#[test]
fn the_api_reports_runs_confirms_resyncs_pages_lists_and_removes_endpoints() {
    let (remote, data, ada, s) = served();
    let ws = "/api/v1/workspaces/acme-staging";
    let before = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();

    // A run: 202 with its id and where to follow it; done once its pass has ended.
    let r = s.call("POST", &format!("{ws}/sync"), Some(&ada), &[], None);
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run"].as_str().unwrap().to_string();
    assert!(run.starts_with("run_"), "{}", r.body);
    assert_eq!(r.header("location"), Some(format!("{ws}/runs/{run}").as_str()));
    let mut done = Value::Null;
    eventually("the run done", || {
        done = s.get(&format!("{ws}/runs/{run}"), &ada).json();
        done["state"] == "done"
    });
    assert_eq!(
        (
            done["kind"].as_str(),
            done["asked_by"].as_str(),
            done["pass"]["outcome"].as_str()
        ),
        (Some("sync"), Some(ADA), Some("ok")),
        "{done}"
    );
    assert!(done["pass"]["number"].as_u64().unwrap() > before, "{done}");
    let r = s.get(&format!("{ws}/runs/run_0000000000000000"), &ada);
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (404, Some("no_run")));

    // A resync without {"confirm": true} does nothing.
    let passes = s.passes("acme-staging", &ada);
    let json_type = [("Content-Type", "application/json")];
    for body in [None, Some(&b"{}"[..]), Some(&br#"{"confirm": false}"#[..])] {
        let r = s.call("POST", &format!("{ws}/resync"), Some(&ada), &json_type, body);
        assert_eq!(
            (r.status, r.json()["error"]["code"].as_str()),
            (400, Some("confirm_required")),
            "{}",
            r.body
        );
    }
    let r = s.call(
        "POST",
        &format!("{ws}/resync"),
        Some(&ada),
        &json_type,
        Some(b"{confirm"),
    );
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("malformed")));
    assert_eq!(
        s.passes("acme-staging", &ada),
        passes,
        "no pass for an unconfirmed resync"
    );

    // Confirmed: its commit is Ada's. (The model deleted in Git is kept in the workspace, so the
    // resync has something to write.)
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    eventually("orders pushed", || {
        remote.history("main")[0] == "update model orders|Ada Lovelace"
    });
    let seen = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();
    remote.commit("main", &[("models/orders.yaml", None)], "remove orders", GRACE);
    let r = s.call("POST", &format!("{ws}/sync"), Some(&ada), &[], None);
    assert_eq!(r.status, 202);
    s.settled_after("acme-staging", &ada, seen);
    let r = s.call(
        "POST",
        &format!("{ws}/resync"),
        Some(&ada),
        &json_type,
        Some(br#"{"confirm": true}"#),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["started"], "resync");
    let run = r.json()["run"].as_str().unwrap().to_string();
    eventually("the resync run done", || {
        done = s.get(&format!("{ws}/runs/{run}"), &ada).json();
        done["state"] == "done"
    });
    assert_eq!(
        (done["pass"]["resync"].as_bool(), done["pass"]["outcome"].as_str()),
        (Some(true), Some("ok")),
        "{done}"
    );
    assert_eq!(
        remote.history("main")[0],
        "full resync of workspace acme-staging|Ada Lovelace"
    );
    assert_eq!(
        git(&remote.bare, &["log", "-1", "--format=%ae", "main"]).trim(),
        "ada@example.com"
    );
    let runs = s.get(&format!("{ws}/runs"), &ada).json();
    let kinds: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sync", "sync", "resync"], "{runs}");

    // Lists in pages: every item once, in order, whatever the page size.
    for n in 0..7 {
        let yaml = ORDERS.replace("Orders", &format!("Model {n}"));
        assert_eq!(s.put_yaml(&format!("{RES}/model/m{n}"), &ada, &yaml).status, 201);
    }
    let (whole, pages) = all_pages(&s, &ada, &format!("{RES}?kind=model"));
    assert_eq!(pages, 1);
    let slugs =
        |items: &[Value]| -> Vec<String> { items.iter().map(|i| i["slug"].as_str().unwrap().to_string()).collect() };
    assert_eq!(slugs(&whole), ["m0", "m1", "m2", "m3", "m4", "m5", "m6", "orders"]);
    let (paged, pages) = all_pages(&s, &ada, &format!("{RES}?kind=model&limit=3"));
    assert_eq!((slugs(&paged), pages), (slugs(&whole), 3));
    let (log, _) = all_pages(&s, &ada, &format!("{ws}/log?limit=1000"));
    let (log_paged, pages) = all_pages(&s, &ada, &format!("{ws}/log?limit=4"));
    assert_eq!(log_paged, log);
    assert!(pages >= 3, "{pages} pages of {} entries", log.len());
    let r = s.get(&format!("{RES}?cursor=%21%21"), &ada);
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (400, Some("bad_cursor"))
    );
    let r = s.get(&format!("{RES}?limit=1001"), &ada);
    assert_eq!((r.status, r.json()["error"]["code"].as_str()), (400, Some("bad_limit")));

    // Sources and destinations: listed, and removed unless used.
    let sources = s.get(&format!("{ws}/sources"), &ada).json();
    assert_eq!(
        sources,
        json!([{"id": "staging-postgres", "name": "Staging Postgres", "type": "postgres"}]),
        "{sources}"
    );
    let r = s.call(
        "DELETE",
        &format!("{ws}/sources/staging-postgres"),
        Some(&ada),
        &[],
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (409, Some("in_use")),
        "{}",
        r.body
    );
    let users: Vec<(String, String)> = r.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(users.len(), 8, "every model reads from it: {}", r.body);
    assert!(
        users.contains(&("models/orders.yaml".into(), "GS301".into())),
        "{}",
        r.body
    );
    let spare = json!({"id": "spare-warehouse", "name": "Spare", "type": "snowflake"}).to_string();
    assert_eq!(
        s.call(
            "POST",
            &format!("{ws}/sources"),
            Some(&ada),
            &[],
            Some(spare.as_bytes())
        )
        .status,
        201
    );
    let r = s.call(
        "DELETE",
        &format!("{ws}/sources/spare-warehouse"),
        Some(&ada),
        &[],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let r = s.call(
        "DELETE",
        &format!("{ws}/sources/spare-warehouse"),
        Some(&ada),
        &[],
        None,
    );
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (404, Some("no_endpoint"))
    );
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(s.get(&format!("{ws}/sources"), &ada).json()), ["staging-postgres"]);
    let destinations = ids(s.get(&format!("{ws}/destinations"), &ada).json());
    assert_eq!(destinations.len(), 1, "{destinations:?}");
    // A read-only token lists, and may not remove.
    let reader = token(&data, GRACE, &["--read-only"]);
    assert_eq!(s.get(&format!("{ws}/destinations"), &reader).status, 200);
    let r = s.call(
        "DELETE",
        &format!("{ws}/destinations/{}", destinations[0]),
        Some(&reader),
        &[],
        None,
    );
    assert_eq!(r.status, 403);

    // The command line: the same lists, the same refusal, --force.
    let cli = |args: &[&str]| run_with_data(&data, &[&["--workspace", "acme-staging"][..], args].concat(), None);
    let listed: Value = serde_json::from_str(&cli(&["workspace", "sources", "--format", "json"]).stdout).unwrap();
    assert_eq!(listed, sources);
    let r = cli(&["workspace", "remove-source", "staging-postgres"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("refusing to remove source staging-postgres: it is still used\n"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("  models/orders.yaml:2:9: source `staging-postgres` does not exist in this workspace [GS301]\n"),
        "{}",
        r.stderr
    );
    let r = cli(&["workspace", "remove-destination", "nowhere"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no destination `nowhere` in this workspace"),
        "{}",
        r.stderr
    );
    let r = cli(&["workspace", "remove-source", "staging-postgres", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(s.get(&format!("{ws}/sources"), &ada).json(), json!([]));
}

/// A change starts the debounce; a pass asked for meanwhile (`POST …/sync`, a webhook) runs at once
/// and takes the change with it, instead of waiting the debounce out.
#[test]
fn a_pass_asked_for_does_not_wait_behind_a_change_s_debounce() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &["--debounce", "1h"], &[]);
    let before = s.settled("acme-staging", &ada)["last_pass"]["number"].as_u64().unwrap();
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
    let r = s.call("POST", "/api/v1/workspaces/acme-staging/sync", Some(&ada), &[], None);
    assert_eq!(r.status, 202, "{}", r.body);
    s.settled_after("acme-staging", &ada, before);
    assert!(
        remote.history("main")[0].starts_with("update model orders"),
        "{:?}",
        remote.history("main")
    );
}

/// A remote that accepts connections and never answers holds only its own workspace: with one
/// worker, its pass is abandoned at --pass-timeout and another workspace's change goes out long
/// before the network timeout would have ended the stuck one.
#[test]
fn a_stuck_remote_does_not_hold_up_other_workspaces() {
    let stuck = Remote::new(true);
    let (daemon, data) = stuck.over_daemon("staging");
    let ada = token(&data, ADA, &[]);
    let healthy = Remote::new(true);
    init_named_workspace(&data, "production");
    ok_with_data(
        &data,
        &[
            "--workspace",
            "acme-production",
            "connect",
            "--repo",
            &healthy.url,
            "--branch",
            "main",
        ],
    );
    let port = daemon.port;
    drop(daemon);
    let silent = std::net::TcpListener::bind(("127.0.0.1", port)).expect("the daemon's port again");
    let s = Service::start(
        &data,
        &["--workers", "1", "--pass-timeout", "2s", "--network-timeout", "60s"],
        &[],
    );
    eventually("acme-staging's pass stuck on its remote", || {
        s.status("acme-staging", &ada)["running"] == true
    });
    let asked = Instant::now();
    let model = ORDERS.replace("staging-postgres", "production-postgres");
    let r = s.put_yaml(
        "/api/v1/workspaces/acme-production/resources/model/orders",
        &ada,
        &model,
    );
    assert_eq!(r.status, 201, "{}", r.body);
    eventually("the healthy workspace's change pushed", || {
        healthy.history("main")[0] == "update model orders|Ada Lovelace"
    });
    let took = asked.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "the change waited {took:?}, behind the stuck remote's network timeout"
    );
    let st = s.status("acme-staging", &ada);
    assert_eq!(st["last_pass"]["outcome"], "failed", "{st}");
    let summary = st["last_pass"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("the pass did not end within --pass-timeout (2s) and was abandoned"),
        "{summary}"
    );
    drop(silent);
}

/// Metrics are there from the start (zeroes, not missing series), with the build; `/readyz` says
/// whether the service can work, `/healthz` only that it is alive.
#[test]
fn metrics_start_at_zero_and_readyz_tells_ready_from_alive() {
    // About the SQLite files themselves.
    on_sqlite_files();
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &["--metrics-listen", "127.0.0.1:0"], &[]);
    let scrape = || {
        let mut res = ureq::get(s.metrics.as_deref().unwrap()).call().unwrap();
        res.body_mut().read_to_string().unwrap()
    };
    let text = scrape();
    for series in [
        "gitsync_passes_total{workspace=\"acme-staging\",outcome=\"failed\"} 0\n".to_string(),
        "gitsync_consecutive_failed_passes{workspace=\"acme-staging\"} 0\n".to_string(),
        "# TYPE gitsync_pass_duration_seconds histogram\n".to_string(),
        "# TYPE gitsync_outbound_queue gauge\n".to_string(),
        format!("gitsync_build_info{{version=\"{}\"}} 1\n", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(text.contains(&series), "{series} missing:\n{text}");
    }
    s.settled("acme-staging", &ada);
    let text = scrape();
    assert!(
        text.contains("gitsync_passes_total{workspace=\"acme-staging\",outcome=\"ok\"} 1\n"),
        "{text}"
    );
    let last_ok = text
        .lines()
        .find_map(|l| l.strip_prefix("gitsync_last_successful_pass_timestamp_seconds{workspace=\"acme-staging\"} "))
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or_else(|| panic!("no last success:\n{text}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - 120..=now).contains(&last_ok), "{last_ok} vs now {now}");

    assert_eq!(s.call("GET", "/readyz", None, &[], None).body, "ready\n");
    // A workspace's store cannot be read: alive, not ready.
    let ws_dir = files_under(&data)
        .into_iter()
        .find(|p| p.ends_with("workspace.db"))
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let away = data.join("moved-away");
    std::fs::rename(&ws_dir, &away).unwrap();
    let r = s.call("GET", "/readyz", None, &[], None);
    assert_eq!(
        (r.status, r.body.as_str()),
        (503, "not ready: a store cannot be read; the log says which\n")
    );
    assert_eq!(s.call("GET", "/healthz", None, &[], None).body, "ok");
    std::fs::rename(&away, &ws_dir).unwrap();
    assert_eq!(s.call("GET", "/readyz", None, &[], None).status, 200);
}

/// A token is looked up on the connection the service keeps open: with `access.db` moved away (and
/// a folder in its place, so opening it again would fail), requests are still authenticated, and a
/// token revoked from the command line is refused by the next request.
#[test]
fn tokens_are_checked_without_opening_the_access_database_per_request() {
    // About the SQLite files themselves.
    on_sqlite_files();
    let (_remote, data, ada, s) = served();
    let grace = token(&data, GRACE, &[]);
    assert_eq!(s.get("/api/v1/workspaces", &ada).status, 200);
    let access = data.join("access.db");
    std::fs::rename(&access, data.join("access.db.away")).unwrap();
    std::fs::create_dir(&access).unwrap();
    for _ in 0..20 {
        assert_eq!(s.get("/api/v1/workspaces", &ada).status, 200);
    }
    assert_eq!(s.get("/api/v1/workspaces", "gst_unknown").status, 401);
    std::fs::remove_dir(&access).unwrap();
    std::fs::rename(data.join("access.db.away"), &access).unwrap();
    let listed: Value = serde_json::from_str(&ok_with_data(&data, &["token", "list", "--format", "json"])).unwrap();
    let grace_id = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["author"] == GRACE)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(s.get("/api/v1/workspaces", &grace).status, 200);
    ok_with_data(&data, &["token", "revoke", &grace_id]);
    assert_eq!(s.get("/api/v1/workspaces", &grace).status, 401);
}

/// Behind a reverse proxy given with --trusted-proxy, its `X-Forwarded-Proto: https` makes the
/// page's cookie `Secure`; from anyone else the header is ignored.
#[test]
fn a_trusted_proxy_s_https_makes_the_cookie_secure() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    for (flags, secure) in [(&["--trusted-proxy", "127.0.0.1"][..], true), (&[][..], false)] {
        let s = Service::start(&data, flags, &[]);
        let set = sign_in_raw_with(&s, &ada, "X-Forwarded-Proto: https\r\n");
        assert_eq!(set.contains("; Secure"), secure, "{flags:?}: {set}");
        let plain = sign_in_raw_with(&s, &ada, "X-Forwarded-Proto: http\r\n");
        assert!(!plain.contains("; Secure"), "{flags:?}: {plain}");
    }
}

/// No lost update: `GET` of a resource gives its version as an `ETag`; a `PUT` or `DELETE` with an
/// `If-Match` that is not the version now is refused with 412 and changes nothing; `If-None-Match:
/// *` creates only; the CLI's `put` and `delete` take `--if-version`.
#[test]
fn a_write_made_on_a_version_no_longer_current_is_refused() {
    let (_remote, data, ada, s) = served();
    let path = format!("{RES}/model/orders");
    let yaml = [("Content-Type", "application/yaml")];
    let with = |extra: (&'static str, &str)| -> Vec<(&str, String)> {
        vec![
            ("Content-Type", "application/yaml".to_string()),
            (extra.0, extra.1.to_string()),
        ]
    };
    let call = |method: &str, headers: &[(&str, String)], body: Option<&str>| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        s.call(method, &path, Some(&ada), &headers, body.map(str::as_bytes))
    };
    let r = call("PUT", &with(("If-None-Match", "*")), Some(ORDERS));
    assert_eq!(r.status, 201, "{}", r.body);
    let v1 = r.header("etag").unwrap().to_string();
    assert!(v1.starts_with('"') && v1.ends_with('"') && v1.len() > 10, "{v1}");
    let r = call("PUT", &with(("If-None-Match", "*")), Some(ORDERS));
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (412, Some("precondition_failed"))
    );
    let got = s.get(&path, &ada);
    assert_eq!(got.header("etag"), Some(v1.as_str()));
    assert_eq!(format!("\"{}\"", got.json()["version"].as_str().unwrap()), v1);

    // Grace's change lands first (made on v1); Ada's, also made on v1, is refused.
    let graces = ORDERS.replace("public.orders", "public.orders_v2");
    let r = call("PUT", &with(("If-Match", &v1)), Some(&graces));
    assert_eq!(r.status, 200, "{}", r.body);
    let v2 = r.header("etag").unwrap().to_string();
    assert_ne!(v1, v2);
    let adas = ORDERS.replace("primaryKey: id", "primaryKey: order_id");
    let r = call("PUT", &with(("If-Match", &v1)), Some(&adas));
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (412, Some("precondition_failed"))
    );
    assert!(
        r.json()["error"]["message"].as_str().unwrap().contains(&v2),
        "{}",
        r.body
    );
    assert!(s.get(&path, &ada).json()["resource"]["tableName"] == "public.orders_v2");
    for stale in [v1.clone(), format!("W/{v2}"), "\"nope\"".to_string()] {
        let r = call("DELETE", &[("If-Match", stale.clone())], None);
        assert_eq!(r.status, 412, "If-Match: {stale}: {}", r.body);
    }
    assert_eq!(s.get(&path, &ada).status, 200, "not deleted");
    let r = call("PUT", &with(("If-Match", &format!("\"other\", {v2}"))), Some(&adas));
    assert_eq!(r.status, 200, "one of a list matches: {}", r.body);
    let v3 = r.header("etag").unwrap().to_string();
    let r = call("DELETE", &[("If-Match", v3.clone())], None);
    assert_eq!(r.status, 204, "{}", r.body);
    let r = call("PUT", &with(("If-Match", "*")), Some(ORDERS));
    assert_eq!(r.status, 412, "If-Match: * needs it to exist");
    let r = s.call("PUT", &path, Some(&ada), &yaml, Some(ORDERS.as_bytes()));
    assert_eq!(r.status, 201);
    let v4 = r.header("etag").unwrap().trim_matches('"').to_string();

    // The command line.
    let file = data.join("orders-cli.yaml");
    std::fs::write(&file, &graces).unwrap();
    let cli_put = |version: &str| {
        run_with_data(
            &data,
            &[
                "workspace",
                "put",
                "model",
                "orders",
                "--file",
                file.to_str().unwrap(),
                "--as",
                GRACE,
                "--if-version",
                version,
            ],
            None,
        )
    };
    let r = cli_put(v1.trim_matches('"'));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(&format!(
            "refusing to update model orders: it changed since the version given (--if-version); its version is now {v4}\n"
        )),
        "{}",
        r.stderr
    );
    assert!(
        s.get(&path, &ada).json()["resource"]["tableName"] == "public.orders",
        "unchanged"
    );
    let r = cli_put(&v4);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let now = s.get(&path, &ada).json()["version"].as_str().unwrap().to_string();
    let cli_delete = |version: &str| {
        let args = [
            "workspace",
            "delete",
            "model",
            "orders",
            "--as",
            GRACE,
            "--if-version",
            version,
        ];
        run_with_data(&data, &args, None)
    };
    let r = cli_delete(&v4);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let r = cli_delete(&now);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A check and the write it allows are one step: a `PUT` of a sync that uses model `m` and a
/// `DELETE` of `m` sent at the same moment never both succeed, so the workspace never holds a sync
/// pointing at nothing.
#[test]
fn a_reference_and_the_delete_of_its_target_sent_at_once_do_not_both_succeed() {
    let (_remote, _data, ada, s) = served();
    let s = std::sync::Arc::new(s);
    for i in 0..7 {
        let model = format!("{RES}/model/m{i}");
        assert_eq!(
            s.put_yaml(&model, &ada, &ORDERS.replace("Orders", &format!("M{i}")))
                .status,
            201
        );
        let sync = format!("model: m{i}\ndestination: staging-salesforce\nconfig: {{}}\n");
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let (s1, a1, b1, p1) = (s.clone(), ada.clone(), start.clone(), format!("{RES}/sync/s{i}"));
        let put = std::thread::spawn(move || {
            b1.wait();
            s1.put_yaml(&p1, &a1, &sync).status
        });
        let (s2, a2, b2) = (s.clone(), ada.clone(), start.clone());
        let delete = std::thread::spawn(move || {
            b2.wait();
            s2.call("DELETE", &model, Some(&a2), &[], None).status
        });
        let (put, delete) = (put.join().unwrap(), delete.join().unwrap());
        assert!(
            (put == 201 && delete == 409) || (put == 422 && delete == 204),
            "race {i}: PUT of the sync {put}, DELETE of its model {delete}"
        );
        let sync_held = s.get(&format!("{RES}/sync/s{i}"), &ada).status == 200;
        let model_held = s.get(&format!("{RES}/model/m{i}"), &ada).status == 200;
        assert!(!sync_held || model_held, "race {i}: a sync pointing at nothing");
    }
}
