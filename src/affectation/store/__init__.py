"""The campaign store: placements, agreements and their signatures in a database (SQLite by
default, PostgreSQL for a team), behind one module of queries (`store.queries`) that the
command line and a web app both call. See docs/store.md."""
