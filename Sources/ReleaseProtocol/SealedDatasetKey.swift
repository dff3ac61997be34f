import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A dataset key and IV sealed to a TEE's ephemeral X25519 key with HPKE (RFC 9180 base mode,
/// DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM, swift-crypto). The plaintext is
/// key (32) ‖ IV (12); `info` binds the job, the dataset and the audit record, so a sealed key
/// lifted from one release opens under no other context.
public struct SealedDatasetKey: Sendable, Hashable, Codable {
    /// The HPKE ciphersuite.
    public static var ciphersuite: HPKE.Ciphersuite { HPKE.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .AES_GCM_256) }

    /// HPKE `enc` (the sender's 32-byte ephemeral X25519 public key).
    public let encapsulatedKey: Data
    /// AES-256-GCM ciphertext ‖ tag of key ‖ IV (60 bytes).
    public let ciphertext: Data

    /// Creates a value from its parts.
    public init(encapsulatedKey: Data, ciphertext: Data) {
        self.encapsulatedKey = encapsulatedKey
        self.ciphertext = ciphertext
    }

    /// `"licen-keyrelease-v1 release" ‖ jobId ‖ datasetRoot ‖ attestationRef`.
    public static func info(jobID: [UInt8], datasetRoot: [UInt8], attestationRef: [UInt8]) -> Data {
        Data("licen-keyrelease-v1 release".utf8) + jobID + datasetRoot + attestationRef
    }

    /// Seals `key ‖ iv` to `recipient`. The caller's plaintext copy is zeroed here once sealed.
    public static func seal(key: SymmetricKey, iv: [UInt8], to recipient: Curve25519.KeyAgreement.PublicKey, info: Data) throws(ReleaseProtocolError) -> SealedDatasetKey {
        var plaintext = key.withUnsafeBytes { [UInt8]($0) } + iv
        defer { zeroize(&plaintext) }
        do {
            var sender = try HPKE.Sender(recipientKey: recipient, ciphersuite: ciphersuite, info: info)
            let ct = try sender.seal(plaintext)
            return SealedDatasetKey(encapsulatedKey: sender.encapsulatedKey, ciphertext: ct)
        } catch {
            throw ReleaseProtocolError(.sealingFailed, "HPKE sealing failed")
        }
    }

    /// Opens (the TEE's side): the dataset key and IV.
    public func open(with privateKey: Curve25519.KeyAgreement.PrivateKey, info: Data) throws(ReleaseProtocolError) -> (key: SymmetricKey, iv: [UInt8]) {
        do {
            var recipient = try HPKE.Recipient(privateKey: privateKey, ciphersuite: Self.ciphersuite, info: info, encapsulatedKey: encapsulatedKey)
            var plain = [UInt8](try recipient.open(ciphertext))
            defer { Self.zeroize(&plain) }
            guard plain.count == 44 else { throw ReleaseProtocolError(.sealedKeyInvalid, "sealed key holds \(plain.count) bytes, not 44") }
            return (SymmetricKey(data: plain[0..<32]), Array(plain[32..<44]))
        } catch let e as ReleaseProtocolError {
            throw e
        } catch {
            throw ReleaseProtocolError(.sealedKeyInvalid, "the sealed key does not open under this key and context")
        }
    }

    /// Overwrites `bytes` with zeros (glibc's `explicit_bzero`, which the optimizer keeps).
    static func zeroize(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buf in
            guard let base = buf.baseAddress else { return }
            explicit_bzero(base, buf.count)
        }
    }
}
