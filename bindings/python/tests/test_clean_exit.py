"""A Python process that used the bindings exits with status 0: no
share-backup thread is inside Python while the interpreter finalizes (the
package's atexit hook shuts the runtime down and joins its threads)."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = 30


def test_a_process_that_used_the_bindings_exits_cleanly_every_time():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([HERE] + [p for p in sys.path if p])
    failures = []
    for run in range(RUNS):
        p = subprocess.run(
            [sys.executable, os.path.join(HERE, "exit_child.py")],
            env=env,
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if p.returncode != 0 or p.stdout.strip() != "done":
            failures.append((run, p.returncode, p.stdout[-200:], p.stderr[-500:]))
    assert failures == [], failures
