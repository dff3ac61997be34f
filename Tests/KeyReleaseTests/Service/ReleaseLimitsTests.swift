import Attestation
import AttestationCollateral
import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import KeyRelease
import ServiceSupport
import Logging
import ReleaseProtocol
import SQLiteNIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What strangers can make the service store or hold, and the low-severity attacks: floods of
/// challenges and junk, slow and idle connections, oversized declared bodies, escrow replay,
/// long-lived tickets, requests without proof of possession, duplicate JSON keys, a PCS outage,
/// and credentials in the chain RPC URL.
@Suite("Key-release service: limits and low-severity attacks", .serialized)
struct ReleaseLimitsTests {
    /// A second service on `w`'s store and chain with `settings` changed by `tune`.
    static func service(
        _ w: ReleaseWorld, rpc: String? = nil, verification: QuoteVerification = QuoteVerification(), policyYAML: String? = nil,
        logger: Logger? = nil, _ tune: (inout ReleaseService.Settings) -> Void = { _ in }
    ) throws -> ReleaseService {
        let clock = w.clock
        var settings = ReleaseService.Settings()
        settings.clock = { clock.now }
        settings.challengeRate = nil
        tune(&settings)
        return try ReleaseService(
            store: w.store, registry: ChainJobRegistry(rpc: rpc ?? w.proxy.url, contract: try Address(w.chain.info.dataPolicy)),
            policies: [try LoadedPolicy(text: policyYAML ?? w.policy.yaml, source: "p.yaml")], verification: verification,
            escrowKey: w.escrowKey, settings: settings, logger: logger ?? Logger(label: "limits-test"))
    }

    static func nonceCount(_ path: String) async throws -> Int {
        let c = try await SQLiteConnection.open(storage: .file(path: path))
        defer { Task { try? await c.close() } }
        let rows = try await c.query("SELECT COUNT(*) FROM nonces")
        return rows.first?.column("COUNT(*)")?.integer ?? -1
    }

    static func auditCount(_ w: ReleaseWorld) async throws -> Int {
        try await w.store.auditRecords(afterSequence: 0, limit: 100_000).count
    }

    @Test("a flood of 1000 challenges and 500 junk releases adds no audit record, and expired nonces are purged")
    func boundedFlood() async throws {
        try await ReleaseWorld.using(store: .sqlite, nonceTTL: 60) { w in
            let d = try await w.dataset()
            // One genuine release first: its spent nonce is purged with the rest, and a replay
            // of it stays refused.
            let node = NodeKeys()
            let spent = try await w.request(d, nonce: try await w.challenge(), node: node)
            #expect(try await w.post("/v1/release", spent).0 == 200)
            let before = try await Self.auditCount(w)
            let baseNonces = try await Self.nonceCount(w.sqlitePath!)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        for _ in 0..<125 { _ = try await w.challenge() }; _ = lane
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await Self.nonceCount(w.sqlitePath!) == baseNonces + 1000)
            // 500 junk releases: unparsable, oversized fields, unknown nonces on well-formed requests.
            let wellFormed = try await w.request(d, nonce: Array(repeating: 3, count: 32), node: node)
            for i in 0..<500 {
                switch i % 3 {
                case 0: #expect(try await w.post("/v1/release", raw: Array("{not json \(i)".utf8)).0 == 400)
                case 1:
                    var r = wellFormed
                    r.nonce = Hex.prefixed((0..<32).map { _ in UInt8.random(in: 0...255) })
                    #expect(try await w.post("/v1/release", r).0 == 409)
                default:
                    var r = wellFormed
                    r.jobId = "0x1234"
                    #expect(try await w.post("/v1/release", r).0 == 400)
                }
            }
            #expect(try await Self.auditCount(w) == before)
            let (_, metrics) = try await w.getText("/metrics")
            #expect(metrics.contains("krs_unaudited_refusals_total"), "\(metrics)")
            // Past expiry (TTL 60 s, a minute's grace, the purge interval), the next challenge purges.
            w.clock.advance(60 + 60 + 31)
            _ = try await w.challenge()
            #expect(try await Self.nonceCount(w.sqlitePath!) == 1)
            // The spent nonce is refused after its row is gone, as unknown: nothing is released.
            try await ReleaseServiceTests.expectRefusal(w, spent, code: "nonce_unknown", status: 409)
        }
    }

    @Test("challenges are rate limited per client address; refusals are not audited")
    func challengeRateLimit() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let base = try await w.serve(try Self.service(w) { $0.challengeRate = (burst: 5, perSecond: 0.001) })
            let before = try await Self.auditCount(w)
            for _ in 0..<5 { #expect(try await w.get("/v1/challenge", base: base).0 == 200) }
            let (status, json) = try await w.get("/v1/challenge", base: base)
            #expect(status == 429)
            #expect(json["code"] as? String == "rate_limited")
            #expect(try await Self.auditCount(w) == before)
            // Another service (another budget table) still answers: the limit is per service and client.
            #expect(try await w.get("/v1/challenge").0 == 200)
        }
    }

    // MARK: - Connections

    /// A raw loopback TCP connection (slow and idle clients cannot be written with an HTTP client).
    final class RawConnection {
        private(set) var fd: Int32
        init(port: Int) throws {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            guard rc == 0 else { close(s); throw POSIXError(.ECONNREFUSED) }
            fd = s
        }
        deinit { closeNow() }
        /// Closes once (a second close could hit a descriptor the process reused meanwhile).
        func closeNow() {
            if fd >= 0 { close(fd) }
            fd = -1
        }
        func send(_ s: String) { _ = s.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
        /// Reads until the peer closes or `limit` passes; returns what arrived and whether it closed.
        func readUntilClosed(limit: TimeInterval) -> (text: String, closed: Bool) {
            var out = [UInt8]()
            let deadline = Date().addingTimeInterval(limit)
            var buf = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, 100)
                if ready <= 0 { continue }
                let n = recv(fd, &buf, buf.count, 0)
                if n <= 0 { return (String(decoding: out, as: UTF8.self), true) }
                out += buf[0..<n]
            }
            return (String(decoding: out, as: UTF8.self), false)
        }
    }

    static func port(_ url: String) -> Int { Int(url.split(separator: ":").last!)! }

    @Test("slow-header, slow-body and idle connections are closed by their timeouts; an oversized declared body is answered 413 at once; the connection cap holds")
    func connectionLimits() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let service = try Self.service(w)
            var listener = ReleaseHTTP.Listener()
            listener.port = 0
            listener.headerTimeout = .seconds(1)
            listener.bodyTimeout = .seconds(1)
            listener.idleTimeout = .seconds(1)
            let port = try await Self.serve(w, service, listener)

            // Slow header: half a request line, then nothing.
            let slowHeader = try RawConnection(port: port)
            slowHeader.send("GET /healthz HTTP/1.1\r\nHost: x\r\n")
            #expect(slowHeader.readUntilClosed(limit: 20).closed)
            // Slow body: the head, ten of a hundred declared bytes, then nothing.
            let slowBody = try RawConnection(port: port)
            slowBody.send("POST /v1/escrow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"datasetR")
            #expect(slowBody.readUntilClosed(limit: 20).closed)
            // Idle after a response (keep-alive).
            let idle = try RawConnection(port: port)
            idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let r = idle.readUntilClosed(limit: 20)
            #expect(r.closed && r.text.hasPrefix("HTTP/1.1 200"), "\(r.text)")

            // An oversized declared length is answered before any body byte (body deadline far off).
            listener.bodyTimeout = .seconds(120)
            listener.headerTimeout = .seconds(120)
            listener.idleTimeout = .seconds(120)
            let patient = try await Self.serve(w, service, listener)
            let big = try RawConnection(port: patient)
            big.send("POST /v1/release HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
            let answer = big.readUntilClosed(limit: 10)
            #expect(answer.text.hasPrefix("HTTP/1.1 413"), "\(answer.text)")
            #expect(answer.text.contains("payload_too_large"))

            // One connection at most: a second waits until the first goes.
            listener.maxConnections = 1
            let capped = try await Self.serve(w, service, listener)
            let first = try RawConnection(port: capped)
            first.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            var firstText = ""
            let deadline = Date().addingTimeInterval(20)
            while !firstText.contains("\r\n\r\n"), Date() < deadline {
                let got = first.readUntilClosed(limit: 0.5)
                firstText += got.text
                if got.closed { break }
            }
            #expect(firstText.hasPrefix("HTTP/1.1 200"))
            let second = try RawConnection(port: capped)
            second.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(second.readUntilClosed(limit: 1.5).text.isEmpty)
            first.closeNow()
            #expect(second.readUntilClosed(limit: 20).text.hasPrefix("HTTP/1.1 200"))
        }
    }

    static func serve(_ w: ReleaseWorld, _ service: ReleaseService, _ listener: ReleaseHTTP.Listener) async throws -> Int {
        let ready = AsyncStream<Int>.makeStream()
        let group = try ReleaseHTTP.build(service: service, listener: listener, ownsStore: false, signals: false) { port in ready.continuation.yield(port) }
        let task = Task { try await group.run() }
        w.adopt(task)
        for await p in ready.stream { return p }
        throw KeyReleaseError(.internalError, "server did not start")
    }

    // MARK: - Low-severity attacks

    @Test("escrow replay, long-lived tickets, missing or wrong proof of possession, bad format, duplicate keys: each refused")
    func lowSeverity() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()  // escrowed at version 1
            // Escrow: version 2 replaces, a replayed version 1 or 2 does not.
            let v2 = try KeyEnvelope.seal(datasetKey: d.key, datasetIV: d.iv, to: w.escrowKey.publicKey)
            let upload2 = try EscrowUpload.signed(datasetRoot: d.root, envelope: v2.bytes, version: 2, owner: w.ownerKey)
            #expect(try await w.post("/v1/escrow", upload2).0 == 201)
            let stale = try EscrowUpload.signed(
                datasetRoot: d.root, envelope: try KeyEnvelope.seal(datasetKey: SymmetricKey(size: .bits256), datasetIV: d.iv, to: w.escrowKey.publicKey).bytes,
                version: 1, owner: w.ownerKey)
            let (s1, j1) = try await w.post("/v1/escrow", stale)
            #expect(s1 == 409 && j1["code"] as? String == "escrow_version_stale")
            #expect(try await w.post("/v1/escrow", upload2).0 == 409)
            #expect(try await w.store.escrow(datasetRoot: d.root)?.envelope == v2.bytes)
            // The version is signed: raising it on a signed upload breaks the signature.
            var bumped = stale
            bumped.version = 9
            #expect(try await w.post("/v1/escrow", bumped).1["code"] as? String == "escrow_not_owner")

            // Tickets: beyond the maximum lifetime (default one hour), and 2^64−1.
            let node = NodeKeys()
            for expiry in [UInt64(w.clock.now.timeIntervalSince1970) + 7200, UInt64.max] {
                try await ReleaseServiceTests.expectRefusal(
                    w, try await w.request(d, nonce: try await w.challenge(), node: node, ticketExpiry: expiry),
                    code: "ticket_invalid", status: 403)
            }
            // Proof of possession: by another key, absent, garbage.
            try await ReleaseServiceTests.expectRefusal(
                w, try await w.request(d, nonce: try await w.challenge(), node: node, proofSigner: Secp256k1.PrivateKey()),
                code: "possession_invalid", status: 403)
            var r = try await w.request(d, nonce: try await w.challenge(), node: node)
            r.signerProof = ""
            try await ReleaseServiceTests.expectRefusal(w, r, code: "bad_request", status: 400)
            r.signerProof = "0x" + String(repeating: "00", count: 65)
            try await ReleaseServiceTests.expectRefusal(w, r, code: "possession_invalid", status: 403)
            // evidence.format checked; duplicate JSON keys refused (the first would be ignored).
            var wrongFormat = try await w.request(d, nonce: try await w.challenge(), node: node)
            wrongFormat.evidence.format = "licen-evidence/v0"
            try await ReleaseServiceTests.expectRefusal(w, wrongFormat, code: "bad_request", status: 400)
            let good = try await w.request(d, nonce: try await w.challenge(), node: node)
            let e = JSONEncoder()
            e.dateEncodingStrategy = .iso8601
            var text = String(decoding: try e.encode(good), as: UTF8.self)
            text.insert(contentsOf: "\"jobId\":\"0x\(String(repeating: "ee", count: 32))\",", at: text.index(after: text.startIndex))
            let (ds, dj) = try await w.post("/v1/release", raw: Array(text.utf8))
            #expect(ds == 400 && dj["code"] as? String == "bad_request", "\(dj)")
            // The untouched request still releases (its nonce was never spent by the refusals).
            let (gs, gj) = try await w.post("/v1/release", good)
            #expect(gs == 200, "\(gj)")
            #expect(try w.open(gj, d, node: node) == d.plaintext)
        }
    }

    @Test("an Intel PCS outage during an online release is 503 collateral_unavailable, not a refusal; the same request succeeds once PCS is back")
    func pcsOutage() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let pki = try TDXTestPKI()
            let pcs = try LoopbackHTTPServer { _ in .init(status: 503, body: Array("maintenance".utf8)) }
            defer { pcs.shutdown() }
            let yaml = TDXTestPKI.policyYAML(name: "tdx")
            let down = try await w.serve(
                try w.tdxService(
                    pki, source: IntelPCSCollateralSource(pcsURL: pcs.baseURL, rootCRLURL: pcs.baseURL + "/crl", cacheDirectory: nil),
                    policyYAML: yaml))
            let up = try await w.serve(try w.tdxService(pki, source: pki.collateralSource, policyYAML: yaml))
            let node = NodeKeys()
            let nonce = try await w.challenge(down)
            let binding = ReleaseBinding(nonce: nonce, jobID: d.jobID, hpkePublicKey: node.hpkePublicKey, signerPublicKey: node.signerPublicKey)
            let request = try await w.request(
                d, nonce: nonce, node: node, evidence: EvidenceBundle(platform: .tdx, report: Data(try pki.quote(reportData: binding.reportData))),
                ticketExpiry: UInt64(TDXTestPKI.validInstant.timeIntervalSince1970) + 600)
            let before = try await Self.auditCount(w)
            try await ReleaseServiceTests.expectRefusal(w, request, code: "collateral_unavailable", status: 503, base: down)
            #expect(!pcs.requests.isEmpty)
            #expect(try await Self.auditCount(w) == before)
            let (status, json) = try await w.post("/v1/release", request, base: up)
            #expect(status == 200, "\(json)")
            #expect(try w.open(json, d, node: node) == d.plaintext)
        }
    }

    @Test("TDX collateral downgrade: the service judges with its own collateral unless the bundle's is at least as new; a policy can require a minimum TCB evaluation data number")
    func collateralDowngrade() async throws {
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let pki = try TDXTestPKI()  // its own collateral: PCK CRL of 2030-01-01, PCK not revoked, evaluation 17
            var revoked = pki.options
            revoked.revokePCK = true
            revoked.pckCRLThis = instant("2030-01-10T00:00:00Z")
            let newer = try pki.collateral(with: revoked)
            var recovered = pki.options
            recovered.tcbEvaluationDataNumber = 18
            recovered.tcbStatus = "OutOfDate"
            recovered.pckCRLThis = instant("2030-01-10T00:00:00Z")
            let afterRecovery = try pki.collateral(with: recovered)
            func serve(own: TDX.Collateral, minimumEvaluation: Int? = nil) async throws -> String {
                var policy = try Policy(yaml: TDXTestPKI.policyYAML(name: "tdx"))
                policy.platforms[.tdx]?.minimumTCBEvaluationDataNumber = minimumEvaluation
                return try await w.serve(try w.tdxService(pki, source: FixedCollateralSource(collateral: own), policyYAML: policy.yaml))
            }
            func request(_ base: String, bundled: [UInt8]?) async throws -> (ReleaseRequest, NodeKeys) {
                let node = NodeKeys()
                let nonce = try await w.challenge(base)
                let binding = ReleaseBinding(nonce: nonce, jobID: d.jobID, hpkePublicKey: node.hpkePublicKey, signerPublicKey: node.signerPublicKey)
                let bundle = EvidenceBundle(
                    platform: .tdx, report: Data(try pki.quote(reportData: binding.reportData)),
                    collateral: bundled.map { ["collateral.json": Data($0)] })
                return (try await w.request(d, nonce: nonce, node: node, evidence: bundle, ticketExpiry: UInt64(TDXTestPKI.validInstant.timeIntervalSince1970) + 600), node)
            }
            // The service knows the PCK is revoked; the client brings the older CRL that does not say so.
            let revoking = try await serve(own: newer.collateral)
            try await ReleaseServiceTests.expectRefusal(w, try await request(revoking, bundled: pki.collateralJSON).0, code: "evidence_invalid", status: 403, base: revoking)
            try await ReleaseServiceTests.expectRefusal(w, try await request(revoking, bundled: nil).0, code: "evidence_invalid", status: 403, base: revoking)
            // A service with the older collateral releases; a bundle that is newer in every piece is
            // used instead (here it rates the platform OutOfDate, which the policy refuses).
            let older = try await serve(own: pki.collateral)
            let (ok, node) = try await request(older, bundled: nil)
            let (status, json) = try await w.post("/v1/release", ok, base: older)
            #expect(status == 200, "\(json)")
            #expect(try w.open(json, d, node: node) == d.plaintext)
            try await ReleaseServiceTests.expectRefusal(w, try await request(older, bundled: afterRecovery.json).0, code: "tcb_not_accepted", status: 403, base: older)
            // A policy that requires collateral from after the recovery refuses judgements with evaluation 17.
            let strict = try await serve(own: pki.collateral, minimumEvaluation: 18)
            try await ReleaseServiceTests.expectRefusal(w, try await request(strict, bundled: nil).0, code: "tcb_not_accepted", status: 403, base: strict)
        }
    }

    @Test("credentials in the chain RPC URL never reach a log line or a response")
    func rpcCredentialsRedacted() async throws {
        #expect(JSONRPCClient.redacted("https://user:s3cret@rpc.example:8545/v3/APIKEY123?token=T0K") == "https://rpc.example:8545/…")
        #expect(JSONRPCClient.redacted("http://127.0.0.1:8545") == "http://127.0.0.1:8545")
        #expect(JSONRPCClient.redacted("not a url") == "<rpc url>")
        try await ReleaseWorld.using(store: .sqlite) { w in
            let d = try await w.dataset()
            let logs = LogCapture()
            var logger = Logger(label: "redaction") { JSONLogHandler(label: $0, sink: logs.sink) }
            logger.logLevel = .trace
            let dead = "http://operator:s3cret@127.0.0.1:1/v3/APIKEY123?token=T0K"
            let base = try await w.serve(try Self.service(w, rpc: dead, logger: logger))
            #expect(try await w.get("/readyz", base: base).0 == 503)
            let node = NodeKeys()
            try await ReleaseServiceTests.expectRefusal(w, try await w.request(d, nonce: try await w.challenge(base), node: node), code: "chain_unavailable", status: 503, base: base)
            let all = logs.all.joined(separator: "\n") + w.responses.withLockedValue { $0.joined(separator: "\n") }
            #expect(!logs.all.isEmpty)
            for secret in ["s3cret", "APIKEY123", "T0K", "operator"] { #expect(!all.contains(secret), "\(secret) leaked") }
        }
    }
}
