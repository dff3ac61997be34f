import Crypto
import Foundation

/// The LICEN dataset format (../shared/docs/datapolicy.md): AES-256-GCM over the whole file with a
/// random 12-byte IV, stored as `ciphertext ‖ tag(16)`; the IV travels in the key envelope, not in
/// the file. Byte-compatible with the web app's WebCrypto output.
public enum LICENFile {
    /// Encrypts `plaintext`; returns `ciphertext ‖ tag`.
    public static func seal(_ plaintext: some DataProtocol, key: SymmetricKey, iv: [UInt8]) throws(DatasetCryptoError) -> [UInt8] {
        guard key.bitCount == 256 else { throw DatasetCryptoError(.invalidKey, "the dataset key must be 256 bits") }
        guard iv.count == 12, let nonce = try? AES.GCM.Nonce(data: iv) else { throw DatasetCryptoError(.malformed, "the IV must be 12 bytes") }
        do {
            let box = try AES.GCM.seal(plaintext, using: key, nonce: nonce)
            return Array(box.ciphertext) + Array(box.tag)
        } catch { throw DatasetCryptoError(.malformed, "AES-GCM seal failed") }
    }

    /// Decrypts `ciphertext ‖ tag`. Any change to a byte, a wrong key or IV, or truncation is
    /// ``DatasetCryptoError/Code/authenticationFailed``.
    public static func open(_ sealed: [UInt8], key: SymmetricKey, iv: [UInt8]) throws(DatasetCryptoError) -> [UInt8] {
        [UInt8](try open(sealed.withUnsafeBufferPointer { Data(buffer: $0) }, key: key, iv: iv))
    }

    /// Decrypts `ciphertext ‖ tag` held in `Data` (no conversion copies: the path for large files).
    public static func open(_ sealed: Data, key: SymmetricKey, iv: [UInt8]) throws(DatasetCryptoError) -> Data {
        guard key.bitCount == 256 else { throw DatasetCryptoError(.invalidKey, "the dataset key must be 256 bits") }
        guard iv.count == 12, let nonce = try? AES.GCM.Nonce(data: iv) else { throw DatasetCryptoError(.malformed, "the IV must be 12 bytes") }
        guard sealed.count >= 16 else { throw DatasetCryptoError(.malformed, "shorter than a GCM tag") }
        do {
            // Contiguous Data slices: an ArraySlice went through swift-crypto's generic
            // DataProtocol path, copying byte by byte.
            let box = try AES.GCM.SealedBox(nonce: nonce, ciphertext: sealed.prefix(sealed.count - 16), tag: sealed.suffix(16))
            return try AES.GCM.open(box, using: key)
        } catch { throw DatasetCryptoError(.authenticationFailed, "the dataset does not authenticate under this key and IV") }
    }
}
