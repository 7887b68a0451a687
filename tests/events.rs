//! End-to-end tests of `gitsync events validate`: the binary, the contracts component, the example
//! repository's contracts, events on stdin or from a file.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::Write;
use std::process::Stdio;

fn judge(repo: &std::path::Path, args: &[&str], input: &str) -> (i32, String, String) {
    judge_bytes(repo, args, input.as_bytes())
}

/// `gitsync events validate REPO ARGS…` started, standard input and error piped.
fn spawn_judge(repo: &std::path::Path, args: &[&str], stdout: Stdio) -> std::process::Child {
    gitsync()
        .args(["events", "validate"])
        .arg(repo)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn judge_bytes(repo: &std::path::Path, args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = spawn_judge(repo, args, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn verdicts(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn acme() -> std::path::PathBuf {
    root().join("examples/acme")
}

#[test]
fn every_verdict_kind_with_exact_output() {
    let lines = [
        // Valid, with an undeclared nested field omitted (Order Completed: OMIT_FIELDS, BLOCK on violation).
        json!({"type": "track", "event": "Order Completed", "messageId": "m1",
               "properties": {"order_id": "o1", "total": 12.5, "gift_note": "hi",
                              "products": [{"sku": "a", "quantity": 1, "color": "red"}]}}),
        // Schema violation, blocked.
        json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o2", "total": -1}}),
        // Version v2 selected by context.htevents.schemaVersion; undeclared field blocks (BLOCK_EVENT).
        json!({"type": "track", "event": "Order Completed", "context": {"htevents": {"schemaVersion": "v2"}},
               "properties": {"order_id": "o3", "total": 1, "currency": "EUR", "extra": 1}}),
        // Violation allowed and flagged (identify: ALLOW_EVENT).
        json!({"type": "identify", "userId": "u1", "traits": {"plan": "gold"}}),
        // No such event: web allows undeclared schemas.
        json!({"type": "track", "event": "Signed Up"}),
    ];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect::<String>() + "\n{broken\n";
    let (code, stdout, stderr) = judge(&acme(), &["--contract", "web"], &input);
    assert_eq!(code, 0, "{stderr}");
    let v = verdicts(&stdout);
    assert_eq!(v.len(), 6, "one verdict per event, blank lines skipped");
    assert_eq!(
        v[0],
        json!({"verdict": "allowed",
               "event": {"type": "track", "event": "Order Completed", "messageId": "m1",
                         "properties": {"order_id": "o1", "total": 12.5, "products": [{"sku": "a", "quantity": 1}]}},
               "omitted": ["$.properties.gift_note", "$.properties.products[0].color"],
               "event_name": "Order Completed", "event_type": "track", "schema_version": "default",
               "has_undeclared_schema": false, "has_undeclared_fields": true, "has_schema_violated": false,
               "violations": []})
    );
    assert_eq!(
        (v[1]["verdict"].as_str(), &v[1]["violations"]),
        (
            Some("blocked"),
            &json!([{"path": "$.properties.total", "message": "-1 is less than the minimum of 0"}])
        )
    );
    assert_eq!(
        (v[2]["verdict"].as_str(), v[2]["schema_version"].as_str()),
        (Some("blocked"), Some("v2"))
    );
    assert_eq!(
        (v[2]["has_undeclared_fields"].as_bool(), &v[2]["omitted"]),
        (Some(true), &json!([]))
    );
    assert_eq!(
        (v[3]["verdict"].as_str(), v[3]["has_schema_violated"].as_bool()),
        (Some("allowed"), Some(true))
    );
    assert_eq!(v[3]["violations"][0]["path"], "$.traits.plan");
    assert_eq!(
        (v[4]["verdict"].as_str(), v[4]["has_undeclared_schema"].as_bool()),
        (Some("allowed"), Some(true))
    );
    assert_eq!(v[5]["verdict"], "blocked");
    assert!(v[5]["error"].as_str().unwrap().starts_with("not JSON"), "{}", v[5]);
}

#[test]
fn blocking_contract_and_strict_context() {
    // mobile blocks undeclared schemas; its screen event does not include the built-in context.
    let input = format!(
        "{}\n{}\n",
        json!({"type": "track", "event": "Logged Out"}),
        json!({"type": "screen", "name": "Home", "messageId": "m", "properties": {"x": 1}})
    );
    let (code, stdout, _) = judge(&acme(), &["--contract", "mobile"], &input);
    assert_eq!(code, 0);
    let v = verdicts(&stdout);
    assert_eq!(
        (v[0]["verdict"].as_str(), v[0]["has_undeclared_schema"].as_bool()),
        (Some("blocked"), Some(true))
    );
    // screen: onUndeclaredFields ALLOW_EVENT, so flagged but allowed; `type` and `messageId` are undeclared
    // because includeBuiltInContext is false.
    assert_eq!(
        (v[1]["verdict"].as_str(), v[1]["has_undeclared_fields"].as_bool()),
        (Some("allowed"), Some(true))
    );
}

#[test]
fn large_streams_keep_order_across_batches() {
    let input: String = (0..2500)
        .map(|i| format!("{}\n", json!({"type": "track", "event": "Order Completed", "properties": {"order_id": format!("o{i}"), "total": i}})))
        .collect();
    let file = scratch("events").join("events.jsonl");
    std::fs::write(&file, &input).unwrap();
    let (code, stdout, stderr) = judge(&acme(), &["--contract", "web", "--input", file.to_str().unwrap()], "");
    assert_eq!(code, 0, "{stderr}");
    let v = verdicts(&stdout);
    assert_eq!(v.len(), 2500);
    for (i, verdict) in v.iter().enumerate() {
        assert_eq!(verdict["event"]["properties"]["order_id"], format!("o{i}"));
    }
}

#[test]
fn summary_counts_per_event_and_violation() {
    let input = format!(
        "{}\n{}\n{}\nnope\n",
        json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "a", "total": 1}}),
        json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "b"}}),
        json!({"type": "identify", "traits": {"plan": "gold"}})
    );
    let (code, stdout, _) = judge(&acme(), &["--contract", "web", "--summary", "--format", "json"], &input);
    assert_eq!(code, 0);
    let s: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            s["events"].as_u64(),
            s["allowed"].as_u64(),
            s["blocked"].as_u64(),
            s["malformed"].as_u64()
        ),
        (Some(4), Some(2), Some(2), Some(1))
    );
    assert_eq!(s["per_event"]["Order Completed"], json!([1, 1]));
    assert_eq!(s["per_event"]["identify"], json!([1, 0]));
    assert_eq!(s["per_violation"]["$.properties: \"total\" is a required property"], 1);
    let (_, human, _) = judge(&acme(), &["--contract", "web", "--summary"], &input);
    assert!(
        human.starts_with("4 events: 2 allowed, 2 blocked (1 malformed)"),
        "{human}"
    );
}

#[test]
fn usage_errors() {
    let (code, _, stderr) = judge(&acme(), &[], "");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("2 contracts (mobile, web); pick one with --contract SLUG"),
        "{stderr}"
    );
    let (code, _, stderr) = judge(&acme(), &["--contract", "app"], "");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no contract `app` (contracts here: mobile, web)"),
        "{stderr}"
    );
    let (code, _, stderr) = judge(
        &acme(),
        &["--contract", "web", "--input", "/nonexistent/events.jsonl"],
        "",
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot open /nonexistent/events.jsonl"), "{stderr}");
}

/// `--summary` takes the typed `judge` call and the verdict lines take `judge-lines`; on a mixed
/// stream (valid, one violation, several, undeclared fields and schemas, duplicate keys, escapes,
/// not JSON) the summary must count exactly what the lines say.
#[test]
fn summary_and_verdict_lines_agree() {
    let mut input = String::new();
    for i in 0..600 {
        let line = match i % 12 {
            0 => json!({"type": "track", "event": "Order Completed", "properties": {"order_id": format!("o{i}"), "total": 3}}).to_string(),
            1 => json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o", "total": -1}}).to_string(),
            2 => json!({"type": "track", "event": "Order Completed", "properties": {"total": "x"}}).to_string(),
            3 => json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o", "total": 1, "gift": true}}).to_string(),
            4 => json!({"type": "track", "event": "Order Completed", "context": {"htevents": {"schemaVersion": "v2"}},
                        "properties": {"order_id": "o", "total": 1, "currency": "EUR"}}).to_string(),
            5 => json!({"type": "track", "event": "Signed Up", "properties": {}}).to_string(),
            6 => json!({"type": "identify", "userId": "u1", "traits": {"plan": "gold"}}).to_string(),
            7 => r#"{"type":"track","event":"Order Completed","properties":{"order_id":"o","total":-1,"total":2}}"#.to_string(),
            8 => r#"{"type":"track","event":"Order\u0020Completed","properties":{"order_id":"caf\u00e9","total":0}}"#.to_string(),
            9 => "not json".to_string(),
            10 => json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o", "total": 1,
                         "products": [{"sku": "a", "quantity": 0}]}}).to_string(),
            _ => json!({"type": "page", "name": "Home"}).to_string(),
        };
        input.push_str(&line);
        input.push('\n');
    }
    let (code, stdout, stderr) = judge(&acme(), &["--contract", "web"], &input);
    assert!(code == 0 || code == 1, "{code}: {stderr}");
    let lines = verdicts(&stdout);
    assert_eq!(lines.len(), 600);
    let (mut allowed, mut per_event, mut per_violation) = (0, serde_json::Map::new(), serde_json::Map::new());
    let (mut malformed, mut undeclared_schema, mut undeclared_fields) = (0, 0, 0);
    for v in &lines {
        let ok = v["verdict"] == "allowed";
        allowed += u64::from(ok);
        if v.get("error").is_some() {
            malformed += 1;
            continue;
        }
        undeclared_schema += u64::from(v["has_undeclared_schema"] == true);
        undeclared_fields += u64::from(v["has_undeclared_fields"] == true);
        let key = v["event_name"]
            .as_str()
            .or(v["event_type"].as_str())
            .unwrap()
            .to_string();
        let counts = per_event.entry(key).or_insert(json!([0, 0]));
        counts[usize::from(!ok)] = json!(counts[usize::from(!ok)].as_u64().unwrap() + 1);
        for x in v["violations"].as_array().unwrap() {
            let key = format!("{}: {}", x["path"].as_str().unwrap(), x["message"].as_str().unwrap());
            let n = per_violation.get(&key).and_then(Value::as_u64).unwrap_or(0);
            per_violation.insert(key, json!(n + 1));
        }
    }
    let (_, summary, _) = judge(&acme(), &["--contract", "web", "--summary", "--format", "json"], &input);
    let s: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(s["events"], 600);
    assert_eq!(s["allowed"], allowed);
    assert_eq!(s["blocked"], 600 - allowed);
    assert_eq!(s["malformed"], malformed);
    assert_eq!(s["per_event"], Value::Object(per_event));
    assert_eq!(s["per_violation"], Value::Object(per_violation));
    assert_eq!(s["undeclared_schema"], undeclared_schema);
    assert_eq!(s["undeclared_fields"], undeclared_fields);
    assert!(
        malformed == 50 && allowed > 100,
        "a mix: {malformed} malformed, {allowed} allowed"
    );
}

/// A line that is not UTF-8 gets a verdict of its own in its place and the stream goes on, in the
/// verdict lines and in the summary alike.
#[test]
fn a_line_that_is_not_utf8_gets_its_own_verdict() {
    let mut input: Vec<u8> = Vec::new();
    for i in 0..1500 {
        if i == 1100 {
            input.extend_from_slice(b"{\"type\":\"identify\",\"traits\":{\"name\":\"caf\xe9\"}}\n");
        } else {
            input.extend_from_slice(format!("{}\n", json!({"type": "identify", "userId": format!("u{i}")})).as_bytes());
        }
    }
    let run = |args: &[&str]| {
        let args: Vec<&str> = ["--contract", "web"].iter().chain(args).copied().collect();
        let (code, stdout, stderr) = judge_bytes(&acme(), &args, &input);
        assert_eq!(code, 0, "{stderr}");
        stdout
    };
    let v = verdicts(&run(&[]));
    assert_eq!(v.len(), 1500);
    assert_eq!(
        v[1100],
        json!({"verdict": "blocked", "event": null, "omitted": [], "event_name": null, "event_type": null,
               "schema_version": "default", "has_undeclared_schema": false, "has_undeclared_fields": false,
               "has_schema_violated": false, "violations": [], "error": "not UTF-8: invalid byte at column 41"})
    );
    assert_eq!(v[1099]["event"]["userId"], "u1099");
    assert_eq!(v[1101]["event"]["userId"], "u1101");
    assert_eq!(v[1499]["event"]["userId"], "u1499");
    let s: Value = serde_json::from_str(&run(&["--summary", "--format", "json"])).unwrap();
    assert_eq!((s["events"].as_u64(), s["malformed"].as_u64()), (Some(1500), Some(1)));
}

/// Lines that are not UTF-8 first, twice in a row, at the end of a batch and last without a line
/// end: each gets its verdict in its place (reading runs ahead of judging on a thread of its own).
#[test]
fn lines_that_are_not_utf8_keep_their_places_around_batches() {
    let bad: &[u8] = b"{\"type\":\"identify\",\"userId\":\"\xff\"}";
    let broken = [0, 1, 2, 1023, 1024, 2047, 2500];
    let mut input: Vec<u8> = Vec::new();
    for i in 0..=2500 {
        if broken.contains(&i) {
            input.extend_from_slice(bad);
        } else {
            input.extend_from_slice(
                json!({"type": "identify", "userId": format!("u{i}")})
                    .to_string()
                    .as_bytes(),
            );
        }
        if i < 2500 {
            input.push(b'\n');
        }
    }
    let (code, stdout, stderr) = judge_bytes(&acme(), &["--contract", "web"], &input);
    assert_eq!(code, 0, "{stderr}");
    let v = verdicts(&stdout);
    assert_eq!(v.len(), 2501);
    for (i, verdict) in v.iter().enumerate() {
        if broken.contains(&i) {
            assert_eq!(verdict["error"], "not UTF-8: invalid byte at column 30", "line {i}");
        } else {
            assert_eq!(verdict["event"]["userId"], format!("u{i}"), "line {i}");
        }
    }
}

/// Input that cannot be read, and verdicts that cannot be written, stop the run with an error that
/// says which, and exit code 2.
#[test]
fn read_and_write_failures_are_reported() {
    let dir = std::env::temp_dir();
    let (code, _, stderr) = judge(&acme(), &["--contract", "web", "--input", dir.to_str().unwrap()], "");
    assert_eq!(code, 2);
    assert!(stderr.contains("error: cannot read the events:"), "{stderr}");

    let events: String = (0..5000)
        .map(|i| format!("{}\n", json!({"type": "identify", "userId": format!("u{i}")})))
        .collect();
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let mut child = spawn_judge(&acme(), &["--contract", "web"], full.into());
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(events.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: cannot write the verdicts:"), "{stderr}");
}

/// Several judges at once (`--threads`) write the very same verdicts, in input order, as one: here
/// batches that are quick to judge (identify events) alternate with slow ones (events with several
/// violations, which take the full path), so later batches finish first; a line that is not UTF-8
/// sits in between. The summary is the same too.
#[test]
fn threads_keep_the_input_order() {
    let mut input: Vec<u8> = Vec::new();
    let n = 8 * 1024;
    for i in 0..n {
        let line = if i == 3000 {
            b"{\"type\":\"identify\",\"userId\":\"\xff\"}".to_vec()
        } else if (i / 1024) % 2 == 0 {
            json!({"type": "identify", "userId": format!("u{i}")})
                .to_string()
                .into_bytes()
        } else {
            json!({"type": "track", "event": "Order Completed", "userId": format!("u{i}"),
                   "properties": {"total": "x", "gift": true, "products": [{"sku": 1}]}})
            .to_string()
            .into_bytes()
        };
        input.extend_from_slice(&line);
        input.push(b'\n');
    }
    let (code, one, stderr) = judge_bytes(&acme(), &["--contract", "web", "--threads", "1"], &input);
    assert_eq!(code, 0, "{stderr}");
    let v = verdicts(&one);
    assert_eq!(v.len(), n);
    for (i, verdict) in v.iter().enumerate() {
        if i == 3000 {
            assert_eq!(verdict["error"], "not UTF-8: invalid byte at column 30");
        } else {
            assert_eq!(verdict["event"]["userId"], format!("u{i}"), "line {i}");
            assert_eq!(
                verdict["verdict"],
                if (i / 1024) % 2 == 0 { "allowed" } else { "blocked" },
                "line {i}"
            );
        }
    }
    let (code, four, stderr) = judge_bytes(&acme(), &["--contract", "web", "--threads", "4"], &input);
    assert_eq!(code, 0, "{stderr}");
    assert!(one == four, "four judges wrote other verdicts than one");

    let summary = |threads| {
        let (code, out, stderr) = judge_bytes(
            &acme(),
            &[
                "--contract",
                "web",
                "--summary",
                "--format",
                "json",
                "--threads",
                threads,
            ],
            &input,
        );
        assert_eq!(code, 0, "{stderr}");
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let s = summary("1");
    assert_eq!(
        (s["events"].as_u64(), s["blocked"].as_u64(), s["malformed"].as_u64()),
        (Some(n as u64), Some(4 * 1024 + 1), Some(1))
    );
    assert_eq!(summary("3"), s);
}

/// A batch that runs past the policy time limit ends the stream with exit code 2 and says so; what
/// was written before is every verdict of the events before it, in order, whole lines, however
/// many judges were at work.
#[test]
fn a_batch_past_the_time_limit_ends_the_stream_after_whole_verdicts() {
    // Two quick batches (about a millisecond each), then slow ones: a hundred violations an event,
    // several hundred milliseconds a batch in the component. The limit, 100 ms, is far from both,
    // so however busy the machine the quick ones pass and the slow ones do not.
    let mut input = String::new();
    for i in 0..5 * 1024 {
        let line = if i < 2 * 1024 {
            json!({"type": "identify", "userId": format!("u{i}")})
        } else {
            json!({"type": "track", "event": "Order Completed", "userId": format!("u{i}"),
                   "properties": {"total": "x", "gift": true, "products": vec![json!({"sku": 1}); 100]}})
        };
        input.push_str(&format!("{line}\n"));
    }
    let (code, all, stderr) = judge(&acme(), &["--contract", "web", "--threads", "1"], &input);
    assert_eq!(code, 0, "{stderr}");
    for threads in ["1", "3"] {
        let (code, some, stderr) = judge(
            &acme(),
            &["--contract", "web", "--threads", threads, "--policy-timeout", "100ms"],
            &input,
        );
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("error: policy `contracts` failed: ran past its time limit of 100ms"),
            "{stderr}"
        );
        // What was written: whole verdicts, in order, of the quick events before the slow batch
        // (the first batch is all quick events, so there is at least that).
        assert!(all.starts_with(&some), "{threads} judges: not a prefix");
        assert!(some.ends_with('\n'), "{threads} judges: nothing, or a partial line");
        let written = some.lines().count();
        assert!(
            (1..=2 * 1024).contains(&written),
            "{threads} judges: {written} verdicts, not those of the quick events"
        );
        assert!(
            some.lines().all(|l| l.contains("\"event_type\":\"identify\"")),
            "{threads} judges"
        );
    }
}

/// A live stream: verdicts come out as events come in, not when a batch of 1,024 is full or the
/// input ends (the input pauses, so what was read is judged, and the verdicts are flushed).
#[test]
fn a_live_stream_gets_its_verdicts_while_the_input_stays_open() {
    let mut child = spawn_judge(&acme(), &["--contract", "web"], Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, got) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut next = 0;
    for burst in [3, 2] {
        for _ in 0..burst {
            writeln!(stdin, "{}", json!({"type": "identify", "userId": format!("u{next}")})).unwrap();
            next += 1;
        }
        stdin.flush().unwrap();
        // The input stays open: these verdicts must come without more input.
        for i in next - burst..next {
            let line = got
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no verdict for event {i} while the input stays open"));
            let v: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(
                (v["verdict"].as_str(), v["event"]["userId"].as_str()),
                (Some("allowed"), Some(format!("u{i}").as_str()))
            );
        }
    }
    drop(stdin);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(status.code(), Some(0));
}

/// On a terminal, a stream that takes a while shows how many events were judged so far, and the
/// total at the end (here under `script`, for a terminal, with input that pauses halfway).
#[test]
fn a_long_stream_shows_progress_on_a_terminal() {
    use std::io::BufRead;
    let dir = scratch("events-progress");
    let (fifo, out) = (dir.join("events.fifo"), dir.join("verdicts.jsonl"));
    let st = command("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let events = |from: usize, to: usize| -> String {
        (from..to)
            .map(|i| format!("{}\n", json!({"type": "identify", "userId": format!("u{i}")})))
            .collect()
    };
    let judge = format!(
        "'{}' events validate '{}' --contract web --threads 2 < '{}' > '{}'",
        bin(),
        acme().display(),
        fifo.display(),
        out.display()
    );
    let mut server = Server::spawn(
        command("script")
            .args(["-qec", &judge, "/dev/null"])
            .env("GITSYNC_CACHE_DIR", shared_cache())
            .stdin(Stdio::null())
            .stdout(Stdio::piped()),
        "script (util-linux)",
        0,
    );
    let verdicts = || {
        std::fs::File::open(&out)
            .map(|f| std::io::BufReader::new(f).lines().count())
            .unwrap_or(0)
    };
    // Opening the FIFO waits for the judge to open it for reading.
    let mut input = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    input.write_all(events(0, 1500).as_bytes()).unwrap();
    input.flush().unwrap();
    eventually("the first 1,500 verdicts", || verdicts() == 1500);
    // Then the input pauses: the stream now lasts past the half second after which progress shows
    // (counted from its start, which was before these verdicts were written).
    std::thread::sleep(std::time::Duration::from_millis(600));
    input.write_all(events(1500, 3000).as_bytes()).unwrap();
    drop(input);
    let run = server.take().unwrap().wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{text}");
    assert!(text.contains("\rjudged 3000 events ("), "{text}");
    assert!(
        text.trim_end().ends_with(" s"),
        "the count ends its line with the time taken: {text}"
    );
    assert_eq!(verdicts(), 3000);
    // And none where nobody watches: standard error not a terminal.
    let (code, stdout, stderr) = judge_bytes(&acme(), &["--contract", "web", "--summary"], b"{\"type\":\"page\"}\n");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("1 events: 1 allowed") && !stderr.contains("judged"),
        "{stdout}{stderr}"
    );
}

/// A reader that stops reading (`| head -1`) ends the run quietly: no error message, and an exit
/// code that says the verdicts were not all written.
#[test]
fn a_reader_that_stops_reading_ends_the_run_quietly() {
    let mut child = spawn_judge(&acme(), &["--contract", "web"], Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..20_000 {
            if writeln!(stdin, "{}", json!({"type": "identify", "userId": format!("u{i}")})).is_err() {
                break;
            }
        }
    });
    let mut first = String::new();
    {
        use std::io::BufRead;
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut first).unwrap();
    } // the read end is closed here
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(first.contains("\"userId\":\"u0\""), "{first}");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// `--fail-on-blocked` turns a blocked event into exit code 1 (verdict lines or summary alike, a
/// line that is not UTF-8 included); every verdict is still written. Without it, 0.
#[test]
fn fail_on_blocked_makes_a_blocked_event_exit_1() {
    let good: String = (0..1500)
        .map(|i| format!("{}\n", json!({"type": "identify", "userId": format!("u{i}")})))
        .collect();
    let bad = json!({"type": "track", "event": "Order Completed", "properties": {"order_id": "o", "total": -1}});
    // The blocked event in the second batch, so counting must cover more than the first.
    let mixed = format!("{good}{bad}\n{good}");
    let not_utf8 = [good.as_bytes(), b"{\"type\":\"\xff\"}\n"].concat();
    let flag = ["--contract", "web", "--fail-on-blocked"];
    for (input, want) in [(good.as_bytes(), 0), (mixed.as_bytes(), 1), (&not_utf8[..], 1)] {
        let (code, stdout, stderr) = judge_bytes(&acme(), &flag, input);
        assert_eq!(code, want, "{stderr}");
        assert_eq!(
            stdout.lines().count(),
            input.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count()
        );
        let (code, _, stderr) = judge_bytes(&acme(), &[&flag[..], &["--summary"]].concat(), input);
        assert_eq!(code, want, "summary: {stderr}");
        let (code, _, stderr) = judge_bytes(&acme(), &["--contract", "web"], input);
        assert_eq!(code, 0, "without the flag: {stderr}");
    }
}

/// Large events make smaller batches, so a call never holds more than a few MiB of events in the
/// component: 100 events of 200 KB (20 MB, which in one call would need about three times that)
/// pass under a 32 MiB memory limit, every verdict in order.
#[test]
fn large_events_make_smaller_batches_within_the_memory_limit() {
    let blob = "x".repeat(200_000);
    let input: String = (0..100)
        .map(|i| {
            format!(
                "{}\n",
                json!({"type": "identify", "userId": format!("u{i}"), "traits": {"blob": blob}})
            )
        })
        .collect();
    let (code, stdout, stderr) = judge(&acme(), &["--contract", "web", "--policy-memory", "32"], &input);
    assert_eq!(code, 0, "{stderr}");
    let v = verdicts(&stdout);
    assert_eq!(v.len(), 100);
    for (i, verdict) in v.iter().enumerate() {
        assert_eq!(verdict["event"]["userId"], format!("u{i}"));
    }
}
