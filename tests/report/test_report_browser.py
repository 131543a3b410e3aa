"""The report in a real headless Chromium: click a block, read the panel, take a screenshot.

Needs Debian's chromium and chromedriver (README: "Browser tests"). Without them
the tests skip, except where CI=true: there a missing browser fails, so CI can
never pass by skipping them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archcalc import analyze, from_dict
from archcalc.report import render_report
from tests.helpers import EXAMPLES, run_cli

pytestmark = pytest.mark.browser

HOSTILE = "</script><script>alert(1)</script>"


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def _browser() -> tuple[str, str]:
    """(chromium, chromedriver), or skip — or fail under CI=true — saying what is missing."""
    chromium = _find("/usr/bin/chromium", "chromium", "chromium-browser")
    driver = _find("/usr/bin/chromedriver", "chromedriver")
    missing = [
        what
        for what, ok in (
            ("selenium", importlib.util.find_spec("selenium")),
            ("chromium", chromium),
            ("chromedriver", driver),
        )
        if not ok
    ]
    if missing:
        reason = (
            f"{' and '.join(missing)} not installed (apt-get install chromium "
            "chromium-driver; pip install -e '.[dev]')"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so the browser tests must run, but {reason}", pytrace=False)
        pytest.skip(reason)
    assert chromium and driver
    return chromium, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    chromium, chromedriver = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager would otherwise try the network.
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: Any, page: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(page.resolve().as_uri())
    # report.js marks the body when it has drawn everything; a CSP block would leave it unmarked.
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script("return document.body.dataset.ready") == "true"
    )


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_clicking_fc1_shows_its_numbers(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    page = tmp_path / "mnist.html"
    result = run_cli("report", str(EXAMPLES / "mnist_cnn.yaml"), "-o", str(page))
    assert result.returncode == 0, result.stderr
    open_page(browser, page)

    detail = browser.find_element(By.ID, "detail")
    assert "conv1" in detail.text and "200,832" not in detail.text  # the first layer, at first
    assert len(browser.find_elements(By.CSS_SELECTOR, "#diagram .block[data-index]")) == 11

    browser.find_element(By.CSS_SELECTOR, '#diagram [data-path="fc1"]').click()
    text = detail.text
    assert "fc1" in text and "Linear(1568, 128)" in text
    assert "200,832" in text and "97.1% of 206,922" in text
    assert "200,704" in text  # MACs: 1568 × 128
    assert "the whole 28×28 input" in browser.find_element(By.ID, "rf").text
    bars = browser.find_elements(By.CSS_SELECTOR, "#share-chart .bar-row")
    assert [b.text.split("\n")[0] for b in bars] == ["conv1", "conv2", "fc1", "fc2"]
    assert "selected" in bars[2].get_attribute("class")

    # conv2's field over the 28×28 grid: size 8, start 0.5 → rows −3…4 for the first unit
    browser.find_element(By.CSS_SELECTOR, '#diagram [data-path="conv2"]').click()
    rf = browser.find_element(By.ID, "rf")
    assert "8×8 px · jump 2" in rf.text and "rows −3–4" in rf.text
    assert len(rf.find_elements(By.CSS_SELECTOR, "svg rect.rf-fill")) == 2  # first and centre
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_RIGHT)
    assert "relu_4" in detail.text

    # self-contained: nothing was fetched, nothing complained
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []

    browser.find_element(By.CSS_SELECTOR, '#diagram [data-path="fc1"]').click()
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1400, min(height, 4000))
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000  # a blank page compresses to a few kB
    width, tall = png_size(shot)
    assert width >= 1000 and tall >= 600


def test_hostile_name_runs_no_script(browser: Any, tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    analysis = analyze(
        from_dict(
            {
                "name": HOSTILE,
                "input": [1, 8, 8],
                "layers": [{"conv2d": {"name": "conv", "out": 4, "kernel": 3}}],
            }
        )
    )
    page = tmp_path / "hostile.html"
    page.write_text(render_report(analysis, findings=(), source=HOSTILE), encoding="utf-8")
    open_page(browser, page)  # the page's own script still ran to the end
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 - reading it is the probe
    assert browser.find_element(By.TAG_NAME, "h1").text == HOSTILE
    assert browser.execute_script("return document.scripts.length") == 2


SKIPS = """
name: skips
input: [3, 32, 32]
blocks:
  se:
    params: [c, squeeze]
    layers:
      - global_avg_pool: {flatten: false}
      - conv2d: {out: $squeeze, kernel: 1}
      - relu
      - conv2d: {out: $c, kernel: 1}
      - sigmoid: {name: gate}
      - mul: [input, gate]
layers:
  - conv2d: {name: stem, out: 16, kernel: 3, padding: 1}
  - relu: {name: a}
  - conv2d: {out: 16, kernel: 3, padding: 1}
  - se: {name: se1, c: 16, squeeze: 4}
  - add: [a, se1]
  - conv2d: {name: b, out: 16, kernel: 3, padding: 1, from: stem}
  - cat: [b, a]
  - global_avg_pool
  - linear: 10
"""


def test_skip_edges_are_drawn_between_the_blocks_they_join(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    spec = tmp_path / "skips.yaml"
    spec.write_text(SKIPS, encoding="utf-8")
    page = tmp_path / "skips.html"
    result = run_cli("report", str(spec), "-o", str(page))
    assert result.returncode == 0, result.stderr
    open_page(browser, page)

    # Every edge the graph has and the left-to-right order does not show: the gate's
    # `mul` reading the block's input, `add: [a, se1]`, `from: stem`, `cat: [b, a]`.
    edges = browser.find_elements(By.CSS_SELECTOR, "#diagram svg.edges path.edge")
    paths = {
        (e.get_attribute("data-from"), e.get_attribute("data-to")): e.get_attribute("d")
        for e in edges
    }
    names = browser.execute_script(
        "return Array.from(document.querySelectorAll('#diagram .block[data-index]'))"
        ".map(b => [b.dataset.index, b.dataset.path])"
    )
    path_of = dict(names)
    joined = {(path_of[a], path_of[b]) for a, b in paths}
    assert joined == {
        ("conv2d_2", "se1.mul_5"),
        ("a", "add_4"),
        ("stem", "b"),
        ("a", "cat_6"),
    }
    # Each arc starts above its source block's centre and ends above its target's.
    for (a, b), d in paths.items():
        x1, y1, *_, x2, y2 = (
            float(v) for v in d.replace("M", "").replace("C", "").replace(",", " ").split()
        )
        for index, x, y in ((a, x1, y1), (b, x2, y2)):
            rect = browser.execute_script(
                "const d = document.getElementById('diagram').getBoundingClientRect();"
                "const r = document.querySelector(`#diagram .block[data-index='${arguments[0]}']`)"
                ".getBoundingClientRect();"
                "return [r.left - d.left, r.right - d.left, r.top - d.top];",
                index,
            )
            assert rect[0] <= x <= rect[1] and abs(y - rect[2]) < 1.5, (a, b, d, rect)

    shot = tmp_path / "skips.png"
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    # Kept for a person to look at: ARCHCALC_SCREENSHOTS=DIR copies it there.
    keep = os.environ.get("ARCHCALC_SCREENSHOTS")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
