//! Benchmark of event verdicts: 1,000,000 events of about 400 bytes against a contract of four track
//! events with nested properties, 10% of them invalid. Run with `cargo bench -p gitsync --bench events`
//! (`-- --events N` to resize, `-- --rounds R` for more rounds than 3).
//!
//! Reports events per second on one thread through the contracts component (batches of 1,024, as
//! `gitsync events validate` sends them) and, as the baseline in the same run, the same
//! gitsync-core code called natively: the median of rounds that alternate the two paths.

use gitsync_engine::wit::Decision;
use gitsync_engine::{BuiltinPolicies, Limits, Runtime};
use std::path::PathBuf;
use std::time::Instant;

const EVENTS: [&str; 4] = ["Order Completed", "Product Viewed", "Cart Updated", "Checkout Started"];

fn contract_repo(dir: &std::path::Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("events/contracts/shop")).unwrap();
    std::fs::write(
        dir.join("events/contracts/shop.yaml"),
        "name: shop\nonUndeclaredSchema: BLOCK_EVENT\n",
    )
    .unwrap();
    for name in EVENTS {
        let slug = gitsync_core::slug::event_slug(name, "shop", "default");
        std::fs::write(
            dir.join(format!("events/contracts/shop/{slug}.yaml")),
            format!(
                "name: {name}\ntype: track\nonSchemaViolation: BLOCK_EVENT\nonUndeclaredFields: OMIT_FIELDS\nschema:
  type: object
  properties:
    properties:
      type: object
      required: [id, amount, items]
      properties:
        id: {{type: string, minLength: 3}}
        amount: {{type: number, minimum: 0}}
        currency: {{type: string, enum: [USD, EUR, GBP]}}
        items:
          type: array
          items:
            type: object
            required: [sku, qty]
            properties:
              sku: {{type: string}}
              qty: {{type: integer, minimum: 1}}
              price: {{type: number}}
        customer:
          type: object
          properties:
            tier: {{type: string}}
            country: {{type: string}}
"
            ),
        )
        .unwrap();
    }
}

fn event(i: usize) -> String {
    let name = EVENTS[i % 4];
    // Every tenth event breaks its schema (a negative amount).
    let amount = if i % 10 == 7 { -5.0 } else { (i % 997) as f64 + 0.5 };
    let line = serde_json::json!({
        "type": "track",
        "event": name,
        "messageId": format!("msg-{i:012}"),
        "timestamp": "2026-11-29T10:00:00.000Z",
        "userId": format!("user-{}", i % 50_000),
        "context": {"ip": "203.0.113.7", "library": {"name": "analytics.js", "version": "4.1.0"}},
        "properties": {
            "id": format!("ord-{i:08}"),
            "amount": amount,
            "currency": "EUR",
            "items": [{"sku": "SKU-0001", "qty": 2, "price": 9.99}, {"sku": "SKU-0042", "qty": 1, "price": 19.5}],
            "customer": {"tier": "gold", "country": "DE"}
        }
    });
    line.to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n = args
        .iter()
        .position(|a| a == "--events")
        .and_then(|i| args.get(i + 1))
        .map_or(1_000_000, |v| v.parse().unwrap());
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map_or(3, |v| v.parse().unwrap());
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-events");
    contract_repo(&work);
    eprintln!("generating {n} events ...");
    let lines: Vec<String> = (0..n).map(event).collect();
    let avg = lines.iter().map(String::len).sum::<usize>() / n;

    // Native baseline: gitsync-core in this process.
    let resources: Vec<_> = ["events/contracts/shop.yaml"]
        .iter()
        .map(|p| p.to_string())
        .chain(EVENTS.iter().map(|name| {
            format!(
                "events/contracts/shop/{}.yaml",
                gitsync_core::slug::event_slug(name, "shop", "default")
            )
        }))
        .map(|p| {
            gitsync_core::parse::parse_file(&p, &std::fs::read(work.join(&p)).unwrap(), "")
                .resource
                .unwrap()
        })
        .collect();
    let rules = gitsync_core::events::ContractRules::new(&resources, "shop").unwrap();
    if std::env::var_os("GITSYNC_BENCH_PARTS").is_some() {
        let t = Instant::now();
        for l in &lines {
            std::hint::black_box(serde_json::from_str::<serde_json::Value>(l).unwrap());
        }
        eprintln!("parse only: {:.0} events/s", n as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        for l in &lines {
            std::hint::black_box(serde_json::from_str::<serde::de::IgnoredAny>(l).unwrap());
        }
        eprintln!(
            "syntax check only (IgnoredAny): {:.0} events/s",
            n as f64 / t.elapsed().as_secs_f64()
        );
        let values: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        let t = Instant::now();
        for v in values {
            std::hint::black_box(rules.judge(v));
        }
        eprintln!(
            "judge without parse: {:.0} events/s",
            n as f64 / t.elapsed().as_secs_f64()
        );
    }
    // Both paths get the same batches of 1,024 newline-separated events, as the CLI sends them.
    let batches: Vec<String> = lines
        .chunks(gitsync::checks::events::BATCH)
        .map(|b| b.join("\n"))
        .collect();
    let blocked = |out: &str| {
        out.lines()
            .filter(|l| l.starts_with("{\"verdict\":\"blocked\""))
            .count()
    };
    // Component path: the streaming call `gitsync events validate` makes.
    let rt = Runtime::new(Some(work.join("cache")), Limits::default()).unwrap();
    let policies = BuiltinPolicies::embedded(&rt).unwrap();
    let repo = gitsync::checks::ValidateOptions {
        dir: work.clone(),
        rev: None,
        base: String::new(),
        max_file_size: 1 << 20,
        threads: 1,
    };
    let wit_resources = gitsync::checks::resources(&policies, &repo).unwrap();
    let mut judge = policies.event_judge(&wit_resources, "shop").unwrap().unwrap();

    // Rounds alternate the two paths so a busy moment of the machine hits both; the median of each
    // is reported.
    let (mut native_times, mut component_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Only the calls are timed: counting the blocked lines is the benchmark's own work.
        let (mut native_blocked, mut elapsed) = (0, std::time::Duration::ZERO);
        for b in &batches {
            let started = Instant::now();
            let out = rules.judge_lines(b);
            elapsed += started.elapsed();
            native_blocked += blocked(&out);
        }
        native_times.push(elapsed);
        let (mut component_blocked, mut elapsed) = (0, std::time::Duration::ZERO);
        for b in &batches {
            let started = Instant::now();
            let out = judge.judge_lines(b).unwrap();
            elapsed += started.elapsed();
            component_blocked += blocked(&out);
        }
        component_times.push(elapsed);
        assert_eq!(
            native_blocked, component_blocked,
            "both paths must reach the same verdicts"
        );
        assert_eq!(native_blocked, n / 10, "10% of the events are invalid and blocked");
        eprintln!("round {} of {rounds} done", round + 1);
    }
    let median = |times: &mut Vec<std::time::Duration>| {
        times.sort();
        times[times.len() / 2]
    };
    let (native, component) = (median(&mut native_times), median(&mut component_times));
    // The typed call (a `verdict` record per event), for hosts that want records: once.
    let started = Instant::now();
    for batch in lines.chunks(gitsync::checks::events::BATCH) {
        let verdicts = judge.judge(batch).unwrap();
        assert!(verdicts.iter().filter(|v| v.decision == Decision::Blocked).count() <= batch.len());
    }
    let typed = started.elapsed();

    let rate = |d: std::time::Duration| n as f64 / d.as_secs_f64();
    println!(
        "{n} events of {avg} bytes on average, 4 track events, 10% invalid, one thread, median of {rounds} rounds"
    );
    println!("| path | events/s | vs native |");
    println!("| --- | ---: | ---: |");
    println!(
        "| native gitsync-core, verdict lines (baseline) | {:.0} | 1.00 |",
        rate(native)
    );
    println!(
        "| contracts component, `judge-lines` (what the CLI uses) | {:.0} | {:.2} |",
        rate(component),
        rate(component) / rate(native)
    );
    println!(
        "| contracts component, typed `judge` (a record per event) | {:.0} | {:.2} |",
        rate(typed),
        rate(typed) / rate(native)
    );
}
