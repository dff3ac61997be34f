import BigInt

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
        let sig = try key.signature(forDigest: Keccak256.hash(signingPayload))
        let r = RLP.uint(BigUInt(Data(sig.r))), s = RLP.uint(BigUInt(Data(sig.s)))
        let raw: [UInt8]
        switch fees {
        case .legacy(let gasPrice):
            let v = BigUInt(chainID) * 2 + 35 + BigUInt(sig.recoveryID)
            raw = RLP.list([.uint(nonce), .uint(gasPrice), .uint(gasLimit), toRLP, .uint(value), .bytes(data), .uint(v), r, s]).encoded
        case .eip1559(let tip, let max):
            raw = [0x02] + RLP.list([.uint(chainID), .uint(nonce), .uint(tip), .uint(max), .uint(gasLimit), toRLP, .uint(value), .bytes(data), .list([]),
                                     .uint(UInt64(sig.recoveryID)), r, s]).encoded
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

/// Message signing: EIP-191 personal messages and EIP-712 typed data.
public enum MessageSigning {
    /// EIP-191 version 0x45: keccak256("\u{19}Ethereum Signed Message:\n" ‖ len ‖ message).
    public static func personalMessageHash(_ message: [UInt8]) -> [UInt8] {
        Keccak256.hash(Array("\u{19}Ethereum Signed Message:\n\(message.count)".utf8) + message)
    }

    /// EIP-712: keccak256(0x1901 ‖ domainSeparator ‖ structHash).
    public static func typedDataHash(domainSeparator: [UInt8], structHash: [UInt8]) -> [UInt8] {
        Keccak256.hash([0x19, 0x01] + domainSeparator + structHash)
    }

    /// EIP-712 hashStruct for a struct of static fields and strings/bytes (hashed):
    /// keccak256(typeHash ‖ enc(field)…), with `typeSignature` like
    /// `Ticket(bytes32 jobId,address node,uint256 expiry)`.
    public static func structHash(typeSignature: String, fields: [(ABI.ParameterType, ABI.Value)]) throws(ChainError) -> [UInt8] {
        var enc = Keccak256.hash(Array(typeSignature.utf8))
        for (t, v) in fields {
            switch (t, v) {
            case (.string, .string(let s)): enc += Keccak256.hash(Array(s.utf8))
            case (.bytes, .bytes(let b)): enc += Keccak256.hash(b)
            default: enc += try ABI.encode([v], as: [t])
            }
        }
        return Keccak256.hash(enc)
    }

    /// The EIP-712 domain separator for `EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)`.
    public static func domainSeparator(name: String, version: String, chainID: UInt64, verifyingContract: Address) throws(ChainError) -> [UInt8] {
        try structHash(typeSignature: "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)",
                       fields: [(.string, .string(name)), (.string, .string(version)), (.uint(256), .uint(BigUInt(chainID))), (.address, .address(verifyingContract))])
    }
}

import struct Foundation.Data
