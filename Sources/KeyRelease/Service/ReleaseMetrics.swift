import Foundation
import ServiceSupport

/// The service's metrics (swift-metrics API, exported by swift-prometheus): requests by route
/// and outcome, evidence verification latency, releases. One registry per service instance, so
/// several services in one process (tests) keep separate counts.
public struct ReleaseMetrics: Sendable {
    /// The registry `/metrics` renders.
    public let metrics: MetricsRegistry

    /// Creates an empty registry with verification-latency buckets from 0.5 ms to 5 s.
    public init() {
        metrics = MetricsRegistry(durationBuckets: [
            "krs_verification_seconds": [
                .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5),
            ]
        ])
    }

    /// Counts one finished request: `krs_requests_total{route, outcome}` (outcome: `ok` or an error code).
    public func request(route: String, outcome: String) {
        metrics.count("krs_requests_total", [("route", route), ("outcome", outcome)])
    }

    /// Records one evidence verification (verify + validate): `krs_verification_seconds`.
    public func verification(_ duration: Duration) {
        metrics.time("krs_verification_seconds", [], duration)
    }

    /// Counts one refusal that was not audited (no valid unspent nonce named, or rate limited):
    /// `krs_unaudited_refusals_total{code}`.
    public func unauditedRefusal(_ code: KeyReleaseError.Code) {
        metrics.count("krs_unaudited_refusals_total", [("code", code.rawValue)])
    }

    /// Counts one key release: `krs_releases_total`.
    public func released() {
        metrics.count("krs_releases_total")
    }

    /// The Prometheus text exposition.
    public func exposition() -> String { metrics.exposition() }
}
