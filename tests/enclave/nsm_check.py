#!/usr/bin/python3
"""tests/enclave/nsm_check.py: every NSM request, in the externally tagged
CBOR form aws-nitro-enclaves-nsm-api sends (encoded here by cbor2, not by
ward), against src/lib/nsm.c through nsm_tool, including the error cases;
the Attestation response's document is checked by attest_check.py.

usage: nsm_check.py NSM_TOOL ATTEST_CHECK TMPDIR"""
import datetime, hashlib, struct, subprocess, sys
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

tool, checker, tmp = sys.argv[1:4]

def cert(cn, key, issuer=None, ikey=None, ca=False):
    now = datetime.datetime.utcnow()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    b = (x509.CertificateBuilder().subject_name(name)
         .issuer_name(issuer.subject if issuer else name).public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(hours=3))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    return b.sign(ikey or key, hashes.SHA384())

keys = [ec.generate_private_key(ec.SECP384R1()) for _ in range(3)]
root = cert("ward attestation root", keys[0], ca=True)
inter = cert("ward attestation intermediate", keys[1], root, keys[0], ca=True)
leaf = cert("ward host attestation key", keys[2], inter, keys[1])
der = serialization.Encoding.DER
open(f"{tmp}/root.der", "wb").write(root.public_bytes(der))
open(f"{tmp}/root.pem", "wb").write(root.public_bytes(serialization.Encoding.PEM))
open(f"{tmp}/inter.der", "wb").write(inter.public_bytes(der))
open(f"{tmp}/leaf.der", "wb").write(leaf.public_bytes(der))
open(f"{tmp}/leaf.key", "wb").write(keys[2].private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

p = subprocess.Popen([tool, "i-ward-enc0001", f"{tmp}/leaf.key", f"{tmp}/leaf.der",
                      f"{tmp}/root.der", f"{tmp}/inter.der"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

def call_raw(b):
    p.stdin.write(struct.pack(">I", len(b)) + b)
    p.stdin.flush()
    n = struct.unpack(">I", p.stdout.read(4))[0]
    return cbor2.loads(p.stdout.read(n))

def call(req):
    return call_raw(cbor2.dumps(req))

def expect(got, want, what):
    if got != want:
        print(f"FAIL: {what}: got {got!r}, want {want!r}")
        sys.exit(1)

def err(code):
    return {"Error": code}

d = call("DescribeNSM")["DescribeNSM"]
expect((d["version_major"], d["max_pcrs"], d["digest"], d["module_id"], d["locked_pcrs"]),
       (1, 32, "SHA384", "i-ward-enc0001", list(range(16))), "DescribeNSM: PCR0..15 read-only from the start")

expect(call({"DescribePCR": {"index": 0}}), {"DescribePCR": {"lock": True, "data": bytes([0x10]) * 48}}, "DescribePCR 0")
expect(call({"DescribePCR": {"index": 16}}), {"DescribePCR": {"lock": False, "data": bytes(48)}}, "DescribePCR 16")
expect(call({"DescribePCR": {"index": 32}}), err("InvalidIndex"), "DescribePCR 32")

pcr16 = hashlib.sha384(bytes(48) + b"abc").digest()
expect(call({"ExtendPCR": {"index": 16, "data": b"abc"}}), {"ExtendPCR": {"data": pcr16}}, "ExtendPCR 16")
pcr16 = hashlib.sha384(pcr16 + b"").digest()
expect(call({"ExtendPCR": {"index": 16, "data": b""}}), {"ExtendPCR": {"data": pcr16}}, "ExtendPCR 16 again")
expect(call({"ExtendPCR": {"index": 0, "data": b"x"}}), err("ReadOnlyIndex"), "ExtendPCR locked")
# A reserved PCR the host left zero (5) is just as read-only.
expect(call({"ExtendPCR": {"index": 5, "data": b"x"}}), err("ReadOnlyIndex"), "ExtendPCR 5 (reserved)")
expect(call({"DescribePCR": {"index": 5}}), {"DescribePCR": {"lock": True, "data": bytes(48)}}, "DescribePCR 5")
expect(call({"ExtendPCR": {"index": 40, "data": b"x"}}), err("InvalidIndex"), "ExtendPCR 40")
expect(call({"ExtendPCR": {"index": 17, "data": b"x" * 1025}}), err("InputTooLarge"), "ExtendPCR 1025 bytes")

expect(call({"LockPCR": {"index": 16}}), "LockPCR", "LockPCR 16")
expect(call({"ExtendPCR": {"index": 16, "data": b"x"}}), err("ReadOnlyIndex"), "ExtendPCR after lock")
expect(call({"DescribePCR": {"index": 16}}), {"DescribePCR": {"lock": True, "data": pcr16}}, "locked PCR 16")
expect(call({"LockPCR": {"index": 32}}), err("InvalidIndex"), "LockPCR 32")
expect(call({"LockPCRs": {"range": 33}}), err("InvalidIndex"), "LockPCRs 33")
expect(call({"LockPCRs": {"range": 12}}), "LockPCRs", "LockPCRs 12")
expect(call("DescribeNSM")["DescribeNSM"]["locked_pcrs"], list(range(17)), "locked after LockPCRs")

r1, r2 = call("GetRandom")["GetRandom"]["random"], call("GetRandom")["GetRandom"]["random"]
expect((len(r1), r1 != r2), (256, True), "GetRandom")

nonce = bytes(range(32))
a = call({"Attestation": {"user_data": b"hello", "nonce": nonce, "public_key": None}})
doc = a["Attestation"]["document"]
open(f"{tmp}/nsm_doc.cbor", "wb").write(doc)
subprocess.run([sys.executable, checker, f"{tmp}/nsm_doc.cbor", f"{tmp}/root.pem", nonce.hex()], check=True)
payload = cbor2.loads(cbor2.loads(doc)[2])
expect((sorted(payload["pcrs"]), payload["pcrs"][0], payload["user_data"], payload["public_key"]),
       (list(range(16)), bytes([0x10]) * 48, b"hello", None), "document fields")
# PCR16 was extended, but documents carry PCR0..15 as AWS's do.
expect(call({"Attestation": {}})["Attestation"]["document"][:1], b"\x84", "Attestation without options")
expect(call({"Attestation": {"user_data": b"u" * 513}}), err("InputTooLarge"), "user_data 513 bytes")
expect(call({"Attestation": {"public_key": b""}}), err("InvalidArgument"), "empty public_key")

for bad in [b"", b"\xff\x00", cbor2.dumps("Bogus"), cbor2.dumps({"DescribePCR": {"index": 0, "x": 1}}),
            cbor2.dumps({"DescribePCR": {}}), cbor2.dumps({"ExtendPCR": {"index": 1}}),
            cbor2.dumps({"DescribePCR": {"index": -1}}), cbor2.dumps({"DescribePCR": {"index": 0}}) + b"\x00",
            cbor2.dumps({"LockPCR": {"index": 70000}})]:
    expect(call_raw(bad), err("InvalidArgument"), f"malformed request {bad.hex()}")
expect(call_raw(cbor2.dumps({"ExtendPCR": {"index": 17, "data": b"x" * 5000}})), err("InputTooLarge"), "request over 4 KiB")
p.stdin.close()
expect(p.wait(), 0, "nsm_tool exit")
print("ok - every NSM request and error, externally tagged CBOR from cbor2")
