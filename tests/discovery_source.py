"""A PostgreSQL source of many shapes for discover and check (tests/integration/test_discover.py):
two schemas, 30+ tables and views, with and without keys, composite keys, timestamp and
integer cursors, a cursor that does not follow the insert order, odd types, names that need
quotes, a name dlt rewrites, and the same table name in both schemas. ANALYZEd, so the
statistics discover reads (pg_class.reltuples, pg_stats.correlation) are there."""

from __future__ import annotations

import uuid

import psycopg2

FILLER_TABLES = 18


def _main_schema(a: str) -> str:
    return f"""
    CREATE TYPE {a}.mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN {a}.money2 AS numeric(10, 2);
    CREATE TABLE {a}.orders (id bigint PRIMARY KEY, customer_id int NOT NULL, amount numeric(12, 2),
        updated_at timestamptz NOT NULL);
    INSERT INTO {a}.orders SELECT g, g % 50, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 minute'
        FROM generate_series(1, 300) g;
    CREATE TABLE {a}.customers (id serial PRIMARY KEY, name text NOT NULL, modified_at timestamp NOT NULL);
    INSERT INTO {a}.customers (name, modified_at)
        SELECT 'c' || g, '2024-01-01'::timestamp + g * interval '1 hour' FROM generate_series(1, 120) g;
    CREATE TABLE {a}.order_lines (order_id bigint, line_no int, qty int NOT NULL, PRIMARY KEY (order_id, line_no));
    INSERT INTO {a}.order_lines SELECT g / 3, g % 3, g FROM generate_series(1, 200) g;
    CREATE TABLE {a}.event_log (id bigint, payload jsonb, created_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO {a}.event_log (id, payload) SELECT g, jsonb_build_object('n', g) FROM generate_series(1, 50) g;
    CREATE TABLE {a}.ledger (id int PRIMARY KEY, change_seq bigint NOT NULL, amount int);
    INSERT INTO {a}.ledger SELECT g, g * 10, g FROM generate_series(1, 150) g;
    CREATE TABLE {a}.shuffled (id int PRIMARY KEY, updated_at timestamp NOT NULL);
    INSERT INTO {a}.shuffled SELECT g, '2024-01-01'::timestamp + ((g * 7919) % 1000) * interval '1 minute'
        FROM generate_series(1, 1000) g;
    CREATE TABLE {a}.nullable_update (id int PRIMARY KEY, updated_at timestamptz);
    INSERT INTO {a}.nullable_update SELECT g, now() FROM generate_series(1, 10) g;
    CREATE TABLE {a}.odd_types (id int PRIMARY KEY, doc json, tags text[], span interval, blob bytea,
        amount numeric, feeling {a}.mood, pt point, price {a}.money2, grid int[]);
    INSERT INTO {a}.odd_types VALUES (1, '{{"a": 1}}', ARRAY['x', 'y'], '1 day', '\\x00ff', 1.5, 'ok', '(1,2)',
        12.34, ARRAY[1, 2]);
    CREATE TABLE {a}."Order Details" (id int PRIMARY KEY);
    CREATE TABLE {a}."CamelCase" (id int PRIMARY KEY, "LastModified" timestamp NOT NULL);
    INSERT INTO {a}."CamelCase" SELECT g, '2024-01-01'::timestamp + g * interval '1 second' FROM generate_series(1, 40) g;
    CREATE TABLE {a}.sales_ (id int PRIMARY KEY, amount int);
    INSERT INTO {a}.sales_ VALUES (1, 10), (2, 20);
    CREATE TABLE {a}.measurements (id int NOT NULL, taken_at timestamp NOT NULL, value float8,
        PRIMARY KEY (id, taken_at)) PARTITION BY RANGE (taken_at);
    CREATE TABLE {a}.measurements_2024 PARTITION OF {a}.measurements
        FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    INSERT INTO {a}.measurements SELECT g, '2024-02-01'::timestamp + g * interval '1 hour', g / 3.0
        FROM generate_series(1, 60) g;
    CREATE VIEW {a}.recent_orders AS SELECT id, amount, updated_at FROM {a}.orders WHERE id > 100;
    CREATE MATERIALIZED VIEW {a}.order_totals AS SELECT customer_id, sum(amount) AS total FROM {a}.orders
        GROUP BY customer_id;
    """


def _filler(a: str) -> str:
    """Tables of plainer shapes: every third with an updated_at that follows the inserts."""
    statements = []
    for i in range(FILLER_TABLES):
        cursor = ", updated_at timestamp NOT NULL" if i % 3 == 0 else ""
        values = ", '2024-01-01'::timestamp + g * interval '1 second'" if i % 3 == 0 else ""
        key = "PRIMARY KEY" if i % 4 != 1 else ""
        statements.append(f"CREATE TABLE {a}.filler_{i:02d} (id int {key}, label text{cursor});"
                          f" INSERT INTO {a}.filler_{i:02d} SELECT g, 'x' || g{values} FROM generate_series(1, 30) g;")
    return "\n".join(statements)


def _second_schema(b: str) -> str:
    return f"""
    CREATE TABLE {b}.orders (order_id int PRIMARY KEY, last_changed timestamptz NOT NULL, total numeric(10, 2));
    INSERT INTO {b}.orders SELECT g, '2024-06-01'::timestamptz + g * interval '1 second', g FROM generate_series(1, 80) g;
    CREATE TABLE {b}.products (sku text PRIMARY KEY, title text);
    INSERT INTO {b}.products SELECT 'sku' || g, 't' || g FROM generate_series(1, 25) g;
    CREATE TABLE {b}."Weird-Name" (id int);
    CREATE VIEW {b}.product_titles AS SELECT title FROM {b}.products;
    """


def create_source(url: str) -> tuple[str, str]:
    """Two fresh schemas (a, b) filled and analysed; returns their names."""
    suffix = uuid.uuid4().hex[:8]
    a, b = f"disc_a_{suffix}", f"disc_b_{suffix}"
    con = psycopg2.connect(url)
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute(f"CREATE SCHEMA {a}; CREATE SCHEMA {b};")
        cur.execute(_main_schema(a))
        cur.execute(_filler(a))
        cur.execute(_second_schema(b))
        cur.execute("ANALYZE")
    con.close()
    return a, b


def drop_source(url: str, *schemas: str) -> None:
    con = psycopg2.connect(url)
    con.autocommit = True
    with con.cursor() as cur:
        for schema in schemas:
            cur.execute(f"DROP SCHEMA {schema} CASCADE")
    con.close()
