import ByteEncoding
import Chain
import Crypto
import Foundation
import KeyRelease
import TestSupport
import Testing

/// ``AuditChain/verify(_:pageSize:)`` and `keyrelease audit verify --store URL --json`, shown
/// chains that were appended through the store and then tampered with in the database itself
/// (raw SQL past the store), on both backends. Every tamper starts from a fresh chain.
///
/// Each tamper is chosen so that some single check of the verifier is what catches it; deleting
/// that check lets the tamper through and fails the test:
///
/// | tamper | caught only by |
/// | --- | --- |
/// | ``Tamper/bodyByte``, ``Tamper/headHash`` | the hash-consistency check |
/// | ``Tamper/forkedLink`` | the previous-hash link check |
/// | ``Tamper/deletedRecordTailRehashed`` | the gap-free sequence check |
/// | ``Tamper/recordBeforeFirst``, ``Tamper/recordNumberedNegative`` | the walk starting below sequence 1 |
///
/// and the cruder ``Tamper/middleHash``, ``Tamper/deletedRecord``, ``Tamper/insertedRecord``
/// trip two checks each. Chains longer than the verifier's page are tampered in the second page.
@Suite("AuditChain: tampered chains", .serialized, .timeLimit(.minutes(5)))
struct AuditChainTamperTests {
    /// ``AuditChain/verify(_:pageSize:)``'s default page, the one the CLI walks with.
    static let pageSize = 500
    /// A short chain: records 1…7, tampered at record 4.
    static let shortCount = 7
    static let shortPosition: Int64 = 4
    /// A chain past one page: records 1…512, records 501…512 on the second page.
    static let longCount = pageSize + 12

    // MARK: Positive controls

    @Test("an untampered chain verifies: library and CLI agree on count, head and outcomes", arguments: StoreBackend.allCases)
    func intactShortChain(_ backend: StoreBackend) async throws {
        try await withChain(backend, count: Self.shortCount) { fx, store, chain in
            try await Self.expectIntact(fx, store, chain)
            // A page size below 1 reads as 1 rather than looping on empty pages.
            let summary = try await AuditChain.verify(store, pageSize: 0)
            #expect(summary.records == Int64(chain.count))
        }
    }

    @Test("an untampered chain longer than one page verifies (exit 0)", arguments: StoreBackend.allCases)
    func intactLongChain(_ backend: StoreBackend) async throws {
        try await withChain(backend, count: Self.longCount) { fx, store, chain in
            try await Self.expectIntact(fx, store, chain)
        }
    }

    @Test("an empty chain verifies with no head", arguments: StoreBackend.allCases)
    func emptyChain(_ backend: StoreBackend) async throws {
        try await withChain(backend, count: 0) { fx, store, chain in
            try await Self.expectIntact(fx, store, chain)
        }
    }

    // MARK: Tampers

    @Test(
        "a tampered chain is refused by AuditChain.verify (auditChainBroken) and by the CLI (exit 2, audit_chain_broken)",
        arguments: StoreBackend.allCases, Tamper.allCases)
    func tamperedShortChain(_ backend: StoreBackend, _ tamper: Tamper) async throws {
        try await withChain(backend, count: Self.shortCount) { fx, store, chain in
            try await tamper.apply(fx, chain, at: Self.shortPosition)
            try await Self.expectBroken(fx, store, tamper)
        }
    }

    @Test(
        "a chain longer than one page, tampered in the second page, is refused",
        arguments: StoreBackend.allCases,
        [
            (Tamper.bodyByte, Int64(pageSize + 7)),
            (Tamper.forkedLink, Int64(pageSize + 1)),  // the link that crosses the page boundary
            (Tamper.deletedRecordTailRehashed, Int64(pageSize + 3)),
            (Tamper.headHash, Int64(longCount)),
        ])
    func tamperedLongChain(_ backend: StoreBackend, _ case: (tamper: Tamper, position: Int64)) async throws {
        try await withChain(backend, count: Self.longCount) { fx, store, chain in
            try await `case`.tamper.apply(fx, chain, at: `case`.position)
            try await Self.expectBroken(fx, store, `case`.tamper)
        }
    }

    @Test("a second row with an existing sequence or hash is refused by the schema itself", arguments: StoreBackend.allCases)
    func duplicatesRefusedBySchema(_ backend: StoreBackend) async throws {
        try await withChain(backend, count: 3) { fx, store, chain in
            let forged = try Self.forged(sequence: 2, after: chain[0].hash)
            await #expect(throws: (any Error).self) { try await fx.insert(forged) }
            let sameHash = try Self.forged(sequence: 4, after: chain[2].hash)
            await #expect(throws: (any Error).self) {
                try await fx.raw(
                    "INSERT INTO audit (sequence, previous_hash, hash, body, created_at) VALUES (4, \(fx.bytesLiteral(sameHash.previousHash)), \(fx.bytesLiteral(chain[1].hash)), \(fx.bytesLiteral(sameHash.body)), 0)"
                )
            }
            try await Self.expectIntact(fx, store, chain)
        }
    }

    @Test("a forged row numbered Int64.min, beyond any chain walk, is never served as a record", arguments: StoreBackend.allCases)
    func rowAtInt64Min(_ backend: StoreBackend) async throws {
        try await withChain(backend, count: 3) { fx, store, _ in
            // `afterSequence` is exclusive, so no walk through the store's protocol reads this
            // row; the store therefore serves only rows numbered 1 or more (GET /v1/audit/{ref}
            // cannot present it as genuine), and the chain itself is unchanged.
            let forged = try Self.forged(sequence: .min, after: AuditRecord.genesis)
            try await fx.insert(forged)
            #expect(try await store.auditRecord(hash: forged.hash) == nil)
            #expect(try await AuditChain.verify(store).records == 3)
        }
    }
}

// MARK: - Tampers

/// One way of editing the stored audit rows behind the store's back.
enum Tamper: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// One digit of the record's `requestID` changed in the stored body (the body still decodes).
    case bodyByte
    /// One byte of the head record's stored hash flipped (no later record links to it).
    case headHash
    /// One byte of a middle record's stored hash flipped.
    case middleHash
    /// A middle record deleted.
    case deletedRecord
    /// A middle record deleted, and the records after it relinked and re-hashed (sequences kept),
    /// so every link and hash is consistent and only the gap remains.
    case deletedRecordTailRehashed
    /// A well-formed forged record inserted in the middle: the records from there on renumbered
    /// up by one, the forged one chained after its new predecessor with a consistent hash.
    case insertedRecord
    /// A well-formed forged record numbered 0, chained after genesis with a consistent hash.
    case recordBeforeFirst
    /// The same, numbered −7.
    case recordNumberedNegative
    /// A record whose previous hash names the record two back instead of its predecessor, its
    /// own hash recomputed: only the link is wrong.
    case forkedLink

    var testDescription: String { rawValue }

    /// Applies the tamper to `chain` (the records as appended, sequences 1…n) at record `k`.
    func apply(_ fx: StoreFixture, _ chain: [AuditRecord], at k: Int64) async throws {
        let record = chain[Int(k) - 1]
        switch self {
        case .bodyByte:
            var body = record.body
            let digit = try #require(body.firstRange(of: Array("\"req-".utf8))).upperBound
            try #require((UInt8(ascii: "0")...UInt8(ascii: "9")).contains(body[digit]))
            body[digit] = body[digit] == UInt8(ascii: "9") ? UInt8(ascii: "0") : body[digit] + 1
            _ = try AuditRecord(sequence: k, previousHash: record.previousHash, hash: record.hash, body: body)  // still decodes
            try await fx.raw("UPDATE audit SET body = \(fx.bytesLiteral(body)) WHERE sequence = \(k)")
        case .headHash:
            let head = try #require(chain.last)
            try await fx.raw("UPDATE audit SET hash = \(fx.bytesLiteral(Self.flipped(head.hash))) WHERE sequence = \(head.sequence)")
        case .middleHash:
            try await fx.raw("UPDATE audit SET hash = \(fx.bytesLiteral(Self.flipped(record.hash))) WHERE sequence = \(k)")
        case .deletedRecord:
            try await fx.raw("DELETE FROM audit WHERE sequence = \(k)")
        case .deletedRecordTailRehashed:
            try await fx.raw("DELETE FROM audit WHERE sequence = \(k)")
            var previous = chain[Int(k) - 2].hash
            for later in chain[Int(k)...] {
                let hash = AuditRecord.computeHash(sequence: later.sequence, previousHash: previous, body: later.body)
                try await fx.raw("UPDATE audit SET previous_hash = \(fx.bytesLiteral(previous)), hash = \(fx.bytesLiteral(hash)) WHERE sequence = \(later.sequence)")
                previous = hash
            }
        case .insertedRecord:
            // Two steps, so no row ever takes a sequence another still holds (the primary key).
            try await fx.raw("UPDATE audit SET sequence = -sequence WHERE sequence >= \(k)")
            try await fx.raw("UPDATE audit SET sequence = 1 - sequence WHERE sequence <= -\(k)")
            try await fx.insert(try AuditChainTamperTests.forged(sequence: k, after: chain[Int(k) - 2].hash))
        case .recordBeforeFirst:
            try await fx.insert(try AuditChainTamperTests.forged(sequence: 0, after: AuditRecord.genesis))
        case .recordNumberedNegative:
            try await fx.insert(try AuditChainTamperTests.forged(sequence: -7, after: AuditRecord.genesis))
        case .forkedLink:
            let other = chain[Int(k) - 3].hash
            let hash = AuditRecord.computeHash(sequence: k, previousHash: other, body: record.body)
            try await fx.raw("UPDATE audit SET previous_hash = \(fx.bytesLiteral(other)), hash = \(fx.bytesLiteral(hash)) WHERE sequence = \(k)")
        }
    }

    private static func flipped(_ hash: [UInt8]) -> [UInt8] {
        var h = hash
        h[17] ^= 0x01
        return h
    }
}

// MARK: - Fixtures

extension AuditChainTamperTests {
    /// A record nobody appended.
    static let forgedDraft = AuditDraft(
        timeMillis: 1_750_000_000_999, outcome: "released", requestID: "forged",
        jobID: "0x1", datasetRoot: "0x" + String(repeating: "cd", count: 32), platform: "tdx")

    /// A well-formed record nobody appended: ``forgedDraft`` at `sequence` after `previousHash`,
    /// its hash consistent. A sequence below 0 is hashed by its u64 bit pattern, since
    /// ``AuditRecord/computeHash(sequence:previousHash:body:)`` traps on one.
    static func forged(sequence: Int64, after previousHash: [UInt8]) throws -> AuditRecord {
        if sequence >= 0 { return try AuditRecord(sequence: sequence, previousHash: previousHash, draft: forgedDraft) }
        let body = try forgedDraft.canonicalBody()
        var h = SHA256()
        h.update(data: AuditRecord.domain)
        withUnsafeBytes(of: UInt64(bitPattern: sequence).bigEndian) { h.update(bufferPointer: $0) }
        h.update(data: previousHash)
        h.update(data: body)
        return try AuditRecord(sequence: sequence, previousHash: previousHash, hash: Array(h.finalize()), body: body)
    }

    /// Runs `body` on a fresh store holding `count` records appended through ``ReleaseStore/appendAudit(_:)``.
    func withChain(
        _ backend: StoreBackend, count: Int,
        _ body: (StoreFixture, any ReleaseStore, [AuditRecord]) async throws -> Void
    ) async throws {
        try await withFixture(backend) { fx, store in
            var chain: [AuditRecord] = []
            chain.reserveCapacity(count)
            for i in 0..<count { chain.append(try await store.appendAudit(ReleaseStoreTests.draft(i))) }
            try await body(fx, store, chain)
        }
    }

    /// The library and the CLI both find `chain` intact and summarise it alike.
    static func expectIntact(
        _ fx: StoreFixture, _ store: any ReleaseStore, _ chain: [AuditRecord],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let head = chain.last.map { Hex.prefixed($0.hash) }
        let released = Int64(chain.filter { $0.draft.outcome == "released" }.count)
        for pageSize in [Self.pageSize, 3] {
            let summary = try await AuditChain.verify(store, pageSize: pageSize)
            #expect(summary.records == Int64(chain.count), "pageSize \(pageSize)", sourceLocation: sourceLocation)
            #expect(summary.head == head, "pageSize \(pageSize)", sourceLocation: sourceLocation)
            #expect(summary.released == released, sourceLocation: sourceLocation)
            #expect(summary.refused == Int64(chain.count) - released, sourceLocation: sourceLocation)
        }

        let cli = try CLIRunner.run("keyrelease", ["audit", "verify", "--store", fx.url, "--json"])
        #expect(cli.status == 0, "\(cli.stdout)\(cli.stderr)", sourceLocation: sourceLocation)
        let json = try cli.json()
        #expect(json["intact"] as? Bool == true, sourceLocation: sourceLocation)
        #expect((json["records"] as? NSNumber)?.int64Value == Int64(chain.count), sourceLocation: sourceLocation)
        #expect(json["head"] as? String == head, sourceLocation: sourceLocation)
        #expect((json["released"] as? NSNumber)?.int64Value == released, sourceLocation: sourceLocation)
    }

    /// The library throws `.auditChainBroken` (at the CLI's page size and at a small one), and the
    /// CLI exits 2 printing `{"intact": false, "error": {"code": "audit_chain_broken", "message": …}}`
    /// with the library's message.
    static func expectBroken(
        _ fx: StoreFixture, _ store: any ReleaseStore, _ tamper: Tamper?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let label = tamper?.rawValue ?? "untampered"
        var message: String?
        for pageSize in [Self.pageSize, 3] {
            let error = await #expect(throws: KeyReleaseError.self, "\(label), pageSize \(pageSize)", sourceLocation: sourceLocation) {
                try await AuditChain.verify(store, pageSize: pageSize)
            }
            #expect(error?.code == .auditChainBroken, "\(label): \(error.map(String.init(describing:)) ?? "no error")", sourceLocation: sourceLocation)
            if pageSize == Self.pageSize { message = error?.message }
        }

        let cli = try CLIRunner.run("keyrelease", ["audit", "verify", "--store", fx.url, "--json"])
        #expect(cli.status == 2, "\(label): \(cli.stdout)\(cli.stderr)", sourceLocation: sourceLocation)
        let json = try cli.json()
        #expect(json["intact"] as? Bool == false, "\(label)", sourceLocation: sourceLocation)
        let error = json["error"] as? [String: Any]
        #expect(error?["code"] as? String == KeyReleaseError.Code.auditChainBroken.rawValue, "\(label)", sourceLocation: sourceLocation)
        #expect(message != nil && error?["message"] as? String == message, "\(label)", sourceLocation: sourceLocation)
    }
}

private extension StoreFixture {
    /// Inserts `record` as its own row, past the store.
    func insert(_ record: AuditRecord) async throws {
        // Int64.min has no literal in either dialect: its magnitude overflows before the minus.
        let sequence = record.sequence == .min ? "(-9223372036854775807 - 1)" : String(record.sequence)
        try await raw(
            "INSERT INTO audit (sequence, previous_hash, hash, body, created_at) VALUES (\(sequence), \(bytesLiteral(record.previousHash)), \(bytesLiteral(record.hash)), \(bytesLiteral(record.body)), 1750000000999)"
        )
    }
}
