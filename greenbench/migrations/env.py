"""Alembic's environment: migrate the connection greenbench.store.migrate hands over, inside
the transaction it has open (which holds the store's write lock)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
