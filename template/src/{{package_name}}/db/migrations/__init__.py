"""Alembic migrations of the application schema."""
