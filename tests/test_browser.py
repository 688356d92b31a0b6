"""Reports and the index in a real headless Chromium (Debian's chromium + chromium-driver).

Each page must load with no console error, no broken image and no request that leaves the
page's own folder (``file:`` and ``data:`` only); the index shows every branch's card above the
fold at 1280 px. ``.ci/run`` installs the browser, so CI always runs these; ``make test``
without it skips them with the reason.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                       reason="no headless Chromium: install Debian's chromium and "
                              "chromium-driver (.ci/run does)"),
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Every report of the bank (English) and one branch's overview (Chinese), rendered as the
    schedule does, plus the index."""
    from analysis.cli import main

    out = tmp_path_factory.mktemp("reports")
    rc = main(["render", "--lang", "en", "zh", "--notebook", "01_attrition_overview__bank",
               "01_attrition_overview__lang-zh__branch-North", "02_product_retention_effect__bank",
               "03_attrition_drivers__bank", "04_early_warning__bank", "--out", str(out),
               "--jobs", "2", "--no-progress"])
    assert rc == 0
    return out


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def _load(browser, path: Path) -> dict:
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get_log("performance")
    browser.get(path.as_uri())
    errors = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    urls = []
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth]);")
    return {"errors": errors, "urls": urls, "images": images}


def _check(page: dict) -> None:
    assert page["errors"] == []
    assert [u for u in page["urls"] if not u.startswith(("file:", "data:"))] == []
    assert all(done and width > 0 for done, width in page["images"]), page["images"]


def test_reports_load_cleanly(rendered, browser):
    pages = sorted(rendered.glob("*/*.html"))
    assert len(pages) == 5  # every report of the bank, and report 01 of a branch in Chinese
    for path in pages:
        page = _load(browser, path)
        _check(page)
        assert len(page["images"]) >= 3  # the figures are there and decode
        toc = browser.execute_script(
            "return Array.from(document.querySelectorAll('nav.report-toc a'))"
            ".map(a => (document.getElementById(a.hash.slice(1))"  # Chinese ids: percent-encoded
            " || document.getElementById(decodeURIComponent(a.hash.slice(1)))) !== null);")
        assert toc and all(toc)  # every contents link lands on a section


def test_index_shows_every_card_above_the_fold(rendered, browser):
    page = _load(browser, rendered / "index.html")
    _check(page)
    cards = browser.execute_script(
        "return Array.from(document.querySelectorAll('.card')).map(c => "
        "[c.querySelector('h3').textContent, c.getBoundingClientRect().bottom]);")
    height = browser.execute_script("return window.innerHeight;")
    assert [c[0] for c in cards] == ["Whole bank", "Branch North"]
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('.card a')).map(a => a.textContent);")
    # the bank's four reports; the branch's overview exists in Chinese only
    assert links == ["overview", "products", "drivers", "early warning", "overview"]
    assert all(bottom <= height for _, bottom in cards)


def test_index_of_a_six_branch_book_fits_above_the_fold(tmp_path, browser):
    # the default book's layout (bank + six branches) at 1280 x 900, from headline JSONs
    from analysis.report.index import build_index
    from tests.test_landing import _overview, _write

    scopes = {None: _overview(6000, 1429, 11.4, 10.8, 12.0, 0.828)}
    for i, b in enumerate(["Central", "East", "Harbour", "North", "South", "West"]):
        scopes[b] = _overview(1000, 240 + i, 11.0 + i / 2, 9.9 + i / 2, 12.6 + i / 2, 0.82)
    _write(tmp_path, "2025-12-01", scopes)
    build_index(tmp_path)
    page = _load(browser, tmp_path / "index.html")
    _check(page)
    cards = browser.execute_script(
        "return Array.from(document.querySelectorAll('.card')).map(c => "
        "c.getBoundingClientRect().bottom);")
    assert len(cards) == 7 and max(cards) <= browser.execute_script("return window.innerHeight;")


def test_the_chinese_report_shows_no_english_prose(rendered, browser):
    from analysis.i18n import english_words

    [path] = rendered.glob("*/*lang-zh*.html")
    page = _load(browser, path)
    _check(page)
    assert browser.execute_script("return document.documentElement.lang;") == "zh-CN"
    text = browser.execute_script("return document.body.innerText;")  # what a reader sees
    assert "主要发现" in text and "北区网点" in text
    assert english_words(text) == []


def test_reports_print_to_a4_without_split_tables(rendered, browser):
    import base64
    import re

    from selenium.webdriver.common.print_page_options import PrintOptions

    for path in sorted(rendered.glob("*/*.html")):
        _load(browser, path)
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        try:
            # A4 at 96 px per inch, less the page margins of the print CSS (15 mm, 12 mm)
            page_h = (297 - 30) / 25.4 * 96
            tables = browser.execute_script(
                "return Array.from(document.querySelectorAll('table')).map(t => "
                "[getComputedStyle(t).breakInside, t.getBoundingClientRect().height]);")
        finally:
            browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        assert tables and all(rule == "avoid" for rule, _ in tables), tables
        assert all(h < page_h for _, h in tables), (path.name, max(h for _, h in tables))
        opts = PrintOptions()
        opts.page_width, opts.page_height = 21.0, 29.7
        pdf = base64.b64decode(browser.print_page(opts))
        assert pdf.startswith(b"%PDF")
        box = [float(v) for v in re.search(rb"/MediaBox \[([^\]]+)\]", pdf).group(1).split()]
        assert abs(box[2] - 595.3) < 2 and abs(box[3] - 841.9) < 2  # A4 in points
