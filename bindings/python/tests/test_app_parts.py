"""A store, a notifier, a token source and a provider written in Python,
plugged into the framework, in the seed's order."""

import asyncio
import hashlib
import hmac
import os
import threading

import pytest

import share_backup as sb
from conftest import DictStore, LogNotifier, acknowledged, err, make, pw

SHARE = b"\x01\x02 the client key share \xfe"


class PyProvider(sb.BackupProvider):
    """Portal's CUSTOM in Python: random keys in a dict, found by header."""

    def __init__(self):
        self.keys = {}
        self.lock = threading.Lock()
        self.mode = "honest"

    def probe(self, ctx):
        if ctx.configs.get("token") == "revoked":
            raise err(sb.ErrorKind.UNAUTHENTICATED, "the app token is revoked")

    def seal_key(self, ctx):
        if self.mode == "throw":
            raise RuntimeError("the keychain is locked")
        if self.mode == "short":
            return sb.SealedKey(key=b"abc", header=ctx.backup_id.encode())
        key = os.urandom(64)
        with self.lock:
            self.keys[ctx.user_id + "/" + ctx.backup_id] = key
        return sb.SealedKey(key=key, header=ctx.backup_id.encode())

    def open_key(self, header, ctx):
        if self.mode == "wrong":
            return os.urandom(64)
        with self.lock:
            key = self.keys.get(ctx.user_id + "/" + header.decode(errors="replace"))
        if key is None:
            raise err(sb.ErrorKind.NOT_FOUND, "no such key")
        return key

    def delete_key(self, header, ctx):
        with self.lock:
            self.keys.pop(ctx.user_id + "/" + header.decode(errors="replace"), None)


CAPS = sb.ProviderCapabilities(needs_user_secret=False, remote=False, deletes=True, probes=True)


def test_python_store_and_notifier_follow_the_seeds_order():
    log = []
    store, notifier = DictStore(log), LogNotifier(log)
    s = make(store=sb.StoreConfig.APP(store=store), notifier=sb.NotifierConfig.APP(notifier=notifier))
    r = asyncio.run(s.backup("alice", SHARE, configs=pw(), method="password"))
    stored = [i for i, e in enumerate(log) if e[0] != "notify" and e[2].endswith(r.cipher_text.encode())]
    acked = [i for i, e in enumerate(log) if e == ("notify", r.backup_id, True)]
    assert stored and len(acked) == 1
    assert stored[0] < acked[0], log
    assert notifier.calls == [("alice", "password", r.backup_id, True)]
    assert asyncio.run(s.recover("alice", configs=pw())) == SHARE
    assert asyncio.run(s.methods("alice")) == ["password"]


class FailingStore(DictStore):
    def __init__(self, log=None):
        super().__init__(log)
        self.fail = False

    def put_if_absent(self, key, value):
        if self.fail:
            raise err(sb.ErrorKind.UNAVAILABLE, "the exchange API is down")
        return super().put_if_absent(key, value)


def test_a_store_failure_is_acknowledged_false_and_the_previous_backup_stays():
    store, notifier = FailingStore(), LogNotifier()
    s = make(store=sb.StoreConfig.APP(store=store), notifier=sb.NotifierConfig.APP(notifier=notifier), max_retries=0)
    first = asyncio.run(s.backup("bob", SHARE, configs=pw(), method="password"))
    store.fail = True
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("bob", b"a newer share", configs=pw(), method="password"))
    assert e.value.kind == sb.ErrorKind.UNAVAILABLE
    assert acknowledged(notifier.calls) == [("bob", "password", first.backup_id, True)]
    assert len(acknowledged(notifier.calls, False)) == 1
    store.fail = False
    assert asyncio.run(s.recover("bob", configs=pw())) == SHARE


class KindStore(DictStore):
    """Throws a chosen ShareBackupError on every write while `error` is set."""

    def __init__(self):
        super().__init__()
        self.error = None

    def put_if_absent(self, key, value):
        if self.error is not None:
            raise self.error
        return super().put_if_absent(key, value)

    def put(self, key, value):
        if self.error is not None:
            raise self.error
        return super().put(key, value)


@pytest.mark.parametrize(
    "kind", [sb.ErrorKind.PERMISSION_DENIED, sb.ErrorKind.NOT_FOUND, sb.ErrorKind.INTEGRITY]
)
def test_the_kind_a_python_store_raises_reaches_the_caller_and_nothing_is_lost(kind):
    store, notifier = KindStore(), LogNotifier()
    s = make(store=sb.StoreConfig.APP(store=store), notifier=sb.NotifierConfig.APP(notifier=notifier), max_retries=0)
    first = asyncio.run(s.backup("dora", SHARE, configs=pw(), method="password"))
    store.error = err(kind, "the exchange API refused the write")
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("dora", b"a newer share", configs=pw(), method="password"))
    assert e.value.kind == kind, e.value.message
    assert e.value.retryable is False
    assert "the exchange API refused the write" in e.value.message
    assert acknowledged(notifier.calls) == [("dora", "password", first.backup_id, True)]
    assert notifier.calls[-1][3] is False
    store.error = None
    assert asyncio.run(s.recover("dora", configs=pw())) == SHARE


def test_store_conformance_passes_on_a_python_store():
    report = asyncio.run(sb.run_store_conformance(DictStore()))
    failed = [(c.name, c.detail) for c in report.cases if c.outcome == sb.CaseOutcome.FAILED]
    assert report.passed, failed
    assert len(report.cases) > 3


def test_python_provider_passes_the_conformance_suite():
    report = asyncio.run(sb.run_provider_conformance("pycustom", CAPS, PyProvider(), {"token": "ok"}))
    failed = [(c.name, c.detail) for c in report.cases if c.outcome == sb.CaseOutcome.FAILED]
    assert report.passed, failed
    assert any(c.outcome == sb.CaseOutcome.PASSED for c in report.cases)


def test_a_broken_python_provider_fails_the_conformance_suite():
    p = PyProvider()
    p.mode = "wrong"
    report = asyncio.run(sb.run_provider_conformance("pybroken", CAPS, p, {}))
    assert not report.passed


def test_a_provider_without_a_user_secret_shows_the_cases_that_do_not_apply_as_skipped():
    report = asyncio.run(sb.run_provider_conformance("pycustom", CAPS, PyProvider(), {"token": "ok"}))
    outcome = {c.name: c for c in report.cases}
    assert outcome["wrong_secret"].outcome == sb.CaseOutcome.SKIPPED, outcome["wrong_secret"]
    assert "needs_user_secret" in outcome["wrong_secret"].detail
    assert outcome["registration"].outcome == sb.CaseOutcome.SKIPPED
    assert outcome["registration"].detail


class PinProvider(sb.BackupProvider):
    """A toy provider that needs the user's PIN on every call: random data
    keys kept beside a salted PIN hash; a wrong PIN is WRONG_SECRET."""

    def __init__(self):
        self.keys = {}
        self.lock = threading.Lock()

    @staticmethod
    def pin(ctx):
        pin = ctx.configs.get("pin")
        if not pin:
            raise err(sb.ErrorKind.INVALID_INPUT, "pass the PIN in provider_configs[method]['pin']")
        return pin.encode()

    @staticmethod
    def slot(header, ctx):
        return ctx.user_id + "/" + header.decode(errors="replace")

    def probe(self, ctx):
        self.pin(ctx)

    def seal_key(self, ctx):
        pin, salt, key = self.pin(ctx), os.urandom(16), os.urandom(64)
        digest = hashlib.pbkdf2_hmac("sha256", pin, salt, 1000)
        header = ctx.backup_id.encode()
        with self.lock:
            self.keys.setdefault(self.slot(header, ctx), (salt, digest, key))
        return sb.SealedKey(key=key, header=header)

    def open_key(self, header, ctx):
        pin = self.pin(ctx)
        with self.lock:
            entry = self.keys.get(self.slot(header, ctx))
        if entry is None:
            raise err(sb.ErrorKind.NOT_FOUND, "no key for this backup")
        salt, digest, key = entry
        if not hmac.compare_digest(hashlib.pbkdf2_hmac("sha256", pin, salt, 1000), digest):
            raise err(sb.ErrorKind.WRONG_SECRET, "wrong PIN")
        return key

    def delete_key(self, header, ctx):
        with self.lock:
            self.keys.pop(self.slot(header, ctx), None)


PIN_CAPS = sb.ProviderCapabilities(needs_user_secret=True, remote=False, deletes=True, probes=True)


def test_a_python_provider_that_needs_a_pin_passes_the_conformance_suite_given_a_wrong_pin():
    report = asyncio.run(
        sb.run_provider_conformance(
            "pypin", PIN_CAPS, PinProvider(), {"pin": "right-pin-482915"}, wrong_configs={"pin": "wrong-pin-730264"}
        )
    )
    failed = [(c.name, c.detail) for c in report.cases if c.outcome == sb.CaseOutcome.FAILED]
    assert report.passed, failed
    wrong = next(c for c in report.cases if c.name == "wrong_secret")
    assert wrong.outcome == sb.CaseOutcome.PASSED, wrong


def test_a_provider_that_needs_a_pin_fails_the_wrong_secret_case_without_wrong_configs():
    report = asyncio.run(sb.run_provider_conformance("pypin", PIN_CAPS, PinProvider(), {"pin": "right-pin-482915"}))
    assert not report.passed
    wrong = next(c for c in report.cases if c.name == "wrong_secret")
    assert wrong.outcome == sb.CaseOutcome.FAILED
    assert "wrong-secret" in wrong.detail


def test_python_provider_registered_at_run_time_backs_up_and_recovers():
    s = make()
    s.register_provider("pycustom", CAPS, PyProvider())
    assert next(p for p in s.providers() if p.id == "pycustom").registered_by_app
    cfg = sb.CallConfigs(provider_configs={"pycustom": {"token": "ok"}})
    r = asyncio.run(s.backup("carol", SHARE, configs=cfg, method="pycustom"))
    assert r.method == "pycustom"
    assert asyncio.run(s.recover("carol", configs=cfg)) == SHARE
    h = asyncio.run(s.verify("carol", "pycustom", configs=cfg))
    assert h.key_checked
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.probe("carol", configs=sb.CallConfigs(provider_configs={"pycustom": {"token": "revoked"}}), method="pycustom"))
    assert e.value.kind == sb.ErrorKind.UNAUTHENTICATED


class PyTokens(sb.GoogleTokenSource):
    def __init__(self, token):
        self.token = token
        self.asked = 0

    def access_token(self, scopes):
        self.asked += 1
        assert any("drive" in s for s in scopes)
        return self.token

    def refresh_token(self, scopes):
        raise err(sb.ErrorKind.UNAUTHENTICATED, "sign in again")


def test_drive_backup_on_the_fake_drive_with_a_python_token_source(drive):
    s = make(provider_settings={"gdrive": {"endpoint": drive.endpoint(), "max_retries": "0"}})
    tokens = PyTokens("fake-drive-token")
    cfg = sb.CallConfigs(google_token_source=tokens)
    r = asyncio.run(s.backup("dana", SHARE, configs=cfg))
    assert r.method == "gdrive"
    assert tokens.asked >= 1
    assert drive.file_count() >= 1
    assert asyncio.run(s.recover("dana", configs=sb.CallConfigs(google_token_source=tokens))) == SHARE
    assert asyncio.run(s.verify("dana", "gdrive", configs=cfg)).key_checked


def test_a_refused_google_token_raises_unauthenticated(drive):
    s = make(provider_settings={"gdrive": {"endpoint": drive.endpoint(), "max_retries": "0"}})
    drive.revoke_token("fake-drive-token")
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("ed", SHARE, configs=sb.CallConfigs(google_token_source=PyTokens("fake-drive-token"))))
    assert e.value.kind == sb.ErrorKind.UNAUTHENTICATED
    assert all(not n.success for n in s.notifications())
