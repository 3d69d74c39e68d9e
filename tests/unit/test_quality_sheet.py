"""The `quality_rules` sheet and the per-job schema columns: valid rows become typed rules on
their job; every bad cell is named by sheet!cell; other rules and other jobs still run."""

from __future__ import annotations

import openpyxl
import pytest

from ingest.config import read_workbook
from ingest.config.model import JobConfig
from ingest.config.rules import QualityRule, RuleKind, SchemaContract, Severity
from ingest.config.template import write_template
from ingest.plan.planner import make_plan, new_run_context
from tests.workbooks import QUALITY_HEADER, job_row, write_workbook


def rule(**values):
    row = {"job_name": "orders", "column": "email", "rule": "not_null", "argument": None, "severity": "fail"}
    row.update(values)
    return row


def book_with(tmp_path, rules, jobs=None):
    return read_workbook(write_workbook(tmp_path / "w.xlsx", jobs or [job_row()], rules=rules))


def test_valid_rules_are_attached_to_their_job_and_survive_json(tmp_path):
    config = book_with(tmp_path, [
        rule(),
        rule(rule="max_null_pct", column="note", argument=12.5, severity="warn"),
        rule(rule="unique", column=None, argument=None),
        rule(rule="unique", column="id, region"),
        rule(rule="regex", column="code", argument=r"[A-Z]{3}-\d+"),
        rule(rule="format", column="email", argument="Email"),
        rule(rule="min", column="amount", argument=0),
        rule(rule="max", column="created", argument="2030-01-01"),
        rule(rule="allowed_values", column="status", argument="new, paid ,shipped"),
        rule(rule="min_rows", column=None, argument=100, severity=None),
    ])
    assert config.errors == []
    rules = config.job("orders").quality_rules
    assert [r.rule for r in rules] == [RuleKind.NOT_NULL, RuleKind.MAX_NULL_PCT, RuleKind.UNIQUE, RuleKind.UNIQUE,
                                       RuleKind.REGEX, RuleKind.FORMAT, RuleKind.MIN, RuleKind.MAX,
                                       RuleKind.ALLOWED_VALUES, RuleKind.MIN_ROWS]
    assert rules[0].place == "quality_rules!C2" and rules[0].column_place == "quality_rules!B2"
    assert rules[1].argument == "12.5" and rules[1].severity is Severity.WARN
    assert rules[2].columns == ("id",)  # empty column: the job's primary_key
    assert rules[3].columns == ("id", "region")
    assert rules[5].argument == "email"
    assert rules[8].argument == "new,paid,shipped"
    assert rules[9].columns == () and rules[9].argument == "100" and rules[9].severity is Severity.WARN
    job = config.job("orders")
    assert JobConfig.from_dict(job.to_dict()) == job


@pytest.mark.parametrize("values, expected", [
    ({"rule": "uniq"}, "quality_rules!C2: rule 'uniq' is not one of not_null, max_null_pct, unique, regex, format,"
                       " min, max, allowed_values, min_rows"),
    ({"job_name": "ordrs"}, "quality_rules!A2: job_name 'ordrs' is not a job of the jobs sheet"),
    ({"severity": "error"}, "quality_rules!E2: severity 'error' is not warn or fail"),
    ({"column": None}, "quality_rules!B2: column is required for rule not_null"),
    ({"column": "a; drop"}, "quality_rules!B2: column 'a; drop' is not a plain identifier"),
    ({"column": "a,b"}, "quality_rules!B2: column 'a,b' names several columns; only unique takes a key"),
    ({"rule": "unique", "column": "id,id"}, "quality_rules!B2: column 'id,id' names a column twice"),
    ({"argument": "x"}, "quality_rules!D2: rule not_null takes no argument (found 'x')"),
    ({"rule": "max_null_pct", "argument": None}, "quality_rules!D2: rule max_null_pct needs an argument: percent"),
    ({"rule": "max_null_pct", "argument": 150}, "quality_rules!D2: max_null_pct argument 150 is not between 0 and 100"),
    ({"rule": "max_null_pct", "argument": "lots"}, "quality_rules!D2: max_null_pct argument 'lots' is not a number"),
    ({"rule": "regex", "argument": "(?<=a)b"}, "quality_rules!D2: regex '(?<=a)b' is not a valid RE2 pattern"),
    ({"rule": "regex", "argument": "([a-z]"}, "quality_rules!D2: regex '([a-z]' is not a valid RE2 pattern"),
    ({"rule": "format", "argument": "phone"}, "quality_rules!D2: format 'phone' is not one of email, date, uuid"),
    ({"rule": "min", "argument": "yesterday"}, "quality_rules!D2: bound 'yesterday' is not a number or an ISO"),
    ({"rule": "max", "argument": True}, "quality_rules!D2: bound True is a boolean"),
    ({"rule": "allowed_values", "argument": "a,,b"}, "quality_rules!D2: allowed_values 'a,,b' has an empty value"),
    ({"rule": "min_rows", "column": "id", "argument": 5}, "quality_rules!B2: min_rows counts the rows of the load"),
    ({"rule": "min_rows", "column": None, "argument": 2.5}, "quality_rules!D2: min_rows argument 2.5 is not a whole"),
    ({"rule": "min_rows", "column": None, "argument": -1}, "quality_rules!D2: min_rows argument -1 is not a whole"),
    ({"column": "=A1"}, "quality_rules!B2: column holds a formula"),
    ({"argument": "x" * 5000, "rule": "regex"}, "quality_rules!D2: argument is longer than 1000 characters"),
    ({"rule": None}, "quality_rules!C2: rule is required"),
])
def test_bad_rule_cell_is_named_by_place(tmp_path, values, expected):
    config = book_with(tmp_path, [rule(**values), rule(column="name", severity="warn")])
    messages = [str(e) for e in config.errors]
    assert any(m.startswith(expected) for m in messages), messages
    assert all(e.sheet == "quality_rules" for e in config.errors)
    # the job still runs, with its other (valid) rule
    assert [(r.columns, r.severity) for r in config.job("orders").quality_rules] == [(("name",), Severity.WARN)]


def test_unique_without_column_needs_a_primary_key(tmp_path):
    config = book_with(tmp_path, [rule(rule="unique", column=None)], jobs=[job_row(primary_key=None)])
    assert [str(e) for e in config.errors] == ["quality_rules!B2: unique needs a column, or a primary_key on job 'orders'"]


def test_duplicate_rule_and_rules_of_rejected_or_other_jobs(tmp_path):
    config = book_with(tmp_path, [rule(), rule(), rule(job_name="broken"), rule(job_name="other", column="x")],
                       jobs=[job_row(), job_row(job_name="broken", load_type="SOMETIMES", source_table="b"),
                             job_row(job_name="other", source_table="other")])
    errors = [str(e) for e in config.errors if e.sheet == "quality_rules"]
    assert errors == ["quality_rules!C3: the same rule is already defined in row 2"]  # a rejected job's rules wait
    assert len(config.job("orders").quality_rules) == 1
    assert [r.columns for r in config.job("other").quality_rules] == [("x",)]


def test_a_rule_error_is_not_blamed_on_an_invalid_job_row_of_the_same_number(tmp_path):
    config = book_with(tmp_path, [rule(), rule(job_name="good", rule="uniq")],
                       jobs=[job_row(job_name="good"), job_row(job_name="bad", load_type="X", source_table="t2")])
    plan = make_plan(config, new_run_context())
    (invalid,) = plan.invalid
    assert invalid.job_name == "bad" and "quality_rules" not in invalid.error_message
    assert "quality_rules!C3: rule 'uniq'" in " ".join(plan.config_errors)


def test_sheet_is_optional_and_header_is_checked(tmp_path):
    assert read_workbook(write_workbook(tmp_path / "a.xlsx", [job_row()])).errors == []
    path = write_workbook(tmp_path / "b.xlsx", [job_row()], rules=[])
    book = openpyxl.load_workbook(path)
    sheet = book["quality_rules"]
    sheet.delete_cols(3)  # no `rule` column
    sheet["F1"] = "owner"
    book.save(path)
    config = read_workbook(path)
    assert [str(i) for i in config.issues] == ["quality_rules!F1: unknown column 'owner' is ignored",
                                               "quality_rules!1:1: missing required column(s): rule"]
    assert config.job("orders").quality_rules == ()


@pytest.mark.parametrize("column, value, expected", [
    ("schema_contract", "melt", "schema_contract 'melt' is not one of evolve, freeze, discard_row, discard_value"),
    ("drift_severity", "loud", "drift_severity 'loud' is not warn or fail"),
])
def test_schema_policy_columns(tmp_path, column, value, expected):
    config = read_workbook(write_workbook(tmp_path / "w.xlsx", [job_row(**{column: value})]))
    assert [i.message for i in config.errors] == [expected]
    good = read_workbook(write_workbook(tmp_path / "g.xlsx", [job_row(schema_contract="Discard_Value",
                                                                      drift_severity="FAIL")])).job("orders")
    assert good.schema_contract is SchemaContract.DISCARD_VALUE and good.drift_severity is Severity.FAIL
    default = read_workbook(write_workbook(tmp_path / "d.xlsx", [job_row()])).job("orders")
    assert default.schema_contract is SchemaContract.EVOLVE and default.drift_severity is Severity.WARN


def test_template_has_the_quality_sheet_with_dropdowns_and_descriptions(tmp_path):
    path = write_template(tmp_path / "t.xlsx")
    book = openpyxl.load_workbook(path)
    sheet = book["quality_rules"]
    assert [c.value for c in sheet[1]] == QUALITY_HEADER
    validations = {str(v.sqref): v.formula1 for v in sheet.data_validations.dataValidation}
    assert validations["C2:C1000"] == '"' + ",".join(k.value for k in RuleKind) + '"'
    assert validations["E2:E1000"] == '"warn,fail"'
    jobs_validations = {v.formula1 for v in book["jobs"].data_validations.dataValidation}
    assert '"evolve,freeze,discard_row,discard_value"' in jobs_validations and '"warn,fail"' in jobs_validations
    described = [row[1].value for row in book["descriptions"].iter_rows(min_row=2) if row[0].value == "quality_rules"]
    assert described == QUALITY_HEADER + [f"rule {k.value}" for k in RuleKind]
    assert "quality_descriptions" not in book.sheetnames  # one descriptions sheet
    assert read_workbook(path).errors == []


def test_quality_rule_round_trip():
    rule_ = QualityRule("orders", RuleKind.REGEX, ("code",), "[A-Z]+", Severity.FAIL, "quality_rules!C9")
    assert QualityRule.from_dict(rule_.to_dict()) == rule_
