"""The HTML report in headless Chromium: the rendered text and a screenshot with tables and plots."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from reports.writer import write_report

DATA = Path(__file__).parent / "data"
SOURCES = [DATA / "harness_result.json", DATA / "asv_results", DATA / "pytest_benchmark.json"]
WINDOW = (1280, 2000)
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]


def find_chromium() -> str:
    """Debian's chromium; installed here only when FARM_INSTALL_CHROMIUM=1, else skip with why."""
    found = shutil.which("chromium")
    if found is None and os.environ.get("FARM_INSTALL_CHROMIUM") == "1" and shutil.which("apt-get"):
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=600, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, timeout=600,
                       capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("chromium is not installed (apt-get install chromium, or set FARM_INSTALL_CHROMIUM=1)")
    return found


def run_chromium(chromium: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments],
        capture_output=True, text=True, timeout=120, check=True,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(DOM text after Chromium rendered the page, screenshot path)."""
    chromium = find_chromium()
    root = tmp_path_factory.mktemp("chromium")
    out = root / "report"
    write_report(SOURCES, out, formats="html")
    url = (out / "report.html").resolve().as_uri()
    dom = run_chromium(chromium, root / "profile-dom", "--dump-dom", url).stdout
    screenshot = root / "screenshot.png"
    run_chromium(chromium, root / "profile-shot", f"--screenshot={screenshot}",
                 f"--window-size={WINDOW[0]},{WINDOW[1]}", url)
    return dom, screenshot


def visible_text(dom: str) -> str:
    """The page's text without tags or the base64 images, whitespace collapsed."""
    text = re.sub(r"<style.*?</style>", " ", dom, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())


def test_rendered_page_shows_the_verdict_and_the_criteria(rendered: tuple[str, Path]) -> None:
    text = visible_text(rendered[0])
    assert "farm-grids report: FAIL" in text
    assert "Overall verdict: FAIL" in text
    assert "C4 performance within threshold FAIL 1.410 [1.320, 1.500] 1.250" in text
    assert "C6 memory scales with grid size, not loaded into RAM WARN" in text
    assert "temporal_decay 1024 cold 2.00 ms 2.82 ms 1.410 [1.320, 1.500] 1.250 FAIL" in text
    for caption in ("memmap/RAM ratio per workload", "Memory vs grid size (log-log)",
                    "asv ratio history across commits"):
        assert caption in text


def test_rendered_page_embeds_three_png_plots(rendered: tuple[str, Path]) -> None:
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', rendered[0])
    assert len(images) == 3 and all(len(image) > 10_000 for image in images)


def test_screenshot_shows_the_verdict_banner_and_the_plots(rendered: tuple[str, Path]) -> None:
    from matplotlib.image import imread

    screenshot = rendered[1]
    assert screenshot.is_file() and screenshot.stat().st_size > 50_000
    pixels = (imread(screenshot)[..., :3] * 255).round().astype(np.int16)
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])

    def count_near(colour: tuple[int, int, int], tolerance: int = 12) -> int:
        return int((np.abs(pixels - np.array(colour)).max(axis=-1) <= tolerance).sum())

    # the FAIL banner / cell background (#ffebe9) and the PASS cells (#dafbe1) are painted
    assert count_near((0xFF, 0xEB, 0xE9), 2) > 2_000
    assert count_near((0xDA, 0xFB, 0xE1), 2) > 2_000
    # matplotlib's first line colour (#1f77b4, memory and history plots) appears only in plots
    assert count_near((0x1F, 0x77, 0xB4), 40) > 300
