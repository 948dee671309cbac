"""The store's schema migrations (Alembic), one set for SQLite and PostgreSQL.

greenbench.store.migrate runs them; each step in versions/ takes the schema from one version to
the next. Append steps; never edit a released one.
"""
