import Foundation

/// The loopback EVM dev chain (`scripts/devchain`, eth-tester + py-evm, the Vyper DataPolicy and
/// Flow deployed), started for one test and stopped with ``stop()``.
public final class DevChain: Sendable {
    /// A funded dev account.
    public struct Account: Sendable, Decodable {
        /// Checksummed address.
        public let address: String
        /// Private key, hex (dev only).
        public let privateKey: String
    }

    /// What `scripts/devchain up` prints.
    public struct Info: Sendable, Decodable {
        public let rpcUrl: String
        public let chainId: UInt64
        public let dataPolicy: String
        public let flow: String
        public let backend: Account
        public let owner: Account
        public let requester: Account
        public let extra: [Account]
    }

    /// The running chain.
    public let info: Info
    /// Its state folder.
    public let stateDir: String

    /// Starts a fresh chain on a free port. Throws with the script's output if it fails.
    public init() throws {
        stateDir = (NSTemporaryDirectory() as NSString).appendingPathComponent("devchain-\(UUID().uuidString)")
        let r = try Self.script(["up", "--state-dir", stateDir])
        guard r.status == 0, let line = r.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
            throw CLIError("scripts/devchain up failed (\(r.status)): \(r.stderr.suffix(2000))")
        }
        info = try JSONDecoder().decode(Info.self, from: Data(line.utf8))
    }

    /// Stops the chain and removes its state.
    public func stop() {
        _ = try? Self.script(["down", "--state-dir", stateDir])
        try? FileManager.default.removeItem(atPath: stateDir)
    }

    static func script(_ args: [String]) throws -> CLIRunner.Result {
        try CLIRunner.runFile(TestVectors.packageRoot.appendingPathComponent("scripts/devchain").path, args)
    }
}

/// A failure of a test helper, with the output that explains it.
public struct CLIError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
