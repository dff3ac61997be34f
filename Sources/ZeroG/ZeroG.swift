import ByteEncoding
import EVMCrypto

/// 0G Storage: file merkle roots (the Flow `dataMerkleRoot`), segment proofs, and the storage
/// clients (`Docs/zerog.md`-derived; constants cite the 0G sources in ../shared/docs/zerog.md).
public enum ZeroG {
    /// Chunk (sector) size in bytes.
    public static let chunkSize = 256
    /// Chunks per segment.
    public static let segmentChunks = 1024
    /// Segment size in bytes (256 KiB).
    public static let segmentSize = chunkSize * segmentChunks
    /// keccak256 of 256 zero bytes: the leaf of every padding chunk.
    public static let emptyChunkHash: Hash = Hash(Keccak256.hash([UInt8](repeating: 0, count: 256)))

    /// A 32-byte Keccak-256 node.
    public struct Hash: Sendable, Hashable, CustomStringConvertible {
        /// The 32 bytes.
        public let bytes: [UInt8]

        /// Wraps 32 bytes (precondition: exactly 32).
        public init(_ bytes: [UInt8]) {
            precondition(bytes.count == 32, "a merkle node is 32 bytes")
            self.bytes = bytes
        }

        /// Parses `0x`-prefixed or bare hex of 32 bytes; nil otherwise.
        public init?(hex: String) {
            guard let b = try? Hex.decode(hex), b.count == 32 else { return nil }
            self.bytes = b
        }

        /// keccak(left ‖ right).
        public static func parent(_ left: Hash, _ right: Hash) -> Hash {
            var out = [UInt8](repeating: 0, count: 32)
            left.bytes.withUnsafeBytes { l in right.bytes.withUnsafeBytes { r in out.withUnsafeMutableBytes { Keccak256.hashPair(l.baseAddress!, r.baseAddress!, into: $0.baseAddress!) } } }
            return Hash(out)
        }

        /// `0x` + lowercase hex.
        public var description: String { "0x" + Hex.encode(bytes) }
    }

    /// Flow padding of a chunk count (`ComputePaddedSize`): a power of two stays; otherwise round
    /// up to a multiple of `max(nextPow2 / 16, 1)`.
    public static func paddedChunks(_ numChunks: Int) -> Int {
        precondition(numChunks > 0)
        let np2 = nextPowerOfTwo(numChunks)
        if np2 == numChunks { return np2 }
        let minChunk = np2 >= 16 ? np2 / 16 : 1
        return (numChunks + minChunk - 1) / minChunk * minChunk
    }

    static func nextPowerOfTwo(_ n: Int) -> Int {
        n <= 1 ? 1 : 1 << (Int.bitWidth - (n - 1).leadingZeroBitCount)
    }
}
