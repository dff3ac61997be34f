import ByteEncoding
import Chain
import Coordinator
import Foundation
import TestSupport
import Testing

/// Granted jobs from HyperIndex (a loopback GraphQL server speaking its reply shape) and from
/// chain logs on the dev chain agree.
@Suite("Granted job sources", .serialized)
struct GrantedJobSourceTests {
    @Test func hyperIndexAndChainLogsAgree() async throws {
        let w = try await DevChainWorld.start()
        defer { w.chain.stop() }
        let root = DevChainWorld.bytes32("indexed")
        try await w.register(root: root)
        let (_, j1) = try await w.dp.requestAccess(
            datasetRoot: root, purposeID: DevChainWorld.bytes32("fine-tune"), requestedEpochs: 2, termsHash: DevChainWorld.bytes32("manifest"),
            value: 2_000_000_000_000_000, from: w.requester)
        let (_, j2) = try await w.dp.requestAccess(
            datasetRoot: root, purposeID: DevChainWorld.bytes32("fine-tune"), requestedEpochs: 1, termsHash: DevChainWorld.bytes32("manifest"),
            value: 1_000_000_000_000_000, from: w.requester)
        try await w.dp.startJob(j2, from: w.backend)  // no longer Granted
        let fromLogs = try await ChainLogJobSource(dataPolicy: w.dp).grantedJobs()
        #expect(fromLogs == [GrantedJob(jobID: j1, datasetRoot: root, requestedEpochs: 2)])

        let reply = #"{"data":{"Job":[{"id":"\#(Hex.prefixed(j1))","datasetRoot":"\#(Hex.prefixed(root))","requestedEpochs":"2","dataset":{"manifestHash":"0x00"}}]}}"#
        let gql = try LoopbackHTTPServer { request in
            let body = String(decoding: request.body, as: UTF8.self)
            guard request.method == "POST", body.contains(#"state: { _eq: \"Granted\" }"#) else { return .init(status: 400) }
            return .init(headers: [("Content-Type", "application/json")], body: Array(reply.utf8))
        }
        defer { gql.shutdown() }
        #expect(try await HyperIndexJobSource(url: gql.baseURL + "/v1/graphql").grantedJobs() == fromLogs)
        let broken = try LoopbackHTTPServer { _ in .init(body: Array(#"{"errors":[{"message":"field 'Job' not found"}]}"#.utf8)) }
        defer { broken.shutdown() }
        do { _ = try await HyperIndexJobSource(url: broken.baseURL).grantedJobs(); Issue.record("no error") } catch { #expect(error.code == .discoveryFailed) }
    }
}
