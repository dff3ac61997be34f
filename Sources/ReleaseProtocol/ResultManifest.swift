import ByteEncoding
import EVMCrypto
import Foundation

/// A provider node's account of one finished job (DESIGN.md §2 step 8): EIP-712 typed data
/// `ResultManifest(bytes32 jobId,bytes32 datasetRoot,bytes32 resultHash,bytes32 codeHash,bytes32 imageDigest,bytes32 attestationRef,uint64 actualEpochs)`
/// in the domain `{name: "licen-provider", version: "1", chainId, verifyingContract: DataPolicy}`,
/// signed by the TEE's attested signer key (the key its release evidence bound). The coordinator
/// confirms a job on chain only with a manifest whose signer is the node the job was dispatched
/// to, for that job and dataset, and with `actualEpochs` at most the epochs requested.
public struct ResultManifest: Sendable, Hashable {
    /// The EIP-712 type.
    public static let typeSignature =
        "ResultManifest(bytes32 jobId,bytes32 datasetRoot,bytes32 resultHash,bytes32 codeHash,bytes32 imageDigest,bytes32 attestationRef,uint64 actualEpochs)"
    /// The EIP-712 domain name.
    public static let domainName = "licen-provider"
    /// The EIP-712 domain version.
    public static let domainVersion = "1"

    /// The job (32 bytes).
    public let jobID: [UInt8]
    /// The root of the encrypted dataset trained on (32 bytes).
    public let datasetRoot: [UInt8]
    /// The hash of the result artifact (32 bytes), sent to `confirmTrainingComplete`.
    public let resultHash: [UInt8]
    /// The hash of the training code that ran (32 bytes).
    public let codeHash: [UInt8]
    /// The digest of the container image that ran (32 bytes).
    public let imageDigest: [UInt8]
    /// The key-release audit record's hash (32 bytes): which attested release fed this result.
    public let attestationRef: [UInt8]
    /// Epochs actually trained.
    public let actualEpochs: UInt64

    /// Creates a manifest's contents. Each `[UInt8]` field must be 32 bytes (``digest(chainID:dataPolicy:)``
    /// throws otherwise; ``Signed`` refuses other lengths when parsing).
    public init(jobID: [UInt8], datasetRoot: [UInt8], resultHash: [UInt8], codeHash: [UInt8], imageDigest: [UInt8], attestationRef: [UInt8], actualEpochs: UInt64) {
        self.jobID = jobID
        self.datasetRoot = datasetRoot
        self.resultHash = resultHash
        self.codeHash = codeHash
        self.imageDigest = imageDigest
        self.attestationRef = attestationRef
        self.actualEpochs = actualEpochs
    }

    /// The EIP-712 digest the node signs. Throws if a bytes32 field is not 32 bytes.
    public func digest(chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) -> [UInt8] {
        for (name, b) in [("jobId", jobID), ("datasetRoot", datasetRoot), ("resultHash", resultHash), ("codeHash", codeHash), ("imageDigest", imageDigest), ("attestationRef", attestationRef)]
        where b.count != 32 {
            // bytes32 right-pads shorter values: refuse them so two manifests never share a digest.
            throw EVMCryptoError(.encoding, "\(name) is 32 bytes, not \(b.count)")
        }
        let domain = MessageSigning.domainSeparator(name: Self.domainName, version: Self.domainVersion, chainID: chainID, verifyingContract: dataPolicy)
        let body = try MessageSigning.structHash(
            typeSignature: Self.typeSignature,
            fields: [
                .fixedBytes(jobID), .fixedBytes(datasetRoot), .fixedBytes(resultHash), .fixedBytes(codeHash), .fixedBytes(imageDigest), .fixedBytes(attestationRef),
                .uint(actualEpochs),
            ])
        return MessageSigning.typedDataHash(domainSeparator: domain, structHash: body)
    }

    /// Signs (the node's side): 65 bytes r ‖ s ‖ v.
    public func sign(with key: Secp256k1.PrivateKey, chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) -> [UInt8] {
        try key.signature(forDigest: digest(chainID: chainID, dataPolicy: dataPolicy)).rawRepresentation
    }

    /// The address that produced `signature` (65 bytes r ‖ s ‖ v) over this manifest.
    public func signer(of signature: [UInt8], chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) -> Address {
        try Secp256k1.RecoverableSignature(rawRepresentation: signature).recoverPublicKey(digest: digest(chainID: chainID, dataPolicy: dataPolicy)).address
    }
}

extension ResultManifest {
    /// A manifest with its signature, as it travels in a task record: a JSON object with every
    /// bytes32 field as `0x`-hex, `actualEpochs` a number and `signature` `0x`-hex of 65 bytes.
    /// Parsing checks every length (``ReleaseProtocolError/Code/malformed``); it does not check
    /// who signed (``signer(chainID:dataPolicy:)``).
    public struct Signed: Codable, Sendable, Hashable {
        /// The manifest.
        public let manifest: ResultManifest
        /// 65 bytes r ‖ s ‖ v.
        public let signature: [UInt8]

        /// Pairs a manifest with its signature. Throws unless every bytes32 field is 32 bytes and
        /// the signature 65.
        public init(manifest: ResultManifest, signature: [UInt8]) throws(ReleaseProtocolError) {
            for (name, b) in Self.fields(of: manifest) where b.count != 32 {
                throw ReleaseProtocolError(.malformed, "result manifest \(name) is 32 bytes, not \(b.count)")
            }
            guard signature.count == 65 else { throw ReleaseProtocolError(.malformed, "result manifest signature is 65 bytes, not \(signature.count)") }
            self.manifest = manifest
            self.signature = signature
        }

        /// Signs `manifest` (the node's side).
        public init(signing manifest: ResultManifest, with key: Secp256k1.PrivateKey, chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) {
            let sig = try manifest.sign(with: key, chainID: chainID, dataPolicy: dataPolicy)
            // `sign` already refused any field that is not 32 bytes.
            self.manifest = manifest
            self.signature = sig
        }

        /// Parses the JSON form.
        public init(json: Data) throws(ReleaseProtocolError) {
            do { self = try JSONDecoder().decode(Self.self, from: json) } catch let e as ReleaseProtocolError { throw e } catch {
                throw ReleaseProtocolError(.malformed, "not a result manifest: \(error)")
            }
        }

        /// The address that signed, for `chainID` and the DataPolicy contract `dataPolicy`.
        public func signer(chainID: UInt64, dataPolicy: Address) throws(EVMCryptoError) -> Address {
            try manifest.signer(of: signature, chainID: chainID, dataPolicy: dataPolicy)
        }

        static func fields(of m: ResultManifest) -> [(String, [UInt8])] {
            [("jobId", m.jobID), ("datasetRoot", m.datasetRoot), ("resultHash", m.resultHash), ("codeHash", m.codeHash), ("imageDigest", m.imageDigest), ("attestationRef", m.attestationRef)]
        }

        private enum CodingKeys: String, CodingKey { case jobId, datasetRoot, resultHash, codeHash, imageDigest, attestationRef, actualEpochs, signature }

        /// Decodes and checks the JSON form; a wrong length or non-hex field throws
        /// ``ReleaseProtocolError`` (``ReleaseProtocolError/Code/malformed``).
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            func bytes(_ key: CodingKeys, _ count: Int) throws -> [UInt8] {
                let text = try c.decode(String.self, forKey: key)
                guard text.hasPrefix("0x") else { throw ReleaseProtocolError(.malformed, "result manifest \(key.stringValue) is not 0x-hex") }
                let b = try Hex.decode(text) { ReleaseProtocolError(.malformed, "result manifest \(key.stringValue): \($0.message)") }
                guard b.count == count else { throw ReleaseProtocolError(.malformed, "result manifest \(key.stringValue) is \(count) bytes, not \(b.count)") }
                return b
            }
            let manifest = ResultManifest(
                jobID: try bytes(.jobId, 32), datasetRoot: try bytes(.datasetRoot, 32), resultHash: try bytes(.resultHash, 32), codeHash: try bytes(.codeHash, 32),
                imageDigest: try bytes(.imageDigest, 32), attestationRef: try bytes(.attestationRef, 32), actualEpochs: try c.decode(UInt64.self, forKey: .actualEpochs))
            try self.init(manifest: manifest, signature: try bytes(.signature, 65))
        }

        /// Encodes the JSON form.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Hex.prefixed(manifest.jobID), forKey: .jobId)
            try c.encode(Hex.prefixed(manifest.datasetRoot), forKey: .datasetRoot)
            try c.encode(Hex.prefixed(manifest.resultHash), forKey: .resultHash)
            try c.encode(Hex.prefixed(manifest.codeHash), forKey: .codeHash)
            try c.encode(Hex.prefixed(manifest.imageDigest), forKey: .imageDigest)
            try c.encode(Hex.prefixed(manifest.attestationRef), forKey: .attestationRef)
            try c.encode(manifest.actualEpochs, forKey: .actualEpochs)
            try c.encode(Hex.prefixed(signature), forKey: .signature)
        }
    }
}
