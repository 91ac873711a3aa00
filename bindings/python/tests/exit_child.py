"""Run by test_clean_exit.py in a fresh interpreter: backups and
recoveries through a Python store, notifier and progress listener, then a
backup whose store callback times out and is still running when the
script ends (the interpreter exits with it in flight)."""

import asyncio
import time

import share_backup as sb
from conftest import DictStore, Events, LogNotifier, make, pw


class SlowStore(DictStore):
    def __init__(self):
        super().__init__()
        self.slow = False

    def put_if_absent(self, key, value):
        if self.slow:
            # Longer than the call timeout: the call fails, this thread
            # goes on inside Python while the interpreter exits.
            time.sleep(0.4)
        return super().put_if_absent(key, value)


store, notifier = SlowStore(), LogNotifier()
s = make(
    store=sb.StoreConfig.APP(store=store),
    notifier=sb.NotifierConfig.APP(notifier=notifier),
    call_timeout_ms=100,
    max_retries=0,
)
for i in range(3):
    user = "user%d" % i
    asyncio.run(s.backup(user, b"share %d" % i, configs=pw(), method="password", progress=Events()))
    assert asyncio.run(s.recover(user, configs=pw(), progress=Events())) == b"share %d" % i
store.slow = True
try:
    asyncio.run(s.backup("user0", b"newer", configs=pw(), method="password", progress=Events()))
    raise SystemExit("expected the store's call timeout")
except sb.ShareBackupError as e:
    assert e.kind == sb.ErrorKind.UNAVAILABLE, e.message
print("done")
