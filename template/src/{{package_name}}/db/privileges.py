"""The runtime role's privileges, table by table: least privilege by declaration.

`migrate` grants exactly these and nothing else; a table missing from
`RUNTIME_GRANTS` gets no privilege at all (deny by default), and
`tests/test_database_roles.py` fails if a migration adds a table that is not
listed here, so nobody forgets to decide.
"""

from __future__ import annotations

from typing import Final

#: table -> privileges granted to the runtime role. Append-only tables get
#: SELECT and INSERT only, so the app can never rewrite history.
RUNTIME_GRANTS: Final[dict[str, tuple[str, ...]]] = {
    "projects": ("SELECT", "INSERT", "UPDATE", "DELETE"),
}

#: Attributes the runtime role must have: it can log in, and nothing more.
RUNTIME_ROLE_ATTRIBUTES: Final = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
