import Foundation
import NIOConcurrencyHelpers

/// Token buckets by client address (hand-written: Hummingbird 2 has no rate-limiting middleware).
/// Each client starts with `burst` tokens, refilled at `perSecond` up to `burst`; a request
/// takes one or is refused. The table is bounded: past `maxClients` entries the full, idle
/// buckets are dropped (a full bucket is what a new client gets anyway), then the oldest.
final class RateLimiter: Sendable {
    private struct Bucket { var tokens: Double; var at: Date }
    private let burst: Double?
    private let perSecond: Double
    private let maxClients: Int
    private let buckets = NIOLockedValueBox<[String: Bucket]>([:])

    /// `burst` nil: unlimited.
    init(burst: Int?, perSecond: Double, maxClients: Int = 10_000) {
        self.burst = burst.map(Double.init)
        self.perSecond = max(0, perSecond)
        self.maxClients = maxClients
    }

    /// Takes a token for `client` at `now`; false when its bucket is empty.
    func admit(_ client: String, now: Date) -> Bool {
        guard let burst else { return true }
        return buckets.withLockedValue { table in
            var b = table[client] ?? Bucket(tokens: burst, at: now)
            b.tokens = min(burst, b.tokens + max(0, now.timeIntervalSince(b.at)) * perSecond)
            b.at = now
            let admitted = b.tokens >= 1
            if admitted { b.tokens -= 1 }
            table[client] = b
            if table.count > maxClients {
                table = table.filter { $0.value.tokens + max(0, now.timeIntervalSince($0.value.at)) * perSecond < burst }
                if table.count > maxClients {
                    for (k, _) in table.sorted(by: { $0.value.at < $1.value.at }).prefix(table.count - maxClients) { table[k] = nil }
                }
            }
            return admitted
        }
    }
}

/// Says "now" at most once per interval (the nonce purge runs inline on a challenge, with no
/// background task to own).
final class PeriodicGate: Sendable {
    private let last = NIOLockedValueBox<Date?>(nil)

    /// True (and remembers `now`) when `every` has passed since the last true.
    func due(now: Date, every: TimeInterval) -> Bool {
        last.withLockedValue { l in
            if let t = l, now.timeIntervalSince(t) < every, now >= t { return false }
            l = now
            return true
        }
    }
}
