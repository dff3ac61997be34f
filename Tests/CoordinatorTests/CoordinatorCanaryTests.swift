import ByteEncoding
import Coordinator
import Crypto
import Foundation
import TestSupport
import Testing

/// The coordinator is not a decryption point: after a whole job, neither the dataset's plaintext
/// nor its key appears in the coordinator's log lines, its database files, or any HTTP body it
/// sent or received (provider nodes, the chain RPC), in raw, hex or base64 form. Positive
/// controls plant each canary in a copy of each haystack and check the search finds it.
@Suite("Coordinator: canary", .serialized, .timeLimit(.minutes(5)))
struct CoordinatorCanaryTests {
    /// The forms a secret could take on the wire or on disk.
    static func forms(_ secret: [UInt8]) -> [[UInt8]] {
        let hex = Hex.encode(secret)
        let b64 = Data(secret).base64EncodedString()
        let b64url = b64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return [secret, Array(hex.utf8), Array(hex.uppercased().utf8), Array(b64.dropLast(4).utf8), Array(b64url.dropLast(4).utf8)]
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        let first = needle[0]
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == first && Array(haystack[i..<(i + needle.count)]) == needle { return true }
            i += 1
        }
        return false
    }

    static func leaks(_ secrets: [[UInt8]], in haystack: [UInt8]) -> Bool {
        secrets.flatMap(forms).contains { contains(haystack, $0) }
    }

    @Test("neither the dataset nor its key reaches the coordinator's logs, database or HTTP traffic (nodes, chain, key-release service)")
    func canary() async throws {
        try await CoordinatorWorld.using { w in
            let d = try await w.release.dataset()
            let node = try w.node()
            let proxy = try LoopbackRPCProxy(upstream: w.release.chain.info.rpcUrl)
            defer { proxy.stop() }
            // The coordinator's audit lookups at the key-release service, recorded on their way.
            let audit = try LoopbackRPCProxy(upstream: w.release.baseURL)
            defer { audit.stop() }
            let engine = try await w.engine([node], rpc: proxy.url, auditURL: audit.url)
            let records = try await w.drive(engine, until: [d.jobID])
            #expect(records.first?.state == .completed)
            await engine.store.close()

            let key = d.key.withUnsafeBytes { Array($0) }
            let secrets = [key, Array(d.plaintext[1000..<1048]), Array(d.plaintext[4000..<4048])]
            let path = String(w.storeURL.dropFirst("sqlite:".count))
            var database: [UInt8] = []
            for suffix in ["", "-wal", "-shm"] { database += (FileManager.default.contents(atPath: path + suffix).map { [UInt8]($0) } ?? []) + [0] }
            let logs: [UInt8] = Array(w.logs.all.joined(separator: "\n").utf8)
            var traffic: [UInt8] = []
            for r in node.requests { traffic += Array(r.uri.utf8) + r.body + [0] }
            for b in node.responseBodies + proxy.traffic + audit.traffic { traffic += b + [0] }
            #expect(audit.traffic.contains { Self.contains($0, Array("released".utf8)) }, "the audit lookup went through the recorder")
            #expect(database.count > 4096, "the store was read")
            #expect(!logs.isEmpty && !traffic.isEmpty)
            let haystacks: [(String, [UInt8])] = [("database", database), ("logs", logs), ("traffic", traffic)]
            for (name, haystack) in haystacks {
                #expect(!Self.leaks(secrets, in: haystack), "a canary is in the coordinator's \(name)")
                // Positive controls: each form of each canary is found once planted.
                for secret in secrets {
                    for form in Self.forms(secret) {
                        #expect(Self.leaks([secret], in: haystack + [0x20] + form + [0x20]), "the search misses a planted canary in \(name)")
                    }
                }
            }
            // The coordinator's traffic did carry the job (the search looked at the right bytes).
            #expect(Self.contains(traffic, Array(Hex.encode(d.jobID).utf8)))
            #expect(Self.contains(database, d.jobID))
        }
    }
}
