import AsyncHTTPClient
import Foundation
import TestSupport
import Testing

/// `coordinator run` against the dev chain (py-evm, the DataPolicy contract deployed): `--check`
/// passes with the contract's backend wallet and refuses another, and the daemon serves
/// `/healthz` and stops cleanly on SIGTERM. The key never appears in any output.
@Suite("CLI: coordinator run against the dev chain", .serialized, .timeLimit(.minutes(5)))
struct CoordinatorRunTests {
    /// Standard error collected while a process runs.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func append(_ d: Data) { lock.withLock { text += String(decoding: d, as: UTF8.self) } }
        var all: String { lock.withLock { text } }
    }

    @Test("run --check with the backend wallet reports what it checked; another wallet exits 3; run serves /healthz until SIGTERM")
    func checkAndServe() async throws {
        let chain = try DevChain()
        defer { chain.stop() }
        try await CoordinatorCLITests.withFolder { dir in
            let config = CoordinatorCLITests.config(in: dir, rpc: chain.info.rpcUrl, dataPolicy: chain.info.dataPolicy)
            let key = chain.info.backend.privateKey
            let bareKey = (key.hasPrefix("0x") ? String(key.dropFirst(2)) : key).lowercased()
            func noKey(_ r: CLIRunner.Result) { #expect(!(r.stdout + r.stderr).lowercased().contains(bareKey), "the wallet key was printed") }

            let json = try CoordinatorCLITests.run(["run", "--config", config, "--check", "--json"], environment: ["TEST_COORDINATOR_KEY": key])
            #expect(json.status == 0, "\(json.stdout) \(json.stderr)")
            noKey(json)
            let report = try json.json()
            #expect(report["chainId"] as? Int == Int(chain.info.chainId))
            #expect(report["backendWallet"] as? String == chain.info.backend.address)
            #expect((report["storeSchema"] as? Int ?? 0) >= 1 && report["store"] as? String == dir + "/coordinator.db")
            let providers = try #require(report["providers"] as? [[String: Any]])
            #expect(providers.first?["policies"] as? [String] == ["dcap-qvl-sample-tdx"])
            #expect(FileManager.default.fileExists(atPath: dir + "/coordinator.db"))

            let text = try CoordinatorCLITests.run(["run", "--config", config, "--check"], environment: ["TEST_COORDINATOR_KEY": key])
            #expect(text.status == 0 && text.stdout.contains("configuration ok") && text.stdout.contains(chain.info.backend.address), "\(text.stdout) \(text.stderr)")
            noKey(text)

            let other = try CoordinatorCLITests.run(["run", "--config", config, "--check"], environment: ["TEST_COORDINATOR_KEY": chain.info.requester.privateKey])
            #expect(other.status == 3 && other.stderr.contains("backend wallet"), "\(other.stderr)")
            #expect(!(other.stdout + other.stderr).lowercased().contains(chain.info.requester.privateKey.lowercased().replacingOccurrences(of: "0x", with: "")))

            // The daemon itself.
            let p = Process()
            p.executableURL = CLIRunner.productsDirectory.appendingPathComponent("coordinator")
            p.arguments = ["run", "--config", config, "--owner", "cli-test"]
            p.environment = ProcessInfo.processInfo.environment.merging(["TEST_COORDINATOR_KEY": key]) { $1 }
            let err = Pipe(), lines = Lines()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            err.fileHandleForReading.readabilityHandler = { lines.append($0.availableData) }
            try p.run()
            var port: Int?
            for _ in 0..<300 where port == nil {
                try await Task.sleep(for: .milliseconds(100))
                for line in lines.all.split(separator: "\n") {
                    guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], o["message"] as? String == "listening" else { continue }
                    port = (o["port"] as? String).flatMap(Int.init)
                }
            }
            let listening = try #require(port, "no listening line: \(lines.all)")
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(listening)/healthz"), timeout: .seconds(10))
            #expect(response.status == .ok)
            p.terminate()
            for _ in 0..<300 where p.isRunning { try await Task.sleep(for: .milliseconds(100)) }
            err.fileHandleForReading.readabilityHandler = nil
            #expect(!p.isRunning && p.terminationStatus == 0, "\(lines.all)")
            #expect(!lines.all.lowercased().contains(bareKey), "the wallet key was logged")
        }
    }
}
