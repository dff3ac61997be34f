import ByteEncoding
import Chain
import EVMCrypto
import Foundation
import TestSupport
import Testing
import ZeroG

/// 0G Storage download and upload against a loopback storage node speaking the zgs and indexer
/// JSON-RPC, and the Flow contract on the dev chain.
@Suite("0G Storage client", .serialized)
struct ZeroGStorageTests {
    static let data = (0..<(3 * ZeroG.segmentSize + 5000)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) }

    static func tempFile() -> String { (NSTemporaryDirectory() as NSString).appendingPathComponent("zg-\(UUID().uuidString)") }

    @Test func downloadVerifiesEverySegment() async throws {
        let node = try LoopbackStorageNode()
        defer { node.stop() }
        node.setLocations([node.url])
        let root = try node.add(Self.data)
        #expect(root == (try ZeroG.merkle(of: Self.data)).root)
        let out = Self.tempFile()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try await ZeroG.download(root: root, indexer: .init(url: node.url), to: out)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == Self.data)

        // One flipped byte in any served segment is caught, and nothing is written.
        for i in 0..<ZeroG.FileLayout(size: Self.data.count).dataSegments {
            node.corrupt(segment: i, byte: 100 + i)
            let bad = Self.tempFile()
            do { try await ZeroG.download(root: root, indexer: .init(url: node.url), to: bad); Issue.record("segment \(i) corruption accepted") } catch {
                #expect(error.code == .proofInvalid, "segment \(i): \(error)")
            }
            #expect(!FileManager.default.fileExists(atPath: bad) && !FileManager.default.fileExists(atPath: bad + ".partial"))
        }
        node.corrupt(segment: nil)

        // An unknown root is notFound.
        do { try await ZeroG.download(root: ZeroG.emptyChunkHash, indexer: .init(url: node.url), to: Self.tempFile()); Issue.record("no error") } catch {
            #expect(error.code == .notFound)
        }
    }

    @Test func aBadNodeIsSkippedForAGoodOne() async throws {
        let bad = try LoopbackStorageNode(), good = try LoopbackStorageNode()
        defer { bad.stop(); good.stop() }
        let root = try bad.add(Self.data)
        try good.add(Self.data)
        bad.corrupt(segment: 1, byte: 7)
        bad.setLocations([bad.url, good.url])
        let out = Self.tempFile()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try await ZeroG.download(root: root, indexer: .init(url: bad.url), to: out)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == Self.data)
    }

    @Test func uploadThroughFlowOnTheDevChainThenDownload() async throws {
        let chain = try DevChain()
        defer { chain.stop() }
        let node = try LoopbackStorageNode()
        defer { node.stop() }
        node.setLocations([node.url])
        let client = EthClient(url: chain.info.rpcUrl)
        let flow = ZeroG.FlowContract(address: try Address(chain.info.flow), client: client)
        node.follow(flow: flow)
        let sender = TransactionSender(client: client, key: try Secp256k1.PrivateKey(rawRepresentation: Hex.decode(chain.info.owner.privateKey)))
        await sender.configure(pollInterval: .milliseconds(20), knownErrors: ZeroG.FlowContract.errors)
        let balanceBefore = try await client.balance(of: sender.address)
        let (root, txSeq) = try await ZeroG.upload(Self.data, node: ZeroG.StorageNodeClient(url: node.url), flow: flow, sender: sender)
        #expect(root == (try ZeroG.merkle(of: Self.data)).root)
        let info = try #require(try await ZeroG.StorageNodeClient(url: node.url).fileInfo(txSeq: txSeq))
        #expect(info.finalized && info.root == root && info.size == Self.data.count)
        // The fee was paid: Σ 2^height × pricePerSector (plus gas).
        let price = try await flow.pricePerSector()
        let sectors = (try ZeroG.merkle(of: Self.data)).submissionNodes.reduce(0) { $0 + (1 << $1.height) }
        #expect(try await client.balance(of: sender.address) <= balanceBefore - price * .init(sectors))
        // A second upload of the same file is a no-op (the node already has it).
        #expect(try await ZeroG.upload(Self.data, node: ZeroG.StorageNodeClient(url: node.url), flow: flow, sender: sender).txSeq == txSeq)
        let out = Self.tempFile()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try await ZeroG.download(root: root, indexer: .init(url: node.url), to: out)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: out))) == Self.data)
    }

    @Test func theNodeRefusesASegmentThatDoesNotProve() async throws {
        let node = try LoopbackStorageNode()
        defer { node.stop() }
        let txSeq = try node.register(Self.data)
        let client = ZeroG.StorageNodeClient(url: node.url)
        var segs = try ZeroG.segments(of: Self.data)
        var tampered = segs[2]
        tampered.data[0] ^= 1
        do { try await client.upload([tampered], txSeq: txSeq); Issue.record("a tampered segment was accepted") } catch {
            #expect(error.code == .nodeError && error.message.contains("invalid segment"), "\(error)")
        }
        #expect(try await client.fileInfo(txSeq: txSeq)?.finalized == false)
        try await client.upload(segs, txSeq: txSeq)
        #expect(try await client.fileInfo(txSeq: txSeq)?.finalized == true)
        // Uploading again is "already uploaded": done, not an error.
        try await client.upload([segs[0]], txSeq: txSeq)
        segs.removeAll()
    }
}

/// The local content-addressed dataset store.
@Suite("Local dataset store")
struct LocalDatasetStoreTests {
    @Test func putGetAndTamper() throws {
        let dir = ZeroGStorageTests.tempFile()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = LocalDatasetStore(directory: dir)
        let data = Array(ZeroGStorageTests.data.prefix(300_000))
        let root = try store.put(data)
        #expect(root == (try ZeroG.merkle(of: data)).root)
        #expect(try store.get(root) == data)
        let src = ZeroGStorageTests.tempFile()
        defer { try? FileManager.default.removeItem(atPath: src) }
        try Data(data).write(to: URL(fileURLWithPath: src))
        #expect(try store.put(fileAt: src) == root)
        // A byte changed on disk is caught on read.
        let path = (dir as NSString).appendingPathComponent(Hex.encode(root.bytes))
        var onDisk = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        onDisk[12345] ^= 1
        try Data(onDisk).write(to: URL(fileURLWithPath: path))
        #expect(throws: ZeroGError.self) { try store.get(root) }
        #expect((try? store.get(ZeroG.emptyChunkHash)) == nil)
    }
}
