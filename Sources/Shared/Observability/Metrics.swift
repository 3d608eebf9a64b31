import Metrics
import Prometheus
import Synchronization

/// Sets up swift-metrics once per process with a Prometheus backend, whose registry ``MetricsServer`` serves.
///
/// Create metrics once (as stored properties, not per message) with bounded label values: queue names,
/// message types, outcome codes; never school codes, message ids or anything personal.
public enum MetricsSetup {
    private static let registry = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps swift-metrics with a `PrometheusMetricsFactory` on the first call; every call returns that
    /// same registry.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        registry.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: created))
            registry = created
            return created
        }
    }
}
