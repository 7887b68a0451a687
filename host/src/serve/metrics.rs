//! `/metrics`: counters, gauges and one histogram, in Prometheus' text format (`gitsync_` prefix).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds of the pass duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    passes: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Histogram>,
    webhooks: BTreeMap<(String, String), u64>,
    requests: BTreeMap<(String, u16), u64>,
    queue: BTreeMap<String, u64>,
    last_applied: BTreeMap<String, i64>,
}

#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

/// A label value as the text format wants it: `\`, `"` and line breaks escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A poisoned lock only means another thread panicked mid-update: the counts are still usable.
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut inner)
    }

    pub fn pass(&self, workspace: &str, outcome: &str, seconds: f64) {
        self.with(|m| {
            *m.passes.entry((workspace.into(), outcome.into())).or_default() += 1;
            let h = m.durations.entry(workspace.into()).or_default();
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        })
    }

    pub fn webhook(&self, provider: &str, result: &str) {
        self.with(|m| *m.webhooks.entry((provider.into(), result.into())).or_default() += 1)
    }

    pub fn request(&self, route: &str, status: u16) {
        self.with(|m| *m.requests.entry((route.into(), status)).or_default() += 1)
    }

    pub fn queue(&self, workspace: &str, len: usize) {
        self.with(|m| m.queue.insert(workspace.into(), len as u64));
    }

    pub fn last_applied(&self, workspace: &str, unix_seconds: i64) {
        self.with(|m| m.last_applied.insert(workspace.into(), unix_seconds));
    }

    pub fn render(&self) -> String {
        self.with(|m| {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "# HELP gitsync_passes_total Sync passes run, by workspace and outcome."
            );
            let _ = writeln!(out, "# TYPE gitsync_passes_total counter");
            for ((ws, outcome), n) in &m.passes {
                let _ = writeln!(
                    out,
                    "gitsync_passes_total{{workspace=\"{}\",outcome=\"{}\"}} {n}",
                    label(ws),
                    label(outcome)
                );
            }
            let _ = writeln!(out, "# HELP gitsync_pass_duration_seconds How long sync passes took.");
            let _ = writeln!(out, "# TYPE gitsync_pass_duration_seconds histogram");
            for (ws, h) in &m.durations {
                let ws = label(ws);
                for (le, n) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "gitsync_pass_duration_seconds_bucket{{workspace=\"{ws}\",le=\"{le}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "gitsync_pass_duration_seconds_bucket{{workspace=\"{ws}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "gitsync_pass_duration_seconds_sum{{workspace=\"{ws}\"}} {}", h.sum);
                let _ = writeln!(
                    out,
                    "gitsync_pass_duration_seconds_count{{workspace=\"{ws}\"}} {}",
                    h.count
                );
            }
            let _ = writeln!(
                out,
                "# HELP gitsync_webhook_requests_total Webhook deliveries, by provider and result."
            );
            let _ = writeln!(out, "# TYPE gitsync_webhook_requests_total counter");
            for ((provider, result), n) in &m.webhooks {
                let _ = writeln!(
                    out,
                    "gitsync_webhook_requests_total{{provider=\"{}\",result=\"{}\"}} {n}",
                    label(provider),
                    label(result)
                );
            }
            let _ = writeln!(
                out,
                "# HELP gitsync_http_requests_total HTTP requests, by route and status."
            );
            let _ = writeln!(out, "# TYPE gitsync_http_requests_total counter");
            for ((route, status), n) in &m.requests {
                let _ = writeln!(
                    out,
                    "gitsync_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                    label(route)
                );
            }
            let _ = writeln!(
                out,
                "# HELP gitsync_outbound_queue Workspace changes waiting to be pushed."
            );
            let _ = writeln!(out, "# TYPE gitsync_outbound_queue gauge");
            for (ws, n) in &m.queue {
                let _ = writeln!(out, "gitsync_outbound_queue{{workspace=\"{}\"}} {n}", label(ws));
            }
            let _ = writeln!(
                out,
                "# HELP gitsync_last_applied_commit_timestamp_seconds Commit time of the last commit applied."
            );
            let _ = writeln!(out, "# TYPE gitsync_last_applied_commit_timestamp_seconds gauge");
            for (ws, t) in &m.last_applied {
                let _ = writeln!(
                    out,
                    "gitsync_last_applied_commit_timestamp_seconds{{workspace=\"{}\"}} {t}",
                    label(ws)
                );
            }
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        m.pass("acme", "ok", 0.3);
        m.pass("acme", "ok", 3.0);
        m.request("/healthz", 200);
        let text = m.render();
        assert!(
            text.contains("gitsync_passes_total{workspace=\"acme\",outcome=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("gitsync_pass_duration_seconds_bucket{workspace=\"acme\",le=\"0.25\"} 0\n"));
        assert!(text.contains("gitsync_pass_duration_seconds_bucket{workspace=\"acme\",le=\"0.5\"} 1\n"));
        assert!(text.contains("gitsync_pass_duration_seconds_bucket{workspace=\"acme\",le=\"5\"} 2\n"));
        assert!(text.contains("gitsync_pass_duration_seconds_bucket{workspace=\"acme\",le=\"+Inf\"} 2\n"));
        assert!(text.contains("gitsync_http_requests_total{route=\"/healthz\",status=\"200\"} 1\n"));
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
