"""One Alembic revision per schema version (0001, 0002, ...)."""
