import Chain
import Foundation
import TestSupport
import Testing
import ZeroG

/// Every vector of ../shared/testvectors/zerog/merkle-roots.json: root, chunk counts, padding,
/// segments and the Flow submission nodes.
@Suite("0G merkle roots")
struct ZeroGMerkleTests {
    struct Vector: Sendable, CustomStringConvertible {
        let size: Int
        let pattern: String
        let root: String?
        let numChunks: Int?
        let paddedChunks: Int?
        let numSegmentsPadded: Int?
        let nodes: [(Int, Int, String)]
        var description: String { "\(size) bytes, \(pattern.prefix(24))" }

        func data() -> [UInt8] {
            pattern.hasPrefix("byte[i] = i % 251") ? (0..<size).map { UInt8($0 % 251) } : (0..<size).map { UInt8((7 * $0 + 3) % 256) }
        }
    }

    static func vectors() throws -> [Vector] {
        let json = try JSONSerialization.jsonObject(with: Data(TestVectors.bytes("zerog/merkle-roots.json"))) as! [String: Any]
        return (json["vectors"] as! [[String: Any]]).map { v in
            Vector(
                size: v["size"] as! Int, pattern: v["pattern"] as! String, root: v["root"] as? String, numChunks: v["numChunks"] as? Int,
                paddedChunks: v["paddedChunks"] as? Int, numSegmentsPadded: v["numSegmentsPadded"] as? Int,
                nodes: ((v["submissionNodes"] as? [[String: Any]]) ?? []).map { ($0["chunks"] as! Int, $0["height"] as! Int, $0["root"] as! String) })
        }
    }

    @Test func everyVector() throws {
        let vectors = try Self.vectors()
        #expect(vectors.count == 17)
        for v in vectors {
            guard let root = v.root else {
                #expect(throws: ZeroGError.self) { try ZeroG.merkle(of: v.data()) }
                continue
            }
            let m = try ZeroG.merkle(of: v.data())
            #expect(m.root.description == root, "\(v)")
            #expect(m.numChunks == v.numChunks, "\(v)")
            #expect(m.paddedChunks == v.paddedChunks, "\(v)")
            #expect(m.numSegmentsPadded == v.numSegmentsPadded, "\(v)")
            #expect(m.submissionNodes.map { [$0.chunks, $0.height] } == v.nodes.map { [$0.0, $0.1] }, "\(v)")
            #expect(m.submissionNodes.map(\.root.description) == v.nodes.map(\.2), "\(v)")
        }
    }

    @Test func fileStreamingEqualsInMemory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zg-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for v in try Self.vectors() where v.root != nil {
            let path = dir.appendingPathComponent("\(v.size)").path
            try Data(v.data()).write(to: URL(fileURLWithPath: path))
            #expect(try ZeroG.merkle(ofFileAt: path).root.description == v.root, "\(v)")
        }
        #expect((try? ZeroG.merkle(ofFileAt: dir.appendingPathComponent("missing").path)) == nil)
    }

    /// A directory once overflowed the chunk arithmetic (its "size" from seeking to the end is
    /// Int64.max on some file systems): anything but a regular file is an I/O error.
    @Test func notARegularFileIsAnIOError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zgdir-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for path in [dir.path, "/dev/null", dir.appendingPathComponent("missing").path] {
            let error = #expect(throws: ZeroGError.self, "\(path)") { _ = try ZeroG.merkle(ofFileAt: path) }
            #expect(error?.code == .io, "\(path): \(error.map(String.init(describing:)) ?? "")")
        }
    }

    @Test func segmentProofsVerifyAndCatchChanges() throws {
        // 1025 chunks + 1 byte → several padded segments.
        let data = (0..<(5 * ZeroG.segmentSize + 1000)).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        let m = try ZeroG.merkle(of: data)
        #expect(Set(m.segmentRoots).count == m.segmentRoots.count, "segments must differ for the swap checks to mean something")
        let tree = ZeroG.MerkleTree(leaves: m.segmentRoots)
        #expect(tree.root == m.root)
        for i in 0..<m.segmentRoots.count {
            let proof = tree.proof(at: i)
            #expect(proof.verifies(leaf: m.segmentRoots[i], index: i, leafCount: m.segmentRoots.count, root: m.root))
            #expect(!proof.verifies(leaf: m.segmentRoots[(i + 1) % m.segmentRoots.count], index: i, leafCount: m.segmentRoots.count, root: m.root))
            #expect(!proof.verifies(leaf: m.segmentRoots[i], index: (i + 1) % m.segmentRoots.count, leafCount: m.segmentRoots.count, root: m.root))
            var bad = proof
            if bad.lemma.count > 2 { bad.lemma[1] = ZeroG.emptyChunkHash; #expect(!bad.verifies(leaf: m.segmentRoots[i], index: i, leafCount: m.segmentRoots.count, root: m.root)) }
        }
        let single = ZeroG.MerkleTree(leaves: [ZeroG.emptyChunkHash])
        #expect(single.proof(at: 0) == ZeroG.Proof(lemma: [ZeroG.emptyChunkHash], path: []))
    }
}

/// `keyrelease dataset root` through the real binary, for every vector.
@Suite("CLI: keyrelease dataset root")
struct DatasetRootCLITests {
    @Test func everyVectorThroughTheCLI() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zgcli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for v in try ZeroGMerkleTests.vectors() {
            let path = dir.appendingPathComponent("\(v.size)-\(v.pattern.prefix(8).filter(\.isLetter))").path
            try Data(v.data()).write(to: URL(fileURLWithPath: path))
            let r = try CLIRunner.run("keyrelease", ["dataset", "root", path])
            if let root = v.root {
                #expect(r.status == 0, "\(v): \(r.stderr)")
                #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == root, "\(v)")
            } else {
                #expect(r.status == 3, "\(v)")
                #expect(r.stderr.contains("emptyFile"))
            }
        }
        let j = try CLIRunner.run("keyrelease", ["dataset", "root", dir.appendingPathComponent("262400-bytei").path, "--json"])
        #expect(j.status == 0)
        #expect(try j.json()["paddedChunks"] as? Int == 1152)
        #expect((try j.json()["submissionNodes"] as? [[String: Any]])?.count == 2)
        #expect(try CLIRunner.run("keyrelease", ["dataset", "root", dir.appendingPathComponent("nope").path]).status == 3)
    }
}
