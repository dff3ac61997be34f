import CSecp256k1

/// secp256k1 through libsecp256k1 (the C library Bitcoin Core and Ethereum clients use): keys,
/// recoverable ECDSA over 32-byte digests, public-key recovery and ECDH.
///
/// Private keys never appear in descriptions, errors or logs.
public enum Secp256k1 {
    /// One context for signing and verifying, randomized once; libsecp256k1 contexts are safe to
    /// share between threads for every call made here (none mutates the context).
    nonisolated(unsafe) static let context: OpaquePointer = {
        let ctx = secp256k1_context_create(UInt32(SECP256K1_CONTEXT_SIGN | SECP256K1_CONTEXT_VERIFY))!
        var seed = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<32 { seed[i] = rng.next() }
        _ = secp256k1_context_randomize(ctx, seed)
        return ctx
    }()

    /// A private key (32 bytes, 0 < k < n).
    public struct PrivateKey: Sendable, CustomStringConvertible {
        private let bytes: [UInt8]

        /// A fresh random key from the system CSPRNG.
        public init() {
            var rng = SystemRandomNumberGenerator()
            while true {
                let candidate = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if let k = try? Self(rawRepresentation: candidate) { self = k; return }
            }
        }

        /// Wraps 32 bytes; throws ``EVMCryptoError/Code/invalidKey`` if they are not a valid scalar.
        public init(rawRepresentation: some Collection<UInt8>) throws(EVMCryptoError) {
            let b = Array(rawRepresentation)
            guard b.count == 32, secp256k1_ec_seckey_verify(Secp256k1.context, b) == 1 else {
                throw EVMCryptoError(.invalidKey, "not a secp256k1 private key")
            }
            bytes = b
        }

        /// The raw 32 bytes. Handle with care: this is the secret.
        public var rawRepresentation: [UInt8] { bytes }

        /// The public key.
        public var publicKey: PublicKey {
            var pub = secp256k1_pubkey()
            precondition(secp256k1_ec_pubkey_create(Secp256k1.context, &pub, bytes) == 1)
            return PublicKey(pub)
        }

        /// Signs a 32-byte digest (RFC 6979 nonces, low-S).
        public func signature(forDigest digest: some Collection<UInt8>) throws(EVMCryptoError) -> RecoverableSignature {
            let d = Array(digest)
            guard d.count == 32 else { throw EVMCryptoError(.encoding, "a secp256k1 signature covers a 32-byte digest, not \(d.count) bytes") }
            var sig = secp256k1_ecdsa_recoverable_signature()
            guard secp256k1_ecdsa_sign_recoverable(Secp256k1.context, &sig, d, bytes, nil, nil) == 1 else {
                throw EVMCryptoError(.invalidKey, "signing failed")
            }
            var compact = [UInt8](repeating: 0, count: 64)
            var recid: Int32 = 0
            secp256k1_ecdsa_recoverable_signature_serialize_compact(Secp256k1.context, &compact, &recid, &sig)
            return RecoverableSignature(r: Array(compact[0..<32]), s: Array(compact[32..<64]), recoveryID: UInt8(recid))
        }

        /// ECDH with `peer`: the shared point's x-coordinate (32 bytes, unhashed).
        public func sharedSecretX(with peer: PublicKey) throws(EVMCryptoError) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 32)
            var pub = peer.raw
            guard secp256k1_ecdh(Secp256k1.context, &out, &pub, bytes, licen_ecdh_x_only, nil) == 1 else {
                throw EVMCryptoError(.invalidKey, "ECDH failed")
            }
            return out
        }

        public var description: String { "Secp256k1.PrivateKey(redacted)" }
    }

    /// A public key.
    public struct PublicKey: Sendable, Hashable {
        /// Uncompressed encoding without the 0x04 prefix: x ‖ y (64 bytes).
        public let xy: [UInt8]

        init(_ pub: secp256k1_pubkey) {
            var p = pub
            var out = [UInt8](repeating: 0, count: 65)
            var len = 65
            secp256k1_ec_pubkey_serialize(Secp256k1.context, &out, &len, &p, UInt32(SECP256K1_EC_UNCOMPRESSED))
            xy = Array(out[1...])
        }

        /// Parses a compressed (33), uncompressed (65) or raw x ‖ y (64) key. Throws
        /// ``EVMCryptoError/Code/invalidKey`` for anything else or a point not on the curve.
        public init(bytes: some Collection<UInt8>) throws(EVMCryptoError) {
            var b = Array(bytes)
            if b.count == 64 { b = [0x04] + b }
            var pub = secp256k1_pubkey()
            guard b.count == 33 || b.count == 65, secp256k1_ec_pubkey_parse(Secp256k1.context, &pub, b, b.count) == 1 else {
                throw EVMCryptoError(.invalidKey, "not a secp256k1 public key (\(b.count) bytes)")
            }
            self.init(pub)
        }

        var raw: secp256k1_pubkey {
            var pub = secp256k1_pubkey()
            _ = secp256k1_ec_pubkey_parse(Secp256k1.context, &pub, [0x04] + xy, 65)
            return pub
        }

        /// SEC1 compressed (33 bytes) or uncompressed (65 bytes, 0x04 prefix).
        public func serialized(compressed: Bool) -> [UInt8] {
            compressed ? [xy[63] & 1 == 0 ? 0x02 : 0x03] + xy[0..<32] : [0x04] + xy
        }

        /// The Ethereum address: the last 20 bytes of keccak256(x ‖ y).
        public var address: Address { Address(unchecked: Array(Keccak256.hash(xy)[12...])) }
    }

    /// An ECDSA signature with its recovery id (Ethereum's r, s, v).
    public struct RecoverableSignature: Sendable, Hashable {
        /// r, 32 bytes big-endian.
        public let r: [UInt8]
        /// s, 32 bytes big-endian (low-S when produced here).
        public let s: [UInt8]
        /// Recovery id 0 or 1 (yParity).
        public let recoveryID: UInt8

        /// Creates a signature from its parts.
        public init(r: [UInt8], s: [UInt8], recoveryID: UInt8) {
            self.r = r
            self.s = s
            self.recoveryID = recoveryID
        }

        /// Parses r ‖ s ‖ v (65 bytes; v 0/1 or 27/28).
        public init(rawRepresentation b: [UInt8]) throws(EVMCryptoError) {
            guard b.count == 65 else { throw EVMCryptoError(.encoding, "a recoverable signature is 65 bytes, not \(b.count)") }
            let v = b[64] >= 27 ? b[64] - 27 : b[64]
            guard v <= 1 else { throw EVMCryptoError(.encoding, "signature v \(b[64]) is not 0, 1, 27 or 28") }
            self.init(r: Array(b[0..<32]), s: Array(b[32..<64]), recoveryID: v)
        }

        /// r ‖ s ‖ (27 + recoveryID), the `eth_sign` / EIP-191 form.
        public var rawRepresentation: [UInt8] { r + s + [27 + recoveryID] }

        /// Recovers the signer's public key for a 32-byte digest. Throws
        /// ``EVMCryptoError/Code/invalidKey`` if the signature is malformed or recovers nothing.
        public func recoverPublicKey(digest: some Collection<UInt8>) throws(EVMCryptoError) -> PublicKey {
            let d = Array(digest)
            guard d.count == 32 else { throw EVMCryptoError(.encoding, "digest must be 32 bytes") }
            var sig = secp256k1_ecdsa_recoverable_signature()
            guard recoveryID <= 3, secp256k1_ecdsa_recoverable_signature_parse_compact(Secp256k1.context, &sig, r + s, Int32(recoveryID)) == 1 else {
                throw EVMCryptoError(.invalidKey, "malformed signature")
            }
            // High-S signatures are malleable copies: Ethereum (EIP-2) rejects them.
            var normal = secp256k1_ecdsa_signature()
            secp256k1_ecdsa_recoverable_signature_convert(Secp256k1.context, &normal, &sig)
            guard secp256k1_ecdsa_signature_normalize(Secp256k1.context, nil, &normal) == 0 else {
                throw EVMCryptoError(.invalidKey, "high-S signature")
            }
            var pub = secp256k1_pubkey()
            guard secp256k1_ecdsa_recover(Secp256k1.context, &pub, &sig, d) == 1 else { throw EVMCryptoError(.invalidKey, "no key recovers from this signature") }
            return PublicKey(pub)
        }
    }
}
