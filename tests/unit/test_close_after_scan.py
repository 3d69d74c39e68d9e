"""A load that fails while its value scan still runs closes its source only once the scan is
done (ingest/load.py `_close_after_scan`): closing first would orphan the scan's connection."""

from __future__ import annotations

from concurrent.futures import Future

from ingest.load import _close_after_scan


class Source:
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_the_source_closes_when_the_scan_beside_it_ends():
    source, scan = Source(), Future()
    _close_after_scan(source, scan)
    assert source.closed == 0
    scan.set_exception(RuntimeError("the scan failed too"))
    assert source.closed == 1


def test_the_source_closes_at_once_without_a_running_scan():
    done: Future = Future()
    done.set_result(None)
    for scan in (None, done):
        source = Source()
        _close_after_scan(source, scan)
        assert source.closed == 1
