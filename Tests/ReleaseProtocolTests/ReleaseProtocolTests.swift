import ByteEncoding
import Crypto
import EVMCrypto
import Foundation
import ReleaseProtocol
import Testing

/// What node and service exchange, checked without either of them: the binding's hash, the
/// sealed key's context, the dispatch ticket's EIP-712 signer, the proofs of possession and
/// escrow signatures. Each check swaps one input and expects the result to change or refuse.
@Suite("Release protocol: binding, sealed key, ticket, proofs")
struct ReleaseProtocolTests {
    static let nonce = [UInt8](repeating: 1, count: 32), job = [UInt8](repeating: 2, count: 32), root = [UInt8](repeating: 3, count: 32)

    @Test("the binding is SHA-512 over the domain and every part; the TPM form is its first half")
    func binding() {
        let hpke = Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation, signer = Secp256k1.PrivateKey().publicKey.serialized(compressed: true)
        let b = ReleaseBinding(nonce: Self.nonce, jobID: Self.job, hpkePublicKey: Array(hpke), signerPublicKey: signer)
        let expected = Array(SHA512.hash(data: Array("licen-keyrelease-v1".utf8) + Self.nonce + Self.job + Array(hpke) + signer))
        #expect(b.reportData == expected)
        #expect(b.tpmExtraData == Array(expected.prefix(32)))
        // Any part swapped gives another binding.
        let others = [
            ReleaseBinding(nonce: Self.job, jobID: Self.job, hpkePublicKey: Array(hpke), signerPublicKey: signer),
            ReleaseBinding(nonce: Self.nonce, jobID: Self.nonce, hpkePublicKey: Array(hpke), signerPublicKey: signer),
            ReleaseBinding(nonce: Self.nonce, jobID: Self.job, hpkePublicKey: Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation), signerPublicKey: signer),
            ReleaseBinding(nonce: Self.nonce, jobID: Self.job, hpkePublicKey: Array(hpke), signerPublicKey: Secp256k1.PrivateKey().publicKey.serialized(compressed: true)),
        ]
        for o in others { #expect(o.reportData != b.reportData) }
    }

    @Test("a sealed key opens only with its recipient key, in its context, untampered")
    func sealedKey() throws {
        let recipient = Curve25519.KeyAgreement.PrivateKey()
        let key = SymmetricKey(size: .bits256), iv = [UInt8](repeating: 9, count: 12)
        let info = SealedDatasetKey.info(jobID: Self.job, datasetRoot: Self.root, attestationRef: [UInt8](repeating: 4, count: 32))
        let sealed = try SealedDatasetKey.seal(key: key, iv: iv, to: recipient.publicKey, info: info)
        let opened = try sealed.open(with: recipient, info: info)
        #expect(opened.key == key && opened.iv == iv)
        func code(_ body: () throws(ReleaseProtocolError) -> Void) -> ReleaseProtocolError.Code? {
            do { try body(); return nil } catch { return error.code }
        }
        #expect(code { () throws(ReleaseProtocolError) in _ = try sealed.open(with: Curve25519.KeyAgreement.PrivateKey(), info: info) } == .sealedKeyInvalid)
        let otherRef = SealedDatasetKey.info(jobID: Self.job, datasetRoot: Self.root, attestationRef: [UInt8](repeating: 5, count: 32))
        #expect(code { () throws(ReleaseProtocolError) in _ = try sealed.open(with: recipient, info: otherRef) } == .sealedKeyInvalid)
        var bytes = [UInt8](sealed.ciphertext)
        bytes[0] ^= 1
        let tampered = SealedDatasetKey(encapsulatedKey: sealed.encapsulatedKey, ciphertext: Data(bytes))
        #expect(code { () throws(ReleaseProtocolError) in _ = try tampered.open(with: recipient, info: info) } == .sealedKeyInvalid)
    }

    @Test("the dispatch ticket recovers to its signer only for the same job, dataset, node, expiry, chain and contract")
    func ticket() throws {
        let provider = Secp256k1.PrivateKey(), node = Secp256k1.PrivateKey().publicKey.address
        let contract = try Address("0x00000000000000000000000000000000000000aa")
        let t = DispatchTicket(jobID: Self.job, datasetRoot: Self.root, node: node, expiry: 1_900_000_000)
        let sig = try t.sign(with: provider, chainID: 31337, dataPolicy: contract)
        #expect(try t.signer(of: sig, chainID: 31337, dataPolicy: contract) == provider.publicKey.address)
        let bent = [
            DispatchTicket(jobID: Self.root, datasetRoot: Self.root, node: node, expiry: 1_900_000_000),
            DispatchTicket(jobID: Self.job, datasetRoot: Self.job, node: node, expiry: 1_900_000_000),
            DispatchTicket(jobID: Self.job, datasetRoot: Self.root, node: Secp256k1.PrivateKey().publicKey.address, expiry: 1_900_000_000),
            DispatchTicket(jobID: Self.job, datasetRoot: Self.root, node: node, expiry: 1_900_000_001),
        ]
        for b in bent { #expect((try? b.signer(of: sig, chainID: 31337, dataPolicy: contract)) != provider.publicKey.address) }
        #expect((try? t.signer(of: sig, chainID: 1, dataPolicy: contract)) != provider.publicKey.address)
        #expect((try? t.signer(of: sig, chainID: 31337, dataPolicy: try Address("0x00000000000000000000000000000000000000bb"))) != provider.publicKey.address)
        // The message form carries the same ticket.
        let message = try DispatchTicketMessage(signing: t, with: provider, chainID: 31337, dataPolicy: contract)
        let messageSignature = try Hex.decode(message.signature)
        #expect(message.node == node.checksummed && message.expiry == t.expiry && messageSignature == sig)
    }

    @Test("the possession proof and the escrow upload recover to their signers, and to no one else for other contents")
    func proofs() throws {
        let signer = Secp256k1.PrivateKey()
        let binding = ReleaseBinding(nonce: Self.nonce, jobID: Self.job, hpkePublicKey: [UInt8](repeating: 6, count: 32), signerPublicKey: signer.publicKey.serialized(compressed: true))
        let proof = try Hex.decode(try ReleaseRequest.proof(binding: binding, signer: signer))
        let recovered = try Secp256k1.RecoverableSignature(rawRepresentation: proof)
            .recoverPublicKey(digest: MessageSigning.personalMessageHash(ReleaseRequest.possessionMessage(binding: binding))).address
        #expect(recovered == signer.publicKey.address)
        let other = ReleaseBinding(nonce: Self.job, jobID: Self.job, hpkePublicKey: [UInt8](repeating: 6, count: 32), signerPublicKey: signer.publicKey.serialized(compressed: true))
        let forOther = try Secp256k1.RecoverableSignature(rawRepresentation: proof)
            .recoverPublicKey(digest: MessageSigning.personalMessageHash(ReleaseRequest.possessionMessage(binding: other))).address
        #expect(forOther != signer.publicKey.address)

        let owner = Secp256k1.PrivateKey(), envelope = [UInt8](repeating: 7, count: 105)
        let upload = try EscrowUpload.signed(datasetRoot: Self.root, envelope: envelope, version: 3, owner: owner)
        let sig = try Secp256k1.RecoverableSignature(rawRepresentation: try Hex.decode(upload.signature))
        #expect(try sig.recoverPublicKey(digest: MessageSigning.personalMessageHash(EscrowUpload.message(datasetRoot: Self.root, envelope: envelope, version: 3))).address == owner.publicKey.address)
        // The version is signed: the same signature does not vouch for an older one (no rollback by replay).
        #expect(try sig.recoverPublicKey(digest: MessageSigning.personalMessageHash(EscrowUpload.message(datasetRoot: Self.root, envelope: envelope, version: 2))).address != owner.publicKey.address)
    }
}
