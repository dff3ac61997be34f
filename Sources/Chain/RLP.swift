import BigInt

/// Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B). Written by hand: no
/// well-kept Swift library offers it. Decoding is strict: canonical lengths only, so one value
/// has exactly one encoding (a transaction hash cannot be malleated through its RLP).
public indirect enum RLP: Sendable, Hashable {
    /// A byte string.
    case bytes([UInt8])
    /// A list.
    case list([RLP])

    /// An unsigned integer as its minimal big-endian bytes (zero is the empty string).
    public static func uint(_ v: BigUInt) -> RLP { .bytes(Array(v.serialize().drop { $0 == 0 })) }
    /// An unsigned integer.
    public static func uint(_ v: UInt64) -> RLP { uint(BigUInt(v)) }

    /// The encoding.
    public var encoded: [UInt8] {
        switch self {
        case .bytes(let b):
            if b.count == 1 && b[0] < 0x80 { return b }
            return Self.header(0x80, b.count) + b
        case .list(let items):
            let body = items.flatMap(\.encoded)
            return Self.header(0xc0, body.count) + body
        }
    }

    static func header(_ base: UInt8, _ length: Int) -> [UInt8] {
        if length < 56 { return [base + UInt8(length)] }
        let lenBytes = Array(withUnsafeBytes(of: UInt64(length).bigEndian) { Array($0) }.drop { $0 == 0 })
        return [base + 55 + UInt8(lenBytes.count)] + lenBytes
    }

    /// Decodes exactly one item spanning all of `data`. Throws ``ChainError/Code/encoding``.
    public init(decoding data: [UInt8]) throws(ChainError) {
        var offset = 0
        self = try Self.item(data, &offset, depth: 0)
        guard offset == data.count else { throw ChainError(.encoding, "\(data.count - offset) bytes after the RLP item") }
    }

    private static func item(_ d: [UInt8], _ o: inout Int, depth: Int) throws(ChainError) -> RLP {
        guard depth < 64 else { throw ChainError(.encoding, "RLP nested too deep") }
        guard o < d.count else { throw ChainError(.encoding, "RLP truncated") }
        let p = d[o]
        switch p {
        case 0x00...0x7f:
            o += 1
            return .bytes([p])
        case 0x80...0xbf:
            let (start, len) = try length(d, o, p, base: 0x80)
            let b = Array(d[start..<start + len])
            if len == 1 && b[0] < 0x80 { throw ChainError(.encoding, "non-canonical RLP single byte") }
            o = start + len
            return .bytes(b)
        default:
            let (start, len) = try length(d, o, p, base: 0xc0)
            var items = [RLP]()
            var i = start
            while i < start + len { items.append(try item(Array(d[..<(start + len)]), &i, depth: depth + 1)) }
            o = start + len
            return .list(items)
        }
    }

    private static func length(_ d: [UInt8], _ o: Int, _ p: UInt8, base: UInt8) throws(ChainError) -> (Int, Int) {
        if p < base + 56 {
            let len = Int(p - base)
            guard o + 1 + len <= d.count else { throw ChainError(.encoding, "RLP truncated") }
            return (o + 1, len)
        }
        let n = Int(p - base - 55)
        guard n <= 8, o + 1 + n <= d.count else { throw ChainError(.encoding, "RLP truncated length") }
        guard d[o + 1] != 0 else { throw ChainError(.encoding, "non-canonical RLP length") }
        var len = 0
        for b in d[(o + 1)..<(o + 1 + n)] {
            guard len < Int.max >> 8 else { throw ChainError(.encoding, "RLP length overflows") }
            len = len << 8 | Int(b)
        }
        guard len >= 56, len <= d.count - (o + 1 + n) else { throw ChainError(.encoding, len < 56 ? "non-canonical RLP length" : "RLP truncated") }
        return (o + 1 + n, len)
    }

    /// The bytes of a `.bytes` item.
    public var bytesValue: [UInt8]? { if case .bytes(let b) = self { return b } else { return nil } }
    /// The items of a `.list` item.
    public var listValue: [RLP]? { if case .list(let l) = self { return l } else { return nil } }
}
