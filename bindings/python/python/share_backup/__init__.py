"""share-backup: back up the client key share of an MPC wallet through
pluggable providers (Python bindings; the API is the generated
``share_backup_ffi`` module, re-exported here).

At interpreter exit, ``shutdown()`` stops share-backup's runtime and joins
its threads (waiting up to 5 s for app callbacks still running) before the
interpreter finalizes, so no share-backup thread is inside Python then.
"""

import atexit as _atexit

from .share_backup_ffi import *  # noqa: F401,F403
from .share_backup_ffi import __all__  # noqa: F401
from .share_backup_ffi import shutdown as _shutdown

_atexit.register(_shutdown)
