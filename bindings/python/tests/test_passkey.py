"""The passkey method through the bindings: a software PRF authenticator
written here in Python (CTAP2 hmac-secret behind WebAuthn's salt hashing,
as providers/passkey/SPEC.md defines it) drives backup and recovery."""

import asyncio
import hashlib
import hmac
import json
import os
import pathlib

import pytest

import share_backup as sb
from conftest import err, make

SHARE = b"client key share of a passkey user"
RP = "wallet.example.com"
VECTORS = pathlib.Path(__file__).resolve().parents[3] / "providers" / "passkey" / "testdata" / "vectors.json"


def prf(cred_random, prf_input):
    """What a platform returns as prf.results.first: the input hashed into
    the hmac-secret salt, then HMAC-SHA-256 under the credential's secret."""
    salt = hashlib.sha256(b"WebAuthn PRF" + b"\x00" + bytes(prf_input)).digest()
    return hmac.new(cred_random, salt, hashlib.sha256).digest()


class SoftPasskeys(sb.PasskeyAuthenticator):
    """A software authenticator and WebAuthn client: credentials with a
    random CredRandom each; answers with the first allowed one it holds."""

    def __init__(self, n=1, mode="normal"):
        self.creds = {os.urandom(16): os.urandom(32) for _ in range(n)}
        self.mode = mode
        self.requests = []

    def ids(self):
        return list(self.creds)

    def only(self, cid):
        """The same device holding only credential `cid` (a synced copy)."""
        other = SoftPasskeys(0, self.mode)
        other.creds = {cid: self.creds[cid]}
        return other

    def evaluate(self, request):
        self.requests.append(request)
        if self.mode == "cancel":
            raise err(sb.ErrorKind.CANCELLED, "the user dismissed the passkey prompt")
        if self.mode == "rogue":
            # Ignores allowCredentials and answers with its own passkey.
            cid, secret = next(iter(self.creds.items()))
            return sb.PasskeyAssertion(credential_id=cid, prf_output=prf(secret, os.urandom(32)))
        for c in request.credentials:
            secret = self.creds.get(bytes(c.credential_id))
            if secret is None:
                continue
            if self.mode == "no_prf":
                raise err(sb.ErrorKind.UNSUPPORTED, "prf.results absent")
            return sb.PasskeyAssertion(credential_id=c.credential_id, prf_output=prf(secret, c.prf_input))
        raise err(sb.ErrorKind.NOT_FOUND, "no allowed passkey on this device")


def pk(auth, enroll=None):
    return sb.CallConfigs(passkey=sb.PasskeyCallConfig(authenticator=auth, enroll_credential_ids=enroll or []))


def service(**settings):
    return make(provider_settings={"passkey": sb.passkey_settings(RP, **settings)})


def test_python_prf_matches_the_specs_vectors():
    vectors = json.loads(VECTORS.read_text())
    checked = 0
    for v in vectors:
        for c in v["credentials"]:
            out = prf(bytes.fromhex(c["cred_random"]), bytes.fromhex(c["prf_input"]))
            assert out.hex() == c["prf_output"], v["name"]
            checked += 1
    assert checked >= 1


def test_passkey_is_linked_and_selectable_with_its_settings():
    s = service()
    info = {p.id: p for p in s.providers()}
    assert "passkey" in info
    assert {"rp_id", "credential_ids"} <= {x.key for x in info["passkey"].settings}


def test_two_passkeys_back_up_and_either_one_recovers():
    auth = SoftPasskeys(2)
    a, b = auth.ids()
    s = service()
    receipt = asyncio.run(s.backup("pia", SHARE, configs=pk(auth, [a, b]), method="passkey"))
    assert receipt.method == "passkey"
    # Enrolment asks once per credential, each with its own fresh input.
    enrol = [r for r in auth.requests if r.purpose == sb.PasskeyPurpose.ENROLL]
    assert [bytes(r.credentials[0].credential_id) for r in enrol] == [a, b]
    assert all(r.rp_id == RP and len(r.credentials[0].prf_input) == 32 for r in enrol)
    for cid in (a, b):
        device = auth.only(cid)
        assert asyncio.run(s.recover("pia", configs=pk(device), method="passkey")) == SHARE
        rec = device.requests[-1]
        assert rec.purpose == sb.PasskeyPurpose.RECOVER
        assert {bytes(c.credential_id) for c in rec.credentials} == {a, b}
    assert [n.success for n in s.notifications()] == [True]


def test_an_unenrolled_passkey_is_wrong_secret():
    auth = SoftPasskeys(1)
    s = service()
    asyncio.run(s.backup("quinn", SHARE, configs=pk(auth, auth.ids()), method="passkey"))
    stranger = SoftPasskeys(1)
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("quinn", configs=pk(stranger), method="passkey"))
    assert e.value.kind == sb.ErrorKind.WRONG_SECRET
    rogue = SoftPasskeys(1, mode="rogue")
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("quinn", configs=pk(rogue), method="passkey"))
    assert e.value.kind == sb.ErrorKind.WRONG_SECRET
    # The enrolled id with another secret: the output does not unwrap.
    (cid,) = auth.ids()
    impostor = SoftPasskeys(0)
    impostor.creds = {cid: os.urandom(32)}
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("quinn", configs=pk(impostor), method="passkey"))
    assert e.value.kind == sb.ErrorKind.WRONG_SECRET
    assert asyncio.run(s.recover("quinn", configs=pk(auth), method="passkey")) == SHARE


@pytest.mark.parametrize(
    "mode,kind", [("no_prf", sb.ErrorKind.UNSUPPORTED), ("cancel", sb.ErrorKind.CANCELLED)]
)
def test_a_failed_ceremony_keeps_its_kind_and_acknowledges_nothing(mode, kind):
    good = SoftPasskeys(1)
    s = service()
    asyncio.run(s.backup("rita", SHARE, configs=pk(good, good.ids()), method="passkey"))
    bad = good.only(good.ids()[0])
    bad.mode = mode
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("rita", b"a newer share", configs=pk(bad, bad.ids()), method="passkey"))
    assert e.value.kind == kind
    assert e.value.method == "passkey"
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("rita", configs=pk(bad), method="passkey"))
    assert e.value.kind == kind
    # The failed backup was acknowledged false; the previous one stays current.
    assert [n.success for n in s.notifications()] == [True, False]
    assert asyncio.run(s.recover("rita", configs=pk(good), method="passkey")) == SHARE


def test_a_prf_output_of_the_wrong_length_is_refused():
    class Short(SoftPasskeys):
        def evaluate(self, request):
            c = request.credentials[0]
            return sb.PasskeyAssertion(credential_id=c.credential_id, prf_output=b"\x01\x02\x03")

    auth = Short(1)
    s = service()
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("sam", SHARE, configs=pk(auth, auth.ids()), method="passkey"))
    assert "3-byte PRF output" in str(e.value)
    assert [n.success for n in s.notifications()] == [False]


def test_the_settings_restrict_which_passkeys_are_enrolled():
    auth = SoftPasskeys(2)
    a, b = auth.ids()
    s = service(credential_ids=[a])
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("tess", SHARE, configs=pk(auth, [b]), method="passkey"))
    assert e.value.kind == sb.ErrorKind.INVALID_INPUT
    # Empty enrol list: the settings' credential ids.
    asyncio.run(s.backup("tess", SHARE, configs=pk(auth), method="passkey"))
    assert asyncio.run(s.recover("tess", configs=pk(auth.only(a)), method="passkey")) == SHARE


def test_no_prf_output_in_any_repr_str_or_error():
    secret = bytes(range(32))
    a = sb.PasskeyAssertion(credential_id=b"\x01\x02", prf_output=secret)
    c = pk(SoftPasskeys(1), [b"\x09" * 16])
    for o in (a, c, c.passkey):
        for text in (repr(o), str(o)):
            assert secret.hex() not in text and str(list(secret)) not in text and repr(secret) not in text, text
            assert "prf_output=[" not in text
    assert "[REDACTED]" in str(a)

    class Leaky(SoftPasskeys):
        seen = []

        def evaluate(self, request):
            out = super().evaluate(request)
            Leaky.seen.append(bytes(out.prf_output))
            return out

    auth = Leaky(1)
    s = service()
    asyncio.run(s.backup("uma", SHARE, configs=pk(auth, auth.ids()), method="passkey"))
    wrong = SoftPasskeys(0)
    wrong.creds = {auth.ids()[0]: os.urandom(32)}
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("uma", configs=pk(wrong), method="passkey"))
    for out in Leaky.seen:
        for text in (str(e.value), repr(e.value)):
            assert out.hex() not in text and repr(out) not in text


def test_registration_and_request_options_request_prf():
    reg = json.loads(sb.passkey_registration_options_json(RP, "Example Wallet", b"user-1", "alice", b"challenge", [b"\x07" * 16]))
    assert reg["extensions"] == {"prf": {}}
    assert reg["rp"]["id"] == RP
    assert reg["authenticatorSelection"]["userVerification"] == "required"
    assert len(reg["excludeCredentials"]) == 1
    auth = SoftPasskeys(1)
    asyncio.run(service().backup("vic", SHARE, configs=pk(auth, auth.ids()), method="passkey"))
    request = auth.requests[0]
    opts = json.loads(sb.passkey_request_options_json(request, b"challenge"))
    c = request.credentials[0]
    assert opts["rpId"] == RP
    assert opts["allowCredentials"][0]["id"] == c.credential_id_base64url
    first = opts["extensions"]["prf"]["evalByCredential"][c.credential_id_base64url]["first"]
    import base64

    assert base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)) == bytes(c.prf_input)


def test_the_passkey_provider_passes_the_conformance_suite_with_a_python_authenticator():
    auth = SoftPasskeys(1)
    wrong = SoftPasskeys(0)
    wrong.creds = {cid: os.urandom(32) for cid in auth.ids()}
    report = asyncio.run(sb.run_passkey_conformance(RP, auth, wrong, auth.ids()))
    failed = [(c.name, c.detail) for c in report.cases if c.outcome == sb.CaseOutcome.FAILED]
    assert report.passed, failed
    assert any(c.name.startswith("roundtrip") and c.outcome == sb.CaseOutcome.PASSED for c in report.cases)


def test_a_ceremony_hanging_past_the_call_timeout_is_unavailable_and_nothing_is_acknowledged():
    import threading

    gate = threading.Event()

    class Hanging(SoftPasskeys):
        def evaluate(self, request):
            gate.wait(60)  # the user never answers (until the test ends)
            return super().evaluate(request)

    auth = Hanging(1)
    s = make(provider_settings={"passkey": sb.passkey_settings(RP)}, call_timeout_ms=300)
    try:
        with pytest.raises(sb.ShareBackupError) as e:
            asyncio.run(s.backup("walt", SHARE, configs=pk(auth, auth.ids()), method="passkey"))
        assert e.value.kind == sb.ErrorKind.UNAVAILABLE
        assert "did not return within 300 ms" in str(e.value)
        assert [n.success for n in s.notifications()] == [False]
        assert asyncio.run(s.methods("walt")) == []
    finally:
        gate.set()


def test_cancelling_the_task_mid_ceremony_acknowledges_nothing_and_keeps_the_previous_backup():
    import threading

    good = SoftPasskeys(1)
    entered, gate = threading.Event(), threading.Event()

    class Waiting(SoftPasskeys):
        def evaluate(self, request):
            entered.set()
            gate.wait(60)
            return good.evaluate(request)

    s = service()

    async def run():
        first = await s.backup("xena", SHARE, configs=pk(good, good.ids()), method="passkey")
        task = asyncio.ensure_future(s.backup("xena", b"second share", configs=pk(Waiting(0), good.ids()), method="passkey"))
        while not entered.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        gate.set()
        return first

    try:
        first = asyncio.run(run())
    finally:
        gate.set()
    assert [(n.backup_id, n.success) for n in s.notifications() if n.success] == [(first.backup_id, True)]
    assert asyncio.run(s.recover("xena", configs=pk(good), method="passkey")) == SHARE
