import ArgumentParser
import ByteEncoding
import Chain
import EVMCrypto
import Foundation

/// `keyrelease chain`: read the DataPolicy contract.
struct ChainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chain",
        abstract: "Read the DataPolicy contract.",
        subcommands: [Job.self]
    )

    /// `keyrelease chain job JOBID`.
    struct Job: AsyncParsableCommand, JSONOutputCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a job as the contract holds it (state by name).",
            discussion: "Exit codes: 0 printed (a job that does not exist prints state None); 3 bad arguments or the RPC is unreachable."
        )

        @Argument(help: "The job id (bytes32, hex).")
        var jobID: String

        @Option(help: "JSON-RPC URL of the chain.")
        var rpc: String

        @Option(help: "DataPolicy contract address.")
        var contract: String

        @Flag(help: "Print one JSON object.")
        var json = false

        func run() async throws {
            guard let id = try? Hex.decode(jobID), id.count == 32 else { throw ValidationError("JOBID must be 32 bytes of hex") }
            let address: Address
            do { address = try Address(contract) } catch { throw ValidationError("--contract: \(error.message)") }
            // A one-shot call: a refused or unreachable endpoint fails at once (exit 3), unretried.
            let dp = DataPolicy(address: address, client: EthClient(rpc: .failingFast(url: rpc)))
            let job: DataPolicy.Job
            do { job = try await dp.job(id) } catch {
                throw CLIFailure(status: 3, code: error.code.rawValue, message: error.message)
            }
            let fields: [(String, Any)] = [
                ("jobId", Hex.prefixed(id)), ("state", job.state.description), ("datasetRoot", Hex.prefixed(job.datasetRoot)),
                ("requester", job.requester.checksummed), ("provider", job.provider.checksummed), ("purposeId", Hex.prefixed(job.purposeID)),
                ("requestedEpochs", Int(job.requestedEpochs)), ("escrowAmount", job.escrowAmount.description), ("requestTime", Int(job.requestTime)),
                ("termsHash", Hex.prefixed(job.termsHash)),
            ]
            if json {
                print(String(decoding: try JSONSerialization.data(withJSONObject: Dictionary(uniqueKeysWithValues: fields), options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            } else {
                for (k, v) in fields { print("\(k.padding(toLength: 16, withPad: " ", startingAt: 0)) \(v)") }
            }
        }
    }
}
