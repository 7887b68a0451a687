//! `/metrics`: the service's series in Prometheus' text format, through `prometheus-client`. Every
//! series a workspace has is there from the moment the service serves it (zeroes, not missing
//! series), so alerts and rates work from the first scrape.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Upper bounds of the pass duration histogram, in seconds.
const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// What a webhook delivery can come to (`gitsync_webhook_requests_total`'s `result`).
pub const WEBHOOK_RESULTS: [&str; 8] = [
    "started",
    "ignored",
    "other_branch",
    "redelivery",
    "ping",
    "bad_signature",
    "too_large",
    "refused",
];

/// What a pass can end as.
const OUTCOMES: [&str; 3] = ["ok", "attention", "failed"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Workspace {
    workspace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PassLabels {
    workspace: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    provider: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

fn pass_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

pub struct Metrics {
    registry: Registry,
    passes: Family<PassLabels, Counter>,
    durations: Family<Workspace, Histogram, fn() -> Histogram>,
    last_success: Family<Workspace, Gauge>,
    failures: Family<Workspace, Gauge>,
    webhooks: Family<WebhookLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    queue: Family<Workspace, Gauge>,
    last_applied: Family<Workspace, Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("gitsync");
        let passes = Family::<PassLabels, Counter>::default();
        registry.register("passes", "Sync passes run, by workspace and outcome", passes.clone());
        let durations = Family::<Workspace, Histogram, fn() -> Histogram>::new_with_constructor(pass_histogram);
        registry.register_with_unit(
            "pass_duration",
            "How long sync passes took",
            Unit::Seconds,
            durations.clone(),
        );
        let last_success = Family::<Workspace, Gauge>::default();
        registry.register(
            "last_successful_pass_timestamp_seconds",
            "When the last pass that did not fail ended (Unix time; 0: none yet)",
            last_success.clone(),
        );
        let failures = Family::<Workspace, Gauge>::default();
        registry.register(
            "consecutive_failed_passes",
            "Passes failed in a row since the last one that did not fail",
            failures.clone(),
        );
        let queue = Family::<Workspace, Gauge>::default();
        registry.register(
            "outbound_queue",
            "Workspace changes waiting to be pushed",
            queue.clone(),
        );
        let last_applied = Family::<Workspace, Gauge>::default();
        registry.register(
            "last_applied_commit_timestamp_seconds",
            "Commit time of the last commit applied (Unix time; 0: none yet)",
            last_applied.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_requests",
            "Webhook deliveries, by provider and result",
            webhooks.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests, by route and status", requests.clone());
        let build = Family::<BuildLabels, Gauge>::default();
        registry.register("build_info", "The gitsync build serving (always 1)", build.clone());
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        Metrics {
            registry,
            passes,
            durations,
            last_success,
            failures,
            webhooks,
            requests,
            queue,
            last_applied,
        }
    }
}

fn ws(workspace: &str) -> Workspace {
    Workspace {
        workspace: workspace.to_string(),
    }
}

impl Metrics {
    /// A workspace is served from now on: its series start at zero.
    pub fn workspace(&self, workspace: &str) {
        for outcome in OUTCOMES {
            drop(self.passes.get_or_create(&PassLabels {
                workspace: workspace.into(),
                outcome: outcome.into(),
            }));
        }
        let w = ws(workspace);
        drop(self.durations.get_or_create(&w));
        drop(self.last_success.get_or_create(&w));
        drop(self.failures.get_or_create(&w));
        drop(self.queue.get_or_create(&w));
        drop(self.last_applied.get_or_create(&w));
    }

    /// Deliveries from `provider` are taken: its series start at zero.
    pub fn provider(&self, provider: &str) {
        for result in WEBHOOK_RESULTS {
            drop(self.webhooks.get_or_create(&WebhookLabels {
                provider: provider.into(),
                result: result.into(),
            }));
        }
    }

    /// A pass ended: how, and how long it took.
    pub fn pass(&self, workspace: &str, outcome: &str, seconds: f64) {
        self.passes
            .get_or_create(&PassLabels {
                workspace: workspace.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.durations.get_or_create(&ws(workspace)).observe(seconds);
    }

    /// After a pass: whether it did not fail, and how many have failed in a row.
    pub fn pass_ended(&self, workspace: &str, succeeded: bool, failures_in_a_row: u32) {
        let w = ws(workspace);
        if succeeded {
            self.last_success.get_or_create(&w).set(unix_now());
        }
        self.failures.get_or_create(&w).set(i64::from(failures_in_a_row));
    }

    pub fn webhook(&self, provider: &str, result: &str) {
        self.webhooks
            .get_or_create(&WebhookLabels {
                provider: provider.into(),
                result: result.into(),
            })
            .inc();
    }

    pub fn request(&self, route: &str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.into(),
                status: status.to_string(),
            })
            .inc();
    }

    pub fn queue(&self, workspace: &str, len: usize) {
        self.queue
            .get_or_create(&ws(workspace))
            .set(i64::try_from(len).unwrap_or(i64::MAX));
    }

    pub fn last_applied(&self, workspace: &str, unix_seconds: i64) {
        self.last_applied.get_or_create(&ws(workspace)).set(unix_seconds);
    }

    /// The text Prometheus scrapes (format 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_workspace_s_series_start_at_zero_and_count_up() {
        let m = Metrics::default();
        m.workspace("acme");
        m.provider("github");
        let text = m.render();
        for series in [
            "gitsync_passes_total{workspace=\"acme\",outcome=\"failed\"} 0\n",
            "gitsync_pass_duration_seconds_count{workspace=\"acme\"} 0\n",
            "gitsync_consecutive_failed_passes{workspace=\"acme\"} 0\n",
            "gitsync_last_successful_pass_timestamp_seconds{workspace=\"acme\"} 0\n",
            "gitsync_outbound_queue{workspace=\"acme\"} 0\n",
            "gitsync_build_info{version=\"",
            "gitsync_webhook_requests_total{provider=\"github\",result=\"too_large\"} 0\n",
        ] {
            assert!(text.contains(series), "{series} missing from:\n{text}");
        }
        m.pass("acme", "ok", 0.3);
        m.pass("acme", "ok", 3.0);
        m.pass_ended("acme", false, 2);
        m.request("/healthz", 200);
        let text = m.render();
        assert!(
            text.contains("gitsync_passes_total{workspace=\"acme\",outcome=\"ok\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("gitsync_pass_duration_seconds_bucket{workspace=\"acme\",le=\"0.25\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("gitsync_pass_duration_seconds_bucket{workspace=\"acme\",le=\"0.5\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("gitsync_pass_duration_seconds_bucket{workspace=\"acme\",le=\"+Inf\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("gitsync_consecutive_failed_passes{workspace=\"acme\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("gitsync_http_requests_total{route=\"/healthz\",status=\"200\"} 1\n"),
            "{text}"
        );
    }
}
