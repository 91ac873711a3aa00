#!/usr/bin/env python3
"""Recomputes providers/password/testdata/vectors.json with an independent
implementation written from the Balloon paper (Boneh, Corrigan-Gibbs,
Schechter 2016, section 3.1 and the Balloon-M variant) and RFC 5869 HKDF,
using only the Python standard library (hashlib, hmac, unicodedata).

Usage: python3 providers/password/testdata/check_vectors.py   (about three seconds)

It checks, for every KDF vector: the raw Balloon-M-SHA-256 output
(`balloon_hex`), the key header with its key-check value (`header_hex`) and
the 64-byte data key (`data_key_hex`); for every envelope vector: that the
key header inside the envelope carries the key-check value the password
derives. If pyca/cryptography is installed it also decrypts each envelope
with AES-SIV and compares the share (optional; skipped otherwise).

Encodings (as balloon-hash 0.4/0.5 implements the paper): integers are
8-byte little-endian u64; Balloon-M thread ids run 1..=p and are appended
after the salt in the first hash and in every index hash; the index is the
SHA-256 output read as a little-endian 256-bit integer mod space_cost; the
threads' outputs are XORed and the result is SHA-256(password, salt, xor).
"""
import base64
import hashlib
import hmac
import json
import os
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DELTA = 3
HKDF_SALT = b"share-backup password kdf v1"
INFO_DATA_KEY = b"share-backup password v1 data key"
INFO_KCV = b"share-backup password v1 key check"


def u64(n):
    return n.to_bytes(8, "little")


def h(*parts):
    return hashlib.sha256(b"".join(parts)).digest()


def balloon_thread(pwd, salt, s, t_cost, tid):
    """One Balloon thread (paper, section 3.1) with the Balloon-M thread id."""
    cnt = 0
    buf = [h(u64(cnt), pwd, salt, u64(tid))]
    cnt += 1
    for m in range(1, s):
        buf.append(h(u64(cnt), buf[m - 1]))
        cnt += 1
    for t in range(t_cost):
        for m in range(s):
            buf[m] = h(u64(cnt), buf[m - 1], buf[m])  # buf[-1] is buf[s-1] for m = 0
            cnt += 1
            for i in range(DELTA):
                idx_block = h(u64(t), u64(m), u64(i))
                other = int.from_bytes(h(u64(cnt), salt, u64(tid), idx_block), "little") % s
                cnt += 1
                buf[m] = h(u64(cnt), buf[m], buf[other])
                cnt += 1
    return buf[s - 1]


def balloon_m(pwd, salt, s, t, p):
    x = bytes(32)
    for tid in range(1, p + 1):
        x = bytes(a ^ b for a, b in zip(x, balloon_thread(pwd, salt, s, t, tid)))
    return h(pwd, salt, x)


def hkdf(ikm, salt, info, length):
    """RFC 5869 HKDF-SHA-256."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([i]), hashlib.sha256).digest()
        out += block
        i += 1
    return out[:length]


def normalize(password):
    """RFC 8265 OpaqueString for the vectors' inputs: non-ASCII spaces (Zs) to U+0020, then NFC."""
    mapped = "".join(" " if unicodedata.category(c) == "Zs" else c for c in password)
    return unicodedata.normalize("NFC", mapped).encode("utf-8")


def header_prefix(s, t, p, salt):
    """Key header v1 without its key-check value: version 1, algorithm 1, big-endian costs, salt."""
    return bytes([1, 1]) + s.to_bytes(4, "big") + t.to_bytes(4, "big") + bytes([p, len(salt)]) + salt


def derive(password, salt, s, t, p):
    raw = balloon_m(normalize(password), salt, s, t, p)
    prefix = header_prefix(s, t, p, salt)
    key = hkdf(raw, HKDF_SALT, INFO_DATA_KEY + prefix, 64)
    kcv = hkdf(raw, HKDF_SALT, INFO_KCV + prefix, 16)
    return raw, prefix + kcv, key


def b64d(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def field(x):
    if x is None:
        return b"\x00"
    b = x.encode()
    return b"\x01" + len(b).to_bytes(2, "big") + b


def main():
    vectors = json.load(open(os.path.join(HERE, "vectors.json"), encoding="utf-8"))
    failures = 0
    for v in vectors["kdf"]:
        salt = bytes.fromhex(v["salt_hex"])
        s, t, p = v["space_cost"], v["time_cost"], v["parallelism"]
        for pw in [v["password"]] + ([v["password_alt"]] if v["password_alt"] else []):
            raw, header, key = derive(pw, salt, s, t, p)
            got = (raw.hex(), header.hex(), key.hex())
            want = (v["balloon_hex"], v["header_hex"], v["data_key_hex"])
            ok = got == want
            failures += not ok
            print("ok  " if ok else "FAIL", f"kdf s={s} t={t} p={p}: {v['comment']}")
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV
    except ImportError:
        AESSIV = None
    for e in vectors["envelopes"]:
        prefix, head, body = e["envelope"].split(".")
        hb = b64d(head)
        mlen = hb[2]
        kh_at = 3 + mlen + 16
        kh = hb[kh_at + 2 : kh_at + 2 + int.from_bytes(hb[kh_at : kh_at + 2], "big")]
        s, t, p, slen = int.from_bytes(kh[2:6], "big"), int.from_bytes(kh[6:10], "big"), kh[10], kh[11]
        salt = kh[12 : 12 + slen]
        _, header, key = derive(e["password"], salt, s, t, p)
        ok = prefix == "sb1" and header == kh
        if ok and AESSIV is not None:
            binding = field(e["user"]) + field(e["custodian"]) + field(e["client"])
            plain = AESSIV(key).decrypt(b64d(body), [b"share-backup envelope v1", hb, binding])
            ok = plain.hex() == e["share_hex"]
        failures += not ok
        checked = "key check + AES-SIV" if AESSIV is not None else "key check (no pyca/cryptography: AES-SIV skipped)"
        print("ok  " if ok else "FAIL", f"envelope ({checked}): {e['comment']}")
    if failures:
        sys.exit(f"{failures} vector(s) disagree")


if __name__ == "__main__":
    main()
