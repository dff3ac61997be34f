// The tss2 (tpm2-tss) C API for Swift: the system headers, plus small inline helpers that fill
// C structures whose fixed arrays Swift imports as tuples. No TPM logic lives here.
#ifndef LICEN_CTSS2_SHIM_H
#define LICEN_CTSS2_SHIM_H
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

/// An ECC P-256 restricted signing key template (ECDSA-SHA256), the attestation key (AK).
static inline void licen_ecc_ak_template(TPM2B_PUBLIC *p) {
    memset(p, 0, sizeof *p);
    p->publicArea.type = TPM2_ALG_ECC;
    p->publicArea.nameAlg = TPM2_ALG_SHA256;
    p->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                                     TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    p->publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p->publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    p->publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p->publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p->publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

/// A selection of the PCRs in `mask` (bit i = PCR i, 0…23) of one bank.
static inline void licen_pcr_selection(TPML_PCR_SELECTION *s, TPMI_ALG_HASH bank, uint32_t mask) {
    memset(s, 0, sizeof *s);
    s->count = 1;
    s->pcrSelections[0].hash = bank;
    s->pcrSelections[0].sizeofSelect = 3;
    s->pcrSelections[0].pcrSelect[0] = mask & 0xff;
    s->pcrSelections[0].pcrSelect[1] = (mask >> 8) & 0xff;
    s->pcrSelections[0].pcrSelect[2] = (mask >> 16) & 0xff;
}

/// Sets a TPM2B_DATA; returns -1 if `n` exceeds its buffer.
static inline int licen_set_data(TPM2B_DATA *d, const uint8_t *b, size_t n) {
    if (n > sizeof d->buffer) return -1;
    d->size = (UINT16)n;
    if (n) memcpy(d->buffer, b, n);
    return 0;
}

/// One SHA-256 digest to extend into a PCR.
static inline void licen_sha256_digest_values(TPML_DIGEST_VALUES *v, const uint8_t digest[32]) {
    memset(v, 0, sizeof *v);
    v->count = 1;
    v->digests[0].hashAlg = TPM2_ALG_SHA256;
    memcpy(v->digests[0].digest.sha256, digest, 32);
}

static inline const uint8_t *licen_attest_bytes(const TPM2B_ATTEST *a, size_t *n) { *n = a->size; return a->attestationData; }
static inline const uint8_t *licen_digest_bytes(const TPM2B_DIGEST *d, size_t *n) { *n = d->size; return d->buffer; }
static inline TSS2_RC licen_rc_initialize(void) { return TPM2_RC_INITIALIZE; }
static inline UINT32 licen_digest_count(const TPML_DIGEST *l) { return l->count; }
static inline const TPM2B_DIGEST *licen_digest_at(const TPML_DIGEST *l, UINT32 i) { return &l->digests[i]; }
#endif
