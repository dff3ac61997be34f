import Attestation
import ByteEncoding
import Crypto
import Foundation
import ProviderNode
import TestSupport
import Testing

@Suite("ProviderNode: TPM evidence from swtpm via tss2", .serialized)
struct TPMEvidenceProducerTests {
    static let image = "sha256:" + String(repeating: "1a", count: 32)
    static let code = "sha256:" + String(repeating: "2b", count: 32)

    @Test func quoteCarriesNonceAndWorkloadPCR() async throws {
        let tpm = try SoftwareTPM()
        defer { tpm.stop() }
        let producer = try TPMEvidenceProducer(tcti: tpm.tcti)
        try await producer.measure(.image(Self.image))
        try await producer.measure(.code(Self.code))
        let nonce = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let bundle = try await producer.quote(nonce: nonce)
        await producer.close()

        let t = try #require(bundle.tpm)
        let attest = [UInt8](t.attest)
        #expect(attest.prefix(4) == [0xff, 0x54, 0x43, 0x47])  // TPM_GENERATED_VALUE
        #expect(attest[4...5] == [0x80, 0x18])  // TPM_ST_ATTEST_QUOTE
        #expect(bundle.nonce == Hex.encode(nonce))
        #expect(attest.firstRange(of: nonce) != nil)  // extraData carries the nonce
        // PCR 23 = SHA-256 chain of the two events from zero, exactly what the log replays to.
        var pcr = [UInt8](repeating: 0, count: 32)
        for e in [WorkloadEvent.image(Self.image), .code(Self.code)] { pcr = Array(SHA256.hash(data: pcr + Array(SHA256.hash(data: e.data)))) }
        #expect(t.pcrs["sha256"]?["23"] == Hex.encode(pcr))
        #expect(t.pcrs["sha256"]?.count == 9)
        #expect(try EvidenceBundle(json: bundle.json) == bundle)
        let log = try #require(bundle.eventLog)
        #expect(log.count > 100)
    }

    @Test func unreachableTPMIsATypedError() async throws {
        await #expect(throws: ProviderNodeError.self) { _ = try TPMEvidenceProducer(tcti: "swtpm:host=127.0.0.1,port=1") }
        let tpm = try SoftwareTPM()
        defer { tpm.stop() }
        let producer = try TPMEvidenceProducer(tcti: tpm.tcti)
        await #expect(throws: ProviderNodeError.self) { _ = try await producer.quote(nonce: Array(repeating: 1, count: 65)) }
        await #expect(throws: ProviderNodeError.self) { _ = try await producer.quote(nonce: [1], pcrs: [24]) }
        await producer.close()
        await #expect(throws: ProviderNodeError.self) { _ = try await producer.quote(nonce: [1]) }
    }
}

/// Evidence from swtpm verified by the Attestation library: a fresh nonce passes; a wrong nonce,
/// a PCR changed after the quote, a replayed quote and a flipped signature byte each fail with
/// their own code.
@Suite("TPM round trip: swtpm evidence through the verifier", .serialized)
struct TPMRoundTripTests {
    @Test func roundTrip() async throws {
        let tpm = try SoftwareTPM()
        defer { tpm.stop() }
        let producer = try TPMEvidenceProducer(tcti: tpm.tcti)
        try await producer.measure(.image(TPMEvidenceProducerTests.image))
        let first = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let second = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let old = try await producer.quote(nonce: first)
        let fresh = try await producer.quote(nonce: second)
        await producer.close()

        let v = TPM.QuoteVerifier()
        let t = try #require(fresh.tpm)
        let verified = try v.verify(t, eventLog: nil, expectedNonce: .exactly(second), now: Date())
        #expect(verified.claims.extraData == Hex.encode(second))
        #expect(verified.akName?.count == 34)  // SHA-256 nameAlg ‖ digest
        #expect(verified.claims.pcrs["sha256"]?["23"] == t.pcrs["sha256"]?["23"])
        let input = PolicyInput(tpm: verified)
        #expect(input.measurements["pcr.sha256.23"] == t.pcrs["sha256"]?["23"])

        // The producer's event log replays to the quoted PCR 23, and its workload events become
        // the workload identity a policy judges; a log that leaves an event out does not replay.
        let log = try #require(fresh.eventLog)
        let withLog = try v.verify(t, eventLog: [UInt8](log), expectedNonce: .exactly(second), now: Date())
        #expect(withLog.eventLog?.imageDigests == [TPMEvidenceProducerTests.image])
        #expect(withLog.eventLog?.codeHashes == [])
        #expect(withLog.eventLog?.registers.keys.sorted() == [23])
        let golden = try Policy.derived(from: [PolicyInput(tpm: withLog)], name: "swtpm")
        #expect(golden.workload.imageDigests == .exactly(TPMEvidenceProducerTests.image))
        #expect(golden.validate(PolicyInput(tpm: withLog), now: Date()).failures.isEmpty)
        var otherImage = golden
        otherImage.workload.imageDigests = .exactly("sha256:" + String(repeating: "ee", count: 32))
        #expect(otherImage.validate(PolicyInput(tpm: withLog), now: Date()).failures.map(\.code) == [.workloadNotAllowed])
        #expect(otherImage.validate(PolicyInput(tpm: verified), now: Date()).failures.map(\.code) == [.workloadNotAllowed])  // no log, no identity
        let header = try EventLog(parsing: [UInt8](log))
        let shortened = [UInt8](log.prefix(try #require(header.events.last).offset))
        do { _ = try v.verify(t, eventLog: shortened, expectedNonce: .exactly(second), now: Date()); Issue.record("a log missing its last event verified") } catch {
            #expect(error.code == .eventLogMismatch)
        }

        func code(_ e: EvidenceBundle.TPMEvidence, _ nonce: [UInt8]) -> AttestationError.Code? {
            do { _ = try v.verify(e, eventLog: nil, expectedNonce: .exactly(nonce), now: Date()); return nil } catch { return error.code }
        }
        #expect(code(t, first) == .nonceMismatch)
        var changed = t
        changed.pcrs["sha256"]?["23"] = String(repeating: "ab", count: 32)
        #expect(code(changed, second) == .pcrDigestMismatch)
        #expect(code(try #require(old.tpm), second) == .nonceMismatch)  // replayed old quote
        var flipped = t
        var sig = [UInt8](t.signature)
        sig[sig.count - 5] ^= 0x01
        flipped.signature = Data(sig)
        #expect(code(flipped, second) == .quoteSignatureInvalid)
    }
}
