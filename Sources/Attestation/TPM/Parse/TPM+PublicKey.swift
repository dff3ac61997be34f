import Crypto
import Foundation
import _CryptoExtras
import SwiftASN1
import X509

extension TPM {
    /// An attestation key: from a PEM or DER SubjectPublicKeyInfo, or from a TPMT_PUBLIC /
    /// TPM2B_PUBLIC area (Part 2, §12.2.4), which also gives the key's TPM name.
    public struct PublicKey: Sendable {
        /// The key.
        public enum Key: Sendable {
            /// RSA.
            case rsa(_RSA.Signing.PublicKey)
            /// ECDSA P-256 (raw x ‖ y; swift-crypto's key type is not Sendable).
            case p256([UInt8])
            /// ECDSA P-384 (raw x ‖ y).
            case p384([UInt8])
        }

        /// The key.
        public let key: Key
        /// nameAlg ‖ H(TPMT_PUBLIC), when read from a public area; nil for SPKI.
        public let name: [UInt8]?
        /// The TPMA_OBJECT attributes, when read from a public area; nil for SPKI (a bare key
        /// says nothing about where it lives, so it can never be an attestation key here).
        public let objectAttributes: UInt32?

        /// TPMA_OBJECT bits (Part 2, §8.3).
        public enum ObjectAttribute: UInt32, Sendable, CaseIterable {
            /// fixedTPM: the key cannot leave this TPM.
            case fixedTPM = 0x0000_0002
            /// fixedParent: the key cannot be re-parented.
            case fixedParent = 0x0000_0010
            /// sensitiveDataOrigin: the TPM generated the private part.
            case sensitiveDataOrigin = 0x0000_0020
            /// restricted: signs only digests the TPM produced itself (no TPM_GENERATED forgery).
            case restricted = 0x0001_0000
            /// decrypt.
            case decrypt = 0x0002_0000
            /// sign.
            case sign = 0x0004_0000
        }

        /// The attributes an attestation key must have: generated in, and bound to, one TPM, and
        /// restricted to signing what the TPM itself produced.
        public static let requiredAKAttributes: [ObjectAttribute] = [.fixedTPM, .fixedParent, .sensitiveDataOrigin, .restricted, .sign]

        /// Throws ``AttestationError/Code/akAttributesInvalid`` unless this key is a TPM public
        /// area with every attribute of ``requiredAKAttributes`` and without `decrypt` (a bare
        /// SubjectPublicKeyInfo is refused: anyone can make one).
        public func checkAttestationKeyAttributes() throws(AttestationError) {
            guard let attributes = objectAttributes else {
                throw AttestationError(.akAttributesInvalid, "the AK is a bare public key, not a TPM public area: nothing shows a TPM holds it")
            }
            let missing = Self.requiredAKAttributes.filter { attributes & $0.rawValue == 0 }
            guard missing.isEmpty else {
                throw AttestationError(.akAttributesInvalid, "the AK's attributes 0x\(String(attributes, radix: 16)) lack \(missing.map { "\($0)" }.joined(separator: ", "))")
            }
            guard attributes & ObjectAttribute.decrypt.rawValue == 0 else {
                throw AttestationError(.akAttributesInvalid, "the AK's attributes 0x\(String(attributes, radix: 16)) allow decrypt: not a restricted signing key")
            }
        }

        /// SHA-256 of the key's DER SubjectPublicKeyInfo: the same for every encoding of one key
        /// (a policy can pin it as `sha256:<hex>`).
        public var keyDigest: [UInt8] {
            guard let k = certificatePublicKey else { return [] }
            var der = DER.Serializer()
            guard (try? der.serialize(k)) != nil else { return [] }
            return Array(SHA256.hash(data: der.serializedBytes))
        }

        /// The qualified names this key has when it is a primary object of one of the four
        /// hierarchies (Part 1, §16: QN = nameAlg ‖ H(parent QN ‖ name); a hierarchy's QN is its
        /// handle), followed by the one under `parent`, when given.
        public func qualifiedNames(parent: [UInt8]? = nil) -> [[UInt8]] {
            guard let name, name.count > 2, let alg = Alg(rawValue: UInt16(name[0]) << 8 | UInt16(name[1])) else { return [] }
            let hierarchies: [UInt32] = [0x4000_0001, 0x4000_000B, 0x4000_000C, 0x4000_0007]  // owner, endorsement, platform, null
            let parents = hierarchies.map { withUnsafeBytes(of: $0.bigEndian) { Array($0) } } + (parent.map { [$0] } ?? [])
            return parents.map { Array(name[0..<2]) + (alg.hash($0 + name) ?? []) }
        }

        /// Reads a key from any of the accepted encodings (tried in this order: TPM2B_PUBLIC,
        /// TPMT_PUBLIC, PEM SPKI, DER SPKI). Throws ``AttestationError/Code/malformed`` if none fits.
        public init(bytes: [UInt8]) throws(AttestationError) {
            if bytes.count > 2, Int(bytes[0]) << 8 | Int(bytes[1]) == bytes.count - 2, let k = try? Self(tpmtPublic: Array(bytes.dropFirst(2))) {
                self = k
                return
            }
            if bytes.count > 2, bytes[0] == 0x00, bytes[1] == 0x01 || bytes[1] == 0x23 {
                self = try Self(tpmtPublic: bytes)
                return
            }
            // SPKI, PEM or DER. RSA keys go through `RSAKey` (swift-crypto 3.x's RSA DER
            // constructors abort the process on some malformed input).
            let text = String(decoding: bytes, as: UTF8.self)
            let der: [UInt8]
            if text.contains("-----BEGIN PUBLIC KEY-----") {
                guard let doc = try? PEMDocument(pemString: text), doc.discriminator == "PUBLIC KEY" else {
                    throw AttestationError(.malformed, "AK public key PEM is not a single PUBLIC KEY block")
                }
                der = doc.derBytes
            } else {
                der = bytes
            }
            if let k = RSAKey.signingKey(spki: der) { self.init(key: .rsa(k), name: nil); return }
            if let k = try? P256.Signing.PublicKey(derRepresentation: der) { self.init(key: .p256(Array(k.rawRepresentation)), name: nil); return }
            if let k = try? P384.Signing.PublicKey(derRepresentation: der) { self.init(key: .p384(Array(k.rawRepresentation)), name: nil); return }
            throw AttestationError(.malformed, "AK public key is not TPM2B_PUBLIC, TPMT_PUBLIC or an RSA/P-256/P-384 SubjectPublicKeyInfo")
        }

        init(key: Key, name: [UInt8]?, objectAttributes: UInt32? = nil) {
            self.key = key
            self.name = name
            self.objectAttributes = objectAttributes
        }

        /// Reads a TPMT_PUBLIC area (RSA or ECC P-256/P-384); trailing bytes are refused.
        public init(tpmtPublic bytes: [UInt8]) throws(AttestationError) {
            var r = ByteReader(bytes)
            let type = try r.u16be("type")
            let nameAlgID = try r.u16be("nameAlg")
            guard let nameAlg = Alg(rawValue: nameAlgID), nameAlg.bankName != nil else {
                throw AttestationError(.unsupportedAlgorithm, "nameAlg 0x\(String(nameAlgID, radix: 16)) is not supported")
            }
            let attributes = try r.u32be("objectAttributes")
            _ = try r.tpm2b("authPolicy")
            func schemeWithHash(_ field: String) throws(AttestationError) {
                if try r.u16be(field) != Alg.null.rawValue { _ = try r.u16be("\(field) hash") }
            }
            // symmetric (TPMT_SYM_DEF_OBJECT): algorithm, then keyBits and mode unless NULL.
            if try r.u16be("symmetric") != Alg.null.rawValue { _ = try r.u16be("symmetric keyBits"); _ = try r.u16be("symmetric mode") }
            switch type {
            case Alg.rsa.rawValue:
                try schemeWithHash("scheme")
                _ = try r.u16be("keyBits")
                let exponent = try r.u32be("exponent")
                let modulus = try r.tpm2b("modulus")
                let e = exponent == 0 ? 65537 : exponent
                let eBytes = withUnsafeBytes(of: e.bigEndian) { Array($0) }.drop { $0 == 0 }
                let n = Array(modulus.drop { $0 == 0 })
                guard n.count >= 256, e & 1 == 1, e > 1 else {
                    throw AttestationError(.malformed, "RSA AK modulus of \(n.count * 8) bits or exponent \(e) is not acceptable (2048 bits or more, odd exponent)")
                }
                do { key = .rsa(try _RSA.Signing.PublicKey(n: n, e: Array(eBytes))) } catch {
                    throw AttestationError(.malformed, "RSA AK modulus is not a usable key (\(modulus.count * 8) bits)")
                }
            case Alg.ecc.rawValue:
                try schemeWithHash("scheme")
                let curve = try r.u16be("curveID")
                try schemeWithHash("kdf")
                let x = try r.tpm2b("x"), y = try r.tpm2b("y")
                do {
                    switch curve {
                    case 0x0003: key = .p256(Array(try P256.Signing.PublicKey(rawRepresentation: Self.pad(x, 32) + Self.pad(y, 32)).rawRepresentation))
                    case 0x0004: key = .p384(Array(try P384.Signing.PublicKey(rawRepresentation: Self.pad(x, 48) + Self.pad(y, 48)).rawRepresentation))
                    default: throw AttestationError(.unsupportedAlgorithm, "ECC curve 0x\(String(curve, radix: 16)) is not P-256 or P-384")
                    }
                } catch let e as AttestationError { throw e } catch {
                    throw AttestationError(.malformed, "ECC AK point is not on the curve")
                }
            default:
                throw AttestationError(.unsupportedAlgorithm, "AK type 0x\(String(type, radix: 16)) is not RSA or ECC")
            }
            guard r.remaining == 0 else { throw AttestationError(.malformed, "\(r.remaining) bytes after TPMT_PUBLIC") }
            name = withUnsafeBytes(of: nameAlgID.bigEndian) { Array($0) } + (nameAlg.hash(bytes) ?? [])
            objectAttributes = attributes
        }

        /// The key as swift-certificates sees it, to compare with a certificate's key.
        public var certificatePublicKey: Certificate.PublicKey? {
            switch key {
            case .rsa(let k): Certificate.PublicKey(k)
            case .p256(let raw): (try? P256.Signing.PublicKey(rawRepresentation: raw)).map(Certificate.PublicKey.init)
            case .p384(let raw): (try? P384.Signing.PublicKey(rawRepresentation: raw)).map(Certificate.PublicKey.init)
            }
        }

        /// Left-pads (or refuses) a big-endian integer to `n` bytes.
        static func pad(_ b: [UInt8], _ n: Int) -> [UInt8] {
            let trimmed = Array(b.drop { $0 == 0 })
            return trimmed.count >= n ? trimmed : [UInt8](repeating: 0, count: n - trimmed.count) + trimmed
        }

        /// Whether `signature` over `data` verifies under this key (SHA-1 signatures are refused).
        public func isValid(_ signature: Signature, over data: [UInt8]) -> Bool {
            switch signature.hash {
            case .sha256: return isValid(signature, digest: SHA256.hash(data: data))
            case .sha384: return isValid(signature, digest: SHA384.hash(data: data))
            case .sha512: return isValid(signature, digest: SHA512.hash(data: data))
            default: return false
            }
        }

        private func isValid(_ signature: Signature, digest: some Digest) -> Bool {
            switch (key, signature.scheme) {
            case (.rsa(let k), .rsassa), (.rsa(let k), .rsapss):
                guard let raw = signature.rsa else { return false }
                let padding: _RSA.Signing.Padding = signature.scheme == .rsassa ? .insecurePKCS1v1_5 : .PSS
                return k.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: raw), for: digest, padding: padding)
            case (.p256(let raw), .ecdsa):
                guard let k = try? P256.Signing.PublicKey(rawRepresentation: raw), let r = signature.r, let s = signature.s, r.count <= 32, s.count <= 32,
                    let sig = try? P256.Signing.ECDSASignature(rawRepresentation: Self.pad(r, 32) + Self.pad(s, 32))
                else { return false }
                return k.isValidSignature(sig, for: digest)
            case (.p384(let raw), .ecdsa):
                guard let k = try? P384.Signing.PublicKey(rawRepresentation: raw), let r = signature.r, let s = signature.s, r.count <= 48, s.count <= 48,
                    let sig = try? P384.Signing.ECDSASignature(rawRepresentation: Self.pad(r, 48) + Self.pad(s, 48))
                else { return false }
                return k.isValidSignature(sig, for: digest)
            default:
                return false
            }
        }
    }
}
