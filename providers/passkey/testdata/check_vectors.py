#!/usr/bin/env python3
"""Independent check of vectors.json with Python's standard library only:
the WebAuthn PRF salt, the hmac-secret PRF output, HKDF's info and the
wrapping key (AES-SIV is not in the standard library: the Rust test checks
the wrapping). Run: python3 providers/passkey/testdata/check_vectors.py"""
import hashlib, hmac, json, os, struct

def hkdf(salt, ikm, info, n):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out, i = out + t, i + 1
    return out[:n]

def opt(s):
    return b"\x00" if s is None else b"\x01" + struct.pack(">H", len(s.encode())) + s.encode()

vectors = json.load(open(os.path.join(os.path.dirname(__file__), "vectors.json")))
for v in vectors:
    rp = v["rp_id"].encode()
    binding = opt(v["user"]) + opt(v["custodian"]) + opt(v["client"])
    for c in v["credentials"]:
        cid, inp = bytes.fromhex(c["credential_id"]), bytes.fromhex(c["prf_input"])
        salt = hashlib.sha256(b"WebAuthn PRF\x00" + inp).digest()
        assert salt.hex() == c["hmac_secret_salt"], v["name"]
        out = hmac.new(bytes.fromhex(c["cred_random"]), salt, hashlib.sha256).digest()
        assert out.hex() == c["prf_output"], v["name"]
        info = (b"share-backup/passkey/v1 wrapping key\x00" + bytes([len(rp)]) + rp + struct.pack(">H", len(cid)) + cid
                + inp + bytes.fromhex(v["backup_id"]) + binding)
        assert info.hex() == c["hkdf_info"], v["name"]
        assert hkdf(b"share-backup/passkey/v1", out, info, 64).hex() == c["wrapping_key"], v["name"]
print(f"{len(vectors)} vectors OK")
