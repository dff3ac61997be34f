import Attestation
import Foundation
import TestSupport
import Testing

/// One TDX row of shared/testvectors/MANIFEST.md.
struct TDXRow: Sendable, CustomStringConvertible {
    let name: String
    let quote: String
    let collateral: [String]
    let at: String
    /// nil: verification throws `error`.
    let tcbStatus: TDX.TCBStatus?
    let accepted: Bool
    let noLevel: Bool
    let mrTD: String
    let rtmr0: String
    let reportData: String
    let fmspc: String
    let teeTCBSVN: String
    var description: String { name }

    static let all: [TDXRow] = [
        TDXRow(
            name: "dcap-qvl v4 UpToDate", quote: "tdx/dcap-qvl/tdx_quote", collateral: ["tdx/dcap-qvl/tdx_quote_collateral.json"], at: "2025-07-01T00:00:00Z",
            tcbStatus: .upToDate, accepted: true, noLevel: false,
            mrTD: "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
            rtmr0: "44c0197b39157fdd7a4dcc44767f9d6b0bb3977c7a8e347b8492f827fe9d9e5c48aca29b220b80b6a540cf994b9bc9c0",
            reportData: "9a9d48e7f6799642d3d1b34e1e5e1742d4bb02dd6ddd551862c1211d35c304f9eca3efdbb481601c163cf52493d6e44aed55d51ec39b7e518fadb92c2b523f20",
            fmspc: "b0c06f000000", teeTCBSVN: "06010300000000000000000000000000"),
        TDXRow(
            name: "dcap-qvl v5 outdated (no TCB level)", quote: "tdx/dcap-qvl/tdx_quote_outdated", collateral: ["tdx/dcap-qvl/tdx_quote_outdated_collateral.json"], at: "2026-03-01T00:00:00Z",
            tcbStatus: nil, accepted: false, noLevel: true,
            mrTD: "273828c46252fcbdd8ad2dd907130222b03466d52a2911d70c1a5950895d6bd1ae451d382d5a9b1b4c0ed0e5ae9a3dbd",
            rtmr0: String(repeating: "0", count: 96),
            reportData: "d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728" + String(repeating: "0", count: 64),
            fmspc: "90c06f000000", teeTCBSVN: "07010300000000000000000000000000"),
        TDXRow(
            name: "dcap-qvl hex v4 (no TCB level)", quote: "tdx/dcap-qvl/tdx-quote.hex", collateral: ["tdx/dcap-qvl/tdx_quote_collateral.json"], at: "2025-07-01T00:00:00Z",
            tcbStatus: nil, accepted: false, noLevel: true,
            mrTD: "7ba9e262ce6979087e34632603f354dd8f8a870f5947d116af8114db6c9d0d74c48bec4280e5b4f4a37025a10905bb29",
            rtmr0: "4574c098915caf3e82057817dbd135c1ed0ee1b39ac300c921479e2f5ebf5726a13ee0c8745ac891b6aee7c4f9664610",
            reportData: "7148f47ef58b475fce69b386e2d6b4c964a9533cc328ea8e544db66612a5174698d006951cefa8fd4450e884300638e567e22f9a012ef5754aa6a9d9564fcd8a",
            fmspc: "b0c06f000000", teeTCBSVN: "05010200000000000000000000000000"),
        TDXRow(
            name: "go-tdx-guest SPR E4 (no TCB level)", quote: "tdx/go-tdx-guest/tdx_prod_quote_SPR_E4.dat",
            collateral: [
                "tdx/go-tdx-guest/sample_tcbInfo_response", "tdx/go-tdx-guest/sample_qeIdentity_response", "tdx/go-tdx-guest/pckcrl", "tdx/go-tdx-guest/rootcrl.der",
                "tdx/go-tdx-guest/tcbInfoIssuerChain.pem", "tdx/go-tdx-guest/pckCrlIssuerChain.pem",
            ],
            at: "2023-07-01T01:00:00Z", tcbStatus: nil, accepted: false, noLevel: true,
            mrTD: "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb",
            rtmr0: "2927da70461cd63266f43230cc1849c03ef25ebe490062a801d8fcc80af42976823adf08f833c1e50b51779c6593f32a",
            reportData: "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113",
            fmspc: "50806f000000", teeTCBSVN: "03000400000000000000000000000000"),
        TDXRow(
            name: "go-tdx-guest v5 sample UpToDate", quote: "tdx/go-tdx-guest/quote_v5_sample.dat",
            collateral: ["tdx/dcap-qvl/tdx_quote_outdated_collateral.json", "tdx/go-tdx-guest/sample_tcbinfo_response_v5"],
            at: "2026-03-01T00:00:00Z", tcbStatus: .upToDate, accepted: true, noLevel: false,
            mrTD: "7348651a34b2d2d3462822e3a750ec6110125f36757c78480bbfc69cc0d21fb001a1ced3ee19747dda8f750c3bc8f876",
            rtmr0: "5c8daf76063a71ac8fcef4067564661fc682ed7944c7a5d21dbbced02f61ceff4ba0678c6aef3bdae8cbc614cec24619",
            reportData: "945eaacf5abc1f719d8666a942fda03d1edcb4490277396093dc5a5289ab9f1e094aed63060cd4a4933a4dd537ed1255c9c79ecb3ed82cd1b486233e31c25c3a",
            fmspc: "90c06f000000", teeTCBSVN: "0b010400000000000000000000000000"),
    ]

    func load() throws -> (TDX.Quote, TDX.Collateral) {
        let quote = try TDX.Quote(bytesOrText: TestVectors.bytes(self.quote))
        var parts = TDX.CollateralParts()
        for c in collateral { try parts.add(path: TestVectors.path(c)) }
        let pck = try TDX.PCKExtensions(certificate: CertificateChain(pemEncoded: String(decoding: quote.pckCertificateChainPEM, as: UTF8.self)).leaf)
        return (quote, try parts.complete(for: pck.fmspc))
    }
}

@Suite("TDX: MANIFEST rows through the library")
struct TDXManifestTests {
    @Test(arguments: TDXRow.all)
    func row(_ row: TDXRow) throws {
        let (quote, collateral) = try row.load()
        let verified = try TDX.QuoteVerifier().verify(quote, collateral: collateral, now: instant(row.at))
        #expect(verified.tcb?.status == row.tcbStatus)
        if row.tcbStatus != nil { #expect(verified.tcb?.advisoryIDs == []) }
        let result = TDX.Validator().validate(verified)
        #expect(result.isAccepted == row.accepted)
        #expect(result.failures.contains { $0.code == .noMatchingTCBLevel } == row.noLevel)
        let claims = verified.claims
        #expect(claims.mrTD.hex == row.mrTD)
        #expect(claims.rtmrs.count == 4)
        #expect(claims.rtmrs[0].hex == row.rtmr0)
        #expect(claims.reportData.hex == row.reportData)
        #expect(claims.fmspc.hex == row.fmspc)
        #expect(claims.teeTCBSVN.hex == row.teeTCBSVN)
        #expect(claims.debug == false)
    }
}
