"""Sources: one module per kind (sql.py for databases), connections.py for credentials."""
