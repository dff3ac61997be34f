import ByteEncoding
import Chain
import EVMCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The service's escrow key: the secp256k1 key owners seal dataset-key envelopes to
/// (datapolicy.md's ECIES). Loaded from a file readable by its owner only (mode 0600 or
/// stricter) or from an environment variable, as 64 hex digits (optional `0x`). Its description
/// is redacted; it is never logged.
public struct EscrowKey: Sendable {
    /// The private key.
    public let privateKey: Secp256k1.PrivateKey
    /// The public key `GET /v1/escrow-key` publishes.
    public var publicKey: Secp256k1.PublicKey { privateKey.publicKey }

    /// Wraps a key.
    public init(privateKey: Secp256k1.PrivateKey) { self.privateKey = privateKey }

    /// Reads the key from `path`, refusing a file that group or others may read or write.
    public init(file path: String) throws(KeyReleaseError) {
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw KeyReleaseError(.configInvalid, "cannot read the escrow key file \(path)")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
        guard mode & 0o077 == 0 else {
            throw KeyReleaseError(.configInvalid, "the escrow key file \(path) has mode \(String(mode, radix: 8)); it must be 0600 (chmod 600 \(path))")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw KeyReleaseError(.configInvalid, "cannot read the escrow key file \(path)") }
        try self.init(hexText: String(decoding: data, as: UTF8.self), source: "file \(path)")
    }

    /// Reads the key from the environment variable `name`.
    public init(environment name: String, environment env: [String: String] = ProcessInfo.processInfo.environment) throws(KeyReleaseError) {
        guard let text = env[name], !text.isEmpty else { throw KeyReleaseError(.configInvalid, "the environment variable \(name) holding the escrow key is not set") }
        try self.init(hexText: text, source: "environment variable \(name)")
    }

    private init(hexText: String, source: String) throws(KeyReleaseError) {
        let trimmed = hexText.trimmingCharacters(in: .whitespacesAndNewlines)
        // The message names the source only: never echo key text.
        guard let bytes = try? Hex.decode(trimmed), bytes.count == 32, let key = try? Secp256k1.PrivateKey(rawRepresentation: bytes) else {
            throw KeyReleaseError(.configInvalid, "the escrow key in the \(source) is not 64 hex digits of a valid secp256k1 private key")
        }
        privateKey = key
    }

    /// Writes a fresh key to `path` with mode 0600 (refuses to overwrite). Returns it.
    public static func generate(file path: String) throws(KeyReleaseError) -> EscrowKey {
        // open(2) with O_EXCL and mode 0600: the key is never on disk with looser permissions.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw KeyReleaseError(.configInvalid, "cannot create \(path) (it may exist already; an escrow key is never overwritten)") }
        defer { close(fd) }
        let key = Secp256k1.PrivateKey()
        let text = Array((Hex.encode(key.rawRepresentation) + "\n").utf8)
        guard text.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == text.count else { throw KeyReleaseError(.configInvalid, "cannot write \(path)") }
        return EscrowKey(privateKey: key)
    }
}
