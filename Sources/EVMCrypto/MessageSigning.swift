/// Message signing: EIP-191 personal messages and EIP-712 typed data.
public enum MessageSigning {
    /// EIP-191 version 0x45: keccak256("\u{19}Ethereum Signed Message:\n" ‖ len ‖ message).
    public static func personalMessageHash(_ message: [UInt8]) -> [UInt8] {
        Keccak256.hash(Array("\u{19}Ethereum Signed Message:\n\(message.count)".utf8) + message)
    }

    /// EIP-712: keccak256(0x1901 ‖ domainSeparator ‖ structHash).
    public static func typedDataHash(domainSeparator: [UInt8], structHash: [UInt8]) -> [UInt8] {
        Keccak256.hash([0x19, 0x01] + domainSeparator + structHash)
    }

    /// One member of an EIP-712 struct, as `encodeData` encodes it.
    public enum Field: Sendable {
        /// `bytes1`…`bytes32`, right-padded to 32 bytes (also a nested struct's hash).
        case fixedBytes([UInt8])
        /// `address`, left-padded to 32 bytes.
        case address(Address)
        /// `uint8`…`uint256` up to 64 bits, big-endian in 32 bytes.
        case uint(UInt64)
        /// `string`: keccak256 of its UTF-8.
        case string(String)
        /// `bytes`: keccak256 of the bytes.
        case bytes([UInt8])

        /// The 32-byte encoding.
        func encoded() throws(EVMCryptoError) -> [UInt8] {
            switch self {
            case .fixedBytes(let b):
                guard (1...32).contains(b.count) else { throw EVMCryptoError(.encoding, "a bytesN field is 1 to 32 bytes, not \(b.count)") }
                return b + [UInt8](repeating: 0, count: 32 - b.count)
            case .address(let a): return [UInt8](repeating: 0, count: 12) + a.bytes
            case .uint(let v): return [UInt8](repeating: 0, count: 24) + (0..<8).map { UInt8(truncatingIfNeeded: v >> (56 - 8 * $0)) }
            case .string(let s): return Keccak256.hash(Array(s.utf8))
            case .bytes(let b): return Keccak256.hash(b)
            }
        }
    }

    /// EIP-712 hashStruct: keccak256(typeHash ‖ encodeData(field)…), with `typeSignature` like
    /// `Ticket(bytes32 jobId,address node,uint256 expiry)` (referenced types appended, sorted).
    public static func structHash(typeSignature: String, fields: [Field]) throws(EVMCryptoError) -> [UInt8] {
        var enc = Keccak256.hash(Array(typeSignature.utf8))
        for f in fields { enc += try f.encoded() }
        return Keccak256.hash(enc)
    }

    /// The EIP-712 domain separator for `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`.
    public static func domainSeparator(name: String, version: String, chainID: UInt64, verifyingContract: Address) -> [UInt8] {
        // Every field here has a fixed encoding: nothing can fail.
        var enc = Keccak256.hash(Array("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)".utf8))
        for f in [Field.string(name), .string(version), .uint(chainID), .address(verifyingContract)] { enc += (try? f.encoded()) ?? [] }
        return Keccak256.hash(enc)
    }
}
