"""The report from several days of scripted history, rendered by a real browser (Chromium)."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scripted_history import write_scripted_history

from emusify import cli, paths
from emusify.history import History
from emusify.report import CHARTS, VALENCE, ReportData

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (./setup.sh --dev installs it)"
)
WIDTH = 1000
#: Appended to a copy of the page: where each chart landed, and the page's text.
PROBE = """<script>
const rects = [...document.images].map(i => {
  const b = i.getBoundingClientRect();
  return {alt: i.alt, x: b.left, y: b.top + scrollY, w: b.width, h: b.height};
});
const out = document.createElement("pre");
out.id = "probe";
out.textContent = JSON.stringify({rects, height: document.documentElement.scrollHeight,
                                  text: document.body.innerText});
document.body.appendChild(out);
</script>"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--force-device-scale-factor=1",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def render(page: Path, tmp_path: Path) -> tuple[Image.Image, dict]:
    """(screenshot of the whole page, chart positions and page text) from Chromium."""
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    size = f"--window-size={WIDTH},1000"  # the same width as the screenshot: the same layout
    dom = chromium(tmp_path, size, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    dom = dom.stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    import html

    layout = json.loads(html.unescape(found.group(1)))
    shot = tmp_path / "report.png"
    height = int(layout["height"]) + 40
    chromium(tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{height}", page.as_uri())
    return Image.open(shot).convert("RGB"), layout


@pytest.fixture
def scripted(private_home):
    return write_scripted_history(paths.history_path())


@pytest.mark.slow
@needs_chromium
def test_the_report_of_several_days_shows_every_chart_in_a_browser(scripted, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert cli.main(["report", "--since", "2026-11-01", "--out", str(out)]) == 0
    assert f"Report written to {out}" in capsys.readouterr().out
    page = out.read_text()
    # One self-contained file: every chart is an embedded PNG, nothing is fetched.
    pngs = re.findall(r"src='data:image/png;base64,([^']+)'", page)
    assert len(pngs) == len(CHARTS)
    assert not re.search(r"(src|href)=['\"]?(https?:|//|file:)", page)

    shot, layout = render(out, tmp_path)
    for title in CHARTS:
        assert title in layout["text"]
    assert "Mood checks\t70 (65 decided)" in layout["text"]
    assert [r["alt"] for r in layout["rects"]] == list(CHARTS)
    for rect, png in zip(layout["rects"], pngs, strict=True):
        box = (
            round(rect["x"]),
            round(rect["y"]),
            round(rect["x"] + rect["w"]),
            round(rect["y"] + rect["h"]),
        )
        assert rect["w"] > 600 and rect["h"] > 200, rect
        region = np.asarray(shot.crop(box), dtype=np.int16)
        # Drawn, not blank: a good part of the region is not white, and some of it coloured.
        not_white = (region < 235).any(axis=2).mean()
        coloured = (region.max(axis=2) - region.min(axis=2) > 60).mean()
        assert not_white > 0.03 and coloured > 0.002, (rect["alt"], not_white, coloured)
        # And it is this chart: the screen matches the embedded PNG drawn at that size.
        source = Image.open(io.BytesIO(base64.b64decode(png))).convert("RGB")
        expected = np.asarray(source.resize(shot.crop(box).size), dtype=np.int16)
        diff = np.abs(region - expected).mean()
        assert diff < 5, rect["alt"]  # another chart there differs by 28 or more
    # Between the charts the page is plain: the colours are where the PNGs are placed.
    first = layout["rects"][0]
    heading = np.asarray(shot.crop((0, 0, WIDTH, round(first["y"]) - 5)), dtype=np.int16)
    assert (heading.max(axis=2) - heading.min(axis=2) > 60).mean() < 0.001


def test_the_figures_behind_the_charts(scripted):
    with History(paths.history_path()) as history:
        data = ReportData.load(history, since=0)
    assert data.checks == scripted["checks"] == 70
    assert len(data.corrections) == scripted["corrections"]
    assert sum(r.source == "corrected" for r in data.readings) == scripted["corrections"]
    assert sum(r.source == "set" for r in data.readings) == scripted["moods_set"]
    assert len(data.share_per_day()) == 5
    helped = data.does_it_help()
    # Every pair of neighbouring readings of a morning is compared once (none across nights).
    assert sum(sum(c.values()) for c in helped.values()) == len(data.readings) - 5
    assert sorted(VALENCE, key=VALENCE.get)[0] in ("angry", "disgust")
    assert sum(likes + dislikes for _, likes, dislikes, _ in data.liked()) == scripted["ratings"]


def test_one_check_and_one_play_are_counted_in_the_singular(tmp_path, capsys):
    with History(paths.history_path()) as h:
        h.record_window("mood", "happy", 0.8, 0.9, 30, 40)
        h.record_play("/songs/happy/happy-0.ogg", "happy", "happy")
    out = tmp_path / "report.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("(1 check, 1 play)")


def test_a_person_with_no_history_gets_a_page_that_says_so(tmp_path, capsys):
    out = tmp_path / "empty.html"
    assert cli.main(["report", "--out", str(out)]) == 0
    assert "no history yet" in capsys.readouterr().out
    page = out.read_text()
    assert "No history yet" in page and "<img" not in page
