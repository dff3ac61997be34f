import Crypto
import Foundation

/// Remembers signatures that have already verified, so a warm verifier does not repeat the
/// public-key operation for the same (signed bytes, signature, key) triple.
///
/// Only successes are stored, keyed by SHA-256 over all three inputs, so a changed byte anywhere
/// misses the cache and is verified afresh. Validity windows and revocation are never cached:
/// callers re-check them on every use. Bounded: cleared when it reaches `capacity` entries.
public final class SignatureCache: @unchecked Sendable {
    // Guarded by `lock`.
    private var seen = Set<SHA256.Digest>()
    private let lock = NSLock()
    private let capacity: Int

    /// Creates an empty cache holding at most `capacity` entries (default 4096).
    public init(capacity: Int = 4096) { self.capacity = capacity }

    /// Returns whether the signature is valid, calling `verify` only on a cache miss.
    func check(_ parts: [[UInt8]], verify: () -> Bool) -> Bool {
        var h = SHA256()
        for p in parts {
            withUnsafeBytes(of: UInt64(p.count).littleEndian) { h.update(bufferPointer: $0) }
            h.update(data: p)
        }
        let key = h.finalize()
        if lock.withLock({ seen.contains(key) }) { return true }
        guard verify() else { return false }
        lock.withLock {
            if seen.count >= capacity { seen.removeAll(keepingCapacity: true) }
            seen.insert(key)
        }
        return true
    }
}
