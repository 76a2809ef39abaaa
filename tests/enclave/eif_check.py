#!/usr/bin/python3
"""tests/enclave/eif_check.py: an independent reading of an EIF file and of
its PCRs (hashlib, zlib, struct; cryptography for the signing certificate's
DER), written from aws-nitro-enclaves-image-format's layout, not from ward's
C code. Prints the measurements as JSON; exits 1 on any layout error.

usage: eif_check.py EIF KERNEL CMDLINE RAMDISK... [--cert PEM]"""
import hashlib, json, struct, sys, zlib

def pcr(data):
    # nitro-cli: extend a zeroed SHA-384 PCR once with SHA-384(data)
    return hashlib.sha384(b"\0" * 48 + hashlib.sha384(data).digest()).hexdigest()

def check_signature(sect, pem, cert, pcr0):
    # serde_cbor's Vec<PcrSignature>: Vec<u8> fields are arrays of ints.
    import cbor2
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    sigs = cbor2.loads(sect)
    assert isinstance(sigs, list) and len(sigs) == 1
    assert bytes(sigs[0]["signing_certificate"]) == pem
    prot, unprot, payload, sig = cbor2.loads(bytes(sigs[0]["signature"]))
    assert cbor2.loads(prot) == {1: -35} and unprot == {}
    info = cbor2.loads(payload)
    assert info["register_index"] == 0 and bytes(info["register_value"]).hex() == pcr0
    tbs = cbor2.dumps(["Signature1", prot, b"", payload])
    der = encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
    cert.public_key().verify(der, tbs, ec.ECDSA(hashes.SHA384()))

def main():
    args = sys.argv[1:]
    cert = None
    if "--cert" in args:
        i = args.index("--cert")
        cert = args[i + 1]
        del args[i:i + 2]
    eif, kernel, cmdline, ramdisks = args[0], args[1], args[2].encode(), args[3:]
    k = open(kernel, "rb").read()
    rds = [open(r, "rb").read() for r in ramdisks]
    img = open(eif, "rb").read()

    # Header: magic, version, flags, default mem, cpus, reserved, count,
    # 32 offsets, 32 sizes, unused, crc32; big-endian, 548 bytes.
    hdr = struct.unpack(">4sHHQQHH32Q32QII", img[:548])
    magic, version, flags, mem, cpus, reserved, n = hdr[:7]
    offs, sizes, unused, crc = hdr[7:39], hdr[39:71], hdr[71], hdr[72]
    assert struct.calcsize(">4sHHQQHH32Q32QII") == 548
    assert magic == b".eif" and version == 4 and flags == 0, (magic, version, flags)
    assert mem == 1 << 30 and cpus == 2 and reserved == 0 and unused == 0
    assert crc == zlib.crc32(img[:544] + img[548:]), "CRC32 mismatch"
    want = [(1, k), (2, cmdline), (5, None)] + [(3, r) for r in rds]
    if cert:
        want.append((4, None))
    assert n == len(want), (n, len(want))
    pos = 548
    for i, (t, data) in enumerate(want):
        st, sf, ss = struct.unpack(">HHQ", img[pos:pos + 12])
        assert offs[i] == pos and sizes[i] == ss and st == t and sf == 0, (i, st, offs[i], pos)
        body = img[pos + 12:pos + 12 + ss]
        if data is not None:
            assert body == data, "section %d content" % i
        if t == 5:
            json.loads(body)      # the metadata section is JSON
        if t == 4:
            sigsect = body
        pos += 12 + ss
    assert pos == len(img), "trailing bytes"
    assert all(o == 0 for o in offs[n:]) and all(s == 0 for s in sizes[n:])

    out = {"HashAlgorithm": "Sha384 { ... }",
           "PCR0": pcr(k + cmdline + b"".join(rds)),
           "PCR1": pcr(k + cmdline + rds[0]),
           "PCR2": pcr(b"".join(rds[1:]))}
    if cert:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding
        c = x509.load_pem_x509_certificate(open(cert, "rb").read())
        out["PCR8"] = pcr(c.public_bytes(Encoding.DER))
        check_signature(sigsect, open(cert, "rb").read(), c, out["PCR0"])
    print(json.dumps({"Measurements": out}, sort_keys=True))

main()
