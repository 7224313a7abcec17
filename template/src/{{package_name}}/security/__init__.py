"""Framework-free security core: identity, sessions, policy, audit, headers.

Nothing in this package may import a web framework; the web adapter
translates its results into HTTP. `tests/test_layering.py` enforces that.
"""
