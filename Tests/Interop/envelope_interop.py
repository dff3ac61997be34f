"""An independent implementation of the LICEN key envelope (pyca/cryptography), for the Swift
interoperability test: secp256k1 ECDH (x-coordinate) -> HKDF-SHA256(salt "", info "", 32) ->
AES-256-GCM; envelope = ephemeral compressed pubkey (33) || IV (12) || tag (16) || ciphertext.

  envelope_interop.py seal PUBKEY_HEX PLAINTEXT_HEX   -> envelope hex
  envelope_interop.py open PRIVKEY_HEX ENVELOPE_HEX   -> plaintext hex
"""
import os
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _kdf(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"", info=b"").derive(shared)


def seal(pub: bytes, plaintext: bytes) -> bytes:
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), pub)
    eph = ec.generate_private_key(ec.SECP256K1())
    key = _kdf(eph.exchange(ec.ECDH(), peer))
    iv = os.urandom(12)
    sealed = AESGCM(key).encrypt(iv, plaintext, None)
    eph_pub = eph.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return eph_pub + iv + sealed[-16:] + sealed[:-16]


def open_(priv: bytes, envelope: bytes) -> bytes:
    key = ec.derive_private_key(int.from_bytes(priv, "big"), ec.SECP256K1())
    eph = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), envelope[:33])
    wrap = _kdf(key.exchange(ec.ECDH(), eph))
    return AESGCM(wrap).decrypt(envelope[33:45], envelope[61:] + envelope[45:61], None)


if __name__ == "__main__":
    h = lambda s: bytes.fromhex(s[2:] if s.startswith("0x") else s)
    if sys.argv[1] == "seal":
        print(seal(h(sys.argv[2]), h(sys.argv[3])).hex())
    else:
        print(open_(h(sys.argv[2]), h(sys.argv[3])).hex())
