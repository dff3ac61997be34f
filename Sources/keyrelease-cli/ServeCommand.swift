import ArgumentParser
import ByteEncoding
import Chain
import DatasetCrypto
import Foundation
import KeyRelease
import Logging
import ServiceSupport
import ReleaseProtocol
import ServiceLifecycle

/// `keyrelease serve --config FILE`: run the key-release service.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the key-release service (HTTP API in Docs/keyrelease-service.md).",
        discussion: """
            Opens the store (sqlite:PATH or postgres://…, migrations applied), loads the policy files \
            and the escrow key (a 0600 file or an environment variable; never logged), and serves \
            /v1/challenge, /v1/release, /v1/escrow, /v1/escrow-key, /v1/audit/{ref}, /healthz, \
            /readyz and /metrics until SIGTERM or SIGINT (graceful shutdown). Logs are JSON lines on \
            stderr. Exit codes: 0 after a clean shutdown; 3 bad configuration or the store cannot be opened.
            """
    )

    @Option(help: ArgumentHelp("YAML configuration file.", valueName: "FILE"))
    var config: String

    @Flag(help: "Check the configuration (policies, escrow key, store reachable and migrated) and exit without serving.")
    var check = false

    func run() async throws {
        LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        try InputFile.check(config, "--config")
        let built: (ReleaseService, ReleaseHTTP.Listener)
        do { built = try await ReleaseServer.make(try ServiceConfig(file: config)) } catch {
            let failure = CLIFailure(error)
            throw CLIFailure(status: 3, code: failure.code, message: failure.message)
        }
        let (service, listener) = built
        if check {
            await service.store.close()
            print("configuration ok: \(service.policies.count) policies, escrow key \(Hex.prefixed(service.escrowPublicKey.serialized(compressed: true)))")
            return
        }
        // The server and the store in one service group: SIGTERM/SIGINT stop the server, then close the store.
        let group: ServiceGroup
        do {
            group = try ReleaseHTTP.build(service: service, listener: listener) { port in
                service.logger.info("listening", metadata: ["host": "\(listener.host)", "port": "\(port)", "tls": "\(listener.tls != nil)"])
            }
        } catch {
            await service.store.close()
            throw error
        }
        try await group.run()
    }
}

/// `keyrelease audit`: the audit chain.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Check the key-release audit chain.", subcommands: [Verify.self])

    /// `keyrelease audit verify --store URL`.
    struct Verify: AsyncParsableCommand, JSONOutputCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the whole audit hash chain offline.",
            discussion: """
                The store is opened read-only and never created or migrated: a sqlite:PATH that does not \
                exist, or a database the service never opened, is an error. Exit codes: 0 the chain is \
                intact; 2 the chain is broken (a gap, a fork or an edited record, named); 3 the store \
                cannot be read.
                """
        )

        @Option(help: ArgumentHelp("The service's existing store: sqlite:PATH (opened read-only) or postgres://user@host:port/db.", valueName: "URL"))
        var store: String

        @Flag(help: "Print one JSON object.")
        var json = false

        func run() async throws {
            // Reading never creates: a mistyped path must not verify as an empty, intact chain.
            let s = try await ReleaseStores.openForReading(store)
            let result: Result<AuditChain.Summary, KeyReleaseError>
            do { result = .success(try await AuditChain.verify(s)) } catch { result = .failure(error) }
            await s.close()
            switch result {
            case .success(let summary):
                if json {
                    let e = JSONEncoder()
                    e.outputFormatting = [.prettyPrinted, .sortedKeys]
                    var obj = try JSONSerialization.jsonObject(with: try e.encode(summary)) as! [String: Any]
                    obj["intact"] = true
                    print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
                } else {
                    print("intact: \(summary.records) records (\(summary.released) released, \(summary.refused) refused), head \(summary.head ?? "none")")
                }
            case .failure(let error):
                if json {
                    print(
                        String(
                            decoding: try JSONSerialization.data(
                                withJSONObject: ["intact": false, "error": ["code": error.code.rawValue, "message": error.message]], options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
                } else {
                    FileHandle.standardError.write(Data("audit chain: \(error)\n".utf8))
                }
                throw ExitCode(error.code == .auditChainBroken || error.code == .storeCorrupt ? 2 : 3)
            }
        }

        /// `{intact: false, error: {code, message}}`: the store could not be read.
        static func jsonObject(for failure: CLIFailure) -> String {
            JSONText.object(["intact": false, "error": JSONText.error(failure)])
        }
    }
}

/// `keyrelease escrow`: escrow-key and upload tools.
struct EscrowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "escrow", abstract: "Escrow key and owner upload tools.", subcommands: [Keygen.self, Upload.self])

    /// `keyrelease escrow keygen --out FILE`.
    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create the service's escrow key in a new file with mode 0600; print its public key.")

        @Option(help: ArgumentHelp("New key file (never overwritten).", valueName: "FILE"))
        var out: String

        func run() throws {
            let key = try EscrowKey.generate(file: out)
            print(Hex.prefixed(key.publicKey.serialized(compressed: true)))
        }
    }

    /// `keyrelease escrow upload`: the owner's signed upload body.
    struct Upload: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the signed POST /v1/escrow body for an envelope (the dataset owner's side).",
            discussion: "The owner key file holds 64 hex digits (mode 0600). Exit codes: 0 printed; 3 bad input."
        )

        @Option(help: ArgumentHelp("Dataset root (0x…).", valueName: "HEX"))
        var datasetRoot: String

        @Option(help: ArgumentHelp("The sealed envelope (0x…, 105 bytes), as `dataset encrypt --seal-to ESCROWKEY` printed it.", valueName: "HEX"))
        var envelope: String

        @Option(
            help: ArgumentHelp(
                "This upload's version, signed with it (1 or more): the service keeps it only if greater than the stored envelope's, so an old upload cannot be replayed to roll a newer key back. Use a counter or a Unix time.",
                valueName: "N"))
        var version: UInt64

        @Option(name: .customLong("owner-key"), help: ArgumentHelp("File with the owner's secp256k1 private key (hex).", valueName: "FILE"))
        var ownerKey: String

        func run() throws {
            guard let root = try? Hex.decode(datasetRoot), root.count == 32 else { throw ValidationError("--dataset-root must be 32 bytes of hex") }
            guard let env = try? Hex.decode(envelope), env.count == KeyEnvelope.length else { throw ValidationError("--envelope must be \(KeyEnvelope.length) bytes of hex") }
            try InputFile.check(ownerKey, "--owner-key")
            let key: EscrowKey
            do { key = try EscrowKey(file: ownerKey) } catch { throw CLIFailure.usage(error.message) }
            guard version >= 1, version <= UInt64(Int64.max) else { throw ValidationError("--version must be 1…2^63−1") }
            let upload = try EscrowUpload.signed(datasetRoot: root, envelope: env, version: version, owner: key.privateKey)
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(upload), as: UTF8.self))
        }
    }
}
