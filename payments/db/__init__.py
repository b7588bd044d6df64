"""PostgreSQL access: table definitions (mirroring schema.sql) and the SQL per table.

One style for every store: a class on a connection (`SqlRepository`, `SqlRefunds`,
`SqlIdempotencyStore`, `SqlOutbox`, `SqlListing`, `SqlStats`, `SqlApiKeys`), built on the
connection of the transaction it works in (the unit of work's, or one a daemon opened), its
SQL in its methods. Module-level functions are only SQL pieces that several stores share or
that tests read the plan of (`outbox_store.in_flight`, `outbox_store.purge_statement`, the
row mappers). The fakes (`memory.py`) implement the ports (`payments.ports`), not these.
"""
