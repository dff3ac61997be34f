import ByteEncoding

extension EventLog {
    /// What a log vouches for once its replay equals registers that signed evidence carries.
    public struct Verified: Sendable, Hashable {
        /// The registers the replay reproduced (PCR index, or RTMR index 0–3), by index.
        public let registers: [Int: [UInt8]]
        /// Workload image digests measured into the workload register (``WorkloadEvent``).
        public let imageDigests: [String]
        /// Workload training-code hashes measured into the workload register.
        public let codeHashes: [String]
        /// Registers the log extends that the evidence does not carry: their events prove nothing.
        public let unverifiedRegisters: [Int]
        /// Number of events replayed.
        public let eventCount: Int
    }

    /// TPM: replays `bank` and requires every quoted PCR the log touches to equal its replay.
    /// The workload PCR (``WorkloadEvent/tpmPCR``), when quoted, is always checked, an untouched
    /// one against zero: a log that leaves workload events out must not pass. PCRs the log
    /// touches but the quote does not select are reported as unverified and their workload
    /// events ignored. Throws ``AttestationError/Code/eventLogMismatch`` naming the
    /// first PCR that differs.
    public func verify(againstPCRs quoted: [Int: [UInt8]], bank: TPM.Alg) throws(AttestationError) -> Verified {
        guard carries(bank) else { throw AttestationError(.eventLogMismatch, "the event log carries no \(bank.bankName ?? "?") digests") }
        var replayed = try replay(bank)
        let workloadPCR = UInt32(WorkloadEvent.tpmPCR)
        if replayed[workloadPCR] == nil, quoted[WorkloadEvent.tpmPCR] != nil, let size = bank.digestSize {
            replayed[workloadPCR] = [UInt8](repeating: 0, count: size)
        }
        var verified = [Int: [UInt8]]()
        var unverified = [Int]()
        for (index, value) in replayed.sorted(by: { $0.key < $1.key }) {
            guard let q = quoted[Int(index)] else { unverified.append(Int(index)); continue }
            guard q == value else {
                throw AttestationError(.eventLogMismatch, "replaying the event log gives PCR \(bank.bankName ?? "?"):\(index) = \(Hex.encode(value)), the quote has \(Hex.encode(q))")
            }
            verified[Int(index)] = value
        }
        let (images, codes) = workload(register: UInt32(WorkloadEvent.tpmPCR), trusted: verified[WorkloadEvent.tpmPCR] != nil)
        return Verified(
            registers: verified, imageDigests: images, codeHashes: codes, unverifiedRegisters: unverified,
            eventCount: events.count { $0.type != Self.noAction })
    }

    /// TDX CCEL: replays the SHA-384 digests of register indices 1–4 into RTMR0–RTMR3 and
    /// requires all four to equal the quote's (an RTMR no event extends must be zero). Throws
    /// ``AttestationError/Code/eventLogMismatch`` naming the first RTMR that differs.
    public func verify(againstRTMRs rtmrs: [FixedBytes<48>]) throws(AttestationError) -> Verified {
        guard carries(.sha384) else { throw AttestationError(.eventLogMismatch, "the CC event log carries no SHA-384 digests") }
        let replayed = try replay(.sha384)
        if let bad = replayed.keys.first(where: { $0 > 4 }) { throw AttestationError(.malformed, "CC event log extends register index \(bad); TDX has MRTD and RTMR0–3 (0–4)") }
        var verified = [Int: [UInt8]]()
        for (i, quoted) in rtmrs.enumerated() {
            let value = replayed[UInt32(i + 1)] ?? [UInt8](repeating: 0, count: 48)
            guard value == quoted.bytes else {
                throw AttestationError(.eventLogMismatch, "replaying the CC event log gives RTMR\(i) = \(Hex.encode(value)), the quote has \(quoted.hex)")
            }
            verified[i] = value
        }
        let (images, codes) = workload(register: UInt32(WorkloadEvent.tdxRTMR + 1), trusted: true)
        return Verified(
            registers: verified, imageDigests: images, codeHashes: codes, unverifiedRegisters: [],
            eventCount: events.count { $0.type != Self.noAction && $0.index != 0 })
    }

    /// Workload events in `register`, when the register's value is vouched for.
    private func workload(register: UInt32, trusted: Bool) -> ([String], [String]) {
        guard trusted else { return ([], []) }
        var images = [String](), codes = [String]()
        for e in events where e.index == register && e.type == WorkloadEvent.eventType {
            switch WorkloadEvent(data: e.data) {
            case .image(let d)?: images.append(d)
            case .code(let d)?: codes.append(d)
            case nil: break
            }
        }
        return (images, codes)
    }
}
