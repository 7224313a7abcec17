"""Database access: engines, migrations and the runtime role's privileges."""
