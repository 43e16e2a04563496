//! Logs and metrics. Logs go through `tracing` (human-readable by default,
//! JSON with `--log-json` or `log.format = "json"`); metrics are kept in one
//! Prometheus registry and served as text at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Installs the global `tracing` subscriber; a second call is a no-op.
pub fn init_logging(json: bool, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabels {
    pub cause: &'static str,
}

/// Shelf ingest: what was accepted, what was dropped and why, plate health.
#[derive(Clone, Default)]
pub struct ShelfMetrics {
    pub samples_accepted: Counter,
    pub dropped: Family<CauseLabels, Counter>,
    pub events: Counter,
    pub degraded_plates: Gauge,
}

impl ShelfMetrics {
    pub fn drop(&self, cause: &'static str, n: u64) {
        self.dropped.get_or_create(&CauseLabels { cause }).inc_by(n);
    }

    pub fn dropped_count(&self, cause: &'static str) -> u64 {
        self.dropped.get_or_create(&CauseLabels { cause }).get()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraLabels {
    pub camera: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraDropLabels {
    pub camera: String,
    pub cause: &'static str,
}

/// Vision capture: frames delivered per camera, frames dropped per camera
/// and cause (`queue_full`: a live stream's consumer was slow; `bad_frame`:
/// an empty or failed read).
#[derive(Clone, Default)]
pub struct VisionMetrics {
    pub frames: Family<CameraLabels, Counter>,
    pub dropped: Family<CameraDropLabels, Counter>,
}

impl VisionMetrics {
    pub fn frame(&self, camera: &str) {
        self.frames.get_or_create(&CameraLabels { camera: camera.to_owned() }).inc();
    }

    pub fn drop(&self, camera: &str, cause: &'static str) {
        self.dropped.get_or_create(&CameraDropLabels { camera: camera.to_owned(), cause }).inc();
    }

    pub fn frames_count(&self, camera: &str) -> u64 {
        self.frames.get_or_create(&CameraLabels { camera: camera.to_owned() }).get()
    }

    pub fn dropped_count(&self, camera: &str, cause: &'static str) -> u64 {
        self.dropped.get_or_create(&CameraDropLabels { camera: camera.to_owned(), cause }).get()
    }
}

/// Every metric the process exports, registered once at start.
pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub shelf: ShelfMetrics,
    pub vision: VisionMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("walkout");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests served, by route and status", http_requests.clone());
        let shelf = ShelfMetrics::default();
        registry.register("shelf_samples_accepted", "Plate samples accepted", shelf.samples_accepted.clone());
        registry.register("shelf_dropped", "Plate messages or samples dropped, by cause", shelf.dropped.clone());
        registry.register("shelf_events", "Shelf events emitted", shelf.events.clone());
        registry.register("shelf_degraded_plates", "Plates currently silent (degraded)", shelf.degraded_plates.clone());
        let vision = VisionMetrics::default();
        registry.register("vision_frames", "Camera frames captured, by camera", vision.frames.clone());
        registry.register(
            "vision_frames_dropped",
            "Camera frames dropped, by camera and cause",
            vision.dropped.clone(),
        );
        Self { registry, http_requests, shelf, vision }
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text_with_counts() {
        let m = Metrics::default();
        m.http_requests.get_or_create(&HttpLabels { route: "/healthz".into(), status: 200 }).inc();
        let text = m.render();
        assert!(text.contains("# TYPE walkout_http_requests counter"), "{text}");
        assert!(text.contains("walkout_http_requests_total{route=\"/healthz\",status=\"200\"} 1"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn vision_frame_counters_are_exported_per_camera() {
        let m = Metrics::default();
        m.vision.frame("1");
        m.vision.drop("1", "queue_full");
        let text = m.render();
        assert!(text.contains("walkout_vision_frames_total{camera=\"1\"} 1"), "{text}");
        assert!(text.contains("walkout_vision_frames_dropped_total{camera=\"1\",cause=\"queue_full\"} 1"), "{text}");
    }
}
