"""The drivers load: pyodbc lists the FreeTDS driver (installed by scripts/install_services.sh;
Microsoft's driver is not a Debian package), and SQLAlchemy's dialects find python-oracledb
(thin mode, no Oracle client library) and pyodbc."""

from __future__ import annotations

import oracledb
import pyodbc
import sqlalchemy as sa


def test_pyodbc_lists_the_freetds_driver():
    assert "FreeTDS" in pyodbc.drivers()


def test_sqlalchemy_dialects_load_their_drivers():
    oracle = sa.create_engine("oracle+oracledb://u:p@127.0.0.1:1/?service_name=X")
    assert oracle.dialect.dbapi is oracledb and oracle.dialect.driver == "oracledb"
    mssql = sa.create_engine("mssql+pyodbc://u:p@127.0.0.1:1/db?driver=FreeTDS")
    assert mssql.dialect.dbapi is pyodbc


def test_ingests_oracle_engine_stays_in_thin_mode():
    from ingest.config.model import SourceType
    from ingest.sources.connections import build_connection
    from ingest.sources.sql import make_engine

    engine = make_engine(build_connection("hr", SourceType.ORACLE, {
        "host": "127.0.0.1", "port": 1, "sid": "ORCL", "username": "u", "password": "pw-unused-2"}))
    assert engine.dialect.dbapi is oracledb and engine.dialect.arraysize == 10_000
    assert oracledb.is_thin_mode()  # thick mode would have loaded the Oracle client (absent here)
