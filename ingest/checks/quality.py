"""Data-quality rules (the `quality_rules` sheet) evaluated with pyarrow.compute on the parquet
files a load just wrote: the source is not read again.

Files are read batch by batch and only the columns the rules name; counts add up across
batches, so memory stays flat except for `unique`, which keeps the key columns of the load.
A rule sees the rows of this load (for INCREMENTAL: the new and changed rows). NULLs are only
judged by not_null and max_null_pct; the other rules look at non-NULL values.

Each rule gives a RuleResult: passed, failed, or error (it could not be evaluated: a column
that is not in the table, a bound that does not fit the column's type). Results never carry
data values, only counts.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ingest.config.rules import QualityRule, RuleKind

log = logging.getLogger("ingest.checks.quality")

BATCH_ROWS = 65_536
EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,}"
"""The shape of an address (local part, @, a domain with a dot); deliverability is not checked."""
UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
DATE_FORMAT = "%Y-%m-%d"


@dataclass
class RuleResult:
    place: str
    rule: str
    column: str
    argument: str | None
    severity: str
    status: str
    """passed | failed | error"""
    observed: float | int | None
    """The measured value: violations, NULL percent, surplus rows or rows, as the rule says."""
    rows: int
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RuleError(Exception):
    """The rule cannot be evaluated on this table (message says why, with the rule's place)."""


def _non_null_count(mask: pa.Array) -> int:
    """How many entries of a boolean mask are true (NULL counts as false)."""
    return int(pc.sum(pc.fill_null(mask, False)).as_py() or 0)


def _as_text(array: pa.Array) -> pa.Array:
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        return array
    return pc.cast(array, pa.string())


class Evaluator:
    """Accumulates one rule over the batches of a load."""

    def __init__(self, rule: QualityRule, columns: tuple[str, ...]):
        self.rule = rule
        self.columns = columns
        self.violations = 0

    def update(self, batch: pa.RecordBatch) -> None:
        self.violations += self.count(batch.column(self.columns[0]))

    def count(self, array: pa.Array) -> int:
        raise NotImplementedError

    def finish(self, rows: int) -> tuple[bool, float | int, str]:
        """(passed, observed, detail)."""
        return self.violations == 0, self.violations, f"{self.violations} of {rows} rows {self.what}"

    what = "do not pass"


class NotNull(Evaluator):
    what = "are NULL"

    def count(self, array: pa.Array) -> int:
        return array.null_count


class MaxNullPct(NotNull):
    def finish(self, rows: int) -> tuple[bool, float | int, str]:
        pct = round(self.violations * 100.0 / rows, 4) if rows else 0.0
        limit = float(self.rule.argument)
        return pct <= limit, pct, f"{pct}% NULL ({self.violations} of {rows} rows); at most {self.rule.argument}% allowed"


class Pattern(Evaluator):
    what = "do not match"

    def __init__(self, rule: QualityRule, columns: tuple[str, ...], pattern: str, what: str):
        super().__init__(rule, columns)
        self.pattern = f"^(?:{pattern})$"
        self.what = what

    def count(self, array: pa.Array) -> int:
        text = _as_text(array)
        return _non_null_count(pc.invert(pc.match_substring_regex(text, self.pattern)))


class IsoDate(Evaluator):
    """YYYY-MM-DD naming a real day: parsed, formatted back, and compared, because strptime
    alone accepts 2024-1-5 and rolls 2024-02-30 over to March."""

    what = "are not dates (YYYY-MM-DD)"

    def count(self, array: pa.Array) -> int:
        if pa.types.is_date(array.type) or pa.types.is_timestamp(array.type):
            return 0
        text = _as_text(array)
        parsed = pc.strptime(text, format=DATE_FORMAT, unit="s", error_is_null=True)
        same = pc.fill_null(pc.equal(pc.strftime(parsed, format=DATE_FORMAT), text), False)
        return _non_null_count(pc.and_(pc.is_valid(text), pc.invert(same)))


def _bound_scalar(text: str, arrow_type: pa.DataType) -> pa.Scalar:
    """The rule's bound as a scalar comparable with the column."""
    if pa.types.is_timestamp(arrow_type):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if arrow_type.tz and moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        elif not arrow_type.tz and moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        return pa.scalar(moment, type=arrow_type)
    if pa.types.is_date(arrow_type):
        return pa.scalar(date.fromisoformat(text[:10]), type=arrow_type)
    if pa.types.is_decimal(arrow_type):
        return pa.scalar(Decimal(text))
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type):
        number = Decimal(text)
        return pa.scalar(int(number) if number == number.to_integral_value() else float(number))
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.scalar(text, type=arrow_type)
    raise ValueError(f"a column of type {arrow_type} has no order to compare with")


class Bound(Evaluator):
    def __init__(self, rule: QualityRule, columns: tuple[str, ...]):
        super().__init__(rule, columns)
        self.compare: Callable = pc.less if rule.rule is RuleKind.MIN else pc.greater
        self.what = f"are {'below' if rule.rule is RuleKind.MIN else 'above'} {rule.argument}"
        self.bound: pa.Scalar | None = None

    def count(self, array: pa.Array) -> int:
        if self.bound is None:
            try:
                self.bound = _bound_scalar(self.rule.argument or "", array.type)
            except (ValueError, ArithmeticError, pa.ArrowException) as exc:
                raise RuleError(f"{self.rule.rule.value} {self.rule.argument!r} does not fit column"
                                f" '{self.columns[0]}' of type {array.type}: {exc}") from None
        return _non_null_count(self.compare(array, self.bound))


class Allowed(Evaluator):
    what = "are not allowed values"

    def __init__(self, rule: QualityRule, columns: tuple[str, ...]):
        super().__init__(rule, columns)
        self.values: pa.Array | None = None

    def count(self, array: pa.Array) -> int:
        if self.values is None:
            try:
                self.values = pa.array((self.rule.argument or "").split(","), pa.string()).cast(array.type)
            except pa.ArrowException as exc:
                raise RuleError(f"allowed_values do not fit column '{self.columns[0]}' of type"
                                f" {array.type}: {exc}") from None
        return _non_null_count(pc.and_(pc.is_valid(array), pc.invert(pc.is_in(array, value_set=self.values))))


class Unique(Evaluator):
    def __init__(self, rule: QualityRule, columns: tuple[str, ...]):
        super().__init__(rule, columns)
        self.keys: list[pa.Table] = []

    def update(self, batch: pa.RecordBatch) -> None:
        keys = pa.Table.from_batches([batch.select(list(self.columns))])
        self.keys.append(keys.drop_null())  # SQL UNIQUE: a key with a NULL is never a duplicate

    def finish(self, rows: int) -> tuple[bool, float | int, str]:
        if not self.keys:
            return True, 0, f"0 duplicate rows in {rows} rows"
        keys = pa.concat_tables(self.keys)
        groups = keys.group_by(list(self.columns)).aggregate([([], "count_all")])
        surplus = keys.num_rows - groups.num_rows
        repeated = _non_null_count(pc.greater(groups.column("count_all"), 1))
        return surplus == 0, surplus, f"{surplus} duplicate rows over {repeated} repeated keys in {rows} rows"


class MinRows(Evaluator):
    def update(self, batch: pa.RecordBatch) -> None:
        pass

    def finish(self, rows: int) -> tuple[bool, float | int, str]:
        return rows >= int(self.rule.argument or 0), rows, f"{rows} rows loaded; at least {self.rule.argument} expected"


def make_evaluator(rule: QualityRule, columns: tuple[str, ...]) -> Evaluator:
    kind = rule.rule
    if kind is RuleKind.NOT_NULL:
        return NotNull(rule, columns)
    if kind is RuleKind.MAX_NULL_PCT:
        return MaxNullPct(rule, columns)
    if kind is RuleKind.UNIQUE:
        return Unique(rule, columns)
    if kind is RuleKind.REGEX:
        return Pattern(rule, columns, rule.argument or "", f"do not match {rule.argument}")
    if kind is RuleKind.FORMAT and rule.argument == "date":
        return IsoDate(rule, columns)
    if kind is RuleKind.FORMAT:
        return Pattern(rule, columns, EMAIL if rule.argument == "email" else UUID, f"are not {rule.argument}s")
    if kind in (RuleKind.MIN, RuleKind.MAX):
        return Bound(rule, columns)
    if kind is RuleKind.ALLOWED_VALUES:
        return Allowed(rule, columns)
    return MinRows(rule, columns)


def _resolve(rule: QualityRule, names: list[str] | None, normalize: Callable[[str], str]) -> tuple[str, ...]:
    """The rule's columns as the files name them (dlt normalizes names: CustomerID -> customer_id)."""
    if names is None:
        return rule.columns
    resolved = []
    for column in rule.columns:
        if column in names:
            resolved.append(column)
        elif normalize(column) in names:
            resolved.append(normalize(column))
        else:
            raise RuleError(f"{rule.column_place}: column '{column}' is not in the table"
                            f" (columns: {', '.join(n for n in names if not n.startswith('_dlt_'))})")
    return tuple(resolved)


def _result(rule: QualityRule, status: str, observed: float | int | None, rows: int, detail: str) -> RuleResult:
    return RuleResult(place=rule.place, rule=rule.rule.value, column=rule.column_text, argument=rule.argument,
                      severity=rule.severity.value, status=status, observed=observed, rows=rows, detail=detail)


def evaluate(rules: Iterable[QualityRule], fs: Any, paths: list[str],
             normalize: Callable[[str], str] = lambda name: name) -> list[RuleResult]:
    """Every rule over the parquet files at `paths` (opened through the fsspec filesystem `fs`)."""
    rules = list(rules)
    names: list[str] | None = None
    if paths:
        with fs.open(paths[0], "rb") as handle:
            names = pq.ParquetFile(handle).schema_arrow.names
    evaluators: list[Evaluator] = []
    results: dict[int, RuleResult] = {}
    for index, rule in enumerate(rules):
        try:
            evaluators.append(make_evaluator(rule, _resolve(rule, names, normalize)))
        except RuleError as exc:
            results[index] = _result(rule, "error", None, 0, str(exc))
            evaluators.append(None)  # type: ignore[arg-type]
    active = {i: e for i, e in enumerate(evaluators) if e is not None}
    needed = sorted({c for e in active.values() for c in e.columns})
    rows = 0
    for path in paths:
        with fs.open(path, "rb") as handle:
            parquet = pq.ParquetFile(handle, pre_buffer=False)  # pre-buffering would hold the whole file
            rows += parquet.metadata.num_rows
            if not needed:
                continue
            for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=needed):
                for index, evaluator in list(active.items()):
                    try:
                        evaluator.update(batch)
                    except (RuleError, pa.ArrowException, ValueError, TypeError) as exc:
                        results[index] = _result(rules[index], "error", None, 0, f"{rules[index].place}: {exc}")
                        del active[index]
    for index, result in results.items():
        result.rows = rows
    for index, evaluator in active.items():
        passed, observed, detail = evaluator.finish(rows)
        results[index] = _result(rules[index], "passed" if passed else "failed", observed, rows, detail)
    return [results[i] for i in range(len(rules))]
