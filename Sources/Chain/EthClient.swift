import BigInt
import ByteEncoding
import EVMCrypto
import Foundation

/// A log entry.
public struct Log: Sendable, Hashable {
    /// The emitting contract.
    public let address: Address
    /// Topics (topic0 = event signature hash).
    public let topics: [[UInt8]]
    /// Non-indexed data.
    public let data: [UInt8]
    /// Block number.
    public let blockNumber: UInt64
    /// Transaction hash.
    public let transactionHash: [UInt8]
    /// Index in the block.
    public let logIndex: UInt64
}

/// A transaction receipt.
public struct Receipt: Sendable, Hashable {
    /// The transaction hash.
    public let transactionHash: [UInt8]
    /// true for success (status 1).
    public let succeeded: Bool
    /// Block number.
    public let blockNumber: UInt64
    /// Gas used.
    public let gasUsed: BigUInt
    /// Effective gas price (wei).
    public let effectiveGasPrice: BigUInt
    /// Logs.
    public let logs: [Log]
    /// Created contract, if any.
    public let contractAddress: Address?

    /// Wei paid for gas.
    public var fee: BigUInt { gasUsed * effectiveGasPrice }
}

/// Typed Ethereum JSON-RPC calls over ``JSONRPCClient``.
public struct EthClient: Sendable {
    /// The JSON-RPC client.
    public let rpc: JSONRPCClient

    /// Creates a client for `url`.
    public init(url: String, retries: Int = 3) { rpc = JSONRPCClient(url: url, retries: retries) }

    /// Creates a client over `rpc`.
    public init(rpc: JSONRPCClient) { self.rpc = rpc }

    /// `eth_chainId`.
    public func chainID() async throws(ChainError) -> UInt64 { try Self.quantity64(try await rpc.call("eth_chainId", [])) }

    /// `eth_blockNumber`.
    public func blockNumber() async throws(ChainError) -> UInt64 { try Self.quantity64(try await rpc.call("eth_blockNumber", [])) }

    /// `eth_getBalance` at latest.
    public func balance(of a: Address) async throws(ChainError) -> BigUInt { try Self.quantity(try await rpc.call("eth_getBalance", [.string(a.checksummed), .string("latest")])) }

    /// `eth_getTransactionCount` (`pending` counts transactions in the pool).
    public func transactionCount(of a: Address, block: String = "pending") async throws(ChainError) -> UInt64 {
        try Self.quantity64(try await rpc.call("eth_getTransactionCount", [.string(a.checksummed), .string(block)]))
    }

    /// `eth_gasPrice`.
    public func gasPrice() async throws(ChainError) -> BigUInt { try Self.quantity(try await rpc.call("eth_gasPrice", [])) }

    /// The latest base fee from `eth_feeHistory`, or nil on a pre-London chain.
    public func baseFee() async throws(ChainError) -> BigUInt? {
        let h = try await rpc.call("eth_feeHistory", [.string("0x1"), .string("latest"), .array([])])
        guard let fees = h["baseFeePerGas"]?.array, let last = fees.last, !last.isNull else { return nil }
        return try Self.quantity(last)
    }

    /// `eth_maxPriorityFeePerGas`, falling back to 1 gwei where the method is missing.
    public func maxPriorityFee() async throws(ChainError) -> BigUInt {
        switch try await rpc.callRaw("eth_maxPriorityFeePerGas", []) {
        case .success(let v): return try Self.quantity(v)
        case .failure: return 1_000_000_000
        }
    }

    /// `eth_call` at `block`. A revert throws ``ChainError/Code/reverted`` with the decoded
    /// reason (`errors`: custom error signatures to recognise).
    public func call(from: Address? = nil, to: Address, data: [UInt8], value: BigUInt = 0, block: String = "latest", errors: [String] = []) async throws(ChainError) -> [UInt8] {
        switch try await rpc.callRaw("eth_call", [Self.callObject(from: from, to: to, data: data, value: value), .string(block)]) {
        case .success(let v): return try Self.bytes(v)
        case .failure(let e): throw Self.revert(e, errors: errors)
        }
    }

    /// `eth_estimateGas`; a revert throws ``ChainError/Code/reverted`` with the reason.
    public func estimateGas(from: Address, to: Address?, data: [UInt8], value: BigUInt = 0, errors: [String] = []) async throws(ChainError) -> UInt64 {
        switch try await rpc.callRaw("eth_estimateGas", [Self.callObject(from: from, to: to, data: data, value: value)]) {
        case .success(let v): return try Self.quantity64(v)
        case .failure(let e): throw Self.revert(e, errors: errors)
        }
    }

    /// `eth_sendRawTransaction`; returns the hash. Nonce errors are ``ChainError/Code/nonce``.
    public func sendRawTransaction(_ raw: [UInt8]) async throws(ChainError) -> [UInt8] {
        switch try await rpc.callRaw("eth_sendRawTransaction", [.string(Hex.prefixed(raw))]) {
        case .success(let v): return try Self.bytes(v)
        case .failure(let e):
            let m = e.message.lowercased()
            if m.contains("nonce") || m.contains("replacement") || m.contains("already known") { throw ChainError(.nonce, "sendRawTransaction: \(e.message)") }
            throw ChainError(.rpcError, "sendRawTransaction: \(e.message) (code \(e.code))")
        }
    }

    /// `eth_getTransactionReceipt`; nil while pending.
    public func receipt(_ hash: [UInt8]) async throws(ChainError) -> Receipt? {
        let r = try await rpc.call("eth_getTransactionReceipt", [.string(Hex.prefixed(hash))])
        if r.isNull { return nil }
        return try Self.receipt(r)
    }

    /// Whether the node knows the transaction (`eth_getTransactionByHash` is not null): pending
    /// in its pool or mined. A transaction it does not know was never broadcast, or was dropped.
    public func knowsTransaction(_ hash: [UInt8]) async throws(ChainError) -> Bool {
        !(try await rpc.call("eth_getTransactionByHash", [.string(Hex.prefixed(hash))])).isNull
    }

    /// `eth_getLogs` for `address` with `topics` (nil = any; inner arrays = any of) over a block range.
    public func logs(address: Address?, topics: [[[UInt8]]?], fromBlock: UInt64, toBlock: UInt64?) async throws(ChainError) -> [Log] {
        var filter: [String: RPCValue] = ["fromBlock": .string(Self.hexQuantity(fromBlock)), "toBlock": .string(toBlock.map(Self.hexQuantity) ?? "latest")]
        if let address { filter["address"] = .string(address.checksummed) }
        filter["topics"] = .array(topics.map { t in t.map { alts in alts.count == 1 ? .string(Hex.prefixed(alts[0])) : .array(alts.map { .string(Hex.prefixed($0)) }) } ?? .null })
        let r = try await rpc.call("eth_getLogs", [.object(filter)])
        guard let a = r.array else { throw ChainError(.rpcError, "eth_getLogs did not return an array") }
        var out = [Log]()
        for l in a { out.append(try Self.log(l)) }
        return out
    }

    // MARK: decoding

    static func revert(_ e: JSONRPCClient.ErrorObject, errors: [String]) -> ChainError {
        if let data = e.data, let reason = ABI.revertReason(data, errors: errors) { return ChainError(.reverted, reason) }
        if e.code == 3 || e.message.lowercased().contains("revert") { return ChainError(.reverted, e.message) }
        return ChainError(.rpcError, "\(e.message) (code \(e.code))")
    }

    static func callObject(from: Address?, to: Address?, data: [UInt8], value: BigUInt) -> RPCValue {
        var o: [String: RPCValue] = ["data": .string(Hex.prefixed(data))]
        if let from { o["from"] = .string(from.checksummed) }
        if let to { o["to"] = .string(to.checksummed) }
        if value > 0 { o["value"] = .string("0x" + String(value, radix: 16)) }
        return .object(o)
    }

    /// `0x`-prefixed minimal hex quantity.
    public static func hexQuantity(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    static func quantity(_ v: RPCValue) throws(ChainError) -> BigUInt {
        guard let s = v.string, s.hasPrefix("0x"), let n = BigUInt(s.dropFirst(2), radix: 16) else { throw ChainError(.rpcError, "expected a hex quantity, got \(v)") }
        return n
    }

    static func quantity64(_ v: RPCValue) throws(ChainError) -> UInt64 {
        let n = try quantity(v)
        guard n <= BigUInt(UInt64.max) else { throw ChainError(.rpcError, "quantity \(n) exceeds 64 bits") }
        return UInt64(n)
    }

    static func bytes(_ v: RPCValue) throws(ChainError) -> [UInt8] {
        guard let s = v.string else { throw ChainError(.rpcError, "expected hex data, got \(v)") }
        return try Hex.decode(s, or: ChainError.init)
    }

    static func log(_ l: RPCValue) throws(ChainError) -> Log {
        guard let a = l["address"]?.string, let topics = l["topics"]?.array, let data = l["data"] else { throw ChainError(.rpcError, "malformed log") }
        var ts = [[UInt8]]()
        for t in topics { ts.append(try bytes(t)) }
        let address = try evm { () throws(EVMCryptoError) in try Address(a.lowercased()) }
        return Log(
            address: address, topics: ts, data: try bytes(data), blockNumber: try quantity64(l["blockNumber"] ?? .null),
            transactionHash: try bytes(l["transactionHash"] ?? .null), logIndex: try quantity64(l["logIndex"] ?? .null))
    }

    static func receipt(_ r: RPCValue) throws(ChainError) -> Receipt {
        var logs = [Log]()
        for l in r["logs"]?.array ?? [] { logs.append(try log(l)) }
        let contract = r["contractAddress"]?.string.flatMap { try? Address($0.lowercased()) }
        let price = r["effectiveGasPrice"].flatMap { $0.isNull ? nil : $0 }
        return Receipt(
            transactionHash: try bytes(r["transactionHash"] ?? .null), succeeded: try quantity(r["status"] ?? .null) == 1,
            blockNumber: try quantity64(r["blockNumber"] ?? .null), gasUsed: try quantity(r["gasUsed"] ?? .null),
            effectiveGasPrice: try price.map { v throws(ChainError) in try quantity(v) } ?? 0, logs: logs, contractAddress: contract)
    }
}
