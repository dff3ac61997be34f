import ArgumentParser
import Coordinator
import Foundation
import Logging
import ServiceLifecycle
import ServiceSupport

/// `coordinator run --config FILE [--check] [--owner NAME]`: the daemon.
struct RunCommand: AsyncParsableCommand, JSONOutputCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the coordinator: discover granted jobs, dispatch them to attested provider nodes, settle them on chain.",
        discussion: """
            Loads the configuration (examples/coordinator.yaml), reads the backend wallet's key (from \
            the file or environment variable the configuration names; it is never printed or \
            logged), checks it is the DataPolicy contract's backend wallet, loads the providers' \
            policies and opens (and migrates) the store. Then serves /healthz, /readyz and /metrics \
            on `listen` and runs until SIGTERM or SIGINT (graceful shutdown: the step in progress \
            finishes). Logs are JSON lines on stderr; "listening" names the port. With --check, \
            prints what was checked (store migrated, chain id, backend wallet, providers' policies) \
            and exits without serving; the provider nodes need not be up. \
            \(CoordinatorCommand.exitCodes)
            """
    )

    @Option(help: ArgumentHelp("The YAML configuration file.", valueName: "FILE"))
    var config: String

    @Flag(help: "Check the configuration, the store, the chain and the wallet, print what was checked, and exit without serving.")
    var check = false

    @Option(help: ArgumentHelp("This replica's name on its job leases (unique per running coordinator). Default: HOSTNAME-PID.", valueName: "NAME"))
    var owner: String?

    @Flag(help: "With --check: print the report as one JSON object.")
    var json = false

    func validate() throws {
        if json && !check { throw ValidationError("--json goes with --check") }
        if let owner, owner.isEmpty { throw ValidationError("--owner must not be empty") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        let logger = Logger(label: "coordinator")
        let settings = try CoordinatorConfig(file: config)
        let (host, port) = try settings.listenAddress()
        let name = owner ?? "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
        let engine = try await CoordinatorDaemon.make(settings, owner: name, results: settings.resultStorage(), logger: logger)
        if check {
            let report: CoordinatorDaemon.CheckReport
            do { report = try await CoordinatorDaemon.checkReport(engine, config: settings) } catch {
                await engine.store.close()
                throw error
            }
            await engine.store.close()
            print(json ? try Self.json(report) : Self.text(report))
            return
        }
        logger.info("starting", metadata: ["event": "starting", "owner": "\(name)", "chainId": "\(engine.chainID)", "wallet": "\(engine.walletAddress.checksummed)"])
        let group = CoordinatorHTTP.build(engine: engine, host: host, port: port, logger: logger) { port in
            logger.info("listening", metadata: ["event": "listening", "host": "\(host)", "port": "\(port)"])
        }
        try await group.run()
    }

    static func json(_ report: CoordinatorDaemon.CheckReport) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try e.encode(report), as: UTF8.self)
    }

    static func text(_ r: CoordinatorDaemon.CheckReport) -> String {
        var lines = [
            "configuration ok",
            "store: \(r.store), schema version \(r.storeSchema) (migrated)",
            "chain: id \(r.chainId), DataPolicy \(r.dataPolicy)",
            "backend wallet: \(r.backendWallet) (the contract's backend wallet)",
            "results: \(r.results)",
        ]
        for p in r.providers { lines.append("provider \(p.url) (\(p.platform)): policies \(p.policies.joined(separator: ", "))") }
        return lines.joined(separator: "\n")
    }
}
