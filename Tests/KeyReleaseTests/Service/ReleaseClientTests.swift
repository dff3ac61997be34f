import Attestation
import ByteEncoding
import DatasetCrypto
import EVMCrypto
import Foundation
import KeyRelease
import ProviderNode
import ReleaseProtocol
import TestSupport
import Testing

/// The node's side of the protocol as the provider node runs it (``ReleaseClient``): challenge,
/// evidence that binds the request, release, open; against the real service over HTTP. Each way
/// it can go wrong reaches the caller as a typed error that names the service's code.
@Suite("Key release: the node's client", .serialized)
struct ReleaseClientTests {
    @Test("obtainKey: a fresh challenge, bound swtpm evidence, the key opened; refusals and outages are typed")
    func obtainKey() async throws {
        let w = try await ReleaseWorld(store: .sqlite)
        do {
            let d = try await w.dataset()
            let keys = NodeKeys()
            let client = w.client()
            let ticket = try DispatchTicketMessage(
                signing: DispatchTicket(jobID: d.jobID, datasetRoot: d.root, node: keys.address, expiry: UInt64(Date().timeIntervalSince1970) + 600),
                with: w.backendKey, chainID: w.chain.info.chainId, dataPolicy: try Address(w.chain.info.dataPolicy))
            let producer = w.producer
            let bound: ReleaseClient.EvidenceSource = { binding in try await producer.quote(nonce: binding.tpmExtraData) }

            let released = try await client.obtainKey(jobID: d.jobID, datasetRoot: d.root, ticket: ticket, keys: keys, evidence: bound)
            #expect(try LICENFile.open(d.sealed, key: released.key, iv: released.iv) == d.plaintext)
            #expect(try await w.get("/v1/audit/\(Hex.prefixed(released.attestationRef))").0 == 200)

            // Evidence that ignores the binding (a replayed quote) is refused with the service's code.
            let stale: ReleaseClient.EvidenceSource = { _ in try await producer.quote(nonce: Array(repeating: 9, count: 32)) }
            await Self.expectRefusal("binding_mismatch") { () async throws(ProviderNodeError) in
                try await client.obtainKey(jobID: d.jobID, datasetRoot: d.root, ticket: ticket, keys: keys, evidence: stale)
            }
            // Keys other than the ones the ticket names: the service refuses the ticket.
            await Self.expectRefusal("ticket_invalid") { () async throws(ProviderNodeError) in
                try await client.obtainKey(jobID: d.jobID, datasetRoot: d.root, ticket: ticket, keys: NodeKeys(), evidence: bound)
            }
            // An evidence source that fails is the node's problem, told apart from a refusal.
            struct NoTPM: Error {}
            do { _ = try await client.obtainKey(jobID: d.jobID, datasetRoot: d.root, ticket: ticket, keys: keys, evidence: { _ in throw NoTPM() }); Issue.record("released") } catch {
                #expect(error.code == .evidenceUnavailable)
            }
            // A response for another job does not open as this one.
            #expect(throws: ProviderNodeError.self) { _ = try ReleaseClient.open(released.response, jobID: Array(repeating: 1, count: 32), datasetRoot: d.root, keys: keys) }
            do { _ = try ReleaseClient.open(released.response, jobID: d.jobID, datasetRoot: d.root, keys: NodeKeys()); Issue.record("opened with another key") } catch {
                #expect(error.code == .releaseInvalid)
            }
            // Nobody listening: unavailable at once, not a refusal.
            do { _ = try await ReleaseClient(baseURL: "http://127.0.0.1:1", http: w.http).challenge(); Issue.record("answered") } catch {
                #expect(error.code == .releaseUnavailable)
                #expect(error.serviceCode == nil)
            }
        } catch {
            await w.shutdown()
            throw error
        }
        await w.shutdown()
    }

    static func expectRefusal(_ code: String, _ body: () async throws(ProviderNodeError) -> ReleaseClient.Released) async {
        do { _ = try await body(); Issue.record("released despite \(code)") } catch {
            #expect(error.code == .releaseRefused, "\(error)")
            #expect(error.serviceCode == code, "\(error)")
            #expect((400..<500).contains(error.httpStatus ?? 0))
        }
    }
}
