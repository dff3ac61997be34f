import ByteEncoding
import EVMCrypto
import Foundation
import ReleaseProtocol
import Testing

/// The provider's signed result manifest: EIP-712 digest against an independent computation
/// (eth_account 0.14 `encode_typed_data`), signing and recovery, domain separation, and the
/// JSON form's validating decoder.
@Suite("ReleaseProtocol: result manifest")
struct ResultManifestTests {
    static let dataPolicy = try! Address("0x5FbDB2315678afecb367f032d93F642f64180aa3")
    static let chainID: UInt64 = 16601
    static func b(_ v: UInt8) -> [UInt8] { [UInt8](repeating: v, count: 32) }
    static let manifest = ResultManifest(jobID: b(1), datasetRoot: b(2), resultHash: b(3), codeHash: b(4), imageDigest: b(5), attestationRef: b(6), actualEpochs: 3)
    static let key = try! Secp256k1.PrivateKey(rawRepresentation: [UInt8](repeating: 0x11, count: 32))

    /// Computed with Python eth_account 0.14.0 (`encode_typed_data(full_message=…)` with the
    /// type `ResultManifest(bytes32 jobId,…,uint64 actualEpochs)`, domain `licen-provider`/`1`,
    /// chainId 16601, this contract), outside this code base.
    @Test("the digest and signature match eth_account's")
    func knownAnswer() throws {
        #expect(Hex.encode(try Self.manifest.digest(chainID: Self.chainID, dataPolicy: Self.dataPolicy)) == "56f220c01b1361f8cd616c01c37594197236db771a5c58974816bd0bfa43a756")
        #expect(Self.key.publicKey.address.checksummed == "0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A")
        // Both sides sign with RFC 6979 nonces: the bytes agree too.
        #expect(
            Hex.encode(try Self.manifest.sign(with: Self.key, chainID: Self.chainID, dataPolicy: Self.dataPolicy))
                == "e604988cb22c4e1bb6de9ab2d1e0e8274abf9f238513a6759e11a018de68345a54d191f31d16a3837b486b86c48b0260c2848518dd06b177b96bd4d1dfb3c5b81c")
    }

    @Test("signing and recovery round-trip; another chain or contract recovers someone else")
    func roundTrip() throws {
        let key = Secp256k1.PrivateKey()
        let sig = try Self.manifest.sign(with: key, chainID: Self.chainID, dataPolicy: Self.dataPolicy)
        #expect(try Self.manifest.signer(of: sig, chainID: Self.chainID, dataPolicy: Self.dataPolicy) == key.publicKey.address)
        #expect(try Self.manifest.signer(of: sig, chainID: Self.chainID + 1, dataPolicy: Self.dataPolicy) != key.publicKey.address)
        #expect(try Self.manifest.signer(of: sig, chainID: Self.chainID, dataPolicy: Secp256k1.PrivateKey().publicKey.address) != key.publicKey.address)
    }

    static let variants: [(String, ResultManifest)] = {
        let m = manifest
        return [
            (
                "jobId",
                ResultManifest(jobID: b(9), datasetRoot: m.datasetRoot, resultHash: m.resultHash, codeHash: m.codeHash, imageDigest: m.imageDigest, attestationRef: m.attestationRef, actualEpochs: 3)
            ),
            (
                "datasetRoot",
                ResultManifest(jobID: m.jobID, datasetRoot: b(9), resultHash: m.resultHash, codeHash: m.codeHash, imageDigest: m.imageDigest, attestationRef: m.attestationRef, actualEpochs: 3)
            ),
            (
                "resultHash",
                ResultManifest(jobID: m.jobID, datasetRoot: m.datasetRoot, resultHash: b(9), codeHash: m.codeHash, imageDigest: m.imageDigest, attestationRef: m.attestationRef, actualEpochs: 3)
            ),
            (
                "codeHash",
                ResultManifest(jobID: m.jobID, datasetRoot: m.datasetRoot, resultHash: m.resultHash, codeHash: b(9), imageDigest: m.imageDigest, attestationRef: m.attestationRef, actualEpochs: 3)
            ),
            (
                "imageDigest",
                ResultManifest(jobID: m.jobID, datasetRoot: m.datasetRoot, resultHash: m.resultHash, codeHash: m.codeHash, imageDigest: b(9), attestationRef: m.attestationRef, actualEpochs: 3)
            ),
            (
                "attestationRef",
                ResultManifest(jobID: m.jobID, datasetRoot: m.datasetRoot, resultHash: m.resultHash, codeHash: m.codeHash, imageDigest: m.imageDigest, attestationRef: b(9), actualEpochs: 3)
            ),
            (
                "actualEpochs",
                ResultManifest(
                    jobID: m.jobID, datasetRoot: m.datasetRoot, resultHash: m.resultHash, codeHash: m.codeHash, imageDigest: m.imageDigest, attestationRef: m.attestationRef, actualEpochs: 4)
            ),
        ]
    }()

    @Test("changing any one field changes the digest", arguments: variants.map(\.0))
    func everyFieldCounts(_ field: String) throws {
        let changed = try #require(Self.variants.first { $0.0 == field }?.1)
        #expect(try changed.digest(chainID: Self.chainID, dataPolicy: Self.dataPolicy) != Self.manifest.digest(chainID: Self.chainID, dataPolicy: Self.dataPolicy))
    }

    @Test("a field shorter than 32 bytes is refused, not right-padded")
    func shortField() {
        let short = ResultManifest(jobID: [1], datasetRoot: Self.b(2), resultHash: Self.b(3), codeHash: Self.b(4), imageDigest: Self.b(5), attestationRef: Self.b(6), actualEpochs: 3)
        #expect(throws: EVMCryptoError.self) { try short.digest(chainID: Self.chainID, dataPolicy: Self.dataPolicy) }
        #expect(throws: ReleaseProtocolError.self) { try ResultManifest.Signed(manifest: short, signature: [UInt8](repeating: 0, count: 65)) }
    }

    @Test("the JSON form round-trips and names the signer")
    func json() throws {
        let signed = try ResultManifest.Signed(signing: Self.manifest, with: Self.key, chainID: Self.chainID, dataPolicy: Self.dataPolicy)
        let data = try JSONEncoder().encode(signed)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["jobId"] as? String == Hex.prefixed(Self.b(1)))
        #expect(object["actualEpochs"] as? Int == 3)
        #expect((object["signature"] as? String)?.count == 2 + 130)
        let back = try ResultManifest.Signed(json: data)
        #expect(back == signed)
        #expect(try back.signer(chainID: Self.chainID, dataPolicy: Self.dataPolicy) == Self.key.publicKey.address)
    }

    @Test(
        "the decoder refuses wrong lengths, missing prefixes and non-hex",
        arguments: [
            ("jobId", "0x0101"), ("datasetRoot", "0x" + String(repeating: "02", count: 33)), ("resultHash", String(repeating: "03", count: 32)),
            ("codeHash", "0x" + String(repeating: "zz", count: 32)), ("signature", "0x" + String(repeating: "00", count: 64)),
        ])
    func malformed(_ field: String, _ value: String) throws {
        let signed = try ResultManifest.Signed(signing: Self.manifest, with: Self.key, chainID: Self.chainID, dataPolicy: Self.dataPolicy)
        var object = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(signed)) as? [String: Any])
        object[field] = value
        let error = try #require(throws: ReleaseProtocolError.self) { try ResultManifest.Signed(json: try JSONSerialization.data(withJSONObject: object)) }
        #expect(error.code == .malformed)
        #expect(error.message.contains(field))
    }
}
