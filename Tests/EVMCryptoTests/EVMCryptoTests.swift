import ByteEncoding
import EVMCrypto
import Foundation
import Testing

/// Keys, signatures, addresses and message hashing against published vectors (EIP-55,
/// EIP-191, EIP-712) and libsecp256k1's refusals.
@Suite("EVM crypto: addresses, signing, EIP-191 and EIP-712")
struct EVMCryptoTests {
    @Test func eip55Checksums() throws {
        // EIP-55 test vectors.
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            #expect(try Address(a).checksummed == a)
            #expect(try Address(a.lowercased()).checksummed == a)
        }
        #expect(throws: EVMCryptoError.self) { try Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD") }  // one case flipped
        #expect(throws: EVMCryptoError.self) { try Address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA") }
    }

    @Test func signRecoverAndECDH() throws {
        let a = Secp256k1.PrivateKey(), b = Secp256k1.PrivateKey()
        let digest = MessageSigning.personalMessageHash(Array("hello".utf8))
        let sig = try a.signature(forDigest: digest)
        #expect(try sig.recoverPublicKey(digest: digest) == a.publicKey)
        #expect(try Secp256k1.RecoverableSignature(rawRepresentation: sig.rawRepresentation) == sig)
        var other = digest
        other[0] ^= 1
        #expect(try sig.recoverPublicKey(digest: other) != a.publicKey)
        #expect(try a.sharedSecretX(with: b.publicKey) == b.sharedSecretX(with: a.publicKey))
        #expect(try Secp256k1.PublicKey(bytes: a.publicKey.serialized(compressed: true)) == a.publicKey)
        #expect(!"\(a)".contains(Hex.encode(a.rawRepresentation)))
        #expect(throws: EVMCryptoError.self) { try Secp256k1.PrivateKey(rawRepresentation: [UInt8](repeating: 0, count: 32)) }
        #expect(throws: EVMCryptoError.self) { try Secp256k1.PublicKey(bytes: [0x02] + [UInt8](repeating: 0xff, count: 32)) }
        // "hello" personal-message hash (EIP-191), as web3/ethers compute it.
        #expect(Hex.encode(digest) == "50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750")
    }

    /// The EIP-712 specification's example (Mail from Cow to Bob), signed and recovered.
    @Test func eip712SpecExample() throws {
        let contract = try Address("0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC")
        let domain = try MessageSigning.domainSeparator(name: "Ether Mail", version: "1", chainID: 1, verifyingContract: contract)
        #expect(Hex.encode(domain) == "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f")
        let person = "Person(string name,address wallet)"
        let from = try MessageSigning.structHash(typeSignature: person, fields: [.string("Cow"), .address(try Address("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"))])
        let to = try MessageSigning.structHash(typeSignature: person, fields: [.string("Bob"), .address(try Address("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"))])
        let mail = try MessageSigning.structHash(
            typeSignature: "Mail(Person from,Person to,string contents)" + person,
            fields: [.fixedBytes(from), .fixedBytes(to), .string("Hello, Bob!")])
        #expect(Hex.encode(mail) == "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e")
        let digest = MessageSigning.typedDataHash(domainSeparator: domain, structHash: mail)
        #expect(Hex.encode(digest) == "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2")
        // The spec's signer: private key keccak256("cow").
        let cow = try Secp256k1.PrivateKey(rawRepresentation: Keccak256.hash(Array("cow".utf8)))
        #expect(cow.publicKey.address == (try Address("0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826")))
        let sig = try cow.signature(forDigest: digest)
        #expect(Hex.encode(sig.r) == "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d")
        #expect(Hex.encode(sig.s) == "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562")
        #expect(sig.rawRepresentation.last == 28)
        #expect(try sig.recoverPublicKey(digest: digest).address == cow.publicKey.address)
    }
}
