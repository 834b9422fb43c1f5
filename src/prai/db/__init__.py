"""The database: URLs and engines, the schema (keys, audit, model registry) and its
migrations, on SQLite (embedded default) or PostgreSQL (several gateway processes).
Gateway and lifecycle both use it; neither imports the other's internals."""
