import ByteEncoding
import Foundation
import X509

extension TPM {
    /// PCR values as presented with a quote: `{bank: {index: hex}}` (JSON), as in evidence bundles.
    public typealias PCRValues = [String: [String: String]]

    /// A quote whose signature, PCR digest and nonce have been checked.
    public struct VerifiedQuote: Sendable {
        /// The parsed attestation.
        public let attest: Attest
        /// The AK's TPM name, when the AK came as a public area.
        public let akName: [UInt8]?
        /// The quoted PCR values concatenated in selection order (exactly what pcrDigest hashes).
        public let quotedValues: [UInt8]
        /// The quoted PCR values (only the selected ones), by bank and index, cut from
        /// ``quotedValues`` along the quote's selection (built on use, not on every verify).
        public var pcrs: [String: [Int: [UInt8]]] {
            var out = [String: [Int: [UInt8]]]()
            var offset = 0
            for sel in attest.selection {
                guard let bank = sel.bank.bankName, let size = sel.bank.digestSize else { continue }
                var values = out[bank] ?? [:]
                for i in sel.indices where offset + size <= quotedValues.count {
                    values[i] = Array(quotedValues[offset..<offset + size])
                    offset += size
                }
                out[bank] = values
            }
            return out
        }

        /// A verified quote: its attestation, the AK that signed it and the presented values it covers.
        init(attest: Attest, ak: PublicKey, quotedValues: [UInt8]) {
            self.attest = attest
            self.akName = ak.name
            self.attestationKey = ak
            self.quotedValues = quotedValues
        }
        /// The event log, when one came and its replay matched the quoted PCRs.
        public var eventLog: EventLog.Verified?
        /// The AK certificate's subject, when an AK certificate chain was verified.
        public var akCertificateSubject: String?
        /// The key that signed the quote.
        public let attestationKey: PublicKey
        /// What vouches for ``attestationKey`` (nil: nothing in the evidence; only a policy's
        /// `tpm.attestationKeys` pin can then accept it).
        public private(set) var anchor: AKAnchor?

        /// The AK as audit records and policies name it.
        public var attestationKeyIdentity: AttestationKeyIdentity {
            AttestationKeyIdentity(
                name: akName.map(Hex.encode) ?? "", keyDigest: "sha256:" + Hex.encode(attestationKey.keyDigest),
                certificateSubject: akCertificateSubject, anchor: anchor?.label)
        }

        /// Anchors the AK by a hardware report whose signature, chain and runtime-data binding
        /// the caller has verified: its runtime data must name this AK as `HCLAkPub`
        /// (``TPM/verifyHCLBinding(runtimeData:ak:)``).
        public mutating func anchor(byHardwareReport platform: String, runtimeData: [UInt8]) throws(AttestationError) {
            try TPM.verifyHCLBinding(runtimeData: runtimeData, ak: attestationKey)
            if anchor == nil || anchor == .presentedKeyTrustedForLab { anchor = .hardwareReport(platform: platform) }
        }

        mutating func setAnchor(_ a: AKAnchor) { anchor = a }

        /// Claims as lowercase hex, for reports and policies.
        public var claims: Claims {
            Claims(
                pcrs: pcrs.mapValues { Dictionary(uniqueKeysWithValues: $0.map { (String($0.key), Hex.encode($0.value)) }) },
                extraData: Hex.encode(attest.extraData), akName: akName.map(Hex.encode), qualifiedSigner: Hex.encode(attest.qualifiedSigner),
                clock: attest.clock, resetCount: attest.resetCount, restartCount: attest.restartCount, firmwareVersion: String(format: "%016llx", attest.firmwareVersion),
                pcrDigest: Hex.encode(attest.pcrDigest), imageDigests: eventLog?.imageDigests, codeHashes: eventLog?.codeHashes,
                akCertificate: akCertificateSubject, akKeyDigest: "sha256:" + Hex.encode(attestationKey.keyDigest), akAnchor: anchor?.label)
        }
    }

    /// TPM quote claims (lowercase hex).
    public struct Claims: Sendable, Codable, Hashable {
        /// Quoted PCR values `{bank: {index: hex}}`.
        public let pcrs: [String: [String: String]]
        /// The nonce the quote carries.
        public let extraData: String
        /// The AK name (nameAlg ‖ digest), when known.
        public let akName: String?
        /// The signer's qualified name.
        public let qualifiedSigner: String
        /// TPM clock (ms).
        public let clock: UInt64
        /// Reset count.
        public let resetCount: UInt32
        /// Restart count.
        public let restartCount: UInt32
        /// Firmware version (hex).
        public let firmwareVersion: String
        /// PCR digest.
        public let pcrDigest: String
        /// Workload image digests from the replayed event log (PCR 23), when a log was verified.
        public let imageDigests: [String]?
        /// Workload code hashes from the replayed event log, when a log was verified.
        public let codeHashes: [String]?
        /// The verified AK certificate's subject, when a chain was given.
        public let akCertificate: String?
        /// `sha256:<hex>` of the AK's SubjectPublicKeyInfo.
        public let akKeyDigest: String?
        /// What anchors the AK (``AKAnchor/label``); nil when nothing in the evidence does.
        public let akAnchor: String?
    }

    /// Verifies TPM quotes: the AK signature over TPMS_ATTEST, the PCR digest over the presented
    /// values (hashed with the signature's hash for every bank, as TPM2_Quote does), and
    /// extraData against the expected nonce. Each failure has its own code.
    public struct QuoteVerifier: Sendable {
        /// Roots an AK certificate chain may end at (for example Google's vTPM AK CA). Empty:
        /// evidence carrying AK certificates is refused, since nothing could vouch for them.
        public let akRoots: [Certificate]

        /// "0" … "23", the keys of presented PCR values, made once.
        static let indexNames = (0..<24).map(String.init)

        /// Parsed AK keys and verified AK certificate signatures, reused across calls (a node
        /// quotes with one AK); nil to parse and check everything every time. The quote's own
        /// signature, the PCR digest, the nonce and certificate windows are checked on every call.
        public let cache: VerificationCache?

        /// Lab use only: treat the key the evidence presents as anchored when nothing else
        /// anchors it (``AKAnchor/presentedKeyTrustedForLab``). Anyone can make such evidence
        /// with a software key; the key-release service never sets this.
        public var dangerouslyTrustPresentedAK = false

        /// Creates a verifier trusting `akRoots` for AK certificate chains.
        public init(akRoots: [Certificate] = [], cache: VerificationCache? = nil) {
            self.akRoots = akRoots
            self.cache = cache
        }

        /// Verifies the signature, the nonce and the PCR digest: the primitive under
        /// ``verify(_:eventLog:expectedNonce:now:)``, which also checks that the AK is a TPM
        /// attestation key and what anchors it. Use that one for decisions.
        public func verify(attest: Attest, signature: Signature, ak: PublicKey, pcrs: PCRValues, expectedNonce: ExpectedNonce) throws(AttestationError) -> VerifiedQuote {
            guard ak.isValid(signature, over: attest.rawBytes) else {
                throw AttestationError(.quoteSignatureInvalid, "the quote's \(signature.scheme) signature does not verify under the AK")
            }
            if case .exactly(let expectedNonce) = expectedNonce, attest.extraData != expectedNonce {
                throw AttestationError(.nonceMismatch, "the quote carries nonce \(Hex.encode(attest.extraData)), expected \(Hex.encode(expectedNonce))")
            }
            // Every presented value decoded straight into its place in the digest input.
            var concatenated = [UInt8](repeating: 0, count: attest.selection.reduce(0) { $0 + ($1.bank.bankName == nil ? 0 : $1.indices.count * ($1.bank.digestSize ?? 0)) })
            var offset = 0
            for sel in attest.selection {
                guard let bank = sel.bank.bankName, let size = sel.bank.digestSize else { continue }
                let presented = pcrs[bank] ?? [:]
                for i in sel.indices {
                    guard let hex = presented[i < Self.indexNames.count ? Self.indexNames[i] : String(i)] else {
                        throw AttestationError(.pcrMissing, "PCR \(bank):\(i) is selected by the quote but not presented")
                    }
                    if Hex.decodePlain(hex, into: &concatenated, at: offset) != size {
                        let value: [UInt8]
                        do { value = try Hex.decode(hex) } catch { throw AttestationError(.badEncoding, "PCR \(bank):\(i) is not hex") }
                        guard value.count == size else { throw AttestationError(.malformed, "PCR \(bank):\(i) has \(value.count) bytes, a \(bank) PCR has \(size)") }
                        concatenated.replaceSubrange(offset..<offset + size, with: value)
                    }
                    offset += size
                }
            }
            guard let digest = signature.hash.hash(concatenated), digest == attest.pcrDigest else {
                throw AttestationError(.pcrDigestMismatch, "the presented PCR values do not hash to the quoted pcrDigest \(Hex.encode(attest.pcrDigest))")
            }
            return VerifiedQuote(attest: attest, ak: ak, quotedValues: concatenated)
        }

        /// Verifies the TPM part of an evidence bundle: the AK is a TPM public area of a
        /// restricted signing key, the quote (signature, nonce, PCR digest) and its
        /// qualifiedSigner names that AK, then the AK certificate chain when the bundle carries
        /// one (at `now`; it anchors the AK), then the event log when given (its replay must
        /// reproduce every quoted PCR it touches, in every quoted bank it carries).
        ///
        /// A quote whose AK nothing anchors still verifies (a policy pin may vouch for it); its
        /// ``VerifiedQuote/anchor`` is nil and every validation refuses it unless pinned.
        public func verify(_ evidence: EvidenceBundle.TPMEvidence, eventLog: [UInt8]?, expectedNonce: ExpectedNonce, now: Date) throws(AttestationError) -> VerifiedQuote {
            var q = try verifiedQuote(evidence, expectedNonce: expectedNonce)
            if let certs = evidence.akCertificates, !certs.isEmpty {
                let subject = try verifyAKCertificates(certs.map { [UInt8]($0) }, ak: q.attestationKey, now: now)
                q.akCertificateSubject = subject
                q.setAnchor(.certificate(subject: subject))
            } else if dangerouslyTrustPresentedAK {
                q.setAnchor(.presentedKeyTrustedForLab)
            }
            if let eventLog { q.eventLog = try Self.verify(eventLog: eventLog, against: q) }
            return q
        }

        /// What ``inspect(_:)`` checks, in order.
        public static let inspectionChecks = [
            "AK attributes (a restricted signing key fixed to its TPM)",
            "quote signature by the AK",
            "PCR digest over the presented PCR values",
            "qualifiedSigner names the AK",
        ]
        /// What ``inspect(_:)`` leaves unchecked.
        public static let inspectionUnchecked = [
            "AK anchoring (AK certificate chain, hardware report, policy pin)",
            "nonce (extraData)",
            "event log",
        ]

        /// Checks ``inspectionChecks`` (the first steps of
        /// ``verify(_:eventLog:expectedNonce:now:)``) and nothing of ``inspectionUnchecked``: a
        /// quote from an unanchored software key passes. Not a verdict. Throws the first failure.
        public func inspect(_ evidence: EvidenceBundle.TPMEvidence) throws(AttestationError) {
            _ = try verifiedQuote(evidence, expectedNonce: .anyForReferenceEvidence)
        }

        /// The AK (a TPM attestation key), the quote under it and its qualifiedSigner.
        private func verifiedQuote(_ evidence: EvidenceBundle.TPMEvidence, expectedNonce: ExpectedNonce) throws(AttestationError) -> VerifiedQuote {
            let akBytes = [UInt8](evidence.akPublic)
            let ak: PublicKey
            if let cache { ak = try cache.derive("tpm-ak", from: akBytes) { () throws(AttestationError) in try PublicKey(bytes: akBytes) } } else { ak = try PublicKey(bytes: akBytes) }
            try ak.checkAttestationKeyAttributes()
            let q = try verify(
                attest: Attest(rawRepresentation: [UInt8](evidence.attest)), signature: Signature(rawRepresentation: [UInt8](evidence.signature)),
                ak: ak, pcrs: evidence.pcrs, expectedNonce: expectedNonce)
            let parent: [UInt8]?
            if let p = evidence.akParentQualifiedName {
                do { parent = try Hex.decode(p) } catch { throw AttestationError(.badEncoding, "akParentQualifiedName is not hex") }
            } else {
                parent = nil
            }
            guard ak.qualifiedNames(parent: parent).contains(q.attest.qualifiedSigner) else {
                throw AttestationError(
                    .qualifiedSignerMismatch,
                    "the quote's qualifiedSigner \(Hex.encode(q.attest.qualifiedSigner)) is not the AK's qualified name under a hierarchy"
                        + (parent == nil ? " (an AK below another key needs akParentQualifiedName)" : " or the given parent"))
            }
            return q
        }

        /// Checks an AK certificate chain (leaf first; the root may be omitted) to one of
        /// ``akRoots`` at `now`, and that the leaf certifies `ak`. Returns the leaf's subject (or
        /// its serial number when the subject is empty).
        public func verifyAKCertificates(_ files: [[UInt8]], ak: PublicKey, now: Date) throws(AttestationError) -> String {
            var chain = try CertificateChain(files: files)
            guard let root = akRoots.first(where: { $0 == chain.certificates.last }) ?? akRoots.first(where: { $0.subject == chain.certificates.last?.issuer }) else {
                throw AttestationError(
                    .untrustedRoot,
                    akRoots.isEmpty
                        ? "the evidence carries AK certificates but no AK root is configured"
                        : "the AK certificate chain ends at \(chain.certificates.last!.issuer), not at a configured AK root")
            }
            if chain.certificates.last != root { chain = CertificateChain(chain.certificates + [root]) }
            try PinnedChainVerifier(anchor: root).verify(chain, at: now, name: "AK certificate chain", cache: cache)
            guard ak.certificatePublicKey == chain.leaf.publicKey else {
                throw AttestationError(.signingKeyMismatch, "the AK certificate \(chain.leaf.subject) certifies another key than the AK that signed the quote")
            }
            // vTPM AK certificates often have an empty subject (the identity is in the SAN).
            let subject = chain.leaf.subject.description
            return subject.isEmpty ? "serial \(chain.leaf.serialNumber)" : subject
        }

        /// Replays `eventLog` against every quoted bank the log carries (at least one must be).
        static func verify(eventLog bytes: [UInt8], against q: VerifiedQuote) throws(AttestationError) -> EventLog.Verified {
            let log = try EventLog(parsing: bytes)
            var first: EventLog.Verified?
            let pcrs = q.pcrs
            for bank in ["sha256", "sha384", "sha512", "sha1"] {
                guard let quoted = pcrs[bank], let alg = Alg(bankName: bank), log.carries(alg) else { continue }
                let v = try log.verify(againstPCRs: quoted, bank: alg)
                if first == nil { first = v }
            }
            guard let first else { throw AttestationError(.eventLogMismatch, "the event log carries none of the quoted PCR banks (\(pcrs.keys.sorted().joined(separator: ", ")))") }
            return first
        }
    }
}

extension PolicyInput {
    /// The policy view of a verified TPM quote: measurements `pcr.<bank>.<index>` (lowercase hex).
    /// Workload identities come from the verified event log unless given.
    public init(tpm verified: TPM.VerifiedQuote, evidenceTime: Date? = nil, imageDigests: [String]? = nil, codeHashes: [String]? = nil) {
        let imageDigests = imageDigests ?? verified.eventLog?.imageDigests
        let codeHashes = codeHashes ?? verified.eventLog?.codeHashes
        var m = [String: String]()
        for (bank, values) in verified.pcrs { for (i, v) in values { m["pcr.\(bank).\(i)"] = Hex.encode(v) } }
        self.init(
            platform: .tpm, measurements: m, debug: false, evidenceTime: evidenceTime, imageDigests: imageDigests, codeHashes: codeHashes,
            attestationKey: verified.attestationKeyIdentity)
    }
}

extension TPM.Claims {
    /// The claims TPM evidence states before (or without) verification: the TPMS_ATTEST fields,
    /// the presented values of the PCRs the quote selects, and the AK's name and key digest when
    /// the AK parses. Nothing here is vouched for (the signature and PCR digest are unchecked):
    /// show them marked unverified, never judge them. Throws when the TPMS_ATTEST does not parse.
    public init(unverified evidence: EvidenceBundle.TPMEvidence) throws(AttestationError) {
        let attest = try TPM.Attest(rawRepresentation: [UInt8](evidence.attest))
        let ak = try? TPM.PublicKey(bytes: [UInt8](evidence.akPublic))
        var pcrs = [String: [String: String]]()
        for sel in attest.selection {
            guard let bank = sel.bank.bankName else { continue }
            for i in sel.indices {
                if let v = evidence.pcrs[bank]?[String(i)] { pcrs[bank, default: [:]][String(i)] = v.lowercased() }
            }
        }
        self.init(
            pcrs: pcrs, extraData: Hex.encode(attest.extraData), akName: ak?.name.map(Hex.encode), qualifiedSigner: Hex.encode(attest.qualifiedSigner),
            clock: attest.clock, resetCount: attest.resetCount, restartCount: attest.restartCount, firmwareVersion: String(format: "%016llx", attest.firmwareVersion),
            pcrDigest: Hex.encode(attest.pcrDigest), imageDigests: nil, codeHashes: nil, akCertificate: nil,
            akKeyDigest: ak.map { "sha256:" + Hex.encode($0.keyDigest) }, akAnchor: nil)
    }
}
