"""The HTML report renders in a real browser: every table has rows and every figure decodes.

Opens ``report.html`` in headless Chromium (Debian's ``chromium``; ``scripts/test``
installs it). A copy of the page gets a small script that, once the page has
loaded, writes what it finds (tables, their rows, images and their natural
sizes) into the DOM; ``--dump-dom`` returns it. A screenshot checks that the
page is not blank. Skipped only when no Chromium is installed.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hplists.report import write_report
from hplists.report.synthetic import write_synthetic_store

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)),
                None)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: "
                       "apt-get install chromium; scripts/test installs it)"),
]

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]

CHECK = """<script>
window.addEventListener("load", () => {
  const tables = [...document.querySelectorAll("table.data")].map(t => ({
    key: t.dataset.key, rows: t.tBodies[0].rows.length,
    height: t.getBoundingClientRect().height}));
  const images = [...document.images].map(i => ({
    alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
    shown: i.getBoundingClientRect().width}));
  const out = document.createElement("pre");
  out.id = "render-check";
  out.textContent = JSON.stringify({tables, images});
  document.body.appendChild(out);
});
</script>"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    d = tmp_path_factory.mktemp("browser")
    specs = write_synthetic_store(d / "study.db", num_points=40, workloads=4, num_evals=12,
                                  seeds=2)
    r = write_report([d / "study.db"], d / "out", specs=specs, registry=False)
    return r, d / "out" / "report.html"


def test_every_table_and_figure_renders_in_chromium(report, tmp_path):
    r, page = report
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    done = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="render-check">(.*?)</pre>', done.stdout, re.S)
    assert found, "the check script did not run: " + done.stdout[-500:]
    result = json.loads(html_lib.unescape(found.group(1)))
    tables = {t["key"]: t for t in result["tables"]}
    assert set(tables) == {t.key for t in r.tables if not t.missing}
    for t in r.tables:
        assert tables[t.key]["rows"] == len(t.rows) > 0, t.key
        assert tables[t.key]["height"] > 0, t.key
    drawn = [f for f in r.figures if f.png]
    assert len(drawn) == len(r.figures) == len(result["images"]) == 6
    for img in result["images"]:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0, img
        assert img["shown"] > 100, img  # laid out at a visible size
    assert {i["alt"] for i in result["images"]} == {f.title for f in drawn}


def test_report_page_is_not_blank(report, tmp_path):
    _, page = report
    shot = tmp_path / "shot.png"
    done = chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={shot}", page.as_uri())
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    from PIL import Image

    pixels = Image.open(shot).convert("L")
    low, high = pixels.getextrema()
    assert pixels.size == (1280, 2400) and high - low > 100  # text and tables, not one colour
    histogram = pixels.histogram()
    assert max(histogram) < 0.97 * sum(histogram)  # some content beyond the background
