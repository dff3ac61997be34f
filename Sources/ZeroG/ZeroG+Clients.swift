import Chain
import Foundation

extension ZeroG {
    /// What a storage node says of a file (`FileInfo`, the fields used here).
    public struct FileInfo: Sendable, Hashable {
        /// The Flow transaction sequence number.
        public let txSeq: UInt64
        /// File size in bytes.
        public let size: Int
        /// The root.
        public let root: Hash
        /// Whether every segment is stored.
        public let finalized: Bool
        /// Segments uploaded so far.
        public let uploadedSegments: Int

        init(rpc v: RPCValue) throws(ZeroGError) {
            guard let tx = v["tx"], case .number(let seq)? = tx["seq"], case .number(let size)? = tx["size"],
                let root = tx["dataMerkleRoot"]?.string.flatMap(Hash.init(hex:)), case .bool(let fin)? = v["finalized"]
            else {
                throw ZeroGError(.nodeError, "malformed FileInfo")
            }
            var uploaded = 0
            if case .number(let n)? = v["uploadedSegNum"] { uploaded = Int(n) }
            guard seq >= 0, size > 0, size < 1e15 else { throw ZeroGError(.nodeError, "FileInfo out of range") }
            txSeq = UInt64(seq)
            self.size = Int(size)
            self.root = root
            finalized = fin
            uploadedSegments = uploaded
        }
    }

    /// A storage node's `zgs_*` JSON-RPC (zerog.md §1.4).
    public struct StorageNodeClient: Sendable {
        /// The node's URL.
        public let url: String
        let rpc: JSONRPCClient

        /// A client for `url`.
        public init(url: String, retries: Int = 2) {
            self.url = url
            rpc = JSONRPCClient(url: url, retries: retries)
        }

        func call(_ method: String, _ params: [RPCValue]) async throws(ZeroGError) -> RPCValue {
            do { return try await rpc.call(method, params) } catch {
                throw ZeroGError(error.code == .rpcUnavailable ? .unavailable : .nodeError, "\(method) at \(url): \(error.message)")
            }
        }

        /// `zgs_getFileInfo(root, needAvailable)`; nil when the node does not know the root.
        public func fileInfo(root: Hash, needAvailable: Bool = true) async throws(ZeroGError) -> FileInfo? {
            let v = try await call("zgs_getFileInfo", [.string(root.description), .bool(needAvailable)])
            return v.isNull ? nil : try FileInfo(rpc: v)
        }

        /// `zgs_getFileInfoByTxSeq(txSeq)`; nil while the node has not synced that transaction.
        public func fileInfo(txSeq: UInt64) async throws(ZeroGError) -> FileInfo? {
            let v = try await call("zgs_getFileInfoByTxSeq", [.number(Double(txSeq))])
            return v.isNull ? nil : try FileInfo(rpc: v)
        }

        /// `zgs_downloadSegmentWithProof(root, index)`; nil when the node does not hold it.
        public func segment(root: Hash, index: Int) async throws(ZeroGError) -> SegmentWithProof? {
            let v = try await call("zgs_downloadSegmentWithProof", [.string(root.description), .number(Double(index))])
            return v.isNull ? nil : try SegmentWithProof(rpc: v)
        }

        /// `zgs_uploadSegmentsByTxSeq(segments, txSeq)`. "Already uploaded" answers count as done.
        public func upload(_ segments: [SegmentWithProof], txSeq: UInt64) async throws(ZeroGError) {
            do { _ = try await rpc.call("zgs_uploadSegmentsByTxSeq", [.array(segments.map(\.rpcValue)), .number(Double(txSeq))]) } catch {
                let m = error.message.lowercased()
                if m.contains("already uploaded") || m.contains("has already been uploaded") { return }
                throw ZeroGError(error.code == .rpcUnavailable ? .unavailable : .nodeError, "zgs_uploadSegmentsByTxSeq at \(url): \(error.message)")
            }
        }

        /// `zgs_getShardConfig`: (shardId, numShard).
        public func shardConfig() async throws(ZeroGError) -> (shardID: Int, numShard: Int) {
            let v = try await call("zgs_getShardConfig", [])
            guard case .number(let id)? = v["shardId"], case .number(let n)? = v["numShard"], n >= 1, id >= 0, id < n else {
                throw ZeroGError(.nodeError, "malformed shard config")
            }
            return (Int(id), Int(n))
        }
    }

    /// The indexer (`indexer_getFileLocations`).
    public struct IndexerClient: Sendable {
        let rpc: JSONRPCClient

        /// A client for the indexer at `url` (JSON-RPC at `POST /`).
        public init(url: String) { rpc = JSONRPCClient(url: url, retries: 2) }

        /// The URLs of the storage nodes that hold `root`. Throws ``ZeroGError/Code/notFound``
        /// when none does.
        public func fileLocations(root: Hash) async throws(ZeroGError) -> [String] {
            let v: RPCValue
            do { v = try await rpc.call("indexer_getFileLocations", [.string(root.description)]) } catch {
                if error.message.lowercased().contains("not found") { throw ZeroGError(.notFound, "no storage node holds \(root)") }
                throw ZeroGError(error.code == .rpcUnavailable ? .unavailable : .nodeError, "indexer: \(error.message)")
            }
            let urls = (v.array ?? []).compactMap { $0["url"]?.string }
            guard !urls.isEmpty else { throw ZeroGError(.notFound, "no storage node holds \(root)") }
            return urls
        }
    }

    /// Downloads a file by root: locations from the indexer, then every data segment with its
    /// proof from a node that holds it, each checked against the root before a byte is kept. A
    /// segment that fails its check is fetched from the next node; if none serves a valid one the
    /// download fails with ``ZeroGError/Code/proofInvalid``. Nothing unverified is written.
    public static func download(root: Hash, indexer: IndexerClient, to path: String) async throws(ZeroGError) {
        let nodes = try await indexer.fileLocations(root: root).map { StorageNodeClient(url: $0) }
        var info: FileInfo?
        for n in nodes { if let i = try? await n.fileInfo(root: root), i.finalized { info = i; break } }
        guard let info, info.root == root else { throw ZeroGError(.notFound, "no node has \(root) finalized") }
        let layout = FileLayout(size: info.size)
        let tmp = path + ".partial"
        guard FileManager.default.createFile(atPath: tmp, contents: nil), let out = FileHandle(forWritingAtPath: tmp) else {
            throw ZeroGError(.io, "cannot create \(tmp)")
        }
        var written = 0
        do {
            for i in 0..<layout.dataSegments {
                var accepted: [UInt8]?
                var lastError: ZeroGError?
                for n in nodes {
                    do {
                        guard let s = try await n.segment(root: root, index: i) else { continue }
                        try check(s, root: root, index: i, layout: layout)
                        accepted = s.data
                        break
                    } catch { lastError = error }
                }
                guard let data = accepted else { throw lastError ?? ZeroGError(.notFound, "no node serves segment \(i) of \(root)") }
                let keep = min(data.count, layout.size - written)
                try out.write(contentsOf: data.prefix(keep))
                written += keep
            }
            try out.close()
            if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
            try FileManager.default.moveItem(atPath: tmp, toPath: path)
        } catch {
            try? out.close()
            try? FileManager.default.removeItem(atPath: tmp)
            if let e = error as? ZeroGError { throw e }
            throw ZeroGError(.io, "writing \(path) failed: \(error.localizedDescription)")
        }
    }
}
