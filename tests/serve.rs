//! `gitsync serve` end to end: the real binary listening on loopback, real HTTP from a client,
//! real bare repositories as remotes, webhook bodies signed as GitHub and GitLab sign them.

mod common;

use common::service::*;
use common::*;
use serde_json::{Value, json};

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
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
    assert_eq!(
        list[0].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["kind", "slug", "updated_at", "updated_by"]
    );
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
    let f = remote.root.join("shipments.yaml");
    std::fs::write(&f, ORDERS.replace("Orders", "Shipments")).unwrap();
    ok_with_data(
        &data,
        &[
            "workspace",
            "put",
            "model",
            "shipments",
            "--file",
            f.to_str().unwrap(),
            "--as",
            ADA,
        ],
    );
    eventually("the CLI's change on the remote", || {
        remote.history("main")[0] == "update model shipments|Ada Lovelace"
    });
    let st = s.get("/api/v1/workspaces/acme-staging/status", &ada).json();
    assert_eq!(st["queued"], json!([]));
    assert_eq!(st["last_pass"]["outcome"], "ok");
    let mut s = s;
    assert!(s.stop().success());
}

#[test]
fn webhooks_start_a_pass_only_when_signed_and_for_the_branch() {
    // The remote is a real `git daemon` on loopback, as a hosted remote would be.
    let remote = Remote::new(true);
    let daemon = GitDaemon::start(&remote.root);
    let data = remote.workspace("staging");
    ok_with_data(
        &data,
        &["connect", "--repo", &daemon.url("remote.git"), "--branch", "main"],
    );
    ok_with_data(&data, &["sync"]);
    let ada = token(&data, ADA, &[]);
    let secret = "a-webhook-secret-of-some-length";
    run_with_env(&data, &["webhook", "secret", "--from-env", "S"], None, &[("S", secret)]);
    let s = Service::start(&data, &[], &[]);
    // The pass every start runs (for changes queued while it was down) is over before the push.
    eventually("the first pass", || {
        !s.get("/api/v1/workspaces/acme-staging/status", &ada).json()["last_pass"].is_null()
    });
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
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(s.get(&format!("{RES}/model/orders"), &ada).status, 404, "no pass ran");
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
    eventually("orders applied", || {
        s.get(&format!("{RES}/model/orders"), &ada).status == 200
    });
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
    eventually("customers applied", || {
        s.get(&format!("{RES}/model/customers"), &ada).status == 200
    });
    let r = hook("generic", &[("X-Signature", &sig("anything"))], "anything");
    assert_eq!((r.status, r.json()["started"].as_bool()), (202, Some(true)));
    // Over 1 MiB: 413.
    let big = "x".repeat((1 << 20) + 1);
    assert_eq!(hook("generic", &[("X-Signature", &sig(&big))], &big).status, 413);
    let metrics = s.call("GET", "/metrics", None, &[], None).body;
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
        metrics.contains("gitsync_http_requests_total{route=\"/hooks/{provider}/{ws}\",status=\"401\"} 3\n"),
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
    eventually("the restarted service found the change pushed", || {
        s.get("/api/v1/workspaces/acme-staging/status", &ada).json()["queued"] == json!([])
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(remote.history("main").len(), before + 1, "no duplicate commit");
    assert_eq!(s.get(&format!("{RES}/model/orders"), &ada).status, 200);
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() % (max as u64 + 1)) as usize;
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn random_requests_never_stop_the_service_or_touch_the_store() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &[], &[]);
    assert_eq!(s.put_yaml(&format!("{RES}/model/orders"), &ada, ORDERS).status, 201);
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
        let cookie = format!("gitsync_token={junk}");
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
    let list = s.get(RES, &ada).json();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "only the resource put on purpose: {list}"
    );
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
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let s = Service::start(&data, &[], &[]);
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
    // The body comes after the service has had time to answer from the headers alone.
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(&[b'#'; 4096]).unwrap();
    conn.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    while !String::from_utf8_lossy(&got).ends_with("\r\n\r\nok") && start.elapsed() < Duration::from_secs(20) {
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
    child: Child,
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    id: u64,
}

impl Browser {
    fn start() -> Browser {
        let profile = scratch("chromium-profile");
        let child = Command::new("chromium")
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
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromium (tests/support/install-chromium.sh installs it)");
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
        Browser { child, ws, id: 0 }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        self.id += 1;
        let msg = json!({"id": self.id, "method": method, "params": params}).to_string();
        self.ws.send(tungstenite::Message::Text(msg.into())).unwrap();
        loop {
            let m = self.ws.read().unwrap();
            let Ok(text) = m.to_text() else { continue };
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v["id"].as_u64() == Some(self.id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        );
        r["result"]["value"].clone()
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
        while self.eval(js) != json!(true) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the page never showed: {what}\n{}",
                self.eval("document.body ? document.body.innerText : ''")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_status_page_signs_in_with_a_token_and_shows_a_change_without_a_reload() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &[], &[]);
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
    let shot = b.call("Page.captureScreenshot", json!({"format": "png"}));
    let png = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap()
    };
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let out = root().join("target/tmp/status-page.png");
    std::fs::write(&out, &png).unwrap();
}

#[test]
fn without_a_webhook_the_poll_takes_in_a_push_within_its_interval() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &["--poll", "1s"], &[]);
    eventually("the first pass", || {
        !s.get("/api/v1/workspaces/acme-staging/status", &ada).json()["last_pass"].is_null()
    });
    remote.commit("main", &[("models/orders.yaml", Some(ORDERS))], "orders", GRACE);
    let pushed = Instant::now();
    eventually("orders applied by a poll", || {
        s.get(&format!("{RES}/model/orders"), &ada).status == 200
    });
    // One interval (1 s), its jitter (at most a tenth) and the pass — with room for a loaded CI
    // machine, but far below the 30 s `eventually` allows.
    assert!(pushed.elapsed() < Duration::from_secs(8), "{:?}", pushed.elapsed());
}

#[test]
fn a_failing_pass_shows_in_the_status_and_is_retried_until_it_lands() {
    let remote = Remote::new(true);
    let data = remote.connected("staging", "main");
    let ada = token(&data, ADA, &[]);
    let s = Service::start(&data, &[], &[]);
    eventually("the first pass", || {
        !s.get("/api/v1/workspaces/acme-staging/status", &ada).json()["last_pass"].is_null()
    });
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
