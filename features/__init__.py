"""Feature slices: each folder owns its routes, schemas, SQL, migrations and tests."""
