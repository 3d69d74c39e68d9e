"""Every connection form becomes the URL and the driver arguments it should: credentials as
fields (TOML table / JSON) or as a URL, per source type. The connect arguments shown are what
SQLAlchemy's real dialects hand to python-oracledb and pyodbc (`create_connect_args`); no
connection is opened here (tests/integration/test_driver_errors.py sends them over the wire)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from ingest.config.model import SourceType
from ingest.core.errors import ConnectionConfigError, MissingCredentialsError
from ingest.core.redact import redact
from ingest.sources.connections import build_connection
from ingest.sources.entra import AccessTokenAuth

PW = "Pw-Canary-5521"


def driver_args(source) -> tuple[tuple, dict]:
    engine = sa.create_engine(source.url)
    args, kwargs = engine.dialect.create_connect_args(source.url)
    return tuple(args), {**kwargs, **source.connect_args}


# --- Oracle --------------------------------------------------------------------------------
def test_oracle_service_name_fields():
    source = build_connection("hr", SourceType.ORACLE, {
        "host": "db.example.com", "service_name": "ORCLPDB1", "username": "ingest", "password": PW})
    assert source.url.render_as_string() == "oracle+oracledb://ingest:***@db.example.com:1521?service_name=ORCLPDB1"
    _, kwargs = driver_args(source)
    assert kwargs["dsn"].startswith("(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db.example.com)(PORT=1521))")
    assert "(SERVICE_NAME=ORCLPDB1)" in kwargs["dsn"]
    assert kwargs["user"] == "ingest" and kwargs["password"] == PW and kwargs["tcp_connect_timeout"] == 15.0


def test_oracle_sid_fields_and_port():
    source = build_connection("hr", SourceType.ORACLE, {
        "host": "10.0.0.5", "port": "1522", "sid": "ORCL", "username": "ingest", "password": PW,
        "connect_timeout": 5})
    assert source.url.render_as_string() == "oracle+oracledb://ingest:***@10.0.0.5:1522/ORCL"
    _, kwargs = driver_args(source)
    assert "(PORT=1522)" in kwargs["dsn"] and "(SID=ORCL)" in kwargs["dsn"]
    assert kwargs["tcp_connect_timeout"] == 5.0


@pytest.mark.parametrize("url, expected", [
    (f"oracle://ingest:{PW}@db:1521/?service_name=SALES", "oracle+oracledb://ingest:***@db:1521/?service_name=SALES"),
    (f"oracle+oracledb://ingest:{PW}@db:1521/ORCL", "oracle+oracledb://ingest:***@db:1521/ORCL"),
])
def test_oracle_urls_use_the_thin_driver(url, expected):
    source = build_connection("hr", SourceType.ORACLE, url)
    assert source.url.render_as_string() == expected
    assert source.connect_args == {"tcp_connect_timeout": 15.0}


@pytest.mark.parametrize("credentials, message", [
    ({"host": "db", "username": "u", "password": PW}, "field 'service_name' or 'sid' is required"),
    ({"host": "db", "service_name": "A", "sid": "B", "username": "u", "password": PW},
     "field 'service_name' or 'sid' is required (exactly one"),
    ({"host": "db", "service_name": "A", "username": "u", "password": PW, "port": "15x21"},
     "field 'port' is '15x21'; expected a whole number from 1 to 65535"),
    ({"host": "db", "servce_name": "A", "username": "u", "password": PW}, "field 'servce_name' is not known"),
    ({"service_name": "A", "username": "u", "password": PW}, "field 'host' is required"),
    (f"oracle+cx_oracle://u:{PW}@db:1521/ORCL", "write oracle+oracledb://"),
    (f"oracle+oracledb://u:{PW}@tns_alias", "names no service: add ?service_name=NAME"),
    (f"mssql+pyodbc://u:{PW}@db/x", "its credentials are a mssql URL but the job's source_type is oracle"),
])
def test_oracle_bad_credentials_name_the_connection_and_field(credentials, message):
    with pytest.raises(ConnectionConfigError) as raised:
        build_connection("hr", SourceType.ORACLE, credentials)
    assert message in str(raised.value) and "connection 'hr'" in str(raised.value)
    assert PW not in redact(str(raised.value))


# --- SQL Server ------------------------------------------------------------------------------
def odbc_string(source) -> str:
    args, _ = driver_args(source)
    return args[0]


def test_sqlserver_port_and_default_driver():
    source = build_connection("erp", SourceType.MSSQL, {
        "host": "sql01.corp", "port": 1433, "database": "sales", "username": "ingest", "password": PW})
    assert odbc_string(source) == (f"DRIVER={{ODBC Driver 18 for SQL Server}};Server=sql01.corp,1433;"
                                   f"Database=sales;UID=ingest;PWD={PW};Encrypt=yes;TrustServerCertificate=no;"
                                   "APP=ingest")
    assert source.connect_args == {"timeout": 30} and source.access_token is None


def test_sqlserver_named_instance_driver_17_and_local_docker_certificate():
    source = build_connection("erp", SourceType.MSSQL, {
        "host": "sql01", "instance": "SQLEXPRESS", "database": "sales", "username": "ingest",
        "password": "p;w=x", "driver": "ODBC Driver 17 for SQL Server", "trust_server_certificate": "true",
        "login_timeout": 10})
    assert odbc_string(source) == ("DRIVER={ODBC Driver 17 for SQL Server};Server=sql01\\SQLEXPRESS;"
                                   "Database=sales;UID=ingest;PWD={p;w=x};Encrypt=yes;"
                                   "TrustServerCertificate=yes;APP=ingest")
    assert source.connect_args == {"timeout": 10}


@pytest.mark.parametrize("value, expected", [(True, "yes"), (False, "no"), ("Mandatory", "yes"), ("strict", "strict")])
def test_sqlserver_encrypt_accepts_booleans_and_the_drivers_words(value, expected):
    source = build_connection("erp", SourceType.MSSQL, {
        "host": "h", "database": "d", "username": "u", "password": PW, "encrypt": value})
    assert f";Encrypt={expected};" in odbc_string(source)


def test_sqlserver_freetds_keywords():
    source = build_connection("erp", SourceType.MSSQL, {
        "host": "127.0.0.1", "port": 14330, "database": "sales", "username": "sa", "password": PW,
        "driver": "FreeTDS", "encrypt": "no"})
    assert odbc_string(source) == (f"DRIVER={{FreeTDS}};Server=127.0.0.1,14330;Database=sales;UID=sa;PWD={PW};"
                                   "Encryption=request;TDS_Version=7.4;ClientCharset=UTF-8;APP=ingest")


def test_sqlserver_url_form_gets_the_default_driver():
    source = build_connection("erp", SourceType.MSSQL,
                              f"mssql+pyodbc://ingest:{PW}@sql01:1433/sales?TrustServerCertificate=yes")
    assert odbc_string(source) == (f"DRIVER={{ODBC Driver 18 for SQL Server}};Server=sql01,1433;Database=sales;"
                                   f"UID=ingest;PWD={PW};TrustServerCertificate=yes")


@pytest.mark.parametrize("url", [f"mssql+pyodbc://ingest:{PW}@sql01\\SQLEXPRESS/sales?driver=FreeTDS",
                                 f"mssql+pyodbc://ingest:{PW}@sql01%5cSQLEXPRESS/sales?driver=FreeTDS"])
def test_sqlserver_named_instance_url(url):
    assert odbc_string(build_connection("erp", SourceType.MSSQL, url)) == \
        f"DRIVER={{FreeTDS}};Server=sql01\\SQLEXPRESS;Database=sales;UID=ingest;PWD={PW}"


def test_azure_sql_url_with_the_drivers_own_managed_identity_passes_through():
    source = build_connection("dw", SourceType.AZURE_SQL, "mssql+pyodbc://@myserver.database.windows.net/dw"
                              "?driver=ODBC+Driver+18+for+SQL+Server&authentication=ActiveDirectoryMsi")
    assert odbc_string(source) == ("DRIVER={ODBC Driver 18 for SQL Server};Server=myserver.database.windows.net;"
                                   "Database=dw;Authentication=ActiveDirectoryMsi;Encrypt=yes;"
                                   "TrustServerCertificate=no")
    assert source.access_token is None


@pytest.mark.parametrize("credentials, message", [
    ({"host": "h", "port": 1433, "instance": "X", "database": "d", "username": "u", "password": PW},
     "field 'instance' and 'port' are both set"),
    ({"host": "h", "database": "d", "username": "u"}, "field 'password' is required"),
    ({"host": "h", "database": "d", "username": "u", "password": PW, "encrypt": "maybe"},
     "field 'encrypt' is 'maybe'; expected one of yes, no, strict"),
    ({"host": "h", "database": "d", "username": "u", "password": PW, "trust_server_certificate": "sure"},
     "field 'trust_server_certificate' is 'sure'; expected true or false"),
    ({"host": "h", "database": "d", "username": "u", "password": "a}b", "driver": "FreeTDS"},
     "field 'password' contains '}'"),
    ({"host": "h", "database": "d", "authentication": "managed_identity", "driver": "FreeTDS"},
     "field 'authentication' is 'managed_identity': Entra ID tokens need Microsoft's ODBC driver"),
    (f"mssql+pyodbc://u:{PW}@h:1433", "names no database"),
    (f"postgresql://u:{PW}@h/db", "its credentials are a postgresql URL but the job's source_type is mssql"),
])
def test_sqlserver_bad_credentials_name_the_connection_and_field(credentials, message):
    with pytest.raises(ConnectionConfigError) as raised:
        build_connection("erp", SourceType.MSSQL, credentials)
    assert message in str(raised.value) and "connection 'erp'" in str(raised.value)
    assert "a}b" not in str(raised.value) and PW not in redact(str(raised.value))


# --- Azure SQL ---------------------------------------------------------------------------------
def test_azure_sql_with_sql_login_is_encrypted_with_a_checked_certificate():
    source = build_connection("dw", SourceType.AZURE_SQL, json.dumps({
        "host": "myserver.database.windows.net", "database": "dw", "username": "ingest", "password": PW}))
    assert odbc_string(source) == (f"DRIVER={{ODBC Driver 18 for SQL Server}};Server=myserver.database.windows.net;"
                                   f"Database=dw;UID=ingest;PWD={PW};Encrypt=yes;TrustServerCertificate=no;"
                                   "APP=ingest")
    assert source.connect_args == {"timeout": 30}


def test_azure_sql_with_managed_identity_has_no_login_and_a_token_source():
    from azure.identity import ManagedIdentityCredential

    source = build_connection("dw", SourceType.AZURE_SQL, {
        "host": "myserver.database.windows.net", "port": 1433, "database": "dw",
        "authentication": "managed_identity", "client_id": "00000000-0000-0000-0000-000000000001"})
    assert odbc_string(source) == ("DRIVER={ODBC Driver 18 for SQL Server};Server=myserver.database.windows.net,1433;"
                                   "Database=dw;Trusted_Connection=Yes;Encrypt=yes;TrustServerCertificate=no;"
                                   "APP=ingest")  # Trusted_Connection is removed on connect (test_entra_token)
    assert isinstance(source.access_token, AccessTokenAuth)
    assert isinstance(source.access_token.credential, ManagedIdentityCredential)
    assert source.access_token.scope == "https://database.windows.net/.default"


def test_azure_sql_url_form_gets_encryption_added():
    source = build_connection("dw", SourceType.AZURE_SQL,
                              f"mssql+pyodbc://ingest:{PW}@myserver.database.windows.net:1433/dw")
    assert odbc_string(source).endswith("Encrypt=yes;TrustServerCertificate=no")


@pytest.mark.parametrize("credentials, message", [
    ({"host": "s", "database": "d", "username": "u", "password": PW, "encrypt": "no"},
     "field 'encrypt' is 'no'; expected one of yes, strict"),
    ({"host": "s", "database": "d", "username": "u", "password": PW, "encrypt": False},
     "field 'encrypt' is 'false'; expected one of yes, strict"),
    ({"host": "s", "database": "d", "username": "u", "password": PW, "trust_server_certificate": True},
     "field 'trust_server_certificate' is not known for azure_sql"),
    ({"host": "s", "database": "d", "username": "u", "password": PW, "driver": "FreeTDS"},
     "Azure SQL needs Microsoft's driver"),
    ({"host": "s", "database": "d", "username": "u", "password": PW, "authentication": "managed_identity"},
     "field 'username' must be empty with authentication = managed_identity"),
    (f"mssql+pyodbc://u:{PW}@s/d?Encrypt=no", "Encrypt=no in the URL"),
    (f"mssql+pyodbc://u:{PW}@s/d?TrustServerCertificate=yes", "TrustServerCertificate=yes in the URL"),
    ("mssql+pyodbc://s.database.windows.net/d", "the Azure SQL URL has no login"),
    ('{"host": "s", ', "start with '{' but are not a JSON object"),
])
def test_azure_sql_refuses_weaker_security(credentials, message):
    with pytest.raises(ConnectionConfigError) as raised:
        build_connection("dw", SourceType.AZURE_SQL, credentials)
    assert message in str(raised.value)


def test_passwords_of_field_credentials_are_registered_for_redaction():
    canary = "Field-Canary-9931"
    build_connection("erp", SourceType.MSSQL, {"host": "h", "database": "d", "username": "u", "password": canary})
    assert canary not in redact(f"some driver said PWD {canary} was wrong")


def test_postgres_keeps_its_url_and_dlt_fields():
    assert build_connection("pg", SourceType.POSTGRES, f"postgresql://u:{PW}@h:5432/db").url.drivername == \
        "postgresql+psycopg2"
    fields = {"drivername": "postgresql", "host": "h", "port": 5432, "database": "db", "username": "u",
              "password": PW}
    assert build_connection("pg", SourceType.POSTGRES, fields).url.render_as_string() == \
        "postgresql+psycopg2://u:***@h:5432/db"
    with pytest.raises(MissingCredentialsError, match="not a database URL"):
        build_connection("pg", SourceType.POSTGRES, "not a url")
