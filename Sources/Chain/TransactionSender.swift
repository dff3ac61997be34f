import AsyncLock
import BigInt
import ByteEncoding
import EVMCrypto
import Foundation

/// Sends transactions from one key: assigns nonces without gaps or reuse across concurrent
/// sends, estimates gas and fees, waits for receipts with a confirmation count, decodes reverts,
/// and re-sends a transaction that is not mined in time under the same nonce with a higher fee.
///
/// Submission (nonce, sign, `eth_sendRawTransaction`) is serialized inside the actor, so a failed
/// submission never leaves a hole: the nonce is re-read from the node before the next one.
/// Waiting for receipts happens concurrently.
public actor TransactionSender {
    /// The node.
    public let client: EthClient
    /// The signing key's address.
    public nonisolated let address: Address
    private let key: Secp256k1.PrivateKey
    private var chainID: UInt64?
    private var nextNonce: UInt64?
    // Submission lock: the actor is reentrant at every `await`, so nonce assignment, signing and
    // `eth_sendRawTransaction` are guarded by this FIFO lock to keep nonces gap-free and unique.
    private let submission = AsyncFIFOLock()

    /// Gas limit = estimate × this (percent).
    public var gasMarginPercent: UInt64 = 125
    /// Blocks a receipt must be buried under (1 = mined).
    public var confirmations: UInt64 = 1
    /// How often to poll for receipts.
    public var pollInterval: Duration = .milliseconds(100)
    /// After this long without a receipt the transaction is re-sent with fees × 1.25.
    public var stuckAfter: Duration = .seconds(30)
    /// Give up after this long.
    public var timeout: Duration = .seconds(180)
    /// Custom error signatures to name in revert messages.
    public var knownErrors: [String] = []

    /// Creates a sender for `key` on `client`.
    public init(client: EthClient, key: Secp256k1.PrivateKey) {
        self.client = client
        self.key = key
        self.address = key.publicKey.address
    }

    /// Sets the tuning knobs.
    public func configure(confirmations: UInt64? = nil, pollInterval: Duration? = nil, stuckAfter: Duration? = nil, timeout: Duration? = nil, knownErrors: [String]? = nil) {
        if let confirmations { self.confirmations = confirmations }
        if let pollInterval { self.pollInterval = pollInterval }
        if let stuckAfter { self.stuckAfter = stuckAfter }
        if let timeout { self.timeout = timeout }
        if let knownErrors { self.knownErrors = knownErrors }
    }

    /// Called with each signed transaction's hash before it is broadcast (the first one, and
    /// each fee-bumped replacement), so a caller can record it first: a throw aborts the send
    /// before the node sees the transaction.
    public typealias BeforeBroadcast = @Sendable ([UInt8]) async throws(ChainError) -> Void

    /// Sends a call (or a plain transfer with empty `data`) and waits for its receipt. A revert
    /// (at estimation, or a mined status 0) throws ``ChainError/Code/reverted`` with the reason.
    /// `beforeBroadcast` sees every hash before the node does (see ``BeforeBroadcast``).
    @discardableResult
    public func send(to: Address?, data: [UInt8], value: BigUInt = 0, beforeBroadcast: BeforeBroadcast? = nil) async throws(ChainError) -> Receipt {
        // Estimate before taking a nonce: a call that would revert never consumes one.
        let gas = try await client.estimateGas(from: address, to: to, data: data, value: value, errors: knownErrors) * gasMarginPercent / 100
        let fees = try await currentFees()
        var tx = Transaction(chainID: try await chain(), nonce: 0, fees: fees, gasLimit: gas, to: to, value: value, data: data)
        var hashes: [[UInt8]] = []
        for attempt in 1...3 {
            do {
                hashes = [try await submit(&tx, beforeBroadcast: beforeBroadcast)]
                break
            } catch  where error.code == .nonce && attempt < 3 {
                continue  // the node saw the nonce already (another sender on this key): re-read it and retry
            }
        }
        let clock = ContinuousClock()
        let started = clock.now
        var lastSend = started
        while true {
            for h in hashes {
                if let r = try await client.receipt(h) {
                    if confirmations > 1 {
                        while try await client.blockNumber() + 1 < r.blockNumber + confirmations {
                            try await sleep(pollInterval)
                        }
                    }
                    guard r.succeeded else { throw ChainError(.reverted, try await revertReason(tx, block: r.blockNumber)) }
                    return r
                }
            }
            if clock.now - started > timeout {
                throw ChainError(.timeout, "no receipt for \(Hex.prefixed(hashes.last!)) after \(timeout)")
            }
            if clock.now - lastSend > stuckAfter {
                tx.fees = Self.bumped(tx.fees)
                if let h = try? await resubmit(tx, beforeBroadcast: beforeBroadcast) { hashes.append(h) }
                lastSend = clock.now
            }
            try await sleep(pollInterval)
        }
    }

    private func sleep(_ d: Duration) async throws(ChainError) {
        do { try await Task.sleep(for: d) } catch { throw ChainError(.timeout, "cancelled") }
    }

    /// Takes the next nonce, signs and submits. On any failure the cached nonce is dropped so the
    /// next send re-reads it from the node (no gap, no reuse).
    private func submit(_ tx: inout Transaction, beforeBroadcast: BeforeBroadcast?) async throws(ChainError) -> [UInt8] {
        await submission.lock()
        defer { submission.unlock() }
        let nonce: UInt64
        if let n = nextNonce { nonce = n } else { nonce = try await client.transactionCount(of: address, block: "pending") }
        tx.nonce = nonce
        do {
            let (raw, hash) = try tx.signed(with: key)
            try await beforeBroadcast?(hash)
            _ = try await client.sendRawTransaction(raw)
            nextNonce = nonce + 1
            return hash
        } catch {
            nextNonce = nil
            throw error
        }
    }

    /// Re-sends `tx` (same nonce, higher fees).
    private func resubmit(_ tx: Transaction, beforeBroadcast: BeforeBroadcast?) async throws(ChainError) -> [UInt8] {
        let (raw, hash) = try tx.signed(with: key)
        try await beforeBroadcast?(hash)
        _ = try await client.sendRawTransaction(raw)
        return hash
    }

    private func chain() async throws(ChainError) -> UInt64 {
        if let chainID { return chainID }
        let id = try await client.chainID()
        chainID = id
        return id
    }

    /// EIP-1559 fees when the chain has a base fee (maxFee = 2 × base + tip), else legacy.
    func currentFees() async throws(ChainError) -> Transaction.Fees {
        if let base = try await client.baseFee() {
            let tip = try await client.maxPriorityFee()
            return .eip1559(maxPriorityFeePerGas: tip, maxFeePerGas: base * 2 + tip)
        }
        return .legacy(gasPrice: try await client.gasPrice())
    }

    /// Fees raised by 25% (nodes require ≥ 10% for a replacement).
    static func bumped(_ f: Transaction.Fees) -> Transaction.Fees {
        switch f {
        case .legacy(let p): .legacy(gasPrice: p * 5 / 4 + 1)
        case .eip1559(let t, let m): .eip1559(maxPriorityFeePerGas: t * 5 / 4 + 1, maxFeePerGas: m * 5 / 4 + 1)
        }
    }

    /// The reason a mined transaction reverted, by replaying it as a call on the state before its block.
    private func revertReason(_ tx: Transaction, block: UInt64) async throws(ChainError) -> String {
        guard let to = tx.to else { return "contract creation reverted" }
        do {
            _ = try await client.call(from: address, to: to, data: tx.data, value: tx.value, block: EthClient.hexQuantity(block > 0 ? block - 1 : 0), errors: knownErrors)
            return "reverted (no reason on replay)"
        } catch  where error.code == .reverted {
            return error.message
        }
    }
}
