"""Alembic environment of the campaign store: always run on a connection handed over by
`store.db` (`config.attributes["connection"]`), inside the command's transaction."""

from __future__ import annotations

from alembic import context

from affectation.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the store's migrations run through affectation.store.db.upgrade")
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table by copying it ("move and copy"): the only portable way.
    render_as_batch=True,
    compare_type=True,
)
context.run_migrations()
