import Crypto
import Foundation
import X509

/// Remembers work a warm verifier need not repeat: signatures that verified (keyed by SHA-256
/// over signed bytes, signature and key) and certificate chains already parsed (keyed by SHA-256
/// of their PEM).
///
/// Only successes are stored, so a changed byte anywhere misses the cache and is checked afresh.
/// Validity windows and revocation are never cached: callers re-check them on every use.
/// Bounded: each table is cleared when it reaches `capacity` entries.
public final class VerificationCache: @unchecked Sendable {
    // Guarded by `lock`.
    private var seen = Set<SHA256.Digest>()
    private var chains = [SHA256.Digest: CertificateChain]()
    private var derived = [SHA256.Digest: any Sendable]()
    private var certificates = [DERKey: Certificate]()
    private let lock = NSLock()
    private let capacity: Int
    private let remembersSignatures: Bool

    /// Creates an empty cache holding at most `capacity` entries (default 4096).
    public convenience init(capacity: Int = 4096) { self.init(capacity: capacity, remembersSignatures: true) }

    private init(capacity: Int, remembersSignatures: Bool) {
        self.capacity = capacity
        self.remembersSignatures = remembersSignatures
    }

    /// A memo for one verification: it reuses certificates, chains and derived values parsed
    /// earlier in the same call, but verifies every signature (no keys hashed, nothing stored),
    /// since one verification checks each signature once.
    public static func perVerification() -> VerificationCache { VerificationCache(capacity: 64, remembersSignatures: false) }

    /// Returns the parsed chain for `pem`, parsing it only on a cache miss.
    public func chain(pem: [UInt8]) throws(AttestationError) -> CertificateChain {
        let key = SHA256.hash(data: pem)
        if let hit = lock.withLock({ chains[key] }) { return hit }
        let chain = try CertificateChain(pemEncoded: String(decoding: pem, as: UTF8.self), cache: self)
        lock.withLock {
            if chains.count >= capacity { chains.removeAll(keepingCapacity: true) }
            chains[key] = chain
        }
        return chain
    }

    /// The certificate `der` encodes, parsed only on a miss (chains repeat their root and CA).
    public func certificate(der: [UInt8]) throws -> Certificate {
        if let hit = lock.withLock({ certificates[DERKey(bytes: der)] }) { return hit }
        let cert = try Certificate(derEncoded: der)
        remember(cert, der: der)
        return cert
    }

    /// Records `certificate` as the parse of `der` (a pinned anchor, parsed once per process).
    public func remember(_ certificate: Certificate, der: [UInt8]) {
        lock.withLock {
            if certificates.count >= capacity { certificates.removeAll(keepingCapacity: true) }
            certificates[DERKey(bytes: der)] = certificate
        }
    }

    /// Returns the value `make` derives from `input` (for example a certificate's parsed
    /// extensions), computing it only on a cache miss. `kind` keeps different derivations apart.
    func derive<T: Sendable>(_ kind: String, from input: [UInt8], _ make: () throws(AttestationError) -> T) throws(AttestationError) -> T {
        var h = SHA256()
        h.update(data: Array(kind.utf8) + [0])
        h.update(data: input)
        let key = h.finalize()
        if let hit = lock.withLock({ derived[key] }) as? T { return hit }
        let value = try make()
        lock.withLock {
            if derived.count >= capacity { derived.removeAll(keepingCapacity: true) }
            derived[key] = value
        }
        return value
    }

    /// Returns whether the signature is valid, calling `verify` only on a cache miss.
    func check(_ parts: [[UInt8]], verify: () -> Bool) -> Bool {
        guard remembersSignatures else { return verify() }
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

/// DER bytes as a dictionary key, hashed in bulk (`[UInt8]`'s own hashing feeds the hasher one
/// byte at a time, which cost more than the certificate parse it was meant to save).
struct DERKey: Hashable {
    let bytes: [UInt8]

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
