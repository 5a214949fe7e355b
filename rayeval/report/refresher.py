"""Keeping a sweep's report current without slowing the sweep down.

Rebuilding the whole report takes seconds (5–13 s measured here with three models: the plots and
the paired bootstraps), and a sweep's driver loop is also what admits engines and hands out
shards, so the rebuild runs in one background thread. Requests that arrive while a rebuild runs
are merged into one more rebuild, so the page always ends up showing every score recorded, and
a burst of finished pairs costs two rebuilds, not one per pair. A failing rebuild is a warning:
the scores are already on disk, and the report can be rebuilt with `rayeval report`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from rayeval.report.build import refresh_report
from rayeval.report.options import ReportOptions
from rayeval.store import ResultStore


class ReportRefresher:
    """Rebuilds the report in the background on `request`; `close` waits for the last rebuild."""

    def __init__(self, store: ResultStore, options: ReportOptions, warn: Callable[[str], None]) -> None:
        """`warn` receives one line when a rebuild fails (the sweep goes on)."""
        self.store = store
        self.options = options
        self.warn = warn
        self.rebuilds = 0
        """Rebuilds finished (with or without error), for tests and logs."""
        self._lock = threading.Lock()
        self._pending = False
        self._thread: threading.Thread | None = None

    def request(self) -> None:
        """Ask for a rebuild with every score recorded so far; returns at once."""
        with self._lock:
            self._pending = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rayeval-report", daemon=True)
                self._thread.start()

    def close(self) -> None:
        """Wait until no rebuild is running or pending."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._thread = None
                    return
                self._pending = False
            try:
                refresh_report(self.store, self.options)
            except Exception as exc:  # noqa: BLE001 - a report that cannot be drawn must not stop the scoring
                reason = (str(exc).strip().splitlines() or [""])[0]
                self.warn(
                    f"the report could not be refreshed ({type(exc).__name__}: {reason}); the scores are saved: run `rayeval report` later"
                )
            self.rebuilds += 1
