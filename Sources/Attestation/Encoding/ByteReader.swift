/// A bounds-checked little-endian cursor over bytes, for parsers that go by declared lengths.
///
/// Every read checks the remaining length first and throws ``AttestationError/Code/truncated``
/// naming the field and offset, so a short buffer is a typed error, never a trap.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - offset }

    mutating func read(_ count: Int, _ field: String) throws(AttestationError) -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw AttestationError(.truncated, "\(field): need \(count) bytes at offset \(offset), \(max(remaining, 0)) left")
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readFixed<let n: Int>(_ field: String, as: FixedBytes<n>.Type = FixedBytes<n>.self) throws(AttestationError) -> FixedBytes<n> {
        FixedBytes<n>(unchecked: try read(n, field))
    }

    mutating func u16(_ field: String) throws(AttestationError) -> UInt16 {
        let b = try read(2, field)
        return UInt16(b[0]) | UInt16(b[1]) << 8
    }

    mutating func u32(_ field: String) throws(AttestationError) -> UInt32 {
        let b = try read(4, field)
        return b.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    mutating func u64(_ field: String) throws(AttestationError) -> UInt64 {
        let b = try read(8, field)
        return b.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// Big-endian u16 (TPM structures).
    mutating func u16be(_ field: String) throws(AttestationError) -> UInt16 {
        let b = try read(2, field)
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }

    /// Big-endian u32 (TPM structures).
    mutating func u32be(_ field: String) throws(AttestationError) -> UInt32 {
        try read(4, field).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Big-endian u64 (TPM structures).
    mutating func u64be(_ field: String) throws(AttestationError) -> UInt64 {
        try read(8, field).reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A TPM2B: big-endian u16 size, then that many bytes.
    mutating func tpm2b(_ field: String) throws(AttestationError) -> [UInt8] {
        try read(Int(try u16be("\(field) size")), field)
    }

    mutating func skip(_ count: Int, _ field: String) throws(AttestationError) {
        _ = try read(count, field)
    }
}
