import Coordinator
import Foundation
import Testing

/// The operator's argument checks (job ids, on-chain reasons) and the store conditions that make
/// `fail` and `retry` refuse a settled job, in the library the CLI and the engine share.
@Suite("Coordinator: operator commands")
struct CoordinatorOperatorTests {
    static let good = "0x" + String(repeating: "ab", count: 32)

    static let ab32: String = String(repeating: "ab", count: 32)
    static let idCases: [(String, Bool)] = [
        (good, true), ("0X" + ab32.uppercased(), true), (ab32, false), ("0x" + String(repeating: "ab", count: 31), false),
        ("0x" + ab32 + "ab", false), ("0x" + String(repeating: "zz", count: 32), false), ("", false), ("0x", false), (" " + good, false),
    ]

    @Test("a job id is 0x and 64 hex digits", arguments: idCases)
    func jobIDs(_ text: String, _ ok: Bool) throws {
        if ok {
            #expect(try CoordinatorOperator.jobID(text) == [UInt8](repeating: 0xAB, count: 32))
        } else {
            let e = try #require(throws: CoordinatorError.self) { try CoordinatorOperator.jobID(text) }
            #expect(e.code == .invalidArgument)
        }
    }

    static let reasonCases: [(String, Bool)] = [
        ("x", true), (String(repeating: "r", count: 200), true), ("operator: node lost ~!", true), ("", false), (String(repeating: "r", count: 201), false),
        ("naïve", false), ("tab\there", false), ("line\n", false), ("\u{7F}", false),
    ]

    @Test("a reason is 1–200 printable ASCII characters", arguments: reasonCases)
    func reasons(_ reason: String, _ ok: Bool) {
        if ok {
            #expect(throws: Never.self) { try CoordinatorOperator.checkReason(reason) }
        } else {
            #expect(throws: CoordinatorError.self) { try CoordinatorOperator.checkReason(reason) }
        }
    }

    @Test("fail refuses a terminal job or one whose settlement was sent; retry one with any settlement; both an unknown job")
    func storeConditions() async throws {
        let store = try await JobStore.open("sqlite::memory:")
        let op = CoordinatorOperator(store: store)
        let now = Date()
        let id = { (n: UInt8) in [UInt8](repeating: n, count: 32) }
        for n: UInt8 in 1...3 { try await store.recordDiscovered(GrantedJob(jobID: id(n), datasetRoot: id(0xD0), requestedEpochs: 1), now: now) }
        _ = try await store.lease(owner: "A", now: now, duration: 60, states: [.discovered], limit: 3)
        try await store.update(id(2), owner: "A", now: now, JobChange(state: .settling, settlement: .fail(reason: "x"), settlementTransaction: id(0xEE)))
        try await store.update(id(3), owner: "A", now: now, JobChange(state: .completed))

        let failed = try await op.fail(id(1), reason: "stuck", now: now)
        #expect(failed.state == .settling && failed.settlement == .fail(reason: "stuck"))
        await #expect(throws: CoordinatorError.self) { _ = try await op.retry(id(1), now: now) }
        for n: UInt8 in [2, 3] {
            let e = await #expect(throws: CoordinatorError.self) { _ = try await op.fail(id(n), reason: "again", now: now) }
            #expect(e?.code == .jobSettled, "\(n)")
            let r = await #expect(throws: CoordinatorError.self) { _ = try await op.retry(id(n), now: now) }
            #expect(r?.code == .jobSettled, "\(n)")
        }
        let unknown = await #expect(throws: CoordinatorError.self) { _ = try await op.retry(id(9), now: now) }
        #expect(unknown?.code == .jobUnknown)
        #expect(try await store.job(id(2))?.settlementTransaction == id(0xEE))
        await store.close()
    }
}
