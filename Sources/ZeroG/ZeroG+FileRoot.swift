import Dispatch
import EVMCrypto
import Foundation

extension ZeroG {
    /// What the merkle computation of one file gives.
    public struct FileMerkle: Sendable {
        /// File size in bytes (unpadded).
        public let size: Int
        /// ceil(size / 256).
        public let numChunks: Int
        /// Chunks after flow padding.
        public let paddedChunks: Int
        /// Segment roots in order (segments of the flow-padded data; the last may be short).
        public let segmentRoots: [Hash]
        /// The file root (Flow `dataMerkleRoot`).
        public let root: Hash

        /// Number of segments of the flow-padded data.
        public var numSegmentsPadded: Int { segmentRoots.count }

        /// Flow `submit` nodes: the padded chunk count split into decreasing powers of two, each
        /// a perfect subtree of chunks `(chunks, height = log2(chunks), root)`.
        public var submissionNodes: [(chunks: Int, height: Int, root: Hash)] {
            var out = [(Int, Int, Hash)]()
            var start = 0
            var remaining = paddedChunks
            while remaining > 0 {
                let chunks = 1 << (Int.bitWidth - 1 - remaining.leadingZeroBitCount)
                out.append((chunks, chunks.trailingZeroBitCount, subtreeRoot(chunkStart: start, chunks: chunks)))
                start += chunks
                remaining -= chunks
            }
            return out
        }

        /// Root of the perfect subtree over `chunks` chunks from `chunkStart` (aligned): from the
        /// segment roots when it spans whole segments, else from the last segment's leaves
        /// (pieces smaller than a segment only occur at the end, inside the last, short segment).
        private func subtreeRoot(chunkStart: Int, chunks: Int) -> Hash {
            if chunks >= segmentChunks {
                let first = chunkStart / segmentChunks
                return MerkleTree(leaves: Array(segmentRoots[first..<first + chunks / segmentChunks])).root
            }
            let offset = chunkStart - (segmentRoots.count - 1) * segmentChunks
            return Array(lastSegmentLeaves[offset..<offset + chunks]).withUnsafeBufferPointer { treeRoot($0) }
        }

        /// The leaves of the last segment (at most 1024).
        let lastSegmentLeaves: [Hash]
    }

    /// Computes the 0G file root of a file on disk, streaming: memory stays at a few segments
    /// whatever the size, and segment roots are hashed on all cores. Throws
    /// ``ZeroGError/Code/emptyFile`` for an empty file, ``ZeroGError/Code/io`` if it cannot be
    /// read or is not a regular file (a directory, a device, a pipe).
    public static func merkle(ofFileAt path: String) throws(ZeroGError) -> FileMerkle {
        // Why: the size comes from seeking to the end, which for a directory is meaningless
        // (Int64.max on some file systems, an arithmetic overflow below); a pipe would block.
        var info = stat()
        guard stat(path, &info) == 0 else { throw ZeroGError(.io, "cannot open \(path): \(String(cString: strerror(errno)))") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw ZeroGError(.io, "\(path) is \(info.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a regular file")")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ZeroGError(.io, "cannot open \(path)") }
        defer { try? handle.close() }
        let size: Int
        do { size = Int(try handle.seekToEnd()); try handle.seek(toOffset: 0) } catch { throw ZeroGError(.io, "cannot read \(path): \(error.localizedDescription)") }
        var source = FileSource(handle: handle)
        return try merkle(size: size) { (buffer: UnsafeMutableRawBufferPointer) throws(ZeroGError) -> Int in try source.read(into: buffer) }
    }

    /// Computes the 0G file root of bytes in memory.
    public static func merkle(of data: [UInt8]) throws(ZeroGError) -> FileMerkle {
        var offset = 0
        return try merkle(size: data.count) { (buffer: UnsafeMutableRawBufferPointer) throws(ZeroGError) -> Int in
            let n = min(buffer.count, data.count - offset)
            data.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            offset += n
            return n
        }
    }

    /// The largest file size (bytes) a root is computed for: 2^50 (1 PiB).
    public static let maxFileSize = 1 << 50

    /// Segments hashed per batch (per core pair); bounds memory at `batch × 256 KiB`.
    static let batchSegments = 8

    /// The streaming core: `read` fills a buffer from the start of the file onwards and returns
    /// the bytes it wrote (0 only at the end).
    static func merkle(size: Int, read: (UnsafeMutableRawBufferPointer) throws(ZeroGError) -> Int) throws(ZeroGError) -> FileMerkle {
        guard size > 0 else { throw ZeroGError(.emptyFile, "0G Storage takes no empty file") }
        // Chunk and padding arithmetic stays far from overflow below this size.
        guard size <= maxFileSize else { throw ZeroGError(.io, "a file of \(size) bytes is larger than \(maxFileSize) bytes") }
        let numChunks = (size + chunkSize - 1) / chunkSize
        let padded = paddedChunks(numChunks)
        let numSegments = (padded + segmentChunks - 1) / segmentChunks
        var segmentRoots = [Hash]()
        segmentRoots.reserveCapacity(numSegments)
        var lastLeaves = [Hash]()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: batchSegments * segmentSize, alignment: 64)
        defer { buffer.deallocate() }
        var consumed = 0
        var segment = 0
        while segment < numSegments {
            let batch = min(batchSegments, numSegments - segment)
            // Fill the data part of this batch (the rest of the flow-padded data is zero chunks).
            let wanted = min(batch * segmentSize, max(size - consumed, 0))
            var filled = 0
            while filled < wanted {
                let n = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<wanted]))
                guard n > 0 else { throw ZeroGError(.io, "the file ended at \(consumed + filled) bytes, expected \(size)") }
                filled += n
            }
            consumed += filled
            // Zero the tail of a partial chunk.
            let tail = (filled + chunkSize - 1) / chunkSize * chunkSize
            if tail > filled { (buffer.baseAddress! + filled).initializeMemory(as: UInt8.self, repeating: 0, count: tail - filled) }
            let dataChunksInBatch = tail / chunkSize
            let firstChunk = segment * segmentChunks
            var roots = [Hash](repeating: emptyChunkHash, count: batch)
            let leavesPerSegment = (0..<batch).map { min(segmentChunks, padded - firstChunk - $0 * segmentChunks) }
            roots.withUnsafeMutableBufferPointer { out in
                // Each iteration reads its own segment of `buffer` and writes its own slot of
                // `out`: no two iterations touch the same memory.
                let shared = SharedPointers(input: UnsafeRawPointer(buffer.baseAddress!), output: out.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: batch) { s in
                    let leafCount = leavesPerSegment[s]
                    let dataChunks = max(0, min(leafCount, dataChunksInBatch - s * segmentChunks))
                    (shared.output + s).pointee = segmentRoot(shared.input + s * segmentSize, dataChunks: dataChunks, leafCount: leafCount)
                }
            }
            if segment + batch == numSegments {
                let s = batch - 1
                lastLeaves = leaves(buffer.baseAddress! + s * segmentSize, dataChunks: max(0, min(leavesPerSegment[s], dataChunksInBatch - s * segmentChunks)), leafCount: leavesPerSegment[s])
            }
            segmentRoots += roots
            segment += batch
        }
        let root = MerkleTree(leaves: segmentRoots).root
        return FileMerkle(size: size, numChunks: numChunks, paddedChunks: padded, segmentRoots: segmentRoots, root: root, lastSegmentLeaves: lastLeaves)
    }

    /// Root of one segment: `leafCount` leaves, the first `dataChunks` hashed from `base`, the
    /// rest empty-chunk leaves. Works in one 32 KiB scratch buffer: no allocation per leaf.
    static func segmentRoot(_ base: UnsafeRawPointer, dataChunks: Int, leafCount: Int) -> Hash {
        withUnsafeTemporaryAllocation(byteCount: leafCount * 32, alignment: 16) { scratch in
            let nodes = scratch.baseAddress!
            for c in 0..<dataChunks { Keccak256.hash(base + c * chunkSize, count: chunkSize, into: nodes + c * 32) }
            emptyChunkHash.bytes.withUnsafeBytes { empty in
                for c in dataChunks..<leafCount { (nodes + c * 32).copyMemory(from: empty.baseAddress!, byteCount: 32) }
            }
            // Reduce in place, level by level: parent i of (2i, 2i+1) overwrites slot i (slot i
            // is read before it is written); an odd last node is carried up unchanged.
            var width = leafCount
            while width > 1 {
                var i = 0
                while 2 * i + 1 < width {
                    Keccak256.hashPair(nodes + 64 * i, nodes + 64 * i + 32, into: nodes + 32 * i)
                    i += 1
                }
                if width & 1 == 1 { (nodes + 32 * i).copyMemory(from: nodes + 32 * (width - 1), byteCount: 32) }
                width = (width + 1) / 2
            }
            return Hash(Array(UnsafeRawBufferPointer(start: nodes, count: 32)))
        }
    }

    static func leaves(_ base: UnsafeRawPointer, dataChunks: Int, leafCount: Int) -> [Hash] {
        var leaves = [Hash]()
        leaves.reserveCapacity(leafCount)
        var out = [UInt8](repeating: 0, count: 32)
        for c in 0..<dataChunks {
            out.withUnsafeMutableBytes { Keccak256.hash(base + c * chunkSize, count: chunkSize, into: $0.baseAddress!) }
            leaves.append(Hash(out))
        }
        for _ in dataChunks..<leafCount { leaves.append(emptyChunkHash) }
        return leaves
    }

    /// The carried-up-odd-node root of `nodes`.
    static func treeRoot(_ nodes: UnsafeBufferPointer<Hash>) -> Hash { MerkleTree(leaves: Array(nodes)).root }

}

/// Pointers handed to `concurrentPerform` workers that touch disjoint regions.
private struct SharedPointers: @unchecked Sendable {
    let input: UnsafeRawPointer
    let output: UnsafeMutablePointer<ZeroG.Hash>
}

/// Reads a file in large sequential pieces.
struct FileSource {
    let handle: FileHandle

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ZeroGError) -> Int {
        let fd = handle.fileDescriptor
        while true {
            let n = Foundation.read(fd, buffer.baseAddress!, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw ZeroGError(.io, "read failed: \(String(cString: strerror(errno)))")
        }
    }
}
