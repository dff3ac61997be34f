import AsyncHTTPClient
import ByteEncoding
import Chain
import Foundation
import KeyRelease
import TestSupport
import Testing

/// The service's configuration and secrets: strict YAML, an escrow key file that must be 0600,
/// and `keyrelease serve --check` / `escrow keygen` through the real CLI.
@Suite("Key-release service configuration")
struct ServiceConfigTests {
    static func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "krs-config-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    static let policy = TDXTestPKI.policyYAML(name: "config-test")

    static func yaml(dir: String, extra: String = "") -> String {
        """
        listen: 127.0.0.1:0
        store: sqlite:\(dir)/krs.sqlite
        policies: [\(dir)/policy.yaml]
        chain:
          rpc: http://127.0.0.1:1
          dataPolicy: "0x00000000000000000000000000000000000000aa"
        escrowKey:
          file: \(dir)/escrow.key
        \(extra)
        """
    }

    @Test func strictYAML() throws {
        let dir = try Self.tempDir()
        let good = try ServiceConfig(yaml: Self.yaml(dir: dir, extra: "nonceTTLSeconds: 30"))
        #expect(good.nonceTTLSeconds == 30)
        let listen = try good.listenAddress()
        #expect(listen.host == "127.0.0.1" && listen.port == 0)
        let bad: [(String, String)] = [
            (Self.yaml(dir: dir, extra: "nonceTTL: 30"), "unknown key \"nonceTTL\""),
            (Self.yaml(dir: dir).replacingOccurrences(of: "  rpc:", with: "  rcp:"), "chain.rcp"),
            (Self.yaml(dir: dir).replacingOccurrences(of: "127.0.0.1:0", with: "localhost"), "listen"),
            (Self.yaml(dir: dir).replacingOccurrences(of: "policies: [\(dir)/policy.yaml]", with: "policies: []"), "policy"),
            (Self.yaml(dir: dir).replacingOccurrences(of: "0x00000000000000000000000000000000000000aa", with: "0x12"), "dataPolicy"),
            (Self.yaml(dir: dir, extra: "adminToken: {file: a, env: B}"), "exactly one"),
            (Self.yaml(dir: dir, extra: "nonceTTLSeconds: 0"), "nonceTTLSeconds"),
            (Self.yaml(dir: dir, extra: "logLevel: loud"), "logLevel"),
            (Self.yaml(dir: dir, extra: "limits: {headerTimeout: 5}"), "limits.headerTimeout"),
            (Self.yaml(dir: dir, extra: "limits: {headerTimeoutSeconds: 0}"), "limits.headerTimeoutSeconds"),
            (Self.yaml(dir: dir, extra: "limits: {maxConnections: 0}"), "limits.maxConnections"),
            (Self.yaml(dir: dir, extra: "limits: {challengesPerSecond: -1}"), "limits.challengesPerSecond"),
            (Self.yaml(dir: dir, extra: "verification: {akHardwareBindng: true}"), "verification.akHardwareBindng"),
        ]
        for (text, needle) in bad {
            do { _ = try ServiceConfig(yaml: text); Issue.record("accepted: \(needle)") } catch {
                #expect(error.code == .configInvalid && error.message.contains(needle), "\(error)")
            }
        }
    }

    /// The documented example parses, limits included.
    @Test func exampleConfigAndLimits() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let example = try ServiceConfig(file: root.appendingPathComponent("examples/keyrelease.yaml").path)
        #expect(example.limits?.maxTicketLifetimeSeconds == 3600)
        #expect(example.verification?.akHardwareBinding == false)
        let dir = try Self.tempDir()
        let tuned = try ServiceConfig(yaml: Self.yaml(dir: dir, extra: "limits: {headerTimeoutSeconds: 3, challengeBurst: 0, maxTicketLifetimeSeconds: 600}"))
        #expect(tuned.limits?.headerTimeoutSeconds == 3 && tuned.limits?.challengeBurst == 0)
    }

    @Test func escrowKeySources() throws {
        let dir = try Self.tempDir()
        let key = try EscrowKey.generate(file: dir + "/k")
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/k")[.posixPermissions] as? NSNumber
        #expect(mode?.intValue == 0o600)
        #expect(try EscrowKey(file: dir + "/k").publicKey == key.publicKey)
        #expect(throws: KeyReleaseError.self) { _ = try EscrowKey.generate(file: dir + "/k") }  // never overwritten
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: dir + "/k")
        do { _ = try EscrowKey(file: dir + "/k"); Issue.record("a world-readable key file was accepted") } catch {
            #expect(error.code == .configInvalid && error.message.contains("0600"))
        }
        let hex = Hex.encode(key.privateKey.rawRepresentation)
        #expect(try EscrowKey(environment: "K", environment: ["K": "0x" + hex]).publicKey == key.publicKey)
        do { _ = try EscrowKey(environment: "K", environment: ["K": "zz" + hex]); Issue.record("bad key text accepted") } catch {
            #expect(!error.message.contains(hex), "the key text must never be echoed")
        }
        #expect(!"\(key.privateKey)".contains(hex))
    }

    @Test func serveCheckThroughTheCLI() throws {
        let dir = try Self.tempDir()
        try Self.policy.write(toFile: dir + "/policy.yaml", atomically: true, encoding: .utf8)
        let keygen = try CLIRunner.run("keyrelease", ["escrow", "keygen", "--out", dir + "/escrow.key"])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        try Self.yaml(dir: dir).write(toFile: dir + "/krs.yaml", atomically: true, encoding: .utf8)
        let check = try CLIRunner.run("keyrelease", ["serve", "--config", dir + "/krs.yaml", "--check"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("1 policies") && check.stdout.contains(keygen.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let secret = try String(contentsOfFile: dir + "/escrow.key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!check.stdout.contains(secret) && !check.stderr.contains(secret))
        // A typo in the config: exit 3 with the key named.
        try Self.yaml(dir: dir, extra: "listn: x").write(toFile: dir + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try CLIRunner.run("keyrelease", ["serve", "--config", dir + "/bad.yaml", "--check"])
        #expect(bad.status == 3 && bad.stderr.contains("listn"), "\(bad.stderr)")
        // The empty audit chain of the fresh store is intact.
        let audit = try CLIRunner.run("keyrelease", ["audit", "verify", "--store", "sqlite:\(dir)/krs.sqlite", "--json"])
        #expect(audit.status == 0, "\(audit.stdout) \(audit.stderr)")
        let records = try audit.json()["records"] as? Int
        #expect(records == 0)
    }

    /// `keyrelease serve` as operators run it: the server and the store in one service group.
    /// It answers, and SIGTERM stops the server and then closes the store: exit 0, and the audit
    /// chain reads back intact from the closed SQLite file.
    @Test func serveStopsGracefullyOnSIGTERM() async throws {
        let dir = try Self.tempDir()
        try Self.policy.write(toFile: dir + "/policy.yaml", atomically: true, encoding: .utf8)
        #expect(try CLIRunner.run("keyrelease", ["escrow", "keygen", "--out", dir + "/escrow.key"]).status == 0)
        try Self.yaml(dir: dir).write(toFile: dir + "/krs.yaml", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = CLIRunner.productsDirectory.appendingPathComponent("keyrelease")
        p.arguments = ["serve", "--config", dir + "/krs.yaml"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        // The JSON log line "listening" names the port the listener bound.
        var log = Data(), port: Int?
        let deadline = Date().addingTimeInterval(30)
        while port == nil, Date() < deadline {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            log.append(chunk)
            for line in String(decoding: log, as: UTF8.self).split(separator: "\n") where line.contains("listening") {
                if let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let s = (o["port"] as? String) ?? (o["metadata"] as? [String: Any])?["port"] as? String {
                    port = Int(s)
                }
            }
        }
        let bound = try #require(port, "no listening line: \(String(decoding: log, as: UTF8.self))")
        let health = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(bound)/healthz"), timeout: .seconds(10))
        #expect(health.status == .ok)
        kill(p.processIdentifier, SIGTERM)
        let stop = Date().addingTimeInterval(15)
        while p.isRunning, Date() < stop { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!p.isRunning, "serve did not stop within 15 s of SIGTERM")
        #expect(p.terminationStatus == 0)
        let audit = try CLIRunner.run("keyrelease", ["audit", "verify", "--store", "sqlite:\(dir)/krs.sqlite", "--json"])
        #expect(audit.status == 0, "\(audit.stdout) \(audit.stderr)")
    }
}
