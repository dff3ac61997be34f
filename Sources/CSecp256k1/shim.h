// libsecp256k1 (Debian libsecp256k1-dev): keys, ECDSA with public-key recovery, ECDH.
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <secp256k1_ecdh.h>

// ECDH "hash" that returns the shared point's x-coordinate unhashed (32 bytes), as the ECIES
// envelope of the LICEN web app uses it (eciesjs: shared secret = x-coordinate).
static inline int licen_ecdh_x_only(unsigned char *output, const unsigned char *x32, const unsigned char *y32, void *data) {
    (void)y32; (void)data;
    for (int i = 0; i < 32; i++) output[i] = x32[i];
    return 1;
}
