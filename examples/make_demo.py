"""Create the embedded demo: a SQLite source database and a workbook that loads it.

    python -m examples.make_demo [--out demo] [--rows 5000]

The database has a FULL table (customers, with unicode and NULLs) and an INCREMENTAL table
(orders, numeric amounts and an updated_at watermark). Running it again resets both files.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl

JOBS_HEADER = ["job_name", "enabled", "source_type", "connection", "source_schema", "source_table",
               "target_table", "load_type", "watermark_column", "primary_key", "last_watermark",
               "schedule", "depends_on", "tags"]
DEMO_JOBS = [
    ["demo_customers", "Y", "sqlite", "demo", None, "customers", None, "FULL", None, "customer_id", None,
     "daily at 02:00", None, "crm"],
    # orders after customers (a second wave); hourly when the scheduler runs it (--scheduled)
    ["demo_orders", "Y", "sqlite", "demo", None, "orders", None, "INCREMENTAL", "updated_at", "order_id",
     "2020-01-01T00:00:00", "hourly", "demo_customers", "sales"],
    ["demo_products", "N", "sqlite", "demo", None, "products", None, "FULL", None, "product_id", None,
     None, None, None],
    # a REST API job (disabled: this machine may have no internet access)
    ["coingecko_markets", "N", "rest_api", None, None, None, None, "FULL", None, "id", None, None, None, None],
]
API_HEADER = ["job_name", "base_url", "path", "params", "paginator", "page_size", "page_size_param", "page_param"]
API_ENDPOINTS = [
    ["coingecko_markets", "https://api.coingecko.com/api/v3", "coins/markets",
     "vs_currency=usd&order=market_cap_desc", "page_number", 100, "per_page", "page"],
]
NAMES = ["Zoë", "Łukasz", "Søren", "Ana María", "李雷", "Đorđe", "O'Brien", "Ngozi", "Ayşe", "José"]


def make_database(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                                email TEXT, country TEXT, created_at DATETIME NOT NULL);
        CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL,
                             amount NUMERIC(12, 2) NOT NULL, status TEXT NOT NULL,
                             note TEXT, updated_at DATETIME NOT NULL);
        CREATE TABLE products (product_id INTEGER PRIMARY KEY, title TEXT NOT NULL);
        """
    )
    start = datetime(2024, 1, 1)
    customers = rows // 10 or 1
    con.executemany(
        "INSERT INTO customers VALUES (?, ?, ?, ?, ?)",
        [(i, f"{rng.choice(NAMES)} {i}", None if i % 7 == 0 else f"user{i}@example.com",
          rng.choice(["PL", "DK", "ES", "CN", "NG", None]),
          (start + timedelta(minutes=i)).isoformat(sep=" ")) for i in range(1, customers + 1)],
    )
    con.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?)",
        [(i, rng.randint(1, customers), f"{rng.randint(100, 10_000_000) / 100:.2f}",
          rng.choice(["new", "paid", "shipped"]), None if i % 5 else "ÄÖÜ ✓",
          (start + timedelta(seconds=37 * i)).isoformat(sep=" ")) for i in range(1, rows + 1)],
    )
    con.executemany("INSERT INTO products VALUES (?, ?)", [(1, "widget"), (2, "gadget")])
    con.commit()
    con.close()


def make_workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "jobs"
    sheet.append(JOBS_HEADER)
    for job in DEMO_JOBS:
        sheet.append(job)
    api = book.create_sheet("api_endpoints")
    api.append(API_HEADER)
    for endpoint in API_ENDPOINTS:
        api.append(endpoint)
    book.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo", help="folder for demo.db and ingestion_config.xlsx")
    parser.add_argument("--rows", type=int, default=5000, help="rows in the orders table")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    make_database(out / "demo.db", args.rows)
    make_workbook(out / "ingestion_config.xlsx")
    print(f"demo source: {out / 'demo.db'}; workbook: {out / 'ingestion_config.xlsx'}")


if __name__ == "__main__":
    main()
