"""The database: URLs and engines, the schema (keys, audit, model registry), its versioned
migrations and the routing table the gateway reads (:mod:`prai.db.routes`), on SQLite
(embedded default) or PostgreSQL (several gateway processes). Gateway and lifecycle both
use it; neither imports the other's internals."""
