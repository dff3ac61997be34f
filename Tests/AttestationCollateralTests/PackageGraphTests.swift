import Foundation
import Testing

/// The module edges the design promises, read from the package graph itself
/// (`swift package dump-package`): evidence verification (`Attestation`) touches neither network
/// nor server code, collateral fetching (`AttestationCollateral`) no server code, and the
/// `verify-quote` command needs nothing beyond the two.
@Suite("Package graph: module edges")
struct PackageGraphTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Target name → the names of the targets and products it depends on.
    static func graph() throws -> [String: Set<String>] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // A scratch path of its own: the default one is locked by the `swift test` running this.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("graph-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        p.arguments = ["swift", "package", "--package-path", root.path, "--scratch-path", scratch, "dump-package"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var graph = [String: Set<String>]()
        for t in try #require(json["targets"] as? [[String: Any]]) {
            let name = try #require(t["name"] as? String)
            let deps = (t["dependencies"] as? [[String: Any]] ?? []).compactMap { dep in dep.values.first.flatMap { ($0 as? [Any])?.first as? String } }
            graph[name] = Set(deps)
        }
        return graph
    }

    /// Everything `target` reaches through targets of this package.
    static func closure(_ target: String, in graph: [String: Set<String>]) -> Set<String> {
        var seen = Set<String>(), todo = [target]
        while let t = todo.popLast() {
            for d in graph[t] ?? [] where seen.insert(d).inserted { todo.append(d) }
        }
        return seen
    }

    static let serverModules: Set<String> = [
        "KeyRelease", "Hummingbird", "HummingbirdCore", "HummingbirdTLS", "PostgresNIO", "SQLiteNIO",
        "ServiceLifecycle", "Prometheus", "Chain", "ProviderNode",
    ]

    @Test func evidenceAndCollateralStayOffTheServer() throws {
        let g = try Self.graph()
        let attestation = Self.closure("Attestation", in: g)
        #expect(attestation.isDisjoint(with: Self.serverModules.union(["AsyncHTTPClient", "AttestationCollateral"])), "\(attestation)")
        let collateral = Self.closure("AttestationCollateral", in: g)
        #expect(collateral.contains("Attestation") && collateral.contains("AsyncHTTPClient"))
        #expect(collateral.isDisjoint(with: Self.serverModules), "\(collateral)")
        #expect(g["KeyRelease"]?.contains("AttestationCollateral") == true)
    }

    /// The protocol both sides speak carries no server; the EVM primitives carry no chain client;
    /// the provider node reaches the service only through the protocol.
    @Test func protocolAndPrimitivesStaySmall() throws {
        let g = try Self.graph()
        let proto = Self.closure("ReleaseProtocol", in: g)
        #expect(proto.isDisjoint(with: Self.serverModules.union(["AsyncHTTPClient", "AttestationCollateral"])), "\(proto)")
        #expect(Self.closure("EVMCrypto", in: g).isSubset(of: ["CSecp256k1", "ByteEncoding"]))
        #expect(Self.closure("ByteEncoding", in: g).isEmpty)
        let dataset = Self.closure("DatasetCrypto", in: g)
        #expect(!dataset.contains("Chain") && dataset.contains("EVMCrypto"), "\(dataset)")
        let node = Self.closure("ProviderNode", in: g)
        #expect(node.contains("ReleaseProtocol") && !node.contains("KeyRelease"), "\(node)")
        #expect(Self.closure("KeyRelease", in: g).contains("ReleaseProtocol"))
        // The coordinator never holds a data key: it cannot even link the code that opens one.
        let coordinator = Self.closure("Coordinator", in: g)
        #expect(coordinator.isDisjoint(with: ["DatasetCrypto", "KeyRelease", "ProviderNode"]), "\(coordinator)")
        // Nor can its executable: `coordinatord` is the library, argument parsing and output.
        let daemon = Self.closure("coordinatord", in: g)
        #expect(daemon.contains("Coordinator") && daemon.isDisjoint(with: ["DatasetCrypto", "KeyRelease", "ProviderNode"]), "\(daemon)")
    }

    /// `keyrelease verify-quote` is built from `Attestation` and `AttestationCollateral` only.
    @Test func verifyQuoteImportsOnlyTheVerificationModules() throws {
        let source = try String(contentsOf: Self.root.appendingPathComponent("Sources/keyrelease-cli/VerifyQuote.swift"), encoding: .utf8)
        let imports = Set(source.split(separator: "\n").filter { $0.hasPrefix("import ") }.map { String($0.dropFirst(7)) })
        #expect(imports.isSubset(of: ["ArgumentParser", "Attestation", "AttestationCollateral", "Foundation"]), "\(imports)")
        #expect(imports.contains("AttestationCollateral"))
    }
}
