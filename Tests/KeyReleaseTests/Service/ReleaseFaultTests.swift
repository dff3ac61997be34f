import Attestation
import AttestationCollateral
import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import KeyRelease
import TestSupport
import Testing

/// Replicas, faults and secrecy: the service fails closed and recovers without a restart, and
/// the key never shows up anywhere outside the sealed response.
@Suite("Key-release service: replicas, faults, secrecy", .serialized)
struct ReleaseFaultTests {
    @Test("two replicas on one PostgreSQL: a nonce consumed on one is refused on the other")
    func replicasShareNonces() async throws {
        let w = try await ReleaseWorld(store: .postgres)
        do {
            let d = try await w.dataset()
            // Replica B: its own process state (store connection pool, caches, metrics), same database.
            let storeB = try await ReleaseStores.open(w.storeURL)
            let b = try ReleaseService(
                store: storeB, registry: ChainJobRegistry(rpc: w.chain.info.rpcUrl, contract: try Address(w.chain.info.dataPolicy)),
                policies: w.service.policies, verification: QuoteVerification(), escrowKey: w.escrowKey, settings: w.service.settings)
            let bURL = try await w.serve(b)
            let node = NodeKeys()
            let nonce = try await w.challenge()  // issued by A
            let request = try await w.request(d, nonce: nonce, node: node)
            let (sa, ja) = try await w.post("/v1/release", request)  // consumed on A
            #expect(sa == 200, "\(ja)")
            try await ReleaseServiceTests.expectRefusal(w, request, code: "nonce_used", status: 409, base: bURL)
            // And the other way round: issued by B, consumed on B, refused on A.
            let n2 = try await w.challenge(bURL)
            let r2 = try await w.request(d, nonce: n2, node: node)
            #expect(try await w.post("/v1/release", r2, base: bURL).0 == 200)
            try await ReleaseServiceTests.expectRefusal(w, r2, code: "nonce_used", status: 409)
            // Both replicas appended to one intact chain.
            let summary = try await AuditChain.verify(w.store)
            #expect(summary.released >= 2)
            await storeB.close()
        } catch {
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }

    @Test("database stopped mid-run: 503, never a release; back without restarting the service")
    func databaseOutage() async throws {
        let w = try await ReleaseWorld(store: .postgres)
        let pg = try SharedPostgres.server.get()
        do {
            let d = try await w.dataset()
            let node = NodeKeys()
            let nonce = try await w.challenge()
            let request = try await w.request(d, nonce: nonce, node: node)
            try pg.stop()
            let (s1, j1) = try await w.post("/v1/release", request)
            #expect(s1 == 503 && j1["code"] as? String == "store_unavailable", "\(j1)")
            let (s2, j2) = try await w.get("/v1/challenge")
            #expect(s2 == 503 && j2["code"] as? String == "store_unavailable", "\(j2)")
            #expect(try await w.get("/readyz").0 == 503)
            #expect(try await w.get("/healthz").0 == 200)
            try pg.start()
            // The same service instance recovers: the untouched nonce still works once.
            var released = false
            for _ in 0..<50 where !released {
                let (s, j) = try await w.post("/v1/release", request)
                if s == 200 {
                    released = try w.open(j, d, node: node) == d.plaintext
                } else {
                    #expect(s == 503, "\(j)")
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(released)
            #expect(try await w.get("/readyz").0 == 200)
        } catch {
            try? pg.start()
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }

    @Test("chain RPC down: 503 and never a release; malformed and oversized bodies: 4xx, the service stays up", arguments: StoreBackend.allCases)
    func chainOutageAndBadBodies(kind: StoreBackend) async throws {
        let w = try await ReleaseWorld(store: kind)
        do {
            let d = try await w.dataset()
            let node = NodeKeys()
            w.proxy.unavailable(1_000_000)
            let nonce = try await w.challenge()
            let (s1, j1) = try await w.post("/v1/release", try await w.request(d, nonce: nonce, node: node))
            #expect(s1 == 503 && j1["code"] as? String == "chain_unavailable", "\(j1)")
            #expect(j1["sealedKey"] == nil)
            #expect(try await w.get("/readyz").0 == 503)
            w.proxy.unavailable(0)
            #expect(try await w.get("/readyz").0 == 200)
            let n2 = try await w.challenge()
            let (s2, j2) = try await w.post("/v1/release", try await w.request(d, nonce: n2, node: node))
            #expect(s2 == 200, "\(j2)")

            // Malformed bodies.
            for raw in ["", "{", "[]", "{\"jobId\": 1}", String(repeating: "x", count: 1000), "{\"jobId\":\"0x00\",\"datasetRoot\":\"0x00\"}"] {
                let (s, j) = try await w.post("/v1/release", raw: Array(raw.utf8))
                #expect(s == 400 && j["code"] as? String == "bad_request", "\(raw): \(j)")
            }
            var wrongSizes = try await w.request(d, nonce: try await w.challenge(), node: node)
            wrongSizes.hpkePublicKey = "0x1234"
            let (s3, j3) = try await w.post("/v1/release", wrongSizes)
            #expect(s3 == 400 && j3["code"] as? String == "bad_request", "\(j3)")
            for raw in ["", "{}", "{\"datasetRoot\": 5}"] {
                let (s, j) = try await w.post("/v1/escrow", raw: Array(raw.utf8))
                #expect(s == 400 && j["code"] as? String == "bad_request", "\(raw): \(j)")
            }
            // Oversized: 2 MiB against the 1 MiB limit.
            let (s4, j4) = try await w.post("/v1/release", raw: Array(repeating: UInt8(ascii: "a"), count: 2 << 20))
            #expect(s4 == 413 && j4["code"] as? String == "payload_too_large", "\(j4)")
            let (s5, _) = try await w.get("/v1/audit/0x1234")
            #expect(s5 == 400)
            let (s6, j6) = try await w.get("/v1/audit/" + Hex.prefixed(Array(repeating: UInt8(7), count: 32)))
            #expect(s6 == 404 && j6["code"] as? String == "not_found")
            // Still up and serving.
            #expect(try await w.get("/healthz").0 == 200)
            let n3 = try await w.challenge()
            #expect(try await w.post("/v1/release", try await w.request(d, nonce: n3, node: node)).0 == 200)
            #expect(try await AuditChain.verify(w.store).released == 2)
        } catch {
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }

    @Test("no key material in logs, responses or database rows", arguments: StoreBackend.allCases)
    func keyNeverLeaks(kind: StoreBackend) async throws {
        let w = try await ReleaseWorld(store: kind)
        var needles = [String: [UInt8]]()
        var stored = [[UInt8]]()  // positive control: what the store does keep must be found
        do {
            // Several releases and refusals, so every code path logs and stores something.
            for _ in 0..<2 {
                let d = try await w.dataset()
                let node = NodeKeys()
                let nonce = try await w.challenge()
                let req = try await w.request(d, nonce: nonce, node: node)
                let (s, j) = try await w.post("/v1/release", req)
                #expect(s == 200, "\(j)")
                #expect(try w.open(j, d, node: node) == d.plaintext)
                #expect(try await w.post("/v1/release", req).0 == 409)
                stored.append(try #require(try await w.store.escrow(datasetRoot: d.root)).envelope)
                let raw = d.key.withUnsafeBytes { [UInt8]($0) }
                needles["key \(needles.count)"] = raw
                needles["plaintext \(needles.count)"] = Array(d.plaintext.prefix(64))
            }
            needles["escrow private key"] = w.escrowKey.privateKey.rawRepresentation
        } catch {
            await w.shutdown()
            throw error
        }
        let logs = w.logs.all.joined(separator: "\n")
        let responses = w.responses.withLockedValue { $0 }.joined(separator: "\n")
        #expect(!logs.isEmpty && logs.contains("released"))
        // The database files on disk: the SQLite file and its WAL, or PostgreSQL's whole data
        // directory (heap files and WAL), after a checkpoint.
        var disk = [UInt8]()
        if kind == .sqlite, let path = w.sqlitePath {
            for s in ["", "-wal"] { disk += (FileManager.default.contents(atPath: path + s).map { [UInt8]($0) } ?? []) }
        } else {
            let pg = try SharedPostgres.server.get()
            _ = try pg.psql("CHECKPOINT")
            disk = Self.files(under: pg.directory + "/data")
        }
        await w.shutdown()
        #expect(disk.count > 4096)
        let diskData = Data(disk)  // Data.range(of:) searches tens of MiB quickly; a generic search does not
        for envelope in stored { #expect(diskData.range(of: Data(envelope)) != nil, "the search must find what the store keeps") }
        for (name, bytes) in needles {
            for form in [Hex.encode(bytes), Hex.encode(bytes).uppercased(), Data(bytes).base64EncodedString(), Hex.prefixed(bytes)] {
                #expect(!logs.contains(form), "\(name) in the logs")
                #expect(!responses.contains(form), "\(name) in a response")
                #expect(diskData.range(of: Data(form.utf8)) == nil, "\(name) in the database files")
            }
            #expect(diskData.range(of: Data(bytes)) == nil, "\(name) raw in the database files")
        }
    }

    /// Every byte of every regular file under `dir`.
    static func files(under dir: String) -> [UInt8] {
        var out = [UInt8]()
        guard let files = FileManager.default.enumerator(atPath: dir) else { return out }
        for case let f as String in files {
            var isDir: ObjCBool = false
            let path = dir + "/" + f
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue, let d = FileManager.default.contents(atPath: path) { out += d }
        }
        return out
    }
}
