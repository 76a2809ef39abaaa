#!/usr/bin/python3
"""tests/enclave/attest_check.py: an independent check of an attestation
document with cbor2 and cryptography (not ward's code): COSE_Sign1 layout,
AWS's payload keys and types, every certificate signed by the next one up
from ROOT, and the ES384 signature over the Sig_structure.

usage: attest_check.py DOC ROOT_PEM NONCE_HEX"""
import sys
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

doc = open(sys.argv[1], "rb").read()
root = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
prot, unprot, payload, sig = cbor2.loads(doc)
assert cbor2.loads(prot) == {1: -35}, "protected header"
assert unprot == {} and len(sig) == 96
p = cbor2.loads(payload)
assert list(p) == ["module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle",
                   "public_key", "user_data", "nonce"], list(p)
assert p["digest"] == "SHA384" and isinstance(p["timestamp"], int) and p["module_id"]
assert all(0 <= i < 32 and len(v) == 48 for i, v in p["pcrs"].items())
assert p["nonce"].hex() == sys.argv[3], "nonce"
assert p["cabundle"][0] == root.public_bytes(Encoding.DER), "cabundle[0] is not the root"

chain = [x509.load_der_x509_certificate(c) for c in p["cabundle"]]
chain.append(x509.load_der_x509_certificate(p["certificate"]))
for issuer, cert in zip(chain, chain[1:]):
    assert cert.issuer == issuer.subject
    issuer.public_key().verify(cert.signature, cert.tbs_certificate_bytes,
                               ec.ECDSA(cert.signature_hash_algorithm))
leaf = chain[-1].public_key()
assert isinstance(leaf, ec.EllipticCurvePublicKey) and leaf.curve.name == "secp384r1"
tbs = cbor2.dumps(["Signature1", prot, b"", payload])
der = encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
leaf.verify(der, tbs, ec.ECDSA(hashes.SHA384()))
print("ok")
