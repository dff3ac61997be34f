import ByteEncoding
import Crypto
import Foundation
import X509

extension TDX {
    /// SHA-256 of the DER encoding of the embedded Intel SGX Root CA certificate.
    ///
    /// Source: Intel's published "Intel SGX Root CA" (https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.cer),
    /// the same certificate dcap-qvl ships as TrustedRootCA.der. Subject CN=Intel SGX Root CA,
    /// serial 22650cd65a9d3489f383b49552bf501b392706ac, valid 2018-05-21T10:45:10Z – 2049-12-31T23:59:59Z.
    public static let intelSGXRootCASHA256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

    /// The Intel SGX Root CA, the trust anchor of every DCAP chain (PCK and TCB signing).
    ///
    /// Checked against intelSGXRootCASHA256 when first used: a mismatch is a build defect and
    /// traps rather than trusting an unknown root.
    public static let intelSGXRootCA: Certificate = try! Certificate(derEncoded: intelSGXRootCADER)
    /// The DER encoding of ``intelSGXRootCA``, checked against ``intelSGXRootCASHA256``.
    public static let intelSGXRootCADER: [UInt8] = {
        let der = [UInt8](Data(base64Encoded: intelSGXRootCABase64, options: .ignoreUnknownCharacters)!)
        precondition(Hex.encode(SHA256.hash(data: der)) == intelSGXRootCASHA256, "embedded Intel SGX Root CA does not match its recorded SHA-256")
        return der
    }()

    private static let intelSGXRootCABase64 = """
        MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
        aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
        cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
        BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
        A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
        aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
        AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
        1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
        uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
        MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
        ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
        Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
        KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
        AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
        """
}
