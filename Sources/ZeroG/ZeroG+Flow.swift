import BigInt
import Chain
import EVMCrypto
import Foundation

extension ZeroG {
    /// The 0G Flow contract, newest ABI (zerog.md §1.3): `submit(((uint256,bytes,(bytes32,uint256)[]),address))`.
    public struct FlowContract: Sendable {
        /// The Flow's address.
        public let address: Address
        /// The chain.
        public let client: EthClient

        /// The ABI type of the `submit` argument.
        public static let submissionType = try! ABI.ParameterType("((uint256,bytes,(bytes32,uint256)[]),address)")
        /// The `Submit` event signature.
        public static let submitEvent = "Submit(address,bytes32,uint256,uint256,uint256,(uint256,bytes,(bytes32,uint256)[]))"
        /// `NotEnoughFee(uint256,uint256,uint256)`, named in revert messages.
        public static let errors = ["NotEnoughFee(uint256,uint256,uint256)"]

        /// A client for the Flow at `address`.
        public init(address: Address, client: EthClient) {
            self.address = address
            self.client = client
        }

        /// `pricePerSector()` of the market (the dev Flow serves it itself; a production Flow's
        /// `market()` names a separate contract).
        public func pricePerSector() async throws(ChainError) -> BigUInt {
            let market = try ABI.decode([.address], from: try await client.call(to: address, data: ABI.selector("market()")))[0].addressValue ?? address
            return try ABI.decode([.uint(256)], from: try await client.call(to: market, data: ABI.selector("pricePerSector()")))[0].uintValue ?? 0
        }

        /// Submits `merkle`'s nodes paying Σ 2^height × pricePerSector; returns the `txSeq` (the
        /// `Submit` event's submissionIndex).
        public func submit(_ merkle: FileMerkle, from sender: TransactionSender) async throws(ChainError) -> UInt64 {
            let price = try await pricePerSector()
            let nodes = merkle.submissionNodes
            let fee = nodes.reduce(BigUInt(0)) { $0 + (BigUInt(1) << $1.height) } * price
            let submission: ABI.Value = .tuple([
                .tuple([.uint(BigUInt(merkle.size)), .bytes([]), .array(nodes.map { .tuple([.fixedBytes($0.root.bytes), .uint(BigUInt($0.height))]) })]),
                .address(sender.address),
            ])
            let data = ABI.selector("submit(" + Self.submissionType.description + ")") + (try ABI.encode([submission], as: [Self.submissionType]))
            let receipt = try await sender.send(to: address, data: data, value: fee)
            let topic = Keccak256.hash(Array(Self.submitEvent.utf8))
            guard let log = receipt.logs.first(where: { $0.address == address && $0.topics.first == topic }),
                let seq = try ABI.decode([.uint(256), .uint(256), .uint(256)], from: Array(log.data.prefix(96))).first?.uintValue
            else {
                throw ChainError(.encoding, "Flow submit mined without a Submit event")
            }
            return UInt64(seq)
        }

        /// Submissions in a block range: (txSeq, size, root by the on-chain fold of the nodes).
        public func submissions(fromBlock: UInt64) async throws(ChainError) -> [(txSeq: UInt64, size: Int, root: Hash)] {
            let topic = Keccak256.hash(Array(Self.submitEvent.utf8))
            var out = [(UInt64, Int, Hash)]()
            for log in try await client.logs(address: address, topics: [[topic]], fromBlock: fromBlock, toBlock: nil) {
                let v = try ABI.decode([.uint(256), .uint(256), .uint(256), try ABI.ParameterType("(uint256,bytes,(bytes32,uint256)[])")], from: log.data)
                guard let seq = v[0].uintValue, let sub = v[3].elements, let length = sub[0].uintValue, let nodes = sub[2].elements, !nodes.isEmpty else { continue }
                // Root = fold of the node roots from the last: root = keccak(node[i] ‖ root).
                let roots = nodes.compactMap { $0.elements?.first?.bytesValue }.map(Hash.init)
                var root = roots.last!
                for r in roots.dropLast().reversed() { root = .parent(r, root) }
                out.append((UInt64(seq), Int(length), root))
            }
            return out
        }
    }

    /// Uploads `data` to 0G Storage: if no node knows the root yet, submit it to the Flow, wait
    /// until `node` has synced the transaction, upload the segments 10 per call, wait for
    /// finalization. Returns the root and the txSeq.
    public static func upload(
        _ data: [UInt8], node: StorageNodeClient, flow: FlowContract, sender: TransactionSender,
        pollInterval: Duration = .milliseconds(100), timeout: Duration = .seconds(120)
    ) async throws(ZeroGError) -> (root: Hash, txSeq: UInt64) {
        let m = try merkle(of: data)
        if let info = try await node.fileInfo(root: m.root), info.finalized { return (m.root, info.txSeq) }
        let txSeq: UInt64
        do { txSeq = try await flow.submit(m, from: sender) } catch { throw ZeroGError(.nodeError, "Flow submit failed: \(error)") }
        let clock = ContinuousClock(), deadline = clock.now + timeout
        while try await node.fileInfo(txSeq: txSeq) == nil {
            guard clock.now < deadline else { throw ZeroGError(.unavailable, "the node did not sync tx \(txSeq) in time") }
            try? await Task.sleep(for: pollInterval)
        }
        let segs = try segments(of: data)
        var i = 0
        while i < segs.count {
            try await node.upload(Array(segs[i..<min(i + 10, segs.count)]), txSeq: txSeq)
            i += 10
        }
        while true {
            if let info = try await node.fileInfo(txSeq: txSeq), info.finalized { return (m.root, txSeq) }
            guard clock.now < deadline else { throw ZeroGError(.unavailable, "tx \(txSeq) not finalized in time") }
            try? await Task.sleep(for: pollInterval)
        }
    }
}
