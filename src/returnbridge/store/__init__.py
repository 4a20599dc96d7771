"""Storage: SQLAlchemy Core tables, Alembic migrations and the SQL unit of work."""
