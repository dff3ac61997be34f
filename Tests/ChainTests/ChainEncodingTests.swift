import BigInt
import ByteEncoding
import Chain
import EVMCrypto
import Foundation
import Testing

/// RLP, ABI and transaction signing against published vectors.
@Suite("Chain encodings and signing")
struct ChainEncodingTests {
    @Test func rlpVectorsAndStrictDecoding() throws {
        // Ethereum wiki RLP examples.
        #expect(RLP.bytes(Array("dog".utf8)).encoded == [0x83, 0x64, 0x6f, 0x67])
        #expect(RLP.list([.bytes(Array("cat".utf8)), .bytes(Array("dog".utf8))]).encoded == [0xc8, 0x83, 0x63, 0x61, 0x74, 0x83, 0x64, 0x6f, 0x67])
        #expect(RLP.bytes([]).encoded == [0x80])
        #expect(RLP.list([]).encoded == [0xc0])
        #expect(RLP.uint(UInt64(0)).encoded == [0x80])
        #expect(RLP.uint(UInt64(15)).encoded == [0x0f])
        #expect(RLP.uint(UInt64(1024)).encoded == [0x82, 0x04, 0x00])
        let lorem = Array("Lorem ipsum dolor sit amet, consectetur adipisicing elit".utf8)
        #expect(RLP.bytes(lorem).encoded == [0xb8, 0x38] + lorem)
        let nested = RLP.list([.list([]), .list([.list([])]), .list([.list([]), .list([.list([])])])])
        #expect(nested.encoded == [0xc7, 0xc0, 0xc1, 0xc0, 0xc3, 0xc0, 0xc1, 0xc0])
        #expect(try RLP(decoding: nested.encoded) == nested)
        #expect(try RLP(decoding: [0xb8, 0x38] + lorem) == .bytes(lorem))
        // Non-canonical or truncated encodings are refused.
        for bad: [UInt8] in [[0x81, 0x05], [0xb8, 0x02, 0x61, 0x62], [0x83, 0x64], [0xc8, 0x83], [0x80, 0x00], [0xb9, 0x00, 0x40]] {
            #expect(throws: ChainError.self) { try RLP(decoding: bad) }
        }
    }

    @Test func abiEncodingMatchesTheSpecExamples() throws {
        // Solidity ABI spec: baz(uint32,bool) with (69, true).
        let baz = ABI.selector("baz(uint32,bool)") + (try ABI.encode([.uint(69), .bool(true)], as: [.uint(32), .bool]))
        #expect(Hex.encode(baz) == "cdcd77c0" + "0000000000000000000000000000000000000000000000000000000000000045" + "0000000000000000000000000000000000000000000000000000000000000001")
        // sam(bytes,bool,uint256[]) with ("dave", true, [1,2,3]).
        let sam = try ABI.encode([.bytes(Array("dave".utf8)), .bool(true), .array([.uint(1), .uint(2), .uint(3)])], as: [.bytes, .bool, .array(.uint(256))])
        #expect(Hex.encode(ABI.selector("sam(bytes,bool,uint256[])")) == "a5643bf2")
        #expect(
            Hex.encode(sam)
                == [
                    "0000000000000000000000000000000000000000000000000000000000000060", "0000000000000000000000000000000000000000000000000000000000000001",
                    "00000000000000000000000000000000000000000000000000000000000000a0", "0000000000000000000000000000000000000000000000000000000000000004",
                    "6461766500000000000000000000000000000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000003",
                    "0000000000000000000000000000000000000000000000000000000000000001", "0000000000000000000000000000000000000000000000000000000000000002",
                    "0000000000000000000000000000000000000000000000000000000000000003",
                ].joined())
        let back = try ABI.decode([.bytes, .bool, .array(.uint(256))], from: sam)
        #expect(back == [.bytes(Array("dave".utf8)), .bool(true), .array([.uint(1), .uint(2), .uint(3)])])
        // Tuples with dynamic arrays (the 0G Flow submission shape) round-trip.
        let t = try ABI.ParameterType("((uint256,bytes,(bytes32,uint256)[]),address)")
        #expect(t.description == "((uint256,bytes,(bytes32,uint256)[]),address)")
        let v: ABI.Value = .tuple([.tuple([.uint(300), .bytes([]), .array([.tuple([.fixedBytes([UInt8](repeating: 7, count: 32)), .uint(1)])])]), .address(.zero)])
        let enc = try ABI.encode([v], as: [t])
        #expect(try ABI.decode([t], from: enc) == [v])
        #expect(try ABI.encode([.int(-1)], as: [.int(256)]) == [UInt8](repeating: 0xff, count: 32))
        #expect(try ABI.decode([.int(8)], from: ABI.encode([.int(-128)], as: [.int(8)])) == [.int(-128)])
        // Every truncation of the encoding throws (never traps).
        for n in 0..<enc.count { _ = try? ABI.decode([t], from: Array(enc.prefix(n))) }
        #expect(throws: ChainError.self) { try ABI.decode([.bytes], from: Array(sam.prefix(40))) }
        #expect(throws: ChainError.self) { try ABI.encode([.uint(256)], as: [.uint(8)]) }
        // Revert data.
        let revert = ABI.selector("Error(string)") + (try ABI.encode([.string("Not backend wallet")], as: [.string]))
        #expect(ABI.revertReason(revert) == "Not backend wallet")
        #expect(ABI.revertReason(ABI.selector("Panic(uint256)") + (try ABI.encode([.uint(0x11)], as: [.uint(256)]))) == "Panic(0x11)")
        #expect(ABI.revertReason(ABI.selector("NotEnoughFee(uint256)") + [UInt8](repeating: 0, count: 32), errors: ["NotEnoughFee(uint256)"]) == "NotEnoughFee(uint256)")
    }

    @Test func eip155ExampleTransaction() throws {
        // The example of EIP-155: key 0x4646…46, nonce 9, 20 gwei, 21000 gas, to 0x3535…35, 1 ether, chain 1.
        let key = try Secp256k1.PrivateKey(rawRepresentation: [UInt8](repeating: 0x46, count: 32))
        let tx = Transaction(
            chainID: 1, nonce: 9, fees: .legacy(gasPrice: 20_000_000_000), gasLimit: 21000,
            to: try Address(bytes: [UInt8](repeating: 0x35, count: 20)), value: BigUInt(10).power(18))
        #expect(Hex.encode(tx.signingPayload) == "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080")
        #expect(Hex.encode(Keccak256.hash(tx.signingPayload)) == "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53")
        let (raw, _) = try tx.signed(with: key)
        #expect(
            Hex.encode(raw)
                == "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        )
        #expect(key.publicKey.address.checksummed == "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F")
    }
}
