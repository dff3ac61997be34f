/// A TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware Profile §10.2): the
/// TPM's measured-boot log, and the TDX CC event log (CCEL ACPI table, UEFI CC Measurement
/// Protocol) whose register index 1–4 names RTMR0–RTMR3.
///
/// Written by hand: no Swift library parses TCG event logs. Parse only: nothing in a log is
/// trusted until ``replay(_:)`` reproduces registers that signed evidence vouches for
/// (``verify(againstPCRs:bank:)``, ``verify(againstRTMRs:)``).
public struct EventLog: Sendable {
    /// EV_NO_ACTION: logged, never extended.
    public static let noAction: UInt32 = 0x0000_0003
    /// Upper bound on the events one log may hold (a real boot log has a few hundred).
    public static let maximumEvents = 65_536

    /// One TCG_PCR_EVENT2 record.
    public struct Event: Sendable, Hashable {
        /// The PCR (TPM) or CC measurement register index (CCEL: 0 MRTD, 1–4 RTMR0–3).
        public let index: UInt32
        /// The TCG event type.
        public let type: UInt32
        /// The digests by TPM_ALG_ID, in log order.
        public let digests: [UInt16: [UInt8]]
        /// The event data.
        public let data: [UInt8]
        /// The record's offset in the log.
        public let offset: Int
    }

    /// The digest algorithms (TPM_ALG_ID) and sizes the Spec ID event declares, in order.
    public let algorithms: [(id: UInt16, size: Int)]
    /// The events after the Spec ID header, in log order.
    public let events: [Event]
    /// PCR 0's starting locality from a StartupLocality event, if the log has one.
    public let startupLocality: UInt8?

    /// Parses a crypto-agile log: a SHA-1-format Spec ID Event03 header, then TCG_PCR_EVENT2
    /// records up to the end or to padding (0xFF or 0x00 fill, as in the CCEL area). Every
    /// truncation is ``AttestationError/Code/truncated``; a missing Spec ID header, a digest
    /// algorithm the header does not declare or an absurd count is
    /// ``AttestationError/Code/malformed``.
    public init(parsing bytes: [UInt8]) throws(AttestationError) {
        var r = ByteReader(bytes)
        // TCG_PCR_EVENT (SHA-1 format) carrying TCG_EfiSpecIDEvent.
        _ = try r.u32("Spec ID pcrIndex")
        guard try r.u32("Spec ID eventType") == Self.noAction else { throw AttestationError(.malformed, "event log does not start with an EV_NO_ACTION Spec ID event") }
        _ = try r.read(20, "Spec ID digest")
        let specSize = Int(try r.u32("Spec ID eventSize"))
        var spec = ByteReader(try r.read(specSize, "Spec ID event"))
        guard try spec.read(16, "Spec ID signature") == Array("Spec ID Event03".utf8) + [0] else {
            throw AttestationError(.malformed, "event log header is not a crypto-agile Spec ID Event03 (SHA-1-only logs are not supported)")
        }
        _ = try spec.read(8, "Spec ID platformClass/version/uintnSize")
        let count = try spec.u32("numberOfAlgorithms")
        guard (1...8).contains(count) else { throw AttestationError(.malformed, "Spec ID event declares \(count) digest algorithms") }
        var algorithms = [(id: UInt16, size: Int)]()
        for _ in 0..<count {
            let id = try spec.u16("algorithmId")
            let size = Int(try spec.u16("digestSize"))
            guard size > 0, size <= 64, !algorithms.contains(where: { $0.id == id }) else {
                throw AttestationError(.malformed, "Spec ID event declares algorithm 0x\(String(id, radix: 16)) twice or with digest size \(size)")
            }
            algorithms.append((id, size))
        }
        self.algorithms = algorithms
        let sizes = Dictionary(uniqueKeysWithValues: algorithms.map { ($0.id, $0.size) })

        var events = [Event]()
        var locality: UInt8?
        while r.remaining > 0 {
            if Self.isPadding(bytes[r.offset...]) { break }
            let offset = r.offset
            guard events.count < Self.maximumEvents else { throw AttestationError(.malformed, "event log holds more than \(Self.maximumEvents) events") }
            let index = try r.u32("event \(events.count) index")
            let type = try r.u32("event \(events.count) type")
            let n = try r.u32("event \(events.count) digest count")
            guard n <= count else { throw AttestationError(.malformed, "event at offset \(offset) carries \(n) digests, the header declares \(count) algorithms") }
            var digests = [UInt16: [UInt8]]()
            for _ in 0..<n {
                let alg = try r.u16("event \(events.count) digest algorithm")
                guard let size = sizes[alg], digests[alg] == nil else {
                    throw AttestationError(.malformed, "event at offset \(offset) has a digest of algorithm 0x\(String(alg, radix: 16)) the header does not declare, or twice")
                }
                digests[alg] = try r.read(size, "event \(events.count) digest")
            }
            let data = try r.read(Int(try r.u32("event \(events.count) size")), "event \(events.count) data")
            if type == Self.noAction, index == 0, data.starts(with: Array("StartupLocality".utf8) + [0]), data.count == 17 { locality = data[16] }
            events.append(Event(index: index, type: type, digests: digests, data: data, offset: offset))
        }
        self.events = events
        self.startupLocality = locality
    }

    /// Whether the rest of the buffer is fill (all 0xFF or all 0x00).
    static func isPadding(_ rest: ArraySlice<UInt8>) -> Bool {
        guard let first = rest.first, first == 0xFF || first == 0x00 else { return false }
        // A real event can start with zero bytes (PCR 0); only an all-fill tail is padding.
        return rest.allSatisfy { $0 == first }
    }

    /// Replays the log's `bank` digests: each register starts at zero (PCR 0 at its startup
    /// locality) and is extended `H(old ‖ digest)` for every event but EV_NO_ACTION. Registers
    /// no event touches are absent. Throws ``AttestationError/Code/malformed`` when an extended
    /// event lacks that bank's digest, ``AttestationError/Code/unsupportedAlgorithm`` for a
    /// bank this build cannot hash.
    public func replay(_ bank: TPM.Alg) throws(AttestationError) -> [UInt32: [UInt8]] {
        guard let size = bank.digestSize else { throw AttestationError(.unsupportedAlgorithm, "cannot replay bank 0x\(String(bank.rawValue, radix: 16))") }
        var registers = [UInt32: [UInt8]]()
        for e in events where e.type != Self.noAction {
            guard let d = e.digests[bank.rawValue] else {
                throw AttestationError(.malformed, "event at offset \(e.offset) has no \(bank.bankName ?? "?") digest")
            }
            var old = registers[e.index] ?? [UInt8](repeating: 0, count: size)
            if registers[e.index] == nil, e.index == 0, let startupLocality { old[size - 1] = startupLocality }
            registers[e.index] = bank.hash(old + d)!
        }
        return registers
    }

    /// Whether the log carries digests for `bank`.
    public func carries(_ bank: TPM.Alg) -> Bool { algorithms.contains { $0.id == bank.rawValue } }
}
