import ByteEncoding

/// A byte string whose length is part of its type (`FixedBytes<48>` for a SHA-384 measurement).
///
/// Fixed sizes as types: a 32-byte value can never be passed where 48 are required. Renders as
/// lowercase hex in JSON and descriptions.
public struct FixedBytes<let count: Int>: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The bytes, exactly `count` of them.
    public let bytes: [UInt8]

    /// Wraps `bytes`, which the caller guarantees to be exactly `count` long.
    init(unchecked bytes: [UInt8]) {
        precondition(bytes.count == count)
        self.bytes = bytes
    }

    /// Wraps `bytes`, throwing ``AttestationError/Code/malformed`` if the length is not `count`.
    public init(_ bytes: [UInt8]) throws(AttestationError) {
        guard bytes.count == count else {
            throw AttestationError(.malformed, "expected \(count) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Parses lowercase or uppercase hex of exactly `2 × count` digits.
    public init(hex: String) throws(AttestationError) {
        try self.init(try Hex.decode(hex, or: AttestationError.init))
    }

    /// All zero bytes.
    public static var zero: Self { Self(unchecked: [UInt8](repeating: 0, count: count)) }

    /// Whether every byte is zero.
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }

    /// Lowercase hex.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }

    public init(from decoder: any Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        try self.init(hex: s)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}
