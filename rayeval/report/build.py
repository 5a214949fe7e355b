"""Writing the report folder (`ResultStore.report_dir`): report.md, report.csv,
comparisons.csv, report.html and one PNG per headline metric, each written atomically so a page
reloaded during a sweep never sees half a file."""

from __future__ import annotations

from collections.abc import Iterable

from rayeval.files import atomic_write_text
from rayeval.report import render
from rayeval.report.collect import ReportData, load_report
from rayeval.report.options import ReportOptions
from rayeval.store import ResultStore


def write_report(store: ResultStore, wanted: Iterable[str] = (), options: ReportOptions | None = None) -> ReportData:
    """Build every report file from the summaries and per-item scores; returns the data shown."""
    from rayeval.report.plots import plot_metric

    options = options or ReportOptions()
    data = load_report(store, wanted, options.baselines)
    folder = store.report_dir()
    pngs = {(b, m): plot_metric(data, b, m, store.report_plot(b, m)) for b, m in data.headline}
    relative = {key: store.report_plot(*key).relative_to(folder).as_posix() for key in pngs}
    atomic_write_text(store.report_file("report.md"), render.markdown(data, relative))
    atomic_write_text(store.report_file("report.csv"), render.model_csv(data))
    atomic_write_text(store.report_file("comparisons.csv"), render.comparisons_csv(data))
    atomic_write_text(store.report_file("report.html"), render.page(data, pngs))
    return data


def refresh_report(store: ResultStore, options: ReportOptions | None = None, final: bool = False) -> None:
    """Rebuild the report of every scored model. A sweep calls this as each pair's scores land
    (so the page can be watched by reloading it), and once more at its end with `final`, which
    also logs to the trackers the options name (once per sweep, not per pair)."""
    from rayeval.report.trackers import log_to_trackers

    options = options or ReportOptions()
    data = write_report(store, (), options)
    if final:
        log_to_trackers(data, options, store.report_dir())
