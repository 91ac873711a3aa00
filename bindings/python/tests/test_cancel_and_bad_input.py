"""Cancellation and bad input: each a typed error, nothing acknowledged,
nothing lost, the host process alive."""

import asyncio
import ctypes
import threading

import pytest

import share_backup as sb
from conftest import PASSWORD, DictStore, LogNotifier, acknowledged, err, make, pw
from test_app_parts import CAPS, PyProvider

SHARE = b"first share"


class GatedStore(DictStore):
    """Blocks every create-only put while `gate` is closed."""

    def __init__(self):
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def put_if_absent(self, key, value):
        if not self.gate.is_set():
            self.entered.set()
            self.gate.wait(30)
        return super().put_if_absent(key, value)


def test_cancelling_a_backup_acknowledges_nothing_and_keeps_the_previous_one():
    store, notifier = GatedStore(), LogNotifier()
    s = make(store=sb.StoreConfig.APP(store=store), notifier=sb.NotifierConfig.APP(notifier=notifier))

    async def run():
        first = await s.backup("alice", SHARE, configs=pw(), method="password")
        store.gate.clear()
        task = asyncio.ensure_future(s.backup("alice", b"second share", configs=pw(), method="password"))
        while not store.entered.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        store.gate.set()
        return first

    first = asyncio.run(run())
    assert acknowledged(notifier.calls) == [("alice", "password", first.backup_id, True)]
    assert asyncio.run(s.recover("alice", configs=pw())) == SHARE
    # The framework is usable again for the same user.
    asyncio.run(s.backup("alice", b"third share", configs=pw(), method="password"))
    assert asyncio.run(s.recover("alice", configs=pw())) == b"third share"


class LyingStore(DictStore):
    def __init__(self):
        super().__init__()
        self.mode = "honest"
        self.release = threading.Event()

    def get(self, key):
        if self.mode == "wrong":
            return b"these are not the bytes you put"
        if self.mode == "throw":
            raise RuntimeError("socket closed")
        if self.mode == "hang":
            self.release.wait(30)
        return super().get(key)


@pytest.mark.parametrize(
    "mode,kind",
    [
        ("wrong", sb.ErrorKind.INTEGRITY),
        ("throw", sb.ErrorKind.INTERNAL),
        ("hang", sb.ErrorKind.UNAVAILABLE),
    ],
)
def test_a_misbehaving_store_gives_a_typed_error_and_loses_nothing(mode, kind):
    store, notifier = LyingStore(), LogNotifier()
    s = make(
        store=sb.StoreConfig.APP(store=store),
        notifier=sb.NotifierConfig.APP(notifier=notifier),
        call_timeout_ms=300,
        max_retries=0,
    )
    first = asyncio.run(s.backup("bob", SHARE, configs=pw(), method="password"))
    store.mode = mode
    try:
        with pytest.raises(sb.ShareBackupError) as e:
            asyncio.run(s.backup("bob", b"newer", configs=pw(), method="password"))
        assert e.value.kind == kind, e.value.message
        with pytest.raises(sb.ShareBackupError) as e:
            asyncio.run(s.recover("bob", configs=pw()))
        assert e.value.kind == kind, e.value.message
    finally:
        store.release.set()
    assert acknowledged(notifier.calls) == [("bob", "password", first.backup_id, True)]
    store.mode = "honest"
    assert asyncio.run(s.recover("bob", configs=pw())) == SHARE


@pytest.mark.parametrize(
    "mode,kind",
    [("short", sb.ErrorKind.INVALID_INPUT), ("throw", sb.ErrorKind.INTERNAL)],
)
def test_a_misbehaving_provider_backup_gives_a_typed_error_and_loses_nothing(mode, kind):
    s = make()
    p = PyProvider()
    s.register_provider("pycustom", CAPS, p)
    first = asyncio.run(s.backup("carol", SHARE, method="pycustom"))
    p.mode = mode
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("carol", b"newer", method="pycustom"))
    assert e.value.kind == kind
    if mode == "throw":
        assert "keychain is locked" in e.value.message
    assert [(n.backup_id, n.success) for n in s.notifications() if n.success] == [(first.backup_id, True)]
    p.mode = "honest"
    assert asyncio.run(s.recover("carol")) == SHARE


def test_a_provider_returning_the_wrong_key_fails_recovery_with_integrity():
    s = make()
    p = PyProvider()
    s.register_provider("pycustom", CAPS, p)
    asyncio.run(s.backup("dave", SHARE, method="pycustom"))
    p.mode = "wrong"
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.recover("dave"))
    assert e.value.kind == sb.ErrorKind.INTEGRITY
    p.mode = "honest"
    assert asyncio.run(s.recover("dave")) == SHARE


def test_an_empty_user_id_is_invalid_input():
    s = make()
    for call in (
        lambda: s.backup("", SHARE, configs=pw(), method="password"),
        lambda: s.recover("", configs=pw()),
        lambda: s.methods(""),
    ):
        with pytest.raises(sb.ShareBackupError) as e:
            asyncio.run(call())
        assert e.value.kind == sb.ErrorKind.INVALID_INPUT
    assert s.notifications() == []


def test_a_none_user_id_is_a_type_error_before_anything_runs():
    # The generated module checks argument types before calling into Rust:
    # None for a `str` is Python's TypeError naming the expected type (no
    # typed ShareBackupError: the call never reaches share-backup).
    s = make()
    for call in (
        lambda: s.backup(None, SHARE, configs=pw(), method="password"),
        lambda: s.recover(None, configs=pw()),
        lambda: s.methods(None),
        lambda: s.verify(None, "password"),
        lambda: s.probe(None, configs=pw(), method="password"),
    ):
        with pytest.raises(TypeError, match="str"):
            asyncio.run(call())
    assert s.notifications() == []
    asyncio.run(s.backup("gus", SHARE, configs=pw(), method="password"))
    assert asyncio.run(s.recover("gus", configs=pw())) == SHARE


def test_a_bytearray_share_is_refused_before_anything_runs_so_apps_pass_bytes():
    # What the READMEs tell apps: the generated module copies `bytes` only
    # (a bytearray fails in its ctypes copy), so a wipeable bytearray is
    # passed as bytes(ba) and overwritten afterwards.
    s = make()
    ba = bytearray(SHARE)
    with pytest.raises((TypeError, ctypes.ArgumentError)):
        asyncio.run(s.backup("hal", ba, configs=pw(), method="password"))
    assert s.notifications() == []
    asyncio.run(s.backup("hal", bytes(ba), configs=pw(), method="password"))
    ba[:] = bytes(len(ba))
    assert asyncio.run(s.recover("hal", configs=pw())) == SHARE


def test_a_one_mebibyte_password_is_a_policy_violation():
    s = make()
    huge = "x" * (1 << 20)
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("erin", SHARE, configs=pw(huge), method="password"))
    assert e.value.kind == sb.ErrorKind.POLICY_VIOLATION
    assert "too_long" in [v.code for v in e.value.violations]
    assert huge[:64] not in e.value.message
    assert all(not n.success for n in s.notifications())
    check = sb.check_password({}, huge, "erin")
    assert not check.ok


def test_an_unknown_method_and_a_bad_store_url_are_typed():
    s = make()
    with pytest.raises(sb.ShareBackupError) as e:
        asyncio.run(s.backup("fay", SHARE, configs=pw(), method="nosuch"))
    assert e.value.kind == sb.ErrorKind.UNKNOWN_METHOD
    with pytest.raises(sb.ShareBackupError) as e:
        sb.ShareBackup(sb.ShareBackupConfig(store=sb.StoreConfig.URL(url="ftp://x", options={}), notifier=sb.NotifierConfig.RECORDING()))
    assert e.value.kind == sb.ErrorKind.INVALID_INPUT
