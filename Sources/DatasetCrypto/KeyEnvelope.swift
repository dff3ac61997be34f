import ByteEncoding
import Crypto
import EVMCrypto
import Foundation

/// The LICEN key envelope (../shared/docs/datapolicy.md): a dataset key and IV sealed to a
/// secp256k1 public key, `ephemeral compressed pubkey (33) ‖ IV (12) ‖ tag (16) ‖ ciphertext`,
/// with shared secret = x-coordinate of ECDH, key = HKDF-SHA256(secret, salt "", info "", 32),
/// AES-256-GCM, plaintext = dataset key (32) ‖ dataset IV (12). Byte-compatible both ways with
/// the web app's envelopes (tested against an independent Python implementation).
public struct KeyEnvelope: Sendable {
    /// The sealed bytes.
    public let bytes: [UInt8]

    /// Envelope length: 33 + 12 + 16 + 44.
    public static let length = 105

    /// Wraps envelope bytes (checks the length and the ephemeral key).
    public init(bytes: [UInt8]) throws(DatasetCryptoError) {
        guard bytes.count == Self.length else { throw DatasetCryptoError(.malformed, "a key envelope is \(Self.length) bytes, not \(bytes.count)") }
        guard (try? Secp256k1.PublicKey(bytes: bytes.prefix(33))) != nil else { throw DatasetCryptoError(.malformed, "the envelope's ephemeral key is not a secp256k1 point") }
        self.bytes = bytes
    }

    /// Parses `0x`-prefixed hex (the web app's form).
    public init(hex: String) throws(DatasetCryptoError) {
        guard let b = try? Hex.decode(hex) else { throw DatasetCryptoError(.malformed, "the envelope is not hex") }
        try self.init(bytes: b)
    }

    /// Seals `datasetKey` (32 bytes) and `datasetIV` (12) to `recipient` with a fresh ephemeral key.
    public static func seal(datasetKey: SymmetricKey, datasetIV: [UInt8], to recipient: Secp256k1.PublicKey) throws(DatasetCryptoError) -> KeyEnvelope {
        guard datasetKey.bitCount == 256, datasetIV.count == 12 else { throw DatasetCryptoError(.invalidKey, "dataset key must be 256 bits and its IV 12 bytes") }
        let ephemeral = Secp256k1.PrivateKey()
        let wrapKey = try derive(try sharedSecret(ephemeral, recipient))
        let plaintext = datasetKey.withUnsafeBytes { Array($0) } + datasetIV
        let iv = (0..<12).map { _ in UInt8.random(in: 0...255) }
        do {
            let box = try AES.GCM.seal(plaintext, using: wrapKey, nonce: AES.GCM.Nonce(data: iv))
            return try KeyEnvelope(bytes: ephemeral.publicKey.serialized(compressed: true) + iv + Array(box.tag) + Array(box.ciphertext))
        } catch let e as DatasetCryptoError { throw e } catch { throw DatasetCryptoError(.malformed, "AES-GCM seal failed") }
    }

    /// Opens with the recipient's private key. A wrong key or a changed byte is
    /// ``DatasetCryptoError/Code/authenticationFailed``.
    public func open(with key: Secp256k1.PrivateKey) throws(DatasetCryptoError) -> (datasetKey: SymmetricKey, datasetIV: [UInt8]) {
        guard let ephemeral = try? Secp256k1.PublicKey(bytes: bytes.prefix(33)) else { throw DatasetCryptoError(.malformed, "bad ephemeral key") }
        let wrapKey = try Self.derive(try Self.sharedSecret(key, ephemeral))
        do {
            let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: bytes[33..<45]), ciphertext: bytes[61...], tag: bytes[45..<61])
            let plain = Array(try AES.GCM.open(box, using: wrapKey))
            guard plain.count == 44 else { throw DatasetCryptoError(.malformed, "the envelope holds \(plain.count) bytes, not key ‖ IV") }
            return (SymmetricKey(data: plain.prefix(32)), Array(plain.suffix(12)))
        } catch let e as DatasetCryptoError { throw e } catch {
            throw DatasetCryptoError(.authenticationFailed, "the envelope does not open with this key")
        }
    }

    /// `0x` + hex.
    public var hex: String { Hex.prefixed(bytes) }

    private static func sharedSecret(_ k: Secp256k1.PrivateKey, _ p: Secp256k1.PublicKey) throws(DatasetCryptoError) -> [UInt8] {
        do { return try k.sharedSecretX(with: p) } catch { throw DatasetCryptoError(.invalidKey, "ECDH failed") }
    }

    private static func derive(_ secret: [UInt8]) throws(DatasetCryptoError) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: secret), salt: [UInt8](), info: [UInt8](), outputByteCount: 32)
    }
}
