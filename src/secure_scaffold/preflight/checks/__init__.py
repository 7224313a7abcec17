"""The built-in checks; importing this package registers them all.

One module per family. A check reads the project (files, answers, config)
and, where a well-kept tool exists for the job, runs that tool instead of
re-implementing it.
"""

from . import authz, hygiene, identity, layout, profile, runtime, workflows

__all__ = ["authz", "hygiene", "identity", "layout", "profile", "runtime", "workflows"]
