#!/usr/bin/env python3
"""Checks testdata/envelope-v1.json with an independent AES-SIV (pyca/cryptography, OpenSSL).

Usage: pip install cryptography && python3 crates/core/testdata/check_vectors.py
"""
import base64
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

HERE = os.path.dirname(os.path.abspath(__file__))


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def field(x):
    if x is None:
        return b"\x00"
    b = x.encode()
    return b"\x01" + len(b).to_bytes(2, "big") + b


vectors = json.load(open(os.path.join(HERE, "envelope-v1.json")))
for t in vectors["valid"]:
    prefix, h, b = t["envelope"].split(".")
    assert prefix == "sb1"
    hb, bb = b64d(h), b64d(b)
    m, kh = t["method"].encode(), bytes.fromhex(t["key_header"])
    expected = bytes([1, 1, len(m)]) + m + bytes.fromhex(t["backup_id"]) + len(kh).to_bytes(2, "big") + kh
    assert hb == expected, t["name"]
    binding = field(t["user"]) + field(t["custodian"]) + field(t["client"])
    plain = AESSIV(bytes.fromhex(t["key"])).decrypt(bb, [b"share-backup envelope v1", hb, binding])
    assert plain.hex() == t["share"], t["name"]
    print("ok", t["name"])

# The integrity vectors are well-formed: only the tag may refuse them.
t0 = vectors["valid"][0]
binding0 = field(t0["user"]) + field(t0["custodian"]) + field(t0["client"])
for t in vectors["invalid"]:
    if t["error"] != "integrity":
        continue
    prefix, h, b = t["envelope"].split(".")
    hb, bb = b64d(h), b64d(b)
    try:
        AESSIV(bytes.fromhex(t0["key"])).decrypt(bb, [b"share-backup envelope v1", hb, binding0])
    except InvalidTag:
        print("ok", t["name"], "(refused)")
    else:
        raise AssertionError(t["name"] + " authenticates")
