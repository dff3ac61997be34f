import ByteEncoding

/// A 20-byte Ethereum address; renders with the EIP-55 mixed-case checksum.
public struct Address: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The 20 bytes.
    public let bytes: [UInt8]

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// Parses `0x` + 40 hex digits. All-lowercase or all-uppercase is accepted as is; mixed case
    /// must carry a valid EIP-55 checksum (a typo then fails instead of sending funds astray).
    public init(_ text: String) throws(EVMCryptoError) {
        let b = try Hex.decode(text, or: EVMCryptoError.init)
        guard b.count == 20 else { throw EVMCryptoError(.encoding, "an address is 20 bytes, not \(b.count)") }
        self.bytes = b
        let digits = text.hasPrefix("0x") || text.hasPrefix("0X") ? String(text.dropFirst(2)) : text
        if digits != digits.lowercased() && digits != digits.uppercased() && "0x" + digits != checksummed {
            throw EVMCryptoError(.encoding, "address \(text) has a wrong EIP-55 checksum")
        }
    }

    /// Wraps 20 bytes.
    public init(bytes: [UInt8]) throws(EVMCryptoError) {
        guard bytes.count == 20 else { throw EVMCryptoError(.encoding, "an address is 20 bytes, not \(bytes.count)") }
        self.bytes = bytes
    }

    /// The zero address.
    public static let zero = Address(unchecked: [UInt8](repeating: 0, count: 20))

    /// EIP-55: hex digit i is upper case when nibble i of keccak256(lowercase hex) is ≥ 8.
    public var checksummed: String {
        let lower = Hex.encode(bytes)
        let hash = Keccak256.hash(Array(lower.utf8))
        var out = "0x"
        for (i, c) in lower.enumerated() {
            let nibble = (hash[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 0xf
            out.append(c.isLetter && nibble >= 8 ? Character(c.uppercased()) : c)
        }
        return out
    }

    public var description: String { checksummed }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(s) } catch { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.message)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(checksummed)
    }
}
