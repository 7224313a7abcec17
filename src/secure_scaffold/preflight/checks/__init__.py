"""The built-in checks; importing this package registers them all.

One module per family. A check reads the project (files, answers, config)
and, where a well-kept tool exists for the job, runs that tool instead of
re-implementing it.
"""

from . import (
    ai,
    authz,
    billing,
    compliance,
    data,
    governance,
    hygiene,
    identity,
    infra,
    layout,
    monitoring,
    operations,
    profile,
    runtime,
    sessions,
    tenancy,
    workflows,
)

__all__ = [
    "ai",
    "authz",
    "billing",
    "compliance",
    "data",
    "governance",
    "hygiene",
    "identity",
    "infra",
    "layout",
    "monitoring",
    "operations",
    "profile",
    "runtime",
    "sessions",
    "tenancy",
    "workflows",
]
