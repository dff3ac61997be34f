@testable import Attestation
import ByteEncoding
import Foundation
import TestSupport
import Testing
import X509

/// Event logs from MANIFEST.md: the GCE vTPM's TCG log replays to the quoted PCR 0–9 in every
/// bank, the TDX CCEL log to RTMR0–2 of its quote; tpm2-tools' binary PCR file; AK certificates.
@Suite("Event logs, PCR files and AK certificates")
struct EventLogTests {
    static let gce = "tpm/go-tpm-tools/extracted/gce-cos-85-no-nonce"
    static let ccel = "tdx/go-tdx-guest/ccel"

    static func quoted(_ file: String) throws -> [Int: [UInt8]] {
        let json = try TPM.pcrValues(parsing: TestVectors.bytes("\(gce).\(file).pcrs.json"))
        let bank = try #require(json.first)
        return try Dictionary(uniqueKeysWithValues: bank.value.map { (Int($0.key)!, try Hex.decode($0.value)) })
    }

    static func code(_ body: () throws -> Any) -> AttestationError.Code? {
        do { _ = try body(); return nil } catch let e as AttestationError { return e.code } catch {
            Issue.record("not an AttestationError: \(error)")
            return nil
        }
    }

    @Test(arguments: [("quote0.sha1", TPM.Alg.sha1), ("quote1.sha256", .sha256), ("quote2.sha384", .sha384)])
    func gceLogReplaysToQuotedPCRs(_ quote: String, _ bank: TPM.Alg) throws {
        let log = try EventLog(parsing: TestVectors.bytes("\(Self.gce).eventlog.bin"))
        #expect(log.algorithms.map(\.id) == [0x0004, 0x000B, 0x000C])
        let v = try log.verify(againstPCRs: Self.quoted(quote), bank: bank)
        #expect(v.registers.keys.sorted() == Array(0...9) + [23])  // PCR 0–9 from the log; the workload PCR is always checked (zero here)
        #expect(v.unverifiedRegisters.isEmpty)
        #expect(v.imageDigests.isEmpty && v.codeHashes.isEmpty)
        #expect(v.eventCount == 44)  // every event but EV_NO_ACTION
    }

    @Test func alteredLogOrPCRIsAMismatch() throws {
        var bytes = try TestVectors.bytes("\(Self.gce).eventlog.bin")
        let log = try EventLog(parsing: bytes)
        let quoted = try Self.quoted("quote1.sha256")
        // A changed quoted value, and a changed SHA-256 digest inside one event: both mismatch.
        var changed = quoted
        changed[4]![0] ^= 1
        #expect(Self.code { try log.verify(againstPCRs: changed, bank: .sha256) } == .eventLogMismatch)
        let event = try #require(log.events.first { $0.type != EventLog.noAction && $0.index == 4 })
        let at = try #require(bytes[event.offset...].firstRange(of: event.digests[0x000B]!)).lowerBound
        bytes[at] ^= 0x80
        #expect(Self.code { try EventLog(parsing: bytes).verify(againstPCRs: quoted, bank: .sha256) } == .eventLogMismatch)
        // A log with no digests of the quoted bank proves nothing.
        #expect(Self.code { try log.verify(againstPCRs: quoted, bank: .sha512) } == .eventLogMismatch)
    }

    @Test func truncationWalkNeverCrashes() throws {
        let bytes = try TestVectors.bytes("\(Self.gce).eventlog.bin")
        let log = try EventLog(parsing: bytes)
        let boundaries = (log.events.map(\.offset) + [bytes.count]).sorted()
        for n in 0..<bytes.count {
            let code = Self.code { try EventLog(parsing: Array(bytes.prefix(n))) }
            // After the last whole event, a tail of only 0x00 or 0xFF reads as fill (CCEL areas
            // are padded that way); it parses, without the cut event.
            guard let b = boundaries.last(where: { $0 <= n }) else {
                #expect(code == .truncated || code == .malformed, "prefix \(n) inside the header")
                continue
            }
            let tail = bytes[b..<n]
            if tail.allSatisfy({ $0 == 0 }) || tail.allSatisfy({ $0 == 0xff }) {
                #expect(code == nil, "prefix \(n) is whole events plus fill")
                if code == nil { #expect(try EventLog(parsing: Array(bytes.prefix(n))).events.count == boundaries.firstIndex(of: b)!) }
            } else {
                #expect(code == .truncated || code == .malformed, "prefix \(n): \(String(describing: code))")
            }
        }
    }

    @Test func garbageIsTyped() {
        #expect(Self.code { try EventLog(parsing: []) } == .truncated)
        #expect(Self.code { try EventLog(parsing: [UInt8](repeating: 0xff, count: 64)) } == .malformed)
        var header = [UInt8](repeating: 0, count: 32)
        header[4] = 3  // EV_NO_ACTION, but not a Spec ID event
        #expect(Self.code { try EventLog(parsing: header + [UInt8](repeating: 0x41, count: 20)) } != nil)
    }

    @Test func ccelReplaysToTheQuoteRTMRs() throws {
        let quote = try TDX.Quote(rawRepresentation: TestVectors.bytes("\(Self.ccel)/cos-113-tdx-quote.dat"))
        let bytes = try TestVectors.bytes("\(Self.ccel)/ccel_data.dat")
        let log = try EventLog(parsing: bytes)
        #expect(log.algorithms.map(\.id) == [0x000C])
        let v = try log.verify(againstRTMRs: quote.report.rtmrs)
        #expect(v.registers.count == 4)
        #expect(Hex.encode(v.registers[0]!) == "3fa2f61f395b7f5feefb4ec2df61297f109ad8abcd6410c1b7df60f21f37b19297fc35e544039c7e1edece752afd17f6")
        #expect(Hex.encode(v.registers[2]!) == "4969684dc87381fc3b3134176c8d8806eaf0a901859f5f70cfae8d17714b46c10a8de219048c9fc09f11f381a6fbe7c1")
        #expect(v.registers[3] == [UInt8](repeating: 0, count: 48))
        // Another RTMR set (the dcap-qvl quote's) does not match this log.
        let other = try TDX.Quote(rawRepresentation: TestVectors.bytes("tdx/dcap-qvl/tdx_quote"))
        #expect(Self.code { try log.verify(againstRTMRs: other.report.rtmrs) } == .eventLogMismatch)
        // Dropping the last event breaks RTMR replay.
        let last = try #require(log.events.last)
        var cut = Array(bytes.prefix(last.offset))
        cut += [UInt8](repeating: 0xff, count: 64)
        #expect(Self.code { try EventLog(parsing: cut).verify(againstRTMRs: quote.report.rtmrs) } == .eventLogMismatch)
    }

    @Test func tpm2ToolsPCRFileReadsAsManifestSays() throws {
        let values = try TPM.pcrValues(parsing: TestVectors.bytes("tpm/keylime/quotepcr.out"))
        #expect(
            values == [
                "sha256": [
                    "15": String(repeating: "00", count: 32),
                    "16": "9dbb22387e019c04da95477333546082ce313152c4a7f8a6e1d5f0c77f4fb6f0",
                    "22": String(repeating: "ff", count: 32),
                ]
            ])
        let attest = try TPM.Attest(rawRepresentation: TestVectors.bytes("tpm/keylime/quote.out"))
        let sig = try TPM.Signature(rawRepresentation: TestVectors.bytes("tpm/keylime/quotesig.out"))
        let ak = try TPM.PublicKey(bytes: TestVectors.bytes("tpm/keylime/ak.pub"))
        let v = try TPM.QuoteVerifier().verify(attest: attest, signature: sig, ak: ak, pcrs: values, expectedNonce: .anyForReferenceEvidence)
        #expect(v.claims.pcrDigest == "ec1636c69c548fd09a165a4f874e5d1610a8fbe36241566017e92b17e144b971")
        // Every truncation and trailing garbage is typed.
        let bytes = try TestVectors.bytes("tpm/keylime/quotepcr.out")
        for n in 0..<bytes.count { #expect(Self.code { try TPM.pcrValues(parsing: Array(bytes.prefix(n))) } != nil, "prefix \(n)") }
        #expect(Self.code { try TPM.pcrValues(parsing: bytes + [0]) } == .malformed)
        #expect(Self.code { try TPM.pcrValues(parsing: Array(#"{"sha256": {"24": "00"}}"#.utf8)) } == .malformed)
        #expect(Self.code { try TPM.pcrValues(parsing: Array(#"{"md5": {"1": "00"}}"#.utf8)) } == .malformed)
    }

    static func certificate(_ path: String) throws -> Certificate {
        try CertificateChain(files: [TestVectors.bytes(path)]).leaf
    }

    @Test func akCertificateChainsToGoogleRoot() throws {
        let root = try Self.certificate("tpm/go-tpm-tools/tpm_ek_root_1.cer")
        let intermediate = try TestVectors.bytes("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt")
        let leaf = try TestVectors.bytes("\(Self.gce).akcert.der")
        let ak = try TPM.PublicKey(bytes: TestVectors.bytes("\(Self.gce).ak.tpmt_public"))
        // The CA common names are longer than X.520's 64-character bound and still parse.
        #expect(try Self.certificate("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt").subject.description.count > 64)
        let v = TPM.QuoteVerifier(akRoots: [root])
        let at = instant("2026-11-24T00:00:00Z")
        let subject = try v.verifyAKCertificates([leaf, intermediate], ak: ak, now: at)
        #expect(subject.hasPrefix("serial "))  // GCE AK certificates have an empty subject
        #expect(try v.verifyAKCertificates([leaf, intermediate, TestVectors.bytes("tpm/go-tpm-tools/tpm_ek_root_1.cer")], ak: ak, now: at) == subject)
        #expect(Self.code { try TPM.QuoteVerifier().verifyAKCertificates([leaf, intermediate], ak: ak, now: at) } == .untrustedRoot)
        let otherRoot = try Self.certificate("tpm/go-tpm-tools/gcp_ek_ak_ca_root.crt")
        #expect(Self.code { try TPM.QuoteVerifier(akRoots: [otherRoot]).verifyAKCertificates([leaf, intermediate], ak: ak, now: at) } == .untrustedRoot)
        #expect(Self.code { try v.verifyAKCertificates([leaf, intermediate], ak: ak, now: instant("2020-01-01T00:00:00Z")) } == .certificateNotYetValid)
        #expect(Self.code { try v.verifyAKCertificates([leaf, TestVectors.bytes("tpm/go-tpm-tools/tpm_ek_intermediate_3.crt")], ak: ak, now: at) } == .certificateSignatureInvalid)
        let otherAK = try TPM.PublicKey(bytes: TestVectors.bytes("tpm/keylime/akpub.pem"))
        #expect(Self.code { try v.verifyAKCertificates([leaf, intermediate], ak: otherAK, now: at) } == .signingKeyMismatch)
        var flipped = leaf
        flipped[flipped.count - 10] ^= 1  // inside the signature
        #expect(Self.code { try v.verifyAKCertificates([flipped, intermediate], ak: ak, now: at) } == .certificateSignatureInvalid)
    }

    @Test func bundleWithLogAndCertificatesVerifiesEndToEnd() throws {
        let evidence = try EvidenceBundle.TPMEvidence(
            attest: Data(TestVectors.bytes("tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009.quote1.sha256.attest.bin")),
            signature: Data(TestVectors.bytes("tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009.quote1.sha256.sig.tpmt")),
            akPublic: Data(TestVectors.bytes("tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009.ak.tpmt_public")),
            pcrFile: Data(TestVectors.bytes("tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009.quote1.sha256.pcrs.json")),
            akCertificates: [
                Data(TestVectors.bytes("tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009.akcert.der")),
                Data(TestVectors.bytes("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt")),
            ])
        let v = TPM.QuoteVerifier(akRoots: [try Self.certificate("tpm/go-tpm-tools/tpm_ek_root_1.cer")])
        let log = try TestVectors.bytes("tpm/go-tpm-tools/extracted/gce-cos-85-nonce9009.eventlog.bin")
        let q = try v.verify(evidence, eventLog: log, expectedNonce: .exactly([0x90, 0x09]), now: instant("2026-11-24T00:00:00Z"))
        #expect(q.claims.extraData == "9009")
        #expect(q.eventLog?.registers.count == 11)
        #expect(q.claims.akCertificate != nil)
        #expect(Self.code { try v.verify(evidence, eventLog: log, expectedNonce: .exactly([0x90, 0x0a]), now: instant("2026-11-24T00:00:00Z")) } == .nonceMismatch)
    }
}

/// The go-tpm-tools protobuf rows of MANIFEST.md, whole: AK, three quotes, event log, AK cert.
@Suite("TPM: go-tpm-tools attest.Attestation protobufs")
struct GoTPMAttestationTests {
    static let root = "tpm/go-tpm-tools/tpm_ek_root_1.cer"

    @Test(arguments: [("gce-cos-85-no-nonce.pb", [UInt8]()), ("gce-cos-85-nonce9009.pb", [0x90, 0x09])])
    func protobufVerifiesInEveryBank(_ file: String, _ nonce: [UInt8]) throws {
        let pb = try TPM.GoTPMAttestation(protobuf: TestVectors.bytes("tpm/go-tpm-tools/\(file)"))
        #expect(pb.quotes.map(\.bank) == [.sha1, .sha256, .sha384])
        #expect(pb.akCertificate != nil)
        let v = TPM.QuoteVerifier(akRoots: [try EventLogTests.certificate(Self.root)])
        let digests: [TPM.Alg: String] = [
            .sha1: "fda327d4ba5d5978fe3a23db1a47964050e872639ef5d6a99c123cca39e56d8b",
            .sha256: "048937cbaaf28af85a5b0c0997e725097a0d94e05fcda104a82ee3fb6b2e1808",
            .sha384: "6c250f48d304517716f4a5a9127bf8762a80b63df783cb724630b180a3a66bea",
        ]
        for q in pb.quotes {
            let bundle = pb.bundle(bank: q.bank)
            // The protobuf carries no intermediate: give go-tpm-tools' CA bundle as the evidence would.
            var tpm = try #require(bundle.tpm)
            tpm.akCertificates = (tpm.akCertificates ?? []) + [Data(try TestVectors.bytes("tpm/go-tpm-tools/tpm_ek_intermediate_2.crt"))]
            let verified = try v.verify(tpm, eventLog: bundle.eventLog.map { [UInt8]($0) }, expectedNonce: .exactly(nonce), now: instant("2026-11-24T00:00:00Z"))
            #expect(verified.claims.pcrDigest == digests[q.bank])
            #expect(verified.claims.extraData == Hex.encode(nonce))
            #expect(verified.eventLog?.registers.keys.sorted() == Array(0...9) + [23])
            #expect(EventLogTests.code { try v.verify(tpm, eventLog: nil, expectedNonce: .exactly([0x90, 0x0a]), now: instant("2026-11-24T00:00:00Z")) } == .nonceMismatch)
        }
    }

    @Test func truncationWalk() throws {
        let bytes = try TestVectors.bytes("tpm/go-tpm-tools/gce-cos-85-nonce9009.pb")
        // ak_pub (280 bytes: tag, 2-byte length) comes first: every cut inside it is truncated;
        // every other cut is a typed error or, between fields, a shorter valid message.
        #expect(Array(bytes.prefix(3)) == [0x0a, 0x98, 0x02])
        for n in 1..<bytes.count {
            let code = EventLogTests.code { try TPM.GoTPMAttestation(protobuf: Array(bytes.prefix(n))) }
            if n < 283 { #expect(code == .truncated, "prefix \(n)") }
        }
        #expect(EventLogTests.code { try TPM.GoTPMAttestation(protobuf: []) } == .malformed)
        #expect(EventLogTests.code { try TPM.GoTPMAttestation(protobuf: [0x0a, 0x05, 0x01]) } == .truncated)
        #expect(EventLogTests.code { try TPM.GoTPMAttestation(protobuf: [0x0b]) } == .malformed)  // wire type 3
    }
}

/// Malformed AK keys are typed errors, never a process abort (swift-crypto 3.x's RSA DER
/// constructors double-free on some input; `RSAKey` keeps them away from untrusted bytes).
@Suite("TPM: malformed AK public keys")
struct MalformedAKTests {
    @Test func garbageKeysAreTyped() throws {
        let pem = try TestVectors.bytes("tpm/keylime/akpub.pem")
        let der = try #require(try? TPM.PublicKey(bytes: pem)).certificatePublicKey
        #expect(der != nil)
        var cases: [[UInt8]] = [[], [0x30], [0x30, 0x00], [0x30, 0x03, 0x02, 0x01, 0x05], Array("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".utf8)]
        // Every cut of the PEM before its END line (a cut after it is still the whole key).
        let end = try #require(pem.firstRange(of: Array("-----END".utf8))).lowerBound
        for n in stride(from: 0, to: end, by: 3) { cases.append(Array(pem.prefix(n))) }
        for c in cases {
            #expect(EventLogTests.code { try TPM.PublicKey(bytes: c) } != nil, "\(c.count) bytes")
        }
        // A 1024-bit RSA SPKI is refused.
        #expect(RSAKey.signingKey(spki: try RSAKey.spki(modulusBytes: 128)) == nil)
        #expect(RSAKey.signingKey(spki: try RSAKey.spki(modulusBytes: 256)) != nil)
    }
}

extension RSAKey {
    /// An SPKI with an odd modulus of `modulusBytes` bytes and e = 65537 (tests only).
    static func spki(modulusBytes: Int) throws -> [UInt8] {
        func tlv(_ tag: UInt8, _ body: [UInt8]) -> [UInt8] {
            let n = body.count
            let len: [UInt8] = n < 128 ? [UInt8(n)] : n < 256 ? [0x81, UInt8(n)] : [0x82, UInt8(n >> 8), UInt8(n & 0xff)]
            return [tag] + len + body
        }
        let n = [0x00, 0xC1] + [UInt8](repeating: 0x5b, count: modulusBytes - 1)
        let rsa = tlv(0x30, tlv(0x02, n) + tlv(0x02, [0x01, 0x00, 0x01]))
        let alg = tlv(0x30, tlv(0x06, [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]) + [0x05, 0x00])
        return tlv(0x30, alg + tlv(0x03, [0] + rsa))
    }
}
