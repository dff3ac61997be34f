import BigInt
import ByteEncoding
import EVMCrypto
import struct Foundation.Data

/// Solidity ABI encoding and decoding (the contract ABI specification): static and dynamic types,
/// arrays, tuples, function selectors, event topics, revert data. Written by hand: no well-kept
/// Swift library offers it. Decoding checks every offset and length against the data.
public enum ABI {
    /// An ABI type.
    public indirect enum ParameterType: Sendable, Hashable, CustomStringConvertible {
        /// uint8 … uint256.
        case uint(Int)
        /// int8 … int256.
        case int(Int)
        /// address.
        case address
        /// bool.
        case bool
        /// bytes1 … bytes32.
        case fixedBytes(Int)
        /// bytes.
        case bytes
        /// string.
        case string
        /// T[].
        case array(ParameterType)
        /// T[k].
        case fixedArray(ParameterType, Int)
        /// (T1,T2,…).
        case tuple([ParameterType])

        /// Whether the encoding has a tail.
        public var isDynamic: Bool {
            switch self {
            case .bytes, .string, .array: true
            case .fixedArray(let t, _): t.isDynamic
            case .tuple(let ts): ts.contains(where: \.isDynamic)
            default: false
            }
        }

        /// Bytes the head takes.
        var headSize: Int {
            if isDynamic { return 32 }
            switch self {
            case .fixedArray(let t, let k): return k * t.headSize
            case .tuple(let ts): return ts.reduce(0) { $0 + $1.headSize }
            default: return 32
            }
        }

        /// The canonical name (`uint256`, `(bytes32,uint256)[]`), as in signatures.
        public var description: String {
            switch self {
            case .uint(let n): "uint\(n)"
            case .int(let n): "int\(n)"
            case .address: "address"
            case .bool: "bool"
            case .fixedBytes(let n): "bytes\(n)"
            case .bytes: "bytes"
            case .string: "string"
            case .array(let t): "\(t)[]"
            case .fixedArray(let t, let k): "\(t)[\(k)]"
            case .tuple(let ts): "(" + ts.map(\.description).joined(separator: ",") + ")"
            }
        }

        /// Parses a canonical type name. Throws ``ChainError/Code/encoding``.
        public init(_ text: String) throws(ChainError) {
            var s = Substring(text.filter { !$0.isWhitespace })
            if s.hasSuffix("]"), let open = s.lastIndex(of: "[") {
                let inner = try ParameterType(String(s[..<open]))
                let k = s[s.index(after: open)..<s.index(before: s.endIndex)]
                if k.isEmpty { self = .array(inner); return }
                guard let n = Int(k), n > 0 else { throw ChainError(.encoding, "bad array size in \(text)") }
                self = .fixedArray(inner, n)
                return
            }
            if s.hasPrefix("(") && s.hasSuffix(")") {
                s = s.dropFirst().dropLast()
                var parts = [String](), depth = 0, current = ""
                for c in s {
                    if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
                    if c == "," && depth == 0 { parts.append(current); current = "" } else { current.append(c) }
                }
                if !current.isEmpty { parts.append(current) }
                var ts = [ParameterType]()
                for p in parts { ts.append(try ParameterType(p)) }
                self = .tuple(ts)
                return
            }
            switch s {
            case "address": self = .address
            case "bool": self = .bool
            case "bytes": self = .bytes
            case "string": self = .string
            case "uint": self = .uint(256)
            case "int": self = .int(256)
            default:
                if s.hasPrefix("uint"), let n = Int(s.dropFirst(4)), n % 8 == 0, (8...256).contains(n) { self = .uint(n); return }
                if s.hasPrefix("int"), let n = Int(s.dropFirst(3)), n % 8 == 0, (8...256).contains(n) { self = .int(n); return }
                if s.hasPrefix("bytes"), let n = Int(s.dropFirst(5)), (1...32).contains(n) { self = .fixedBytes(n); return }
                throw ChainError(.encoding, "unknown ABI type \(text)")
            }
        }
    }

    /// An ABI value.
    public indirect enum Value: Sendable, Hashable {
        case uint(BigUInt)
        case int(BigInt)
        case address(Address)
        case bool(Bool)
        case fixedBytes([UInt8])
        case bytes([UInt8])
        case string(String)
        case array([Value])
        case tuple([Value])

        /// The unsigned integer, if this is one.
        public var uintValue: BigUInt? { if case .uint(let v) = self { return v } else { return nil } }
        /// The address, if this is one.
        public var addressValue: Address? { if case .address(let v) = self { return v } else { return nil } }
        /// Fixed or dynamic bytes.
        public var bytesValue: [UInt8]? {
            switch self {
            case .fixedBytes(let b), .bytes(let b): b
            default: nil
            }
        }
        /// The string, if this is one.
        public var stringValue: String? { if case .string(let v) = self { return v } else { return nil } }
        /// The bool, if this is one.
        public var boolValue: Bool? { if case .bool(let v) = self { return v } else { return nil } }
        /// Array or tuple elements.
        public var elements: [Value]? {
            switch self {
            case .array(let v), .tuple(let v): v
            default: nil
            }
        }
    }

    /// The 4-byte selector of a canonical signature such as `transfer(address,uint256)`.
    public static func selector(_ signature: String) -> [UInt8] { Array(Keccak256.hash(Array(signature.utf8)).prefix(4)) }

    /// Encodes `values` as the tuple of `types`.
    public static func encode(_ values: [Value], as types: [ParameterType]) throws(ChainError) -> [UInt8] {
        try encode(.tuple(values), as: .tuple(types))
    }

    static func encode(_ value: Value, as type: ParameterType) throws(ChainError) -> [UInt8] {
        switch (type, value) {
        case (.uint(let n), .uint(let v)):
            guard v.bitWidth <= n else { throw ChainError(.encoding, "\(v) does not fit uint\(n)") }
            return word(v)
        case (.int(let n), .int(let v)):
            let limit = BigInt(1) << (n - 1)
            guard v >= -limit, v < limit else { throw ChainError(.encoding, "\(v) does not fit int\(n)") }
            return v >= 0 ? word(BigUInt(v)) : word((BigUInt(1) << 256) - BigUInt(-v))
        case (.address, .address(let a)): return [UInt8](repeating: 0, count: 12) + a.bytes
        case (.bool, .bool(let b)): return word(BigUInt(b ? 1 : 0))
        case (.fixedBytes(let n), .fixedBytes(let b)):
            guard b.count == n else { throw ChainError(.encoding, "bytes\(n) needs \(n) bytes, got \(b.count)") }
            return b + [UInt8](repeating: 0, count: 32 - n)
        case (.bytes, .bytes(let b)): return word(BigUInt(b.count)) + padded(b)
        case (.string, .string(let s)): return word(BigUInt(s.utf8.count)) + padded(Array(s.utf8))
        case (.array(let t), .array(let vs)): return word(BigUInt(vs.count)) + (try encodeSequence(vs, Array(repeating: t, count: vs.count)))
        case (.fixedArray(let t, let k), .array(let vs)):
            guard vs.count == k else { throw ChainError(.encoding, "\(type) needs \(k) elements, got \(vs.count)") }
            return try encodeSequence(vs, Array(repeating: t, count: k))
        case (.tuple(let ts), .tuple(let vs)):
            guard ts.count == vs.count else { throw ChainError(.encoding, "\(type) needs \(ts.count) values, got \(vs.count)") }
            return try encodeSequence(vs, ts)
        default:
            throw ChainError(.encoding, "value \(value) is not a \(type)")
        }
    }

    static func encodeSequence(_ values: [Value], _ types: [ParameterType]) throws(ChainError) -> [UInt8] {
        var heads = [[UInt8]](), tails = [[UInt8]]()
        let headLength = types.reduce(0) { $0 + $1.headSize }
        var tailOffset = headLength
        for (v, t) in zip(values, types) {
            let enc = try encode(v, as: t)
            if t.isDynamic {
                heads.append(word(BigUInt(tailOffset)))
                tails.append(enc)
                tailOffset += enc.count
            } else {
                heads.append(enc)
            }
        }
        return heads.flatMap { $0 } + tails.flatMap { $0 }
    }

    static func word(_ v: BigUInt) -> [UInt8] {
        let b = Array(v.serialize().drop { $0 == 0 })
        return [UInt8](repeating: 0, count: 32 - b.count) + b
    }

    static func padded(_ b: [UInt8]) -> [UInt8] { b + [UInt8](repeating: 0, count: (32 - b.count % 32) % 32) }

    /// Decodes `data` as the tuple of `types`. Every offset and length is checked: malformed data
    /// throws ``ChainError/Code/encoding``, never traps.
    public static func decode(_ types: [ParameterType], from data: [UInt8]) throws(ChainError) -> [Value] {
        guard case .tuple(let vs) = try decode(.tuple(types), data, 0, depth: 0) else { return [] }
        return vs
    }

    static func readWord(_ d: [UInt8], _ at: Int) throws(ChainError) -> [UInt8] {
        guard at >= 0, at + 32 <= d.count else { throw ChainError(.encoding, "ABI data truncated at \(at)") }
        return Array(d[at..<at + 32])
    }

    static func readInt(_ d: [UInt8], _ at: Int) throws(ChainError) -> Int {
        let w = try readWord(d, at)
        guard w[0..<24].allSatisfy({ $0 == 0 }) else { throw ChainError(.encoding, "ABI offset or length too large at \(at)") }
        let v = w[24...].reduce(0) { $0 << 8 | Int($1) }
        guard v <= d.count else { throw ChainError(.encoding, "ABI offset or length \(v) beyond the data") }
        return v
    }

    static func decode(_ type: ParameterType, _ d: [UInt8], _ at: Int, depth: Int) throws(ChainError) -> Value {
        guard depth < 32 else { throw ChainError(.encoding, "ABI nested too deep") }
        switch type {
        case .uint(let n):
            let v = BigUInt(Data(try readWord(d, at)))
            guard v.bitWidth <= n else { throw ChainError(.encoding, "value does not fit uint\(n)") }
            return .uint(v)
        case .int(let n):
            let w = try readWord(d, at)
            let u = BigUInt(Data(w))
            let v = w[0] & 0x80 != 0 ? BigInt(u) - (BigInt(1) << 256) : BigInt(u)
            let limit = BigInt(1) << (n - 1)
            guard v >= -limit, v < limit else { throw ChainError(.encoding, "value does not fit int\(n)") }
            return .int(v)
        case .address:
            let w = try readWord(d, at)
            guard w[0..<12].allSatisfy({ $0 == 0 }) else { throw ChainError(.encoding, "address word has high bytes set") }
            return .address(try evm { () throws(EVMCryptoError) in try Address(bytes: Array(w[12...])) })
        case .bool:
            let w = try readWord(d, at)
            guard w[0..<31].allSatisfy({ $0 == 0 }), w[31] <= 1 else { throw ChainError(.encoding, "bool word is not 0 or 1") }
            return .bool(w[31] == 1)
        case .fixedBytes(let n):
            return .fixedBytes(Array(try readWord(d, at).prefix(n)))
        case .bytes, .string:
            let len = try readInt(d, at)
            guard at + 32 + len <= d.count else { throw ChainError(.encoding, "ABI bytes truncated") }
            let b = Array(d[(at + 32)..<(at + 32 + len)])
            if case .string = type {
                guard let s = String(validating: b, as: UTF8.self) else { throw ChainError(.encoding, "ABI string is not UTF-8") }
                return .string(s)
            }
            return .bytes(b)
        case .array(let t):
            let count = try readInt(d, at)
            guard count <= (d.count - at - 32) / max(1, min(t.headSize, 32)) + 1 else { throw ChainError(.encoding, "ABI array length \(count) beyond the data") }
            let body = Array(d[(at + 32)...])
            return .array(try decodeSequence(Array(repeating: t, count: count), body, depth: depth))
        case .fixedArray(let t, let k):
            return .array(try decodeSequence(Array(repeating: t, count: k), Array(d[at...]), depth: depth))
        case .tuple(let ts):
            return .tuple(try decodeSequence(ts, Array(d[at...]), depth: depth))
        }
    }

    static func decodeSequence(_ types: [ParameterType], _ d: [UInt8], depth: Int) throws(ChainError) -> [Value] {
        var out = [Value]()
        var head = 0
        for t in types {
            if t.isDynamic {
                let offset = try readInt(d, head)
                out.append(try decode(t, d, offset, depth: depth + 1))
            } else {
                guard head <= d.count else { throw ChainError(.encoding, "ABI data truncated") }
                out.append(try decode(t, d, head, depth: depth + 1))
            }
            head += t.headSize
        }
        return out
    }

    /// A revert reason from call data: `Error(string)`, `Panic(uint256)`, or a custom error
    /// named in `errors` (by canonical signature); nil for empty data.
    public static func revertReason(_ data: [UInt8], errors: [String] = []) -> String? {
        guard data.count >= 4 else { return data.isEmpty ? nil : "revert data 0x\(Hex.encode(data))" }
        let sel = Array(data.prefix(4)), body = Array(data.dropFirst(4))
        if sel == selector("Error(string)"), let v = try? decode([.string], from: body), let s = v.first?.stringValue { return s }
        if sel == selector("Panic(uint256)"), let v = try? decode([.uint(256)], from: body), let c = v.first?.uintValue { return "Panic(0x\(String(c, radix: 16)))" }
        for e in errors where selector(e) == sel { return e }
        return "revert data 0x\(Hex.encode(data))"
    }
}
