import Foundation
import Metrics
import Prometheus

/// The service's metrics (swift-metrics API, exported by swift-prometheus): requests by route
/// and outcome, evidence verification latency, releases. One registry per service instance, so
/// several services in one process (tests) keep separate counts.
public struct ReleaseMetrics: Sendable {
    /// The Prometheus registry `/metrics` renders.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    /// Creates an empty registry with verification-latency buckets from 0.5 ms to 5 s.
    public init() {
        registry = PrometheusCollectorRegistry()
        var f = PrometheusMetricsFactory(registry: registry)
        f.durationHistogramBuckets["krs_verification_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
        ]
        factory = f
    }

    /// Counts one finished request: `krs_requests_total{route, outcome}` (outcome: `ok` or an error code).
    public func request(route: String, outcome: String) {
        Counter(label: "krs_requests_total", dimensions: [("route", route), ("outcome", outcome)], factory: factory).increment()
    }

    /// Records one evidence verification (verify + validate): `krs_verification_seconds`.
    public func verification(_ duration: Duration) {
        Metrics.Timer(label: "krs_verification_seconds", factory: factory).record(duration: duration)
    }

    /// Counts one refusal that was not audited (no valid unspent nonce named, or rate limited):
    /// `krs_unaudited_refusals_total{code}`.
    public func unauditedRefusal(_ code: KeyReleaseError.Code) {
        Counter(label: "krs_unaudited_refusals_total", dimensions: [("code", code.rawValue)], factory: factory).increment()
    }

    /// Counts one key release: `krs_releases_total`.
    public func released() {
        Counter(label: "krs_releases_total", factory: factory).increment()
    }

    /// The Prometheus text exposition.
    public func exposition() -> String {
        var buffer = [UInt8]()
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }
}
