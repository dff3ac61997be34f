import Foundation

extension TDX {
    /// A collateral document body read from JSON (TCB Info, QE Identity).
    public protocol SignedJSONBody: Sendable {
        /// Reads the body; throws ``AttestationError/Code/collateralMalformed`` naming the field.
        init(json: JSONValue) throws(AttestationError)
    }

    /// A piece of Intel collateral with the exact bytes Intel signed and its P-256 signature.
    ///
    /// The body is decoded from `signedBytes`, so what is checked and what is used are the same
    /// bytes. Nothing here is trusted until ``QuoteVerifier`` checks the signature.
    public struct SignedDocument<Body: SignedJSONBody>: Sendable {
        /// The decoded body.
        public let body: Body
        /// The bytes the signature covers (the `tcbInfo` / `enclaveIdentity` value as served).
        public let signedBytes: [UInt8]
        /// ECDSA P-256 signature, r ‖ s.
        public let signature: FixedBytes<64>

        /// Builds a document from its signed bytes and the hex signature. Throws
        /// ``AttestationError/Code/collateralMalformed``.
        public init(signedBytes: [UInt8], signatureHex: String, name: String) throws(AttestationError) {
            self.signedBytes = signedBytes
            do { signature = try FixedBytes(hex: signatureHex) } catch {
                throw AttestationError(.collateralMalformed, "\(name) signature is not 64 bytes of hex")
            }
            let json: JSONValue
            do { json = try JSONValue(parsing: signedBytes) } catch {
                throw AttestationError(.collateralMalformed, "\(name) does not decode: \(error.message)")
            }
            body = try Body(json: json)
        }

        /// Parses an Intel PCS v4 response body `{"<member>": {...}, "signature": "hex"}`.
        public init(pcsResponse: [UInt8], member: String) throws(AttestationError) {
            let signed = try JSONSpan.value(of: member, in: pcsResponse)
            let sigJSON = try JSONSpan.value(of: "signature", in: pcsResponse)
            guard sigJSON.count >= 2, sigJSON.first == UInt8(ascii: "\""), sigJSON.last == UInt8(ascii: "\"") else {
                throw AttestationError(.collateralMalformed, "\(member) response signature is not a string")
            }
            try self.init(signedBytes: signed, signatureHex: String(decoding: sigJSON.dropFirst().dropLast(), as: UTF8.self), name: member)
        }
    }
}
