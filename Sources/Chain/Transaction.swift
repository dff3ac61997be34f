import BigInt
import EVMCrypto
import struct Foundation.Data

/// An Ethereum transaction, signed locally: EIP-155 legacy or EIP-1559 (type 2).
public struct Transaction: Sendable, Hashable {
    /// Fee model.
    public enum Fees: Sendable, Hashable {
        /// Legacy `gasPrice` (signed with EIP-155 replay protection).
        case legacy(gasPrice: BigUInt)
        /// EIP-1559: `maxPriorityFeePerGas`, `maxFeePerGas`.
        case eip1559(maxPriorityFeePerGas: BigUInt, maxFeePerGas: BigUInt)
    }

    /// Chain id (EIP-155).
    public var chainID: UInt64
    /// Sender nonce.
    public var nonce: UInt64
    /// Fees.
    public var fees: Fees
    /// Gas limit.
    public var gasLimit: UInt64
    /// Recipient; nil for contract creation.
    public var to: Address?
    /// Value in wei.
    public var value: BigUInt
    /// Call data.
    public var data: [UInt8]

    /// Creates a transaction.
    public init(chainID: UInt64, nonce: UInt64, fees: Fees, gasLimit: UInt64, to: Address?, value: BigUInt = 0, data: [UInt8] = []) {
        self.chainID = chainID
        self.nonce = nonce
        self.fees = fees
        self.gasLimit = gasLimit
        self.to = to
        self.value = value
        self.data = data
    }

    private var toRLP: RLP { .bytes(to?.bytes ?? []) }

    /// The bytes the sender signs (keccak of this is the signing hash).
    public var signingPayload: [UInt8] {
        switch fees {
        case .legacy(let gasPrice):
            return RLP.list([.uint(nonce), .uint(gasPrice), .uint(gasLimit), toRLP, .uint(value), .bytes(data), .uint(chainID), .bytes([]), .bytes([])]).encoded
        case .eip1559(let tip, let max):
            return [0x02] + RLP.list([.uint(chainID), .uint(nonce), .uint(tip), .uint(max), .uint(gasLimit), toRLP, .uint(value), .bytes(data), .list([])]).encoded
        }
    }

    /// Signs and returns the raw transaction (for `eth_sendRawTransaction`) and its hash.
    public func signed(with key: Secp256k1.PrivateKey) throws(ChainError) -> (raw: [UInt8], hash: [UInt8]) {
        let payload = Keccak256.hash(signingPayload)
        let sig = try evm { () throws(EVMCryptoError) in try key.signature(forDigest: payload) }
        let r = RLP.uint(BigUInt(Data(sig.r))), s = RLP.uint(BigUInt(Data(sig.s)))
        let raw: [UInt8]
        switch fees {
        case .legacy(let gasPrice):
            let v = BigUInt(chainID) * 2 + 35 + BigUInt(sig.recoveryID)
            raw = RLP.list([.uint(nonce), .uint(gasPrice), .uint(gasLimit), toRLP, .uint(value), .bytes(data), .uint(v), r, s]).encoded
        case .eip1559(let tip, let max):
            raw =
                [0x02]
                + RLP.list([
                    .uint(chainID), .uint(nonce), .uint(tip), .uint(max), .uint(gasLimit), toRLP, .uint(value), .bytes(data), .list([]),
                    .uint(UInt64(sig.recoveryID)), r, s,
                ]).encoded
        }
        return (raw, Keccak256.hash(raw))
    }

    /// The fee per gas this transaction offers at most.
    public var maxFeePerGas: BigUInt {
        switch fees {
        case .legacy(let p): p
        case .eip1559(_, let m): m
        }
    }
}
