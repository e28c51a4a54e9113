"""Report benchmark: size and browser open time of the offline HTML agreement report.

Loads the demo projects into a fresh SQLite file and writes the HTML report of one of them
(default ``correctness``, 36 items) with :func:`storage.export.export_project`, the code path
of the Export page and ``python cli.py export report``. Prints its size, split into the
inlined plotly.js bundle and everything else (tables, figures' JSON, styles), and how long
Debian's Chromium takes to open it: from navigation until every figure is drawn, median of
``--repeat`` fresh tabs.

Baseline, in the same browser on the same run: a page holding only the same plotly.js bundle
(what opening any report costs at least), so the ratio says what the report's own content
adds. Figures are printed, not asserted.

    python bench/report_bench.py [--project correctness] [--repeat 5] [--resamples 1000]
                                 [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.authz import OPERATOR  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.demo import load_demo  # noqa: E402
from storage.export import ExportRequest, export_project  # noqa: E402
from storage.migrations import migrate  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]
# True once every figure of the page is drawn (a page without figures: at once).
ALL_DRAWN = ("() => document.readyState === 'complete' && [...document.querySelectorAll("
             "'figure.chart .plotly-graph-div')].every(div => div.querySelector('.main-svg'))")


def write_report(folder: Path, project: str, resamples: int) -> tuple[Path, float]:
    """The project's HTML report in ``folder`` and the seconds the export took."""
    db = Database(f"sqlite:///{folder / 'demo.db'}")
    try:
        migrate(db)
        load_demo(db, actor=OPERATOR)
        path = folder / f"{project}-report.html"
        started = time.perf_counter()
        export_project(db, project_name=project, path=path,
                       request=ExportRequest(kind="report", fmt="html", n_resamples=resamples),
                       actor=OPERATOR)
        return path, time.perf_counter() - started
    finally:
        db.dispose()


def bundle_only_page(report: Path, folder: Path) -> Path:
    """A page with the report's <head> (plotly.js inlined) and an empty body."""
    head = report.read_text(encoding="utf-8").split("</head>", 1)[0]
    path = folder / "plotly-only.html"
    path.write_text(head + "</head><body></body></html>", encoding="utf-8")
    return path


def open_seconds(browser, path: Path, repeat: int) -> list[float]:
    """Seconds from navigation until every figure of ``path`` is drawn, one per fresh tab."""
    times = []
    for _ in range(repeat):
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        started = time.perf_counter()
        tab.goto(path.as_uri())
        tab.wait_for_function(ALL_DRAWN, timeout=120_000)
        times.append(time.perf_counter() - started)
        tab.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--project", default="correctness")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="keep the report in this folder")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="report-bench-"))
    try:
        report, export_s = write_report(folder, args.project, args.resamples)
        text = report.read_text(encoding="utf-8")
        head = text.split("</head>", 1)[0]
        bundle = len(head[head.index("<script"):].encode("utf-8"))
        total = report.stat().st_size
        figures = text.count('<figure class="chart"')
        print(f"project {args.project}: {figures} figures, export {export_s:.2f} s "
              f"({args.resamples} bootstrap resamples)")
        print(f"size: {total:,} bytes = plotly.js {bundle:,} + the rest {total - bundle:,}")
        baseline = bundle_only_page(report, folder)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                floor = open_seconds(browser, baseline, args.repeat)
                opened = open_seconds(browser, report, args.repeat)
            finally:
                browser.close()
        floor_s, open_s = statistics.median(floor), statistics.median(opened)
        print(f"plotly.js only: open {floor_s:.2f} s (median of {args.repeat}; "
              f"{min(floor):.2f}-{max(floor):.2f})")
        print(f"report: open {open_s:.2f} s (median of {args.repeat}; "
              f"{min(opened):.2f}-{max(opened):.2f}); ratio to plotly.js only "
              f"{open_s / floor_s:.2f}")
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(report, args.keep / report.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
