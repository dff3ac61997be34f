import Attestation
import AttestationCollateral
import ByteEncoding
import Chain
import Crypto
import DatasetCrypto
import EVMCrypto
import Foundation
import KeyRelease
import ProviderNode
import ReleaseProtocol
import TestSupport
import Testing

/// The key-release service end to end, against both stores: real HTTP on loopback, real swtpm
/// evidence through tss2, the dev chain, and SQLite or the Debian PostgreSQL server.
@Suite("Key-release service", .serialized)
struct ReleaseServiceTests {
    @Test("happy path: a TPM-attested node gets the key, decrypts the dataset, and the audit record is public", arguments: StoreBackend.allCases)
    func happyPath(kind: StoreBackend) async throws {
        let w = try await ReleaseWorld(store: kind)
        do {
            let d = try await w.dataset()
            let node = NodeKeys()
            let nonce = try await w.challenge()
            let (status, json) = try await w.post("/v1/release", try await w.request(d, nonce: nonce, node: node))
            #expect(status == 200, "\(json)")
            #expect(try w.open(json, d, node: node) == d.plaintext)
            #expect(json["hpkeSuite"] as? String == "DHKEM(X25519, HKDF-SHA256)/HKDF-SHA256/AES-256-GCM")

            // Another HPKE key cannot open it, nor the right key under another context.
            let other = NodeKeys()
            #expect(throws: ProviderNodeError.self) { _ = try w.open(json, d, node: other) }

            // The audit record is public and names the job, the dataset and the attested signer key.
            let ref = try #require(json["attestationRef"] as? String)
            let (astatus, audit) = try await w.get("/v1/audit/\(ref)")
            #expect(astatus == 200)
            let record = try #require(audit["record"] as? [String: Any])
            #expect(record["outcome"] as? String == "released")
            #expect(record["jobID"] as? String == Hex.prefixed(d.jobID))
            #expect(record["datasetRoot"] as? String == Hex.prefixed(d.root))
            #expect(record["signerPublicKey"] as? String == Hex.prefixed(node.signerPublicKey))
            #expect(record["policyName"] as? String == "swtpm-reference")
            #expect((record["claims"] as? [String: String])?["imageDigests"] == ReleaseWorld.image)
            #expect(audit["hash"] as? String == ref)
            // The body as served hashes to the reference.
            let body = try #require(audit["body"] as? String)
            let seq = try #require(audit["sequence"] as? Int)
            let prev = try Hex.decode(try #require(audit["previousHash"] as? String))
            #expect(Hex.prefixed(AuditRecord.computeHash(sequence: Int64(seq), previousHash: prev, body: Array(body.utf8))) == ref)

            // The chain verifies offline, through the library and the CLI.
            let summary = try await AuditChain.verify(w.store)
            #expect(summary.released >= 1 && summary.head != nil)
            let cli = try CLIRunner.run("keyrelease", ["audit", "verify", "--store", w.storeURL, "--json"])
            #expect(cli.status == 0, "\(cli.stderr)")
            #expect(try cli.json()["intact"] as? Bool == true)

            // Metrics count the release; health and readiness answer.
            let (_, metrics) = try await w.getText("/metrics")
            #expect(metrics.contains("krs_releases_total 1"))
            #expect(metrics.contains("krs_requests_total{route=\"release\",outcome=\"ok\"} 1") || metrics.contains("krs_requests_total{outcome=\"ok\",route=\"release\"} 1"), "\(metrics)")
            #expect(metrics.contains("krs_verification_seconds_bucket"))
            #expect(try await w.get("/healthz").0 == 200)
            #expect(try await w.get("/readyz").0 == 200)
            let (ek, escrowKeyJSON) = try await w.get("/v1/escrow-key")
            #expect(ek == 200 && escrowKeyJSON["publicKey"] as? String == Hex.prefixed(w.escrowKey.publicKey.serialized(compressed: true)))
            // Admin listing needs the token.
            #expect(try await w.get("/v1/admin/audit").0 == 401)
            let (adm, _) = try await w.get("/v1/admin/audit?limit=5", headers: [("authorization", "Bearer admin-secret")])
            #expect(adm == 200)
        } catch {
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }

    /// Posts `request` and expects a refusal with `code` and `status`: the body carries only
    /// the code and a request id, never a sealed key.
    static func expectRefusal(
        _ w: ReleaseWorld, _ request: ReleaseRequest, code: String, status: Int, base: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let (got, json) = try await w.post("/v1/release", request, base: base)
        #expect(got == status, "\(code): \(json)", sourceLocation: sourceLocation)
        #expect(json["code"] as? String == code, "\(json)", sourceLocation: sourceLocation)
        #expect(Set(json.keys) == ["code", "requestId"], "\(json)", sourceLocation: sourceLocation)
    }

    @Test("each refusal has its own code and releases nothing", arguments: StoreBackend.allCases)
    func refusals(kind: StoreBackend) async throws {
        let w = try await ReleaseWorld(store: kind)
        do {
            let d = try await w.dataset()
            let node = NodeKeys()

            // Nonces: unknown, reused, expired.
            try await Self.expectRefusal(w, try await w.request(d, nonce: Array(repeating: 9, count: 32), node: node), code: "nonce_unknown", status: 409)
            let used = try await w.challenge()
            let good = try await w.request(d, nonce: used, node: node)
            #expect(try await w.post("/v1/release", good).0 == 200)
            try await Self.expectRefusal(w, good, code: "nonce_used", status: 409)
            // The same good request ten times at once: the nonce decides exactly one of them.
            let raced = try await w.request(d, nonce: try await w.challenge(), node: node)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 { group.addTask { try await w.post("/v1/release", raced).0 } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.sorted() == [200] + Array(repeating: 409, count: 9))
            let stale = try await w.challenge()
            w.clock.advance(121)
            try await Self.expectRefusal(w, try await w.request(d, nonce: stale, node: node), code: "nonce_expired", status: 409)

            // Evidence bound to another nonce, or to another HPKE key.
            var n = try await w.challenge()
            let otherNonce = ReleaseBinding(nonce: Array(repeating: 1, count: 32), jobID: d.jobID, hpkePublicKey: node.hpkePublicKey, signerPublicKey: node.signerPublicKey)
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, quoteBinding: otherNonce), code: "binding_mismatch", status: 403)
            n = try await w.challenge()
            let otherKey = ReleaseBinding(nonce: n, jobID: d.jobID, hpkePublicKey: NodeKeys().hpkePublicKey, signerPublicKey: node.signerPublicKey)
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, quoteBinding: otherKey), code: "binding_mismatch", status: 403)

            // A flipped signature byte: evidence that does not verify.
            n = try await w.challenge()
            var forged = try await w.request(d, nonce: n, node: node)
            var sig = [UInt8](forged.evidence.tpm!.signature)
            sig[sig.count - 5] ^= 0x01
            forged.evidence.tpm!.signature = Data(sig)
            try await Self.expectRefusal(w, forged, code: "evidence_invalid", status: 403)
            // A refused attempt spends its nonce: a good request with it is refused too.
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node), code: "nonce_used", status: 409)

            // Chain: absent job, a Completed and a Failed job, another dataset's root, a ticket from
            // the wrong signer, for another node, for another job, or expired.
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, jobID: ReleaseWorld.bytes32("no-such-job")), code: "job_not_found", status: 404)
            let completed = try await w.newJob(d.root)
            try await w.dp.startJob(completed, from: w.backend)
            try await w.dp.confirmTrainingComplete(completed, actualEpochs: 1, resultHash: ReleaseWorld.bytes32("m"), attestationRef: ReleaseWorld.bytes32("a"), from: w.backend)
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, jobID: completed), code: "job_not_active", status: 409)
            let failed = try await w.newJob(d.root)
            try await w.dp.markJobFailed(failed, reasonCode: "TEST", from: w.backend)
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, jobID: failed), code: "job_not_active", status: 409)
            let other = try await w.dataset()
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, datasetRoot: other.root), code: "dataset_mismatch", status: 409)
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, ticketSigner: w.requesterKey), code: "ticket_wrong_signer", status: 403)
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, ticketNode: Secp256k1.PrivateKey().publicKey.address), code: "ticket_invalid", status: 403)
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, ticketJobID: completed), code: "ticket_invalid", status: 403)
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, ticketExpiry: UInt64(w.clock.now.timeIntervalSince1970) - 1), code: "ticket_invalid", status: 403)
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node), code: "nonce_used", status: 409)  // spent by the chain refusal

            // A Requested job: the dev chain never stores that state (requestAccess grants at
            // once), so a registry decorator reports it for one job; everything else is the chain.
            let requested = try await w.newJob(d.root)
            let decorated = try ReleaseService(
                store: w.store,
                registry: StateOverrideRegistry(
                    base: ChainJobRegistry(rpc: w.chain.info.rpcUrl, contract: try Address(w.chain.info.dataPolicy)),
                    overrides: [requested: .requested]),
                policies: w.service.policies, verification: QuoteVerification(), escrowKey: w.escrowKey, settings: w.service.settings, logger: w.service.logger)
            let decoratedURL = try await w.serve(decorated)
            n = try await w.challenge(decoratedURL)
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node, jobID: requested), code: "job_not_active", status: 409, base: decoratedURL)

            // Policy: a measurement, an image digest, a code hash outside it; stale evidence.
            func variant(_ edit: (inout Policy) -> Void) async throws -> String {
                var p = w.policy
                edit(&p)
                let s = try ReleaseService(
                    store: w.store, registry: ChainJobRegistry(rpc: w.chain.info.rpcUrl, contract: try Address(w.chain.info.dataPolicy)),
                    policies: [try LoadedPolicy(text: p.yaml, source: "variant")], verification: QuoteVerification(), escrowKey: w.escrowKey,
                    settings: w.service.settings, logger: w.service.logger)
                return try await w.serve(s)
            }
            let pcr0 = try await variant { $0.platforms[.tpm]!.measurements["pcr.sha256.0"] = .exactly(String(repeating: "ab", count: 32)) }
            n = try await w.challenge(pcr0)
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node), code: "measurement_not_allowed", status: 403, base: pcr0)
            let image = try await variant { $0.workload.imageDigests = .exactly("sha256:" + String(repeating: "00", count: 32)) }
            n = try await w.challenge(image)
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node), code: "workload_not_allowed", status: 403, base: image)
            let code = try await variant { $0.workload.codeHashes = .anyOf(["sha256:" + String(repeating: "01", count: 32), "sha256:" + String(repeating: "02", count: 32)]) }
            n = try await w.challenge(code)
            try await Self.expectRefusal(w, try await w.request(d, nonce: n, node: node), code: "workload_not_allowed", status: 403, base: code)
            let young = try await variant { $0.maxEvidenceAge = 10 }
            n = try await w.challenge(young)
            let late = try await w.request(d, nonce: n, node: node)
            w.clock.advance(60)  // the nonce (TTL 120 s) is still live; the evidence is 60 s old
            try await Self.expectRefusal(w, late, code: "evidence_too_old", status: 403, base: young)

            // Escrow: an upload signed by someone other than the owner; an envelope the service
            // cannot open; an unregistered dataset. The stored envelope is unchanged.
            let before = try await w.store.escrow(datasetRoot: d.root)
            let foreign = try KeyEnvelope.seal(datasetKey: SymmetricKey(size: .bits256), datasetIV: Array(repeating: 3, count: 12), to: w.escrowKey.publicKey)
            let (s1, j1) = try await w.post("/v1/escrow", try EscrowUpload.signed(datasetRoot: d.root, envelope: foreign.bytes, version: 2, owner: w.requesterKey))
            #expect(s1 == 403 && j1["code"] as? String == "escrow_not_owner", "\(j1)")
            let wrongKey = try KeyEnvelope.seal(datasetKey: SymmetricKey(size: .bits256), datasetIV: Array(repeating: 3, count: 12), to: Secp256k1.PrivateKey().publicKey)
            let (s2, j2) = try await w.post("/v1/escrow", try EscrowUpload.signed(datasetRoot: d.root, envelope: wrongKey.bytes, version: 2, owner: w.ownerKey))
            #expect(s2 == 400 && j2["code"] as? String == "escrow_envelope_invalid", "\(j2)")
            let (s3, j3) = try await w.post("/v1/escrow", try EscrowUpload.signed(datasetRoot: ReleaseWorld.bytes32("unregistered"), envelope: foreign.bytes, version: 2, owner: w.ownerKey))
            #expect(s3 == 403 && j3["code"] as? String == "escrow_not_owner", "\(j3)")
            #expect(try await w.store.escrow(datasetRoot: d.root) == before)

            // A dataset with nothing escrowed.
            let bare = try await w.dataset(escrow: false)
            n = try await w.challenge()
            try await Self.expectRefusal(w, try await w.request(bare, nonce: n, node: node), code: "escrow_missing", status: 404)

            // Exactly two releases happened (the first good request and one of the raced ten);
            // each of the 17 refusals that spent a nonce is audited; the 13 that named no usable
            // nonce (unknown, used, expired) are only counted.
            let summary = try await AuditChain.verify(w.store)
            #expect(summary.released == 2)
            #expect(summary.refused == 17)
            let (_, metrics) = try await w.getText("/metrics")
            #expect(metrics.contains("krs_releases_total 2"))
            #expect(metrics.contains("krs_unaudited_refusals_total{code=\"nonce_used\"} 12"), "\(metrics)")
        } catch {
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }

    /// TDX evidence (a quote minted by a test PKI standing in for Intel's, verified by the same
    /// TDX path as real quotes): REPORTDATA carries the release binding; a debug TD is refused
    /// with its own code, a production one gets the key.
    @Test("TDX evidence: the binding in REPORTDATA releases; a debug TD is refused", arguments: StoreBackend.allCases)
    func tdxDebugRefused(kind: StoreBackend) async throws {
        let w = try await ReleaseWorld(store: kind)
        do {
            let d = try await w.dataset()
            let pki = try TDXTestPKI()
            let url = try await w.serve(try w.tdxService(pki, source: pki.collateralSource, policyYAML: TDXTestPKI.policyYAML(name: "tdx-no-debug")))
            let expiry = UInt64(TDXTestPKI.validInstant.timeIntervalSince1970) + 600
            for debug in [true, false] {
                let node = NodeKeys()
                let nonce = try await w.challenge(url)
                let binding = ReleaseBinding(nonce: nonce, jobID: d.jobID, hpkePublicKey: node.hpkePublicKey, signerPublicKey: node.signerPublicKey)
                let quote = try pki.quote(reportData: binding.reportData, debug: debug)
                let request = try await w.request(d, nonce: nonce, node: node, evidence: EvidenceBundle(platform: .tdx, report: Data(quote)), ticketExpiry: expiry)
                if debug {
                    try await Self.expectRefusal(w, request, code: "debug_not_allowed", status: 403, base: url)
                } else {
                    let (status, json) = try await w.post("/v1/release", request, base: url)
                    #expect(status == 200, "\(json)")
                    #expect(try w.open(json, d, node: node) == d.plaintext)
                }
            }
            // A quote whose REPORTDATA binds something else.
            let node = NodeKeys()
            let nonce = try await w.challenge(url)
            let quote = try pki.quote(reportData: Array(repeating: 0xab, count: 64))
            try await Self.expectRefusal(
                w, try await w.request(d, nonce: nonce, node: node, evidence: EvidenceBundle(platform: .tdx, report: Data(quote)), ticketExpiry: expiry),
                code: "binding_mismatch", status: 403, base: url)
        } catch {
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }
}
