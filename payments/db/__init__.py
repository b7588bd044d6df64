"""PostgreSQL access: table definitions (mirroring schema.sql) and the SQL per table."""
