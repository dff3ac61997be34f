import Chain
import Foundation
import NIOConcurrencyHelpers
import ZeroG

/// A 0G storage node and indexer for tests, on a real loopback HTTP server speaking the zgs and
/// indexer JSON-RPC of zerog.md §1.4–1.5: `zgs_getFileInfo`, `zgs_getFileInfoByTxSeq`,
/// `zgs_downloadSegmentWithProof`, `zgs_uploadSegmentsByTxSeq` (each segment's proof checked
/// against the transaction's root, as a node does), `zgs_getShardConfig`, `zgs_getStatus`,
/// `indexer_getFileLocations`. Files arrive by ``add(_:)`` (already finalized) or by upload after
/// a Flow submission that ``follow(flow:)`` syncs from the chain's `Submit` events.
/// ``corrupt(segment:byte:)`` makes it serve a segment with one flipped byte.
public final class LoopbackStorageNode: Sendable {
    struct Tx {
        let seq: UInt64
        let root: ZeroG.Hash
        let size: Int
        var segments: [Int: ZeroG.SegmentWithProof] = [:]
        var finalized: Bool { segments.count == ZeroG.FileLayout(size: size).dataSegments }
    }

    struct NodeError: Error {
        let message: String
    }

    struct State {
        var txs: [UInt64: Tx] = [:]
        var corrupt: (segment: Int, byte: Int)?
        var locations: [String]?
    }

    let state = NIOLockedValueBox(State())
    let sync = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let server: LoopbackHTTPServer

    /// The node's (and indexer's) URL.
    public var url: String { server.baseURL }

    /// Starts the node.
    public init() throws {
        let state = self.state
        server = try LoopbackHTTPServer { request in
            guard let body = try? JSONDecoder().decode(RPCValue.self, from: Data(request.body)), let method = body["method"]?.string else {
                return .init(status: 400)
            }
            let params = body["params"]?.array ?? []
            let result: Result<RPCValue, NodeError> = state.withLockedValue { Self.handle(method, params, &$0) }
            let reply: RPCValue
            switch result {
            case .success(let v): reply = .object(["jsonrpc": .string("2.0"), "id": body["id"] ?? .null, "result": v])
            case .failure(let e): reply = .object(["jsonrpc": .string("2.0"), "id": body["id"] ?? .null, "error": .object(["code": .number(-32000), "message": .string(e.message)])])
            }
            return .init(headers: [("Content-Type", "application/json")], body: [UInt8]((try? JSONEncoder().encode(reply)) ?? Data()))
        }
    }

    /// Stops the server and the chain sync.
    public func stop() {
        sync.withLockedValue { $0?.cancel() }
        server.shutdown()
    }

    /// Stores `data` as a finalized file (as if uploaded long ago) and returns its root.
    @discardableResult
    public func add(_ data: [UInt8]) throws -> ZeroG.Hash {
        let segs = try ZeroG.segments(of: data)
        state.withLockedValue { s in
            let seq = UInt64(s.txs.count + 1000)
            var tx = Tx(seq: seq, root: segs[0].root, size: data.count)
            for g in segs { tx.segments[g.index] = g }
            s.txs[seq] = tx
        }
        return segs[0].root
    }

    /// Records a pending transaction for `data`'s root (as if synced from the chain) and returns
    /// its txSeq; segments must then be uploaded.
    public func register(_ data: [UInt8]) throws -> UInt64 {
        let root = try ZeroG.merkle(of: data).root
        return state.withLockedValue { s in
            let seq = UInt64(s.txs.count + 1000)
            s.txs[seq] = Tx(seq: seq, root: root, size: data.count)
            return seq
        }
    }

    /// Serves segment `segment` with byte `byte` flipped (nil: serve honestly).
    public func corrupt(segment: Int?, byte: Int = 0) {
        state.withLockedValue { $0.corrupt = segment.map { ($0, byte) } }
    }

    /// The storage-node URLs the indexer answers with (default: this node).
    public func setLocations(_ urls: [String]) { state.withLockedValue { $0.locations = urls } }

    /// Follows `flow`'s `Submit` events (polling the chain), learning each transaction's root and
    /// size as a node's log sync does.
    public func follow(flow: ZeroG.FlowContract) {
        let state = self.state
        let task = Task {
            while !Task.isCancelled {
                if let subs = try? await flow.submissions(fromBlock: 0) {
                    state.withLockedValue { s in
                        for sub in subs where s.txs[sub.txSeq] == nil { s.txs[sub.txSeq] = Tx(seq: sub.txSeq, root: sub.root, size: sub.size) }
                    }
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        sync.withLockedValue { $0 = task }
    }

    static func info(_ tx: Tx) -> RPCValue {
        .object([
            "tx": .object([
                "streamIds": .array([]), "data": .string(""), "dataMerkleRoot": .string(tx.root.description), "merkleNodes": .array([]),
                "startEntryIndex": .number(0), "size": .number(Double(tx.size)), "seq": .number(Double(tx.seq)),
            ]),
            "finalized": .bool(tx.finalized), "isCached": .bool(false), "uploadedSegNum": .number(Double(tx.segments.count)), "pruned": .bool(false),
        ])
    }

    static func handle(_ method: String, _ p: [RPCValue], _ s: inout State) -> Result<RPCValue, NodeError> {
        func tx(root: String?) -> Tx? {
            guard let r = root.flatMap(ZeroG.Hash.init(hex:)) else { return nil }
            return s.txs.values.sorted { $0.seq < $1.seq }.first { $0.root == r && $0.finalized } ?? s.txs.values.sorted { $0.seq < $1.seq }.first { $0.root == r }
        }
        func number(_ v: RPCValue?) -> Int? { if case .number(let n)? = v { return Int(n) } else { return nil } }
        switch method {
        case "zgs_getStatus":
            return .success(.object(["connectedPeers": .number(0), "logSyncHeight": .number(0), "nextTxSeq": .number(Double(s.txs.count))]))
        case "zgs_getShardConfig":
            return .success(.object(["shardId": .number(0), "numShard": .number(1)]))
        case "zgs_getFileInfo":
            return .success(tx(root: p.first?.string).map(info) ?? .null)
        case "zgs_getFileInfoByTxSeq":
            return .success(number(p.first).flatMap { s.txs[UInt64($0)] }.map(info) ?? .null)
        case "zgs_downloadSegmentWithProof":
            guard let t = tx(root: p.first?.string), t.finalized, let i = number(p.dropFirst().first), var seg = t.segments[i] else { return .success(.null) }
            if let c = s.corrupt, c.segment == i, c.byte < seg.data.count { seg.data[c.byte] ^= 0x01 }
            return .success(seg.rpcValue)
        case "zgs_uploadSegmentsByTxSeq":
            guard let list = p.first?.array, let seq = number(p.dropFirst().first), var t = s.txs[UInt64(seq)] else { return .failure(NodeError(message: "unknown txSeq")) }
            let layout = ZeroG.FileLayout(size: t.size)
            for v in list {
                guard let seg = try? ZeroG.SegmentWithProof(rpc: v) else { return .failure(NodeError(message: "malformed segment")) }
                if t.segments[seg.index] != nil { return .failure(NodeError(message: "segment has already been uploaded or is being uploaded")) }
                do { try ZeroG.check(seg, root: t.root, index: seg.index, layout: layout) } catch { return .failure(NodeError(message: "invalid segment: \(error.message)")) }
                t.segments[seg.index] = seg
            }
            s.txs[UInt64(seq)] = t
            return .success(.null)
        case "indexer_getFileLocations":
            guard let t = tx(root: p.first?.string), t.finalized else { return .failure(NodeError(message: "file not found")) }
            _ = t
            return .success(.array((s.locations ?? []).map { .object(["url": .string($0), "config": .object(["shardId": .number(0), "numShard": .number(1)])]) }))
        default:
            return .failure(NodeError(message: "method \(method) not found"))
        }
    }
}
