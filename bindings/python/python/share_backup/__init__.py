"""share-backup: back up the client key share of an MPC wallet through
pluggable providers (Python bindings; the API is the generated
``share_backup_ffi`` module, re-exported here).

At interpreter exit, ``shutdown()`` stops share-backup's runtime and joins
its threads (waiting up to 5 s for app callbacks still running) before the
interpreter finalizes, so no share-backup thread is inside Python then.
"""

import atexit as _atexit

from . import share_backup_ffi as _ffi
from .share_backup_ffi import *  # noqa: F401,F403

# The wheel (maturin, module-name share_backup.share_backup_ffi) nests the
# generated module in a package of the same name; the test layout of
# scripts/ci/bindings-python.sh has it flat. Both export the same names.
_generated = getattr(_ffi, "share_backup_ffi", _ffi)
__all__ = list(_generated.__all__)
_shutdown = _generated.shutdown

_atexit.register(_shutdown)
