import Foundation
import KeyRelease
import TestSupport
import Testing

/// ``ReleaseStores/openForReading(_:)`` (what `keyrelease audit verify` uses): it never creates,
/// migrates or writes a store, and a store that is not there, or was never the service's, is an
/// error rather than an empty chain that verifies as intact.
@Suite("ReleaseStore: opening for reading", .timeLimit(.minutes(3)))
struct ReleaseStoreReadOnlyTests {
    @Test("schemaVersion is 0 before migration and the latest after, changing nothing", arguments: StoreBackend.allCases)
    func schemaVersion(_ backend: StoreBackend) async throws {
        try await withFixture(backend, migrated: false) { fx, store in
            #expect(try await store.schemaVersion() == 0)
            #expect(try await fx.tables() == [])
            let latest = try await store.migrate()
            #expect(try await store.schemaVersion() == latest)
        }
    }

    @Test("a migrated store opens for reading: its chain verifies; SQLite refuses writes", arguments: StoreBackend.allCases)
    func readsTheChain(_ backend: StoreBackend) async throws {
        try await withFixture(backend) { fx, store in
            for i in 0..<4 { _ = try await store.appendAudit(ReleaseStoreTests.draft(i)) }
            let reader = try await ReleaseStores.openForReading(fx.url)
            #expect(try await AuditChain.verify(reader).records == 4)
            if backend == .sqlite {
                let error = await #expect(throws: KeyReleaseError.self) { _ = try await reader.appendAudit(ReleaseStoreTests.draft(9)) }
                #expect(error?.code == .storeUnavailable)
            }
            await reader.close()
            #expect(try await store.auditRecords(afterSequence: 0, limit: 10).count == 4)
        }
    }

    @Test("a database the service never opened is refused and left without tables", arguments: StoreBackend.allCases)
    func refusesADatabaseWithoutSchema(_ backend: StoreBackend) async throws {
        try await withFixture(backend, migrated: false) { fx, _ in
            if backend == .sqlite { try await fx.raw("CREATE TABLE unrelated (x INTEGER)") }
            let error = await #expect(throws: KeyReleaseError.self) { _ = try await ReleaseStores.openForReading(fx.url) }
            #expect(error?.code == .storeUnavailable)
            #expect(error?.message.contains("not a key-release store") == true, "\(error.map(String.init(describing:)) ?? "")")
            #expect(try await fx.tables() == (backend == .sqlite ? ["unrelated"] : []))
        }
    }

    @Test("sqlite: a missing path, an empty file, a directory and :memory: are refused; nothing is created")
    func sqliteNeverCreates() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("readonly-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: dir + "/empty", contents: Data()))
        for (url, code) in [
            ("sqlite:\(dir)/TYPO.db", KeyReleaseError.Code.storeUnavailable), ("sqlite:\(dir)/empty", .storeUnavailable),
            ("sqlite:\(dir)/sub", .storeUnavailable), ("sqlite::memory:", .configInvalid),
        ] {
            let error = await #expect(throws: KeyReleaseError.self, "\(url)") { _ = try await ReleaseStores.openForReading(url) }
            #expect(error?.code == code, "\(url): \(error.map(String.init(describing:)) ?? "")")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["empty", "sub"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/empty")).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/sub").isEmpty)
    }

    @Test("sqlite: a path with URI-special characters is read as that path")
    func sqliteURIEscaping() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("readonly-\(UUID())/a dir?mode=rwc#x%41").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let url = "sqlite:\(dir)/store é.db"
        let store = try await ReleaseStores.open(url)
        _ = try await store.appendAudit(ReleaseStoreTests.draft(0))
        await store.close()
        let reader = try await ReleaseStores.openForReading(url)
        #expect(try await AuditChain.verify(reader).records == 1)
        await reader.close()
    }
}
