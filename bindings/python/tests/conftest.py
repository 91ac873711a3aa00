"""Shared helpers of the Python suite: real components (the memory and
file stores, the framework's recording notifier, the fake Drive), and
small Python implementations of the foreign traits."""

import os
import threading

import pytest

import share_backup as sb

PASSWORD = "correct horse battery staple"
# The cheapest KDF costs the password provider accepts for new backups:
# the tests pin behaviour, the benchmarks measure speed.
CHEAP_KDF = {"space_cost": "64", "time_cost": "1", "insecure_below_cost_floor": "true"}


def err(kind, message="failed in the app"):
    """The exception an app callback throws, with a kind."""
    return sb.ShareBackupError.Failed(
        kind=kind,
        message=message,
        retryable=kind in (sb.ErrorKind.UNAVAILABLE, sb.ErrorKind.RATE_LIMITED),
        method=None,
        violations=[],
        required_work=None,
        max_work=None,
    )


def make(store=None, notifier=None, **kw):
    settings = kw.pop("provider_settings", {"password": dict(CHEAP_KDF)})
    return sb.ShareBackup(
        sb.ShareBackupConfig(
            store=store or sb.StoreConfig.URL(url="memory://", options={}),
            notifier=notifier or sb.NotifierConfig.RECORDING(),
            provider_settings=settings,
            **kw,
        )
    )


def pw(password=PASSWORD):
    return sb.CallConfigs(password=password)


class Events(sb.ProgressListener):
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def on_progress(self, status, done):
        with self.lock:
            self.events.append((status, done))


class DictStore(sb.KeyValueStore):
    """The app's store in 30 lines: a dict, create-only puts, a log."""

    def __init__(self, log=None):
        self.data = {}
        self.lock = threading.Lock()
        self.log = log if log is not None else []

    def put_if_absent(self, key, value):
        with self.lock:
            if key in self.data:
                return False
            self.data[key] = bytes(value)
            self.log.append(("put_if_absent", key, bytes(value)))
            return True

    def put(self, key, value):
        with self.lock:
            self.data[key] = bytes(value)
            self.log.append(("put", key, bytes(value)))

    def get(self, key):
        with self.lock:
            return self.data.get(key)

    def list(self, prefix):
        with self.lock:
            return [k for k in self.data if k.startswith(prefix)]

    def delete(self, key):
        with self.lock:
            self.data.pop(key, None)
            self.log.append(("delete", key, b""))


class LogNotifier(sb.Notifier):
    def __init__(self, log=None):
        self.log = log if log is not None else []
        self.calls = []

    def stored_client_backup_share(self, user_id, method, backup_id, success):
        self.calls.append((user_id, method, backup_id, success))
        self.log.append(("notify", backup_id, success))


def acknowledged(calls, success=True):
    return [c for c in calls if c[3] is success]


@pytest.fixture
def drive():
    d = sb.FakeDrive.start()
    yield d


@pytest.fixture(autouse=True)
def _no_proxy():
    # The fake Drive and Portal test servers are on loopback only.
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    yield
