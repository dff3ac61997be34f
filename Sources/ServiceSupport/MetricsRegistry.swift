import Metrics
import Prometheus

/// One service instance's metrics: a swift-prometheus registry behind the swift-metrics API, so
/// several services in one process (tests) keep separate counts, and `/metrics` renders it.
public struct MetricsRegistry: Sendable {
    /// The Prometheus registry.
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory writing into it (pass it to `Counter(label:dimensions:factory:)`).
    public let factory: PrometheusMetricsFactory

    /// An empty registry; `durationBuckets` sets histogram buckets for the named timers.
    public init(durationBuckets: [String: [Duration]] = [:]) {
        registry = PrometheusCollectorRegistry()
        var f = PrometheusMetricsFactory(registry: registry)
        for (label, buckets) in durationBuckets { f.durationHistogramBuckets[label] = buckets }
        factory = f
    }

    /// Adds one to the counter `label{dimensions}`.
    public func count(_ label: String, _ dimensions: [(String, String)] = [], by amount: Int64 = 1) {
        Counter(label: label, dimensions: dimensions, factory: factory).increment(by: amount)
    }

    /// Records one duration in the timer `label{dimensions}`.
    public func time(_ label: String, _ dimensions: [(String, String)] = [], _ duration: Duration) {
        Metrics.Timer(label: label, dimensions: dimensions, factory: factory).record(duration: duration)
    }

    /// Sets the gauge `label{dimensions}`.
    public func gauge(_ label: String, _ dimensions: [(String, String)] = [], _ value: Double) {
        Gauge(label: label, dimensions: dimensions, factory: factory).record(value)
    }

    /// The Prometheus text exposition.
    public func exposition() -> String {
        var buffer = [UInt8]()
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
