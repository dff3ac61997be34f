import Attestation
import ConfigFile
import Coordinator
import EVMCrypto
import Foundation
import Testing

/// The coordinator's configuration: strict decoding (an unknown key at any depth is refused with
/// its line and path), defaults, checks after decoding, and the wallet secret (a file must be
/// 0600 or stricter; errors never carry the secret).
@Suite("Coordinator: configuration")
struct CoordinatorConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let minimal = """
        chain:
          rpc: http://127.0.0.1:8545
          dataPolicy: "0x5FbDB2315678afecb367f032d93F642f64180aa3"
        wallet:
          env: TEST_WALLET
        discovery:
          logs:
            fromBlock: 12
        providers:
          - url: http://127.0.0.1:8092
            platform: tdx
            policies: [a.yaml]
        keyRelease: https://krs.example
        verification:
          online: true
        """

    static func scratch(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coordcfg-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    @Test("the example loads, and its policy file too")
    func example() throws {
        let c = try CoordinatorConfig(file: Self.root.appendingPathComponent("examples/coordinator.yaml").path)
        #expect(c.chain.chainId == 31337)
        #expect(c.wallet == .env("LICEN_COORDINATOR_KEY"))
        #expect(c.discovery.hyperindex != nil && c.discovery.logs?.confirmations == 2)
        #expect(c.providers.count == 1 && c.providers[0].platform == .tdx)
        let listen = try c.listenAddress()
        #expect(listen.host == "127.0.0.1" && listen.port == 8091)
        var local = c
        local.providers[0].policies = local.providers[0].policies.map { Self.root.appendingPathComponent($0).path }
        let providers = try local.configuredProviders()
        #expect(providers[0].policies.policies.map(\.name) == ["dcap-qvl-sample-tdx"])
        #expect(try c.quoteVerification().collateralSource != nil)
        #expect(c.results == .local(".demo/models"))
        guard case .local(let store) = c.resultStorage() else { Issue.record("not local"); return }
        #expect(store.directory == ".demo/models")
    }

    @Test("left-out sections take their defaults")
    func defaults() throws {
        let c = try CoordinatorConfig(yaml: Self.minimal)
        #expect(c.store == "sqlite:coordinator.db")
        #expect(try c.storeLocation() == .sqlite(path: "coordinator.db"))
        #expect(c.results == .local("models"))
        #expect(c.listen == "127.0.0.1:8091")
        #expect(c.intervals == .init(discoverySeconds: 5, taskSeconds: 3))
        #expect(c.timeouts == .init(taskSeconds: 3600, providerSeconds: 30, leaseSeconds: 60))
        #expect(c.retries == .init(dispatch: 5, settlement: 10))
        #expect(c.discovery.logs == .init(fromBlock: 12, confirmations: 0))
        #expect(c.chain.chainId == nil)
    }

    @Test(
        "an unknown key is refused with its path and line, at the top and nested",
        arguments: [
            ("chian:\n  rpc: x\n", "\"chian\"", 16),
            ("timeouts:\n  providerSecond: 3\n", "\"timeouts.providerSecond\"", 17),
            ("discovery2: 1\n", "\"discovery2\"", 16),
        ])
    func unknownKey(_ extra: String, _ path: String, _ line: Int) throws {
        let e = try #require(throws: CoordinatorError.self) { try CoordinatorConfig(yaml: Self.minimal + "\n" + extra) }
        #expect(e.code == .configInvalid)
        #expect(e.message.contains("unknown key \(path)"), "\(e.message)")
        #expect(e.message.contains("line \(line)"), "\(e.message)")
    }

    @Test("an unknown key inside a list item names its index; one inside the wallet too")
    func unknownNested() throws {
        let typo = Self.minimal.replacingOccurrences(of: "    policies: [a.yaml]", with: "    polices: [a.yaml]\n    policies: [a.yaml]")
        let e = try #require(throws: CoordinatorError.self) { try CoordinatorConfig(yaml: typo) }
        #expect(e.message.contains("\"providers[0].polices\"") && e.message.contains("line 12"), "\(e.message)")
        let wallet = Self.minimal.replacingOccurrences(of: "  env: TEST_WALLET", with: "  env: TEST_WALLET\n  mode: 600")
        let e2 = try #require(throws: CoordinatorError.self) { try CoordinatorConfig(yaml: wallet) }
        #expect(e2.message.contains("\"wallet.mode\""), "\(e2.message)")
    }

    @Test("a known optional key left null is accepted")
    func nullIsKnown() throws {
        let c = try CoordinatorConfig(yaml: Self.minimal.replacingOccurrences(of: "discovery:\n", with: "discovery:\n  hyperindex: ~\n"))
        #expect(c.discovery.hyperindex == nil)
    }

    @Test(
        "values decoding cannot judge are checked",
        arguments: [
            ("rpc: http://127.0.0.1:8545", "rpc: ftp://127.0.0.1:8545", "chain.rpc"),
            ("0x5FbDB2315678afecb367f032d93F642f64180aa3", "0x5fbDB2315678afecb367f032d93F642f64180aa3", "checksum"),
            ("keyRelease: https://krs.example", "keyRelease: krs.example", "keyRelease"),
            ("  online: true", "  online: false", "collateral"),
            ("    fromBlock: 12", "    fromBlock: 12\nintervals:\n  taskSeconds: 0", "intervals.taskSeconds"),
            ("discovery:\n  logs:\n    fromBlock: 12\n", "discovery: {}\n", "discovery"),
            ("    platform: tdx", "    platform: sgx", "platform"),
            ("keyRelease: https://krs.example", "keyRelease: https://krs.example\nstore: mysql://x", "store"),
            ("keyRelease: https://krs.example", "keyRelease: https://krs.example\nstore: sqlite://x", "sqlite"),
            ("keyRelease: https://krs.example", "keyRelease: https://krs.example\nresults:\n  zeroG: ftp://node", "results.zeroG"),
            ("keyRelease: https://krs.example", "keyRelease: https://krs.example\nlisten: 8091", "listen"),
        ])
    func checks(_ from: String, _ to: String, _ named: String) throws {
        let text = Self.minimal.replacingOccurrences(of: from, with: to)
        #expect(text != Self.minimal)
        let e = try #require(throws: CoordinatorError.self) { try CoordinatorConfig(yaml: text) }
        #expect(e.code == .configInvalid && e.message.contains(named), "\(e.message)")
    }

    static let keyHex = String(repeating: "4f", count: 32)

    @Test("the wallet file must be 0600 or stricter; the key never appears in an error")
    func walletFile() throws {
        let path = Self.scratch("wallet.key")
        try Data((Self.keyHex + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let c = try CoordinatorConfig(yaml: Self.minimal.replacingOccurrences(of: "  env: TEST_WALLET", with: "  file: \(path)"))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        let e = try #require(throws: CoordinatorError.self) { try c.walletKey(environment: [:]) }
        #expect(e.message.contains("mode 644") && e.message.contains(path))
        #expect(!e.message.contains(Self.keyHex))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(try c.walletKey(environment: [:]).rawRepresentation == [UInt8](repeating: 0x4f, count: 32))
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        #expect(try c.walletKey(environment: [:]).rawRepresentation == [UInt8](repeating: 0x4f, count: 32))
        // Not a key: said without echoing what the file holds.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        try Data("hunter2-not-a-key".utf8).write(to: URL(fileURLWithPath: path))
        let e2 = try #require(throws: CoordinatorError.self) { try c.walletKey(environment: [:]) }
        #expect(!e2.message.contains("hunter2"))
    }

    @Test("a missing environment variable is a clear error; a bad value is not echoed")
    func walletEnv() throws {
        let c = try CoordinatorConfig(yaml: Self.minimal)
        let e = try #require(throws: CoordinatorError.self) { try c.walletKey(environment: ["OTHER": Self.keyHex]) }
        #expect(e.code == .configInvalid && e.message.contains("TEST_WALLET") && e.message.contains("not set"))
        #expect(!e.message.contains(Self.keyHex))
        let secret = String(repeating: "zz", count: 32)
        let e2 = try #require(throws: CoordinatorError.self) { try c.walletKey(environment: ["TEST_WALLET": secret]) }
        #expect(e2.message.contains("TEST_WALLET") && !e2.message.contains(secret))
        #expect(try c.walletKey(environment: ["TEST_WALLET": "0x" + Self.keyHex]).rawRepresentation == [UInt8](repeating: 0x4f, count: 32))
    }

    @Test("a postgres store is parsed by SQLStore; a malformed one is refused without repeating the password")
    func storeLocation() throws {
        let c = try CoordinatorConfig(yaml: Self.minimal + "\nstore: postgres://u:pw@db:5432/coordinator\n")
        #expect(try c.storeLocation() == .postgres(url: "postgres://u:pw@db:5432/coordinator"))
        let e = try #require(throws: CoordinatorError.self) { try CoordinatorConfig(yaml: Self.minimal + "\nstore: mysql://u:hunter2@db/x\n") }
        #expect(e.code == .configInvalid && e.message.contains("store") && !e.message.contains("hunter2"), "\(e.message)")
    }

    @Test("results: exactly one of local or zeroG; zeroG makes a storage node client")
    func results() throws {
        let z = try CoordinatorConfig(yaml: Self.minimal + "\nresults:\n  zeroG: http://127.0.0.1:5678\n")
        #expect(z.results == .zeroG("http://127.0.0.1:5678"))
        guard case .zeroG(let node) = z.resultStorage() else { Issue.record("not 0G"); return }
        #expect(node.url == "http://127.0.0.1:5678")
        for bad in ["results:\n  local: a\n  zeroG: http://x\n", "results: {}\n", "results:\n  local: \"\"\n"] {
            let e = try #require(throws: CoordinatorError.self, "\(bad)") { try CoordinatorConfig(yaml: Self.minimal + "\n" + bad) }
            #expect(e.message.contains("local or zeroG"), "\(e.message)")
        }
        let e = try #require(throws: CoordinatorError.self) { try CoordinatorConfig(yaml: Self.minimal + "\nresults:\n  local: m\n  s3: x\n") }
        #expect(e.message.contains("unknown key \"results.s3\""), "\(e.message)")
    }

    @Test("a wallet naming both file and env, or neither, is refused")
    func walletShape() throws {
        for w in ["  env: A\n  file: /x", "  {}"] {
            let text = Self.minimal.replacingOccurrences(of: "  env: TEST_WALLET", with: w)
            #expect(throws: CoordinatorError.self) { try CoordinatorConfig(yaml: text) }
        }
    }

    /// StrictYAML alone, on a type of its own.
    struct Sample: Codable, Equatable {
        struct Inner: Codable, Equatable { var a: Int; var b: String? }
        var name: String
        var items: [Inner]
    }

    @Test("StrictYAML refuses unknown keys in list items and accepts known ones")
    func strict() throws {
        #expect(try StrictYAML.decode(Sample.self, from: "name: x\nitems:\n  - a: 1\n  - a: 2\n    b: y\n") == Sample(name: "x", items: [.init(a: 1), .init(a: 2, b: "y")]))
        let e = try #require(throws: ConfigFileError.self) { try StrictYAML.decode(Sample.self, from: "name: x\nitems:\n  - a: 1\n  - a: 2\n    c: y\n") }
        #expect(e.code == .unknownKey && e.message.contains("\"items[1].c\"") && e.message.contains("line 5"), "\(e.message)")
        let e2 = try #require(throws: ConfigFileError.self) { try StrictYAML.decode(Sample.self, from: "name: x\nitems: 3\n") }
        #expect(e2.code == .malformed && e2.message.contains("items"), "\(e2.message)")
    }
}
