import Chain
import Foundation

extension ZeroG {
    /// A segment and its proof as storage nodes send and accept it (`SegmentWithProof`).
    public struct SegmentWithProof: Sendable, Hashable {
        /// The file root.
        public var root: Hash
        /// The segment bytes: 256 KiB, or for the file's last segment its data rounded up to whole chunks.
        public var data: [UInt8]
        /// Segment index in the file.
        public var index: Int
        /// The proof of the segment root under the file root.
        public var proof: Proof
        /// File size in bytes.
        public var fileSize: Int

        /// Creates a segment.
        public init(root: Hash, data: [UInt8], index: Int, proof: Proof, fileSize: Int) {
            self.root = root
            self.data = data
            self.index = index
            self.proof = proof
            self.fileSize = fileSize
        }

        /// JSON-RPC form: hashes as `0x` hex, data as standard base64.
        public var rpcValue: RPCValue {
            .object([
                "root": .string(root.description), "data": .string(Data(data).base64EncodedString()), "index": .number(Double(index)),
                "proof": .object(["lemma": .array(proof.lemma.map { .string($0.description) }), "path": .array(proof.path.map { .bool($0) })]),
                "fileSize": .number(Double(fileSize)),
            ])
        }

        /// Parses the JSON-RPC form. Throws ``ZeroGError/Code/nodeError`` for anything malformed.
        public init(rpc v: RPCValue) throws(ZeroGError) {
            guard let r = v["root"]?.string.flatMap(Hash.init(hex:)), let d = v["data"]?.string.flatMap({ Data(base64Encoded: $0) }),
                case .number(let i)? = v["index"], case .number(let size)? = v["fileSize"],
                let lemma = v["proof"]?["lemma"]?.array, let path = v["proof"]?["path"]?.array
            else {
                throw ZeroGError(.nodeError, "malformed SegmentWithProof")
            }
            var hashes = [Hash]()
            for l in lemma { guard let h = l.string.flatMap(Hash.init(hex:)) else { throw ZeroGError(.nodeError, "malformed proof lemma") }; hashes.append(h) }
            var bools = [Bool]()
            for p in path { guard case .bool(let b) = p else { throw ZeroGError(.nodeError, "malformed proof path") }; bools.append(b) }
            guard i >= 0, i < 1e12, size >= 0, size < 1e15 else { throw ZeroGError(.nodeError, "segment index or file size out of range") }
            self.init(root: r, data: [UInt8](d), index: Int(i), proof: Proof(lemma: hashes, path: bools), fileSize: Int(size))
        }
    }

    /// The layout of a file in 0G Storage: how many segments hold data, how many the flow-padded
    /// tree has, and how many leaves each segment's tree has.
    public struct FileLayout: Sendable, Hashable {
        /// File size in bytes.
        public let size: Int
        /// Chunks holding data.
        public let numChunks: Int
        /// Chunks after flow padding.
        public let paddedChunks: Int

        /// The layout of a file of `size` bytes (> 0).
        public init(size: Int) {
            self.size = size
            numChunks = (size + chunkSize - 1) / chunkSize
            paddedChunks = ZeroG.paddedChunks(numChunks)
        }

        /// Segments that hold data (downloaded and uploaded).
        public var dataSegments: Int { (numChunks + segmentChunks - 1) / segmentChunks }
        /// Segments of the flow-padded tree (the proof's leaf count).
        public var paddedSegments: Int { (paddedChunks + segmentChunks - 1) / segmentChunks }
        /// Leaves of segment `i`'s tree: its chunks plus empty-chunk padding up to the flow padding.
        public func leaves(ofSegment i: Int) -> Int { min(segmentChunks, paddedChunks - i * segmentChunks) }
        /// Bytes of segment `i` as transferred (whole chunks; the last data segment is short).
        public func transferBytes(ofSegment i: Int) -> Int { min(segmentSize, numChunks * chunkSize - i * segmentSize) }

        /// The root of segment `i` from its transferred bytes (padded with empty-chunk leaves).
        public func segmentRoot(_ data: [UInt8], index i: Int) -> Hash {
            data.withUnsafeBytes { ZeroG.segmentRoot($0.baseAddress!, dataChunks: data.count / chunkSize, leafCount: leaves(ofSegment: i)) }
        }
    }

    /// Checks a downloaded segment against `root`: its length for its position, its root (padded
    /// as the flow pads it) and its proof at `index` among the padded segments. Throws
    /// ``ZeroGError/Code/proofInvalid``: a wrong segment is never accepted.
    public static func check(_ s: SegmentWithProof, root: Hash, index: Int, layout: FileLayout) throws(ZeroGError) {
        guard s.root == root, s.index == index, s.fileSize == layout.size else {
            throw ZeroGError(.proofInvalid, "segment \(index) is labelled for another file or position")
        }
        guard s.data.count == layout.transferBytes(ofSegment: index) else {
            throw ZeroGError(.proofInvalid, "segment \(index) has \(s.data.count) bytes, expected \(layout.transferBytes(ofSegment: index))")
        }
        guard s.proof.verifies(leaf: layout.segmentRoot(s.data, index: index), index: index, leafCount: layout.paddedSegments, root: root) else {
            throw ZeroGError(.proofInvalid, "segment \(index) does not prove into root \(root)")
        }
    }

    /// The segments of a file with their proofs, ready to upload.
    public static func segments(of data: [UInt8]) throws(ZeroGError) -> [SegmentWithProof] {
        let m = try merkle(of: data)
        let layout = FileLayout(size: data.count)
        let tree = MerkleTree(leaves: m.segmentRoots)
        return (0..<layout.dataSegments).map { i in
            let start = i * segmentSize
            var bytes = Array(data[start..<min(data.count, start + segmentSize)])
            bytes += [UInt8](repeating: 0, count: layout.transferBytes(ofSegment: i) - bytes.count)
            return SegmentWithProof(root: m.root, data: bytes, index: i, proof: tree.proof(at: i), fileSize: data.count)
        }
    }
}
