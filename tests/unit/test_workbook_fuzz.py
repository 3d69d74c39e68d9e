"""The workbook fuzz (issue 21): random workbooks (tests/fuzz_workbooks.py) through
read_workbook(bytes) and make_plan. Properties, for every input:

- nothing but WorkbookError leaves read_workbook, and its message names the workbook;
- every ConfigIssue names a sheet the reader reads (or the almost-`filters` sheet it refuses)
  and a cell (`G7`) or a row (`7:7`) of it;
- make_plan takes the config without raising, and its plan is JSON;
- the fuzz makes the process's peak RSS grow by less than 512 MB (the peak is reset when the
  fuzz starts, /proc/self/clear_refs: in the whole suite the earlier tests' peak would count).

The examples run in batches of 500, one Hypothesis run each: a run keeps every example's
choices until it ends (about 100 MB per 500 workbooks here), so one run of 10,000 would measure
Hypothesis, not the reader. The normal suite runs the `ci` profile: 2 batches with the fixed
seeds 0 and 1 (1,000 examples, about a minute), so CI is reproducible; `make fuzz` runs the
`fuzz` profile: 20 batches (10,000 examples) from a new random seed, and prints the seed and
the figures."""

from __future__ import annotations

import json
import os
import random
import re
import time

import pytest
from hypothesis import HealthCheck, given, seed, settings

from ingest.config import read_workbook
from ingest.config.filters_sheet import misnamed_filters_sheet
from ingest.core.errors import WorkbookError
from ingest.plan.planner import make_plan, new_run_context
from tests.fuzz_workbooks import KNOWN_SHEETS, XFD, workbooks

_common = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much, HealthCheck.large_base_example])
settings.register_profile("ci", max_examples=500, **_common)
settings.register_profile("fuzz", max_examples=500, **_common)
PROFILE = os.environ.get("INGEST_FUZZ_PROFILE", "ci")
BATCHES = {"ci": 2, "fuzz": 20}[PROFILE]
FIRST_SEED = 0 if PROFILE == "ci" else int(os.environ.get("INGEST_FUZZ_SEED") or random.randrange(10**9))
MAX_RSS_MB = 512
LABEL = "fuzz-workbook.xlsx"
CELL = re.compile(r"^(?:([A-Z]{1,3})([1-9]\d*)|([1-9]\d*):([1-9]\d*))$")
COUNT = {"examples": 0, "workbook_errors": 0, "issues": 0, "jobs": 0}


BASELINE_MB = {"rss": 0.0}


def _status_mb(field: str) -> float:
    for line in open("/proc/self/status", encoding="ascii"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise AssertionError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    """Start the peak (VmHWM) from the current RSS (Linux: `5` to /proc/self/clear_refs), so
    what the fuzz adds is measured, not what earlier tests of the same process left."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
        handle.write("5")
    BASELINE_MB["rss"] = _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """The peak RSS since reset_peak_rss, above the RSS the process had then."""
    return _status_mb("VmHWM") - BASELINE_MB["rss"]


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def check_issue(issue) -> None:
    assert issue.sheet in KNOWN_SHEETS or misnamed_filters_sheet([issue.sheet]) == issue.sheet, \
        f"issue names no sheet the reader reads: {issue!r}"
    match = CELL.match(issue.cell or "")
    assert match, f"issue names no cell or row: {issue!r}"
    if match.group(1):
        assert _column_number(match.group(1)) <= XFD, issue
    else:
        assert int(match.group(3)) <= int(match.group(4)), issue
    assert issue.severity in ("error", "warning"), issue
    assert len(issue.message) < 1_000, f"{issue.place}: a message of {len(issue.message)} characters"


def check_workbook(data: bytes) -> None:
    """The properties for one input; also used by the regression tests."""
    COUNT["examples"] += 1
    try:
        config = read_workbook(data, label=LABEL)
    except WorkbookError as error:
        COUNT["workbook_errors"] += 1
        assert LABEL in str(error), f"WorkbookError without the workbook's name: {error}"
        return
    for issue in config.issues:
        check_issue(issue)
    COUNT["issues"] += len(config.issues)
    COUNT["jobs"] += len(config.jobs)
    plan = make_plan(config, new_run_context())
    json.dumps(plan.to_dict())
    assert peak_rss_mb() < MAX_RSS_MB, f"peak RSS {peak_rss_mb():.0f} MB above the start"


@pytest.fixture(scope="module")
def figures():
    reset_peak_rss()
    start = time.monotonic()
    yield
    seconds = time.monotonic() - start
    print(f"\nworkbook fuzz ({PROFILE}, seeds {FIRST_SEED}..{FIRST_SEED + BATCHES - 1}):"
          f" {COUNT['examples']} examples in {seconds:.1f} s, peak RSS {peak_rss_mb():.0f} MB above the"
          f" {BASELINE_MB['rss']:.0f} MB the process had;"
          f" {COUNT['workbook_errors']} WorkbookErrors, {COUNT['issues']} issues, {COUNT['jobs']} valid jobs")


@pytest.mark.filterwarnings("ignore::UserWarning")  # openpyxl's, about the fuzz's odd cells
@pytest.mark.parametrize("batch", range(BATCHES))
def test_any_workbook_is_read_or_refused_with_its_place(figures, batch):
    """One Hypothesis run of the profile's examples; a failure prints its seed and example
    (INGEST_FUZZ_SEED=<first seed> make fuzz runs the same batches again)."""
    run = given(data=workbooks)(check_workbook)
    seed(FIRST_SEED + batch)(settings(settings.get_profile(PROFILE))(run))()


def test_the_fuzz_ran_its_examples_in_bounded_memory(figures):
    """After the fuzz (pytest runs a module's tests in order)."""
    assert COUNT["examples"] >= BATCHES * settings.get_profile(PROFILE).max_examples, COUNT
    assert peak_rss_mb() < MAX_RSS_MB
