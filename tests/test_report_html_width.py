"""The HTML report fits a 1280 px browser window: no horizontal scroll (issue 19), checked in a real headless browser.

Debian's ``chromium`` renders the page at 1280 px; a script in a copy of the page writes the
document's scroll width into the title, which ``--dump-dom`` returns. A screenshot is kept beside
the page for whoever wants to look. Skipped, with the reason, where no chromium is installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from test_report import tracked_run
from wattprint.report.html import save_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
MEASURE = ("<script>window.addEventListener('load',function(){var d=document.documentElement;"
           "document.title='scroll '+d.scrollWidth+' client '+d.clientWidth;});</script>")  # fmt: skip


def _render(page_path: str, tmp_path) -> tuple[int, int]:
    html = open(page_path, encoding="utf-8").read().replace("</head>", MEASURE + "</head>", 1)
    probe = tmp_path / "probe.html"
    probe.write_text(html, encoding="utf-8")
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,900", "--virtual-time-budget=3000"]  # fmt: skip
    dom = subprocess.run(args + ["--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120)
    subprocess.run(args + [f"--screenshot={tmp_path / 'report-1280.png'}", probe.as_uri()], capture_output=True, timeout=120)
    m = re.search(r"<title>scroll (\d+) client (\d+)</title>", dom.stdout)
    assert m, dom.stderr[-2000:]
    return int(m.group(1)), int(m.group(2))


@pytest.mark.skipif(CHROMIUM is None, reason="no headless browser: `apt-get install chromium` (Debian) to run this check")
def test_html_report_has_no_horizontal_scroll_at_1280px(tmp_path):
    out = tmp_path / "runs"
    long = "a-very-long-project-name-without-any-spaces-that-would-push-a-table-cell-wide-" * 2
    fps = [tracked_run(out, f"run-{i}-{long[: 20 * (i + 1)]}", seconds=5 + i)[1] for i in range(4)]
    page = str(tmp_path / "report.html")
    save_html(fps, page, regions=["IE", "US-AZ", "aws:us-east-1", "DE", "world"], pue=1.2, plots=True)
    scroll_w, client_w = _render(page, tmp_path)
    assert client_w <= 1280
    assert scroll_w <= client_w, f"page is {scroll_w} px wide in a {client_w} px window"
