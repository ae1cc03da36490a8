"""The HTML report as a reader sees it: rendered by headless Chromium, screenshot inspected."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib import image

from bench.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install chromium)"
)
TINY = '[run]\nbackends = ["numpy"]\n[[case]]\nworkload = "gemm"\nparams = { m = 16, n = 16, k = 16 }\n'


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120, check=True
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    (folder / "tiny.toml").write_text(TINY)
    runner = CliRunner()
    run = runner.invoke(
        main,
        ["run", str(folder / "tiny.toml"), "--min-time", "0.01", "--out", str(folder / "results")],
    )
    assert run.exit_code == 0, run.output
    html = folder / "report.html"
    [path] = (folder / "results").glob("*.json")
    made = runner.invoke(main, ["report", str(path), "--html", str(html)])
    assert made.exit_code == 0, made.output
    return html


def test_the_report_renders_with_its_tables_and_plots(page: Path) -> None:
    dom = chromium("--dump-dom", page.as_uri()).stdout
    assert dom.count("<table>") == 3  # local cases, environment, commands
    assert dom.count('<img alt="') == 2  # the CDF and the sample series
    assert "local cases" in dom and "gemm" in dom


def test_the_screenshot_is_not_blank_and_shows_the_plots(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", "--window-size=1400,2400", page.as_uri())
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1400)
    ink = (pixels < 0.9).any(axis=2)  # anything darker than near-white: text, rules, lines
    assert ink.mean() > 0.01
    # matplotlib's first line colour (tab:blue, #1f77b4) only appears if a plot was drawn
    blue = np.abs(pixels - np.array([0x1F, 0x77, 0xB4]) / 255).max(axis=2) < 0.08
    assert blue.sum() > 200
