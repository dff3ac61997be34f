import Foundation
import KeyRelease
import SQLiteNIO
import TestSupport
import Testing

/// The one ``ReleaseStore`` suite, run against both backends: SQLite in a temporary file and
/// PostgreSQL on a real server started for the suite (a fresh database per test). Tests that
/// stop the server start their own.
@Suite("ReleaseStore", .timeLimit(.minutes(3)))
struct ReleaseStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000.123)  // whole milliseconds: stored times round-trip exactly

    // MARK: Migrations

    @Test("migrate twice is idempotent and returns the same version", arguments: StoreBackend.allCases)
    func migrateIsIdempotent(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { fx, store in
            let first = try await store.migrate()
            let second = try await store.migrate()
            #expect(first == 2)
            #expect(second == first)
            // migrate() again from another connection (PostgreSQL: through the postgresql:// spelling).
            let other = try await ReleaseStores.open(fx.url.replacingOccurrences(of: "postgres://", with: "postgresql://"))
            #expect(try await other.migrate() == first)
            await other.close()
            #expect(try await fx.raw("SELECT version FROM schema_migrations ORDER BY version") == [["1"], ["2"]])
            #expect(try await fx.tables() == ["audit", "escrow", "nonces", "schema_migrations"])
        }
    }

    @Test("a database at a newer schema version than this build is refused", arguments: StoreBackend.allCases)
    func newerSchemaRefused(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { fx, store in
            try await fx.raw("INSERT INTO schema_migrations (version, applied_at) VALUES (3, 0)")
            let error = await #expect(throws: KeyReleaseError.self) { try await store.migrate() }
            #expect(error?.code == .configInvalid)
            #expect(try await fx.raw("SELECT version FROM schema_migrations ORDER BY version") == [["1"], ["2"], ["3"]])
        }
    }

    @Test("two replicas migrating a fresh database at once both succeed", arguments: StoreBackend.allCases)
    func concurrentMigrations(_ backend: StoreBackend) async throws {
        try await withFixture(backend, migrated: false) { fx, first in
            let replicas = [first] + (try await [fx.openUnmigrated(), fx.openUnmigrated(), fx.openUnmigrated()])
            let versions = try await withThrowingTaskGroup(of: Int.self) { group in
                for store in replicas { group.addTask { try await store.migrate() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(versions == [2, 2, 2, 2])
            #expect(try await fx.raw("SELECT version FROM schema_migrations ORDER BY version") == [["1"], ["2"]])
            for store in replicas.dropFirst() { await store.close() }
        }
    }

    // MARK: Nonces

    @Test("a nonce is consumed once, then already used", arguments: StoreBackend.allCases)
    func consumeOnce(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let nonce = Self.bytes(32, seed: 1)
            try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            #expect(try await store.consumeNonce(nonce, now: Self.t0 + 1) == .consumed(issuedAt: Self.t0))
            #expect(try await store.consumeNonce(nonce, now: Self.t0 + 2) == .alreadyUsed)
            // Used wins over expired: it was consumed.
            #expect(try await store.consumeNonce(nonce, now: Self.t0 + 3600) == .alreadyUsed)
        }
    }

    @Test("expired at expiresAt (and stays unconsumed); unknown when never issued", arguments: StoreBackend.allCases)
    func expiredAndUnknown(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let nonce = Self.bytes(32, seed: 2)
            try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            #expect(try await store.consumeNonce(nonce, now: Self.t0 + 60) == .expired)
            #expect(try await store.consumeNonce(nonce, now: Self.t0 + 61) == .expired)
            // The expired attempts did not consume it: a clock one millisecond earlier still can.
            #expect(try await store.consumeNonce(nonce, now: Self.t0 + 59.999) == .consumed(issuedAt: Self.t0))
            #expect(try await store.consumeNonce(Self.bytes(32, seed: 3), now: Self.t0) == .unknown)
            #expect(try await store.consumeNonce([], now: Self.t0) == .unknown)
        }
    }

    @Test("a nonce recorded twice is refused and the first record kept", arguments: StoreBackend.allCases)
    func duplicateNonce(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let nonce = Self.bytes(32, seed: 4)
            try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            let error = await #expect(throws: KeyReleaseError.self) {
                try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0 + 5, expiresAt: Self.t0 + 600))
            }
            #expect(error?.code == .internalError)
            #expect(try await store.consumeNonce(nonce, now: Self.t0 + 61) == .expired)  // the first expiry still holds
        }
    }

    @Test("50 concurrent consumers of one nonce: exactly one consumes it", arguments: StoreBackend.allCases)
    func concurrentConsumers(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let nonce = Self.bytes(32, seed: 5)
            try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            let outcomes = try await Self.concurrently(50) { _ in try await store.consumeNonce(nonce, now: Self.t0 + 1) }
            #expect(outcomes.filter { $0 == .consumed(issuedAt: Self.t0) }.count == 1)
            #expect(outcomes.filter { $0 == .alreadyUsed }.count == 49)
        }
    }

    @Test("lookUpNonce reads usable, used, expired and unknown, and changes nothing", arguments: StoreBackend.allCases)
    func lookUpNonce(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let nonce = Self.bytes(32, seed: 30)
            #expect(try await store.lookUpNonce(nonce, now: Self.t0) == .unknown)
            try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            #expect(try await store.lookUpNonce(nonce, now: Self.t0 + 1) == .usable(issuedAt: Self.t0))
            #expect(try await store.lookUpNonce(nonce, now: Self.t0 + 1) == .usable(issuedAt: Self.t0))  // still: a look spends nothing
            #expect(try await store.lookUpNonce(nonce, now: Self.t0 + 60) == .expired)
            #expect(try await store.consumeNonce(nonce, now: Self.t0 + 2) == .consumed(issuedAt: Self.t0))
            #expect(try await store.lookUpNonce(nonce, now: Self.t0 + 3) == .used)
        }
    }

    @Test("consumeNonce(appending:) spends the nonce and appends the record together, or does neither", arguments: StoreBackend.allCases)
    func spendAndAppend(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let nonce = Self.bytes(32, seed: 31), expiring = Self.bytes(32, seed: 32)
            try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            try await store.insertNonce(IssuedNonce(nonce: expiring, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            let first = try await store.consumeNonce(nonce, now: Self.t0 + 1, appending: Self.draft(1))
            #expect(first.consumption == .consumed(issuedAt: Self.t0))
            #expect(try await store.lookUpNonce(nonce, now: Self.t0 + 1) == .used)
            let again = try await store.consumeNonce(nonce, now: Self.t0 + 2, appending: Self.draft(2))
            #expect(again == NonceSpend(consumption: .alreadyUsed, record: nil))
            #expect(try await store.consumeNonce(expiring, now: Self.t0 + 60, appending: Self.draft(3)) == NonceSpend(consumption: .expired, record: nil))
            #expect(try await store.consumeNonce(Self.bytes(32, seed: 33), now: Self.t0, appending: Self.draft(4)) == NonceSpend(consumption: .unknown, record: nil))
            let stored = try await store.auditRecords(afterSequence: 0, limit: 10)
            Self.expectChain(stored, count: 1)
            #expect(stored.first == first.record && stored.first?.draft.requestID == "req-1")
            // interleaved with plain appends, it keeps one chain
            _ = try await store.appendAudit(Self.draft(5))
            let later = Self.bytes(32, seed: 35)
            try await store.insertNonce(IssuedNonce(nonce: later, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            #expect(try await store.consumeNonce(later, now: Self.t0 + 3, appending: Self.draft(6)).record?.sequence == 3)
            Self.expectChain(try await store.auditRecords(afterSequence: 0, limit: 10), count: 3)
        }
    }

    @Test("20 concurrent spends of one nonce with appends: exactly one spends it and exactly one record is added", arguments: StoreBackend.allCases)
    func concurrentSpends(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let nonce = Self.bytes(32, seed: 34)
            try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            _ = try await store.appendAudit(Self.draft(0))
            let spends = try await Self.concurrently(20) { i in try await store.consumeNonce(nonce, now: Self.t0 + 1, appending: Self.draft(i + 1)) }
            let winners = spends.filter { $0.record != nil }
            #expect(winners.count == 1 && winners.first?.consumption == .consumed(issuedAt: Self.t0))
            #expect(spends.filter { $0 == NonceSpend(consumption: .alreadyUsed, record: nil) }.count == 19)
            let stored = try await store.auditRecords(afterSequence: 0, limit: 100)
            Self.expectChain(stored, count: 2)
            #expect(stored.last == winners.first?.record)
        }
    }

    // MARK: Escrow

    @Test("purging removes exactly the nonces that expired before the cutoff, spent or not", arguments: StoreBackend.allCases)
    func noncePurge(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let early = Self.bytes(32, seed: 40), spent = Self.bytes(32, seed: 41), late = Self.bytes(32, seed: 42)
            try await store.insertNonce(IssuedNonce(nonce: early, issuedAt: Self.t0, expiresAt: Self.t0 + 10))
            try await store.insertNonce(IssuedNonce(nonce: spent, issuedAt: Self.t0, expiresAt: Self.t0 + 20))
            try await store.insertNonce(IssuedNonce(nonce: late, issuedAt: Self.t0, expiresAt: Self.t0 + 100))
            _ = try await store.consumeNonce(spent, now: Self.t0 + 1)
            #expect(try await store.purgeNonces(expiredBefore: Self.t0 + 10) == 0)  // strictly before
            #expect(try await store.purgeNonces(expiredBefore: Self.t0 + 50) == 2)
            #expect(try await store.lookUpNonce(early, now: Self.t0 + 60) == .unknown)
            #expect(try await store.lookUpNonce(spent, now: Self.t0 + 60) == .unknown)
            #expect(try await store.lookUpNonce(late, now: Self.t0 + 60) == .usable(issuedAt: Self.t0))
            #expect(try await store.purgeNonces(expiredBefore: Self.t0 + 50) == 0)
        }
    }

    @Test("escrow: nil when missing, put, get, replace; bytes round-trip exactly", arguments: StoreBackend.allCases)
    func escrowRoundTrip(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let root = Self.bytes(32, seed: 6)
            #expect(try await store.escrow(datasetRoot: root) == nil)

            let first = EscrowEntry(
                datasetRoot: root, envelope: Self.bytes(105, seed: 7), owner: Self.bytes(20, seed: 8),
                signature: Self.bytes(65, seed: 9), storedAt: Self.t0, version: 3)
            try await store.putEscrow(first)
            #expect(try await store.escrow(datasetRoot: root) == first)

            // Every byte value, NULs included, and a large envelope: opaque bytes, stored as given.
            let replacement = EscrowEntry(
                datasetRoot: root, envelope: (0..<70_000).map { UInt8($0 % 256) },
                owner: [UInt8](repeating: 0, count: 20), signature: [UInt8](repeating: 0xFF, count: 65),
                storedAt: Self.t0 + 1.5, version: 4)
            try await store.putEscrow(replacement)
            #expect(try await store.escrow(datasetRoot: root) == replacement)

            // An older or equal version (a replayed upload) changes nothing.
            for version: UInt64 in [1, 3, 4] {
                let stale = EscrowEntry(
                    datasetRoot: root, envelope: Self.bytes(105, seed: 11), owner: Self.bytes(20, seed: 8),
                    signature: Self.bytes(65, seed: 12), storedAt: Self.t0 + 2, version: version)
                let error = await #expect(throws: KeyReleaseError.self) { try await store.putEscrow(stale) }
                #expect(error?.code == .escrowStale)
            }
            #expect(try await store.escrow(datasetRoot: root) == replacement)

            #expect(try await store.escrow(datasetRoot: Self.bytes(32, seed: 10)) == nil)
            #expect(try await store.escrow(datasetRoot: Array(root.dropLast())) == nil)
        }
    }

    // MARK: Audit chain

    @Test("audit appends chain: sequences 1…n, linked hashes, lookup by hash, paging", arguments: StoreBackend.allCases)
    func auditChain(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            #expect(try await store.auditRecords(afterSequence: 0, limit: 10) == [])
            var appended: [AuditRecord] = []
            for i in 0..<5 {
                let draft = Self.draft(i)
                let record = try await store.appendAudit(draft)
                #expect(record.draft == draft)
                #expect(record.body == (try draft.canonicalBody()))
                appended.append(record)
            }
            Self.expectChain(appended, count: 5)

            for record in appended {
                #expect(try await store.auditRecord(hash: record.hash) == record)
            }
            #expect(try await store.auditRecord(hash: Self.bytes(32, seed: 11)) == nil)
            #expect(try await store.auditRecord(hash: AuditRecord.genesis) == nil)

            #expect(try await store.auditRecords(afterSequence: 0, limit: 100) == appended)
            #expect(try await store.auditRecords(afterSequence: 0, limit: 2) == Array(appended[0..<2]))
            #expect(try await store.auditRecords(afterSequence: 2, limit: 2) == Array(appended[2..<4]))
            #expect(try await store.auditRecords(afterSequence: 4, limit: 2) == [appended[4]])
            #expect(try await store.auditRecords(afterSequence: 5, limit: 2) == [])
            #expect(try await store.auditRecords(afterSequence: 0, limit: 0) == [])
            #expect(try await store.auditRecords(afterSequence: 0, limit: -1) == [])
            #expect(try await store.auditRecords(afterSequence: -10, limit: 1) == [appended[0]])
        }
    }

    @Test("20 concurrent appends give one gap-free, fork-free chain", arguments: StoreBackend.allCases)
    func concurrentAppends(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { _, store in
            let returned = try await Self.concurrently(20) { i in try await store.appendAudit(Self.draft(i)) }
            let stored = try await store.auditRecords(afterSequence: 0, limit: 1000)
            Self.expectChain(stored, count: 20)
            #expect(Set(returned) == Set(stored))
            #expect(Set(stored.map(\.draft.requestID)) == Set((0..<20).map { "req-\($0)" }))
        }
    }

    // MARK: Replicas

    @Test(
        "two store instances on one database: a nonce consumed via one is used via the other; appends from both keep one chain",
        arguments: StoreBackend.allCases)
    func twoReplicas(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { fx, a in
            let b = try await fx.open()
            let nonce = Self.bytes(32, seed: 12)
            try await a.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            #expect(try await b.consumeNonce(nonce, now: Self.t0 + 1) == .consumed(issuedAt: Self.t0))
            #expect(try await a.consumeNonce(nonce, now: Self.t0 + 1) == .alreadyUsed)

            let raced = Self.bytes(32, seed: 13)
            try await b.insertNonce(IssuedNonce(nonce: raced, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            let outcomes = try await Self.concurrently(30) { i in try await (i % 2 == 0 ? a : b).consumeNonce(raced, now: Self.t0 + 1) }
            #expect(outcomes.filter { $0 == .consumed(issuedAt: Self.t0) }.count == 1)

            let returned = try await Self.concurrently(20) { i in try await (i % 2 == 0 ? a : b).appendAudit(Self.draft(i)) }
            let viaA = try await a.auditRecords(afterSequence: 0, limit: 1000)
            Self.expectChain(viaA, count: 20)
            #expect(try await b.auditRecords(afterSequence: 0, limit: 1000) == viaA)
            #expect(Set(returned) == Set(viaA))
            await b.close()
        }
    }

    // MARK: Faults

    @Test("a corrupt audit row reads as storeCorrupt", arguments: StoreBackend.allCases)
    func corruptAuditRow(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { fx, store in
            let first = try await store.appendAudit(Self.draft(0))
            let second = try await store.appendAudit(Self.draft(1))
            try await fx.raw("UPDATE audit SET body = \(fx.bytesLiteral(Array("{\"not\": an audit body".utf8))) WHERE sequence = 2")

            let byHash = await #expect(throws: KeyReleaseError.self) { try await store.auditRecord(hash: second.hash) }
            #expect(byHash?.code == .storeCorrupt)
            let page = await #expect(throws: KeyReleaseError.self) { try await store.auditRecords(afterSequence: 0, limit: 10) }
            #expect(page?.code == .storeCorrupt)
            // Rows around it still read.
            #expect(try await store.auditRecord(hash: first.hash) == first)
            #expect(try await store.auditRecords(afterSequence: 0, limit: 1) == [first])

            // A hash of the wrong size is corrupt too.
            try await fx.raw("UPDATE audit SET previous_hash = \(fx.bytesLiteral(Self.bytes(31, seed: 14))) WHERE sequence = 1")
            let shortHash = await #expect(throws: KeyReleaseError.self) { try await store.auditRecord(hash: first.hash) }
            #expect(shortHash?.code == .storeCorrupt)
        }
    }

    @Test("the store keeps exactly the given values and nothing else", arguments: StoreBackend.allCases)
    func storesOnlyGivenValues(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { fx, store in
            let before = Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
            let nonce = Self.bytes(32, seed: 15)
            try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
            _ = try await store.consumeNonce(nonce, now: Self.t0 + 2)
            _ = try await store.consumeNonce(nonce, now: Self.t0 + 3)
            let unused = Self.bytes(32, seed: 16)
            try await store.insertNonce(IssuedNonce(nonce: unused, issuedAt: Self.t0, expiresAt: Self.t0 + 30))
            _ = try await store.consumeNonce(unused, now: Self.t0 + 31)  // expired: leaves it as it was
            _ = try await store.consumeNonce(Self.bytes(32, seed: 17), now: Self.t0)  // unknown: records nothing
            let entry = EscrowEntry(
                datasetRoot: Self.bytes(32, seed: 18), envelope: Self.bytes(105, seed: 19),
                owner: Self.bytes(20, seed: 20), signature: Self.bytes(65, seed: 21), storedAt: Self.t0, version: 2)
            try await store.putEscrow(EscrowEntry(datasetRoot: entry.datasetRoot, envelope: [1], owner: [2], signature: [3], storedAt: Self.t0 - 5, version: 1))
            try await store.putEscrow(entry)
            _ = try await store.escrow(datasetRoot: entry.datasetRoot)
            let record = try await store.appendAudit(Self.draft(0))
            let after = Int64((Date().timeIntervalSince1970 * 1000).rounded(.up))

            #expect(try await fx.tables() == ["audit", "escrow", "nonces", "schema_migrations"])
            let ms = { (d: Date) in String(Int64((d.timeIntervalSince1970 * 1000).rounded())) }
            let expectedNonces = [
                [Self.hex(nonce), ms(Self.t0), ms(Self.t0 + 60), ms(Self.t0 + 2)],
                [Self.hex(unused), ms(Self.t0), ms(Self.t0 + 30), ""],
            ].sorted { $0[0] < $1[0] }
            #expect(try await fx.raw("SELECT * FROM nonces ORDER BY nonce") == expectedNonces)
            #expect(
                try await fx.raw("SELECT * FROM escrow") == [
                    [
                        Self.hex(entry.datasetRoot), Self.hex(entry.envelope), Self.hex(entry.owner),
                        Self.hex(entry.signature), ms(Self.t0), "2",
                    ]
                ])
            let audit = try await fx.raw("SELECT * FROM audit")
            #expect(audit.count == 1)
            #expect(audit.first.map { Array($0.prefix(4)) } == ["1", Self.hex(AuditRecord.genesis), Self.hex(record.hash), Self.hex(record.body)])
            let createdAt = audit.first.flatMap { $0.count == 5 ? Int64($0[4]) : nil }
            #expect(createdAt.map { (before...after).contains($0) } == true, "created_at is the append time")
        }
    }

    @Test("a closed store throws storeUnavailable", arguments: StoreBackend.allCases)
    func closedStore(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { fx, store in
            let other = try await fx.open()
            await other.close()
            let error = await #expect(throws: KeyReleaseError.self) { try await other.ping() }
            #expect(error?.code == .storeUnavailable)
            try await store.ping()  // the other instance is unaffected
        }
    }

    @Test(
        "store URLs that are not sqlite:PATH or postgres://… are configInvalid",
        arguments: [
            "", "mysql://root@localhost/db", "sqlite:", "sqlite://relative.db", "SQLite", "postgres://", "postgres:///db",
            "postgres://user@/db", "postgres://127.0.0.1/db", "postgres://user:s3cret@127.0.0.1:99999/db",
            "postgres://user:s3cret@127.0.0.1:5432", "postgres://user:s3cret@127.0.0.1:5432/", "postgres://user:s3cret@127.0.0.1/a/b",
            "postgres://user:s3cret@127.0.0.1/db?sslmode=verify-ca", "postgres://user:s3cret@127.0.0.1/db?connect_timeout=1",
            "http://user:s3cret@127.0.0.1/db",
        ])
    func badURL(_ url: String) async throws {
        let error = await #expect(throws: KeyReleaseError.self) { try await ReleaseStores.open(url) }
        #expect(error?.code == .configInvalid)
        #expect(error?.message.contains("s3cret") == false, "the message must not repeat a password")
        #expect(error?.message.contains("postgres://") == true, "the message names the accepted forms")
    }

    @Test("sqlite::memory: opens a private in-memory store")
    func memoryStore() async throws {
        let store = try await ReleaseStores.open("sqlite::memory:")
        #expect(try await store.migrate() == 2)
        let record = try await store.appendAudit(Self.draft(0))
        #expect(try await store.auditRecord(hash: record.hash) == record)
        await store.close()
    }

    @Test("PostgreSQL stopped: calls throw storeUnavailable in bounded time; started again: the same store instance works")
    func postgresStoppedMidRun() async throws {
        try await Self.outage(keepCalling: .zero)
    }

    /// postgres-nio's pool opens a circuit breaker after 60 s of failed connection attempts with
    /// requests waiting, and then fails every request until a back-off retry (up to a minute
    /// apart) succeeds; the store replaces such a pool, so the first call after the outage
    /// still succeeds. About 90 s, run every time: a test that only runs on request proves nothing.
    @Test("PostgreSQL down for longer than the pool's circuit breaker: the first call after it comes back succeeds")
    func postgresLongOutage() async throws {
        try await Self.outage(keepCalling: .seconds(75))
    }

    /// Stops the server under a working store, checks that calls fail fast (then keeps calling
    /// for `keepCalling`), restarts it and checks that the same store works at once.
    static func outage(keepCalling: Duration) async throws {
        let server = try PostgresServer(database: "outage")
        defer { server.shutdown() }
        let timeout = Duration.seconds(2)
        let store = try PostgresReleaseStore(url: server.url, timeout: timeout)
        #expect(try await store.migrate() == 2)
        let nonce = Self.bytes(32, seed: 22)
        try await store.insertNonce(IssuedNonce(nonce: nonce, issuedAt: Self.t0, expiresAt: Self.t0 + 60))
        let first = try await store.appendAudit(Self.draft(0))

        try server.stop()
        let calls: [(String, @Sendable () async throws -> Void)] = [
            ("ping", { try await store.ping() }),
            ("consumeNonce", { _ = try await store.consumeNonce(nonce, now: Self.t0 + 1) }),
            ("appendAudit", { _ = try await store.appendAudit(Self.draft(1)) }),
            ("escrow", { _ = try await store.escrow(datasetRoot: nonce) }),
            ("auditRecords", { _ = try await store.auditRecords(afterSequence: 0, limit: 10) }),
            ("ping again", { try await store.ping() }),
        ]
        for (name, call) in calls {
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: KeyReleaseError.self, "\(name)") { try await call() }
            let elapsed = started.duration(to: clock.now)
            #expect(error?.code == .storeUnavailable, "\(name): \(String(describing: error))")
            #expect(elapsed < timeout + .seconds(20), "\(name) took \(elapsed)")  // bounded, not a hang (generous: CI machines are loaded)
        }

        let until = ContinuousClock.now + keepCalling
        while ContinuousClock.now < until { _ = try? await store.ping() }
        try server.start()
        // The very first call after the restart succeeds: no retry loop here.
        try await store.ping()
        #expect(try await store.consumeNonce(nonce, now: Self.t0 + 1) == .consumed(issuedAt: Self.t0))
        let second = try await store.appendAudit(Self.draft(1))
        #expect(second.sequence == 2)
        #expect(second.previousHash == first.hash)

        // And again: a second outage and recovery.
        try server.stop()
        let again = await #expect(throws: KeyReleaseError.self) { try await store.ping() }
        #expect(again?.code == .storeUnavailable)
        try server.start()
        Self.expectChain(try await store.auditRecords(afterSequence: 0, limit: 10), count: 2)
        await store.close()
    }

    @Test(
        "PostgreSQL calls cut off by a tiny timeout at random points all return, and leave no half-written chain",
        .timeLimit(.minutes(1)))
    func postgresCutOffCalls() async throws {
        let server = try SharedPostgres.server.get()
        let database = try server.createDatabase()
        defer { try? server.dropDatabase(database) }
        let healthy = try PostgresReleaseStore(url: server.url(database: database))
        try await healthy.migrate()
        _ = try await healthy.appendAudit(Self.draft(0))  // so every append reads a head

        // Timeouts land before, between and during the statements of the append transactions
        // (20 at once queue on the audit lock, so the later ones are cut off somewhere).
        var succeeded = 0, attempted = 0
        for milliseconds in [40, 70, 110, 160] {
            let hurried = try PostgresReleaseStore(url: server.url(database: database), timeout: .milliseconds(milliseconds))
            for round in 0..<4 {
                let outcomes = await withTaskGroup(of: Bool.self) { group in
                    for i in 0..<20 { group.addTask { (try? await hurried.appendAudit(Self.draft(1000 * milliseconds + 100 * round + i))) != nil } }
                    return await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                succeeded += outcomes.filter { $0 }.count
                attempted += outcomes.count
            }
            await hurried.close()
        }
        // A call cut off after its COMMIT reached the server still appended: at least the
        // successes are there, and whatever is there is one whole chain.
        #expect(succeeded < attempted, "some calls were cut off")
        let chain = try await healthy.auditRecords(afterSequence: 0, limit: 1000)
        #expect(chain.count >= 1 + succeeded)
        Self.expectChain(chain, count: chain.count)
        #expect(try await healthy.appendAudit(Self.draft(9999)).sequence == Int64(chain.count + 1))
        await healthy.close()
    }

    @Test("PostgreSQL connection killed mid-transaction: storeUnavailable at once, nothing half-written, the store goes on")
    func postgresBackendKilledMidTransaction() async throws {
        let server = try SharedPostgres.server.get()
        let database = try server.createDatabase()
        defer { try? server.dropDatabase(database) }
        // A timeout far beyond the bound below, so "failed at once" and "failed by the timeout"
        // stay apart on a loaded machine.
        let timeout = Duration.seconds(60)
        let store = try PostgresReleaseStore(url: server.url(database: database), timeout: timeout)
        try await store.migrate()
        let first = try await store.appendAudit(Self.draft(0))

        // The append's transaction (advisory lock taken) waits on the table lock; then its
        // server process is terminated. Each step waits for the server to show the previous one,
        // not for a fixed time.
        let released = DoneSignal.startThread { _ = try? server.psql("BEGIN; LOCK TABLE audit IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT;", database: database) }
        try await Self.awaitPostgres(server, database, Self.auditTableLocked, equals: "1")
        let clock = ContinuousClock()
        let started = clock.now
        let append = Task { try await store.appendAudit(Self.draft(1)) }
        try await Self.awaitPostgres(server, database, Self.waitingOnLock, equals: "1")
        let killed = try server.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()", database: database)
        #expect(killed.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let error = await #expect(throws: KeyReleaseError.self) { try await append.value }
        #expect(error?.code == .storeUnavailable)
        #expect(started.duration(to: clock.now) < .seconds(30), "failed because the connection died, not by the 60 s timeout")

        await released.wait()
        let second = try await store.appendAudit(Self.draft(2))
        Self.expectChain(try await store.auditRecords(afterSequence: 0, limit: 10), count: 2)
        #expect(second.previousHash == first.hash)
        await store.close()
    }

    @Test("PostgreSQL answering nothing (a table lock held elsewhere): calls give up within the timeout, then work again")
    func postgresUnresponsive() async throws {
        let server = try SharedPostgres.server.get()
        let database = try server.createDatabase()
        defer { try? server.dropDatabase(database) }
        let timeout = Duration.seconds(2)
        let store = try PostgresReleaseStore(url: server.url(database: database), timeout: timeout)
        try await store.migrate()
        let record = try await store.appendAudit(Self.draft(0))

        // psql blocks its thread for the whole lock: a plain Thread, not the concurrency pool.
        let released = DoneSignal.startThread { _ = try? server.psql("BEGIN; LOCK TABLE audit IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;", database: database) }
        try await Self.awaitPostgres(server, database, Self.auditTableLocked, equals: "1")  // it holds the lock

        let clock = ContinuousClock()
        let started = clock.now
        let error = await #expect(throws: KeyReleaseError.self) { try await store.auditRecords(afterSequence: 0, limit: 10) }
        #expect(error?.code == .storeUnavailable)
        #expect(started.duration(to: clock.now) < timeout + .seconds(20))  // bounded, not a hang
        try await store.ping()  // other tables still answer meanwhile

        await released.wait()
        #expect(try await store.auditRecords(afterSequence: 0, limit: 10) == [record])
        await store.close()
    }
}

// MARK: - Fixtures

extension StoreBackend: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}

/// One test's database: a fresh SQLite file or a fresh PostgreSQL database, and raw SQL access
/// to it that bypasses the store (to corrupt rows and to see exactly what was stored).
struct StoreFixture: Sendable {
    let backend: StoreBackend
    let url: String
    private let sqlitePath: String?
    private let postgresDatabase: String?

    init(_ backend: StoreBackend) throws {
        self.backend = backend
        switch backend {
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("releasestore-\(UUID().uuidString).db").path
            sqlitePath = path
            postgresDatabase = nil
            url = "sqlite:\(path)"
        case .postgres:
            let server = try SharedPostgres.server.get()
            let database = try server.createDatabase()
            sqlitePath = nil
            postgresDatabase = database
            url = server.url(database: database)
        }
    }

    /// Another store on this database, migrated (``ReleaseStores/open(_:)``).
    func open() async throws -> any ReleaseStore { try await ReleaseStores.open(url) }

    /// Another store on this database, not migrated.
    func openUnmigrated() async throws -> any ReleaseStore {
        switch backend {
        case .sqlite: try await SQLiteReleaseStore(path: sqlitePath!)
        case .postgres: try PostgresReleaseStore(url: url)
        }
    }

    /// Runs `sql` outside the store; rows as text: integers in decimal, bytes as `\x` + lowercase
    /// hex (psql's bytea output), NULL as "".
    @discardableResult
    func raw(_ sql: String) async throws -> [[String]] {
        switch backend {
        case .sqlite:
            let connection = try await SQLiteConnection.open(storage: .file(path: sqlitePath!))
            let rows: [SQLiteRow]
            do {
                _ = try await connection.query("PRAGMA busy_timeout = 5000")
                rows = try await connection.query(sql)
            } catch {
                try? await connection.close()
                throw error
            }
            try await connection.close()
            return rows.map { row in
                row.columns.map { column in
                    switch column.data {
                    case .integer(let v): String(v)
                    case .blob(let b): ReleaseStoreTests.hex(Array(b.readableBytesView))
                    case .text(let s): s
                    case .float(let f): String(f)
                    case .null: ""
                    }
                }
            }
        case .postgres:
            let output = try SharedPostgres.server.get().psql(sql, database: postgresDatabase!)
            return output.split(separator: "\n", omittingEmptySubsequences: true).map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
        }
    }

    /// The tables in the database, sorted.
    func tables() async throws -> [String] {
        switch backend {
        case .sqlite: try await raw("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").map { $0[0] }
        case .postgres: try await raw("SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY tablename").map { $0[0] }
        }
    }

    /// A byte-string literal in this dialect.
    func bytesLiteral(_ bytes: [UInt8]) -> String {
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        return backend == .sqlite ? "X'\(hex)'" : "'\\x\(hex)'::bytea"
    }

    /// Removes the database.
    func destroy() {
        if let sqlitePath {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: sqlitePath + suffix) }
        }
        if let postgresDatabase, let server = try? SharedPostgres.server.get() {
            try? server.dropDatabase(postgresDatabase)
        }
    }
}

/// Runs `body` with a fresh fixture and a store opened on it (migrated unless `migrated` is
/// false), then closes the store and removes the database, whether `body` throws or not.
func withFixture(
    _ backend: StoreBackend, migrated: Bool = true,
    _ body: (StoreFixture, any ReleaseStore) async throws -> Void
) async throws {
    let fixture = try StoreFixture(backend)
    defer { fixture.destroy() }
    let store = migrated ? try await fixture.open() : try await fixture.openUnmigrated()
    do {
        try await body(fixture, store)
    } catch {
        await store.close()
        throw error
    }
    await store.close()
}

extension ReleaseStoreTests {
    /// `count` deterministic pseudo-random bytes.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    static func hex(_ bytes: [UInt8]) -> String { "\\x" + bytes.map { String(format: "%02x", $0) }.joined() }

    /// A draft that differs per `i`, with optional fields both set and unset.
    static func draft(_ i: Int) -> AuditDraft {
        AuditDraft(
            timeMillis: 1_750_000_000_000 + Int64(i), outcome: i % 3 == 0 ? "refused" : "released",
            code: i % 3 == 0 ? "policy_rejected" : nil, requestID: "req-\(i)", jobID: "0x\(String(i, radix: 16))",
            datasetRoot: i % 2 == 0 ? "0x" + String(repeating: "ab", count: 32) : nil, platform: "tdx",
            claims: ["mrTD": "0x00", "index": String(i), "path": "a/b\"c"])
    }

    /// `records` are the whole chain: sequences 1…count in order, the first after genesis, each
    /// after the previous hash, every hash consistent and unique.
    static func expectChain(_ records: [AuditRecord], count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(records.map(\.sequence) == (1...Int64(count)).map { $0 }, sourceLocation: sourceLocation)
        #expect(records.first?.previousHash == AuditRecord.genesis, sourceLocation: sourceLocation)
        for (previous, record) in zip(records, records.dropFirst()) {
            #expect(record.previousHash == previous.hash, "record \(record.sequence) does not follow \(previous.sequence)", sourceLocation: sourceLocation)
        }
        #expect(records.filter { !$0.hashIsConsistent }.isEmpty, sourceLocation: sourceLocation)
        #expect(Set(records.map(\.hash)).count == records.count, sourceLocation: sourceLocation)
    }

    /// Runs `body(0..<count)` all at once and returns the results.
    static func concurrently<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: T.self) { group in
            for i in 0..<count { group.addTask { try await body(i) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }
}

extension ReleaseStoreTests {
    /// One row, "1", while another session holds the audit table's exclusive lock.
    static let auditTableLocked = """
        SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND relation = 'audit'::regclass AND mode = 'AccessExclusiveLock' AND granted
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        """
    /// How many other sessions on this database wait for a lock.
    static let waitingOnLock = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"

    /// Polls `sql` (one value) on `database` until it prints `expected`: an event to wait for, in
    /// place of a fixed sleep that a loaded machine can outlast. Records an issue after `limit`.
    static func awaitPostgres(
        _ server: PostgresServer, _ database: String, _ sql: String, equals expected: String,
        limit: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try server.psql(sql, database: database).trimmingCharacters(in: .whitespacesAndNewlines) == expected { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("\(sql) did not give \(expected) within \(limit)", sourceLocation: sourceLocation)
    }
}

/// A one-shot completion signal for work on a plain thread (blocking calls kept off the
/// concurrency pool).
final class DoneSignal: Sendable {
    private let done = LockedFlag()

    /// Runs `work` on a new thread; `wait()` returns once it has finished.
    static func startThread(_ work: @escaping @Sendable () -> Void) -> DoneSignal {
        let signal = DoneSignal()
        Thread {
            work()
            signal.done.set()
        }.start()
        return signal
    }

    func wait() async {
        while !done.isSet { try? await Task.sleep(for: .milliseconds(50)) }
    }
}

/// A flag behind a lock.
final class LockedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
