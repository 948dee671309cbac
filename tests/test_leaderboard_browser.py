"""The leaderboard page in a real headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium), opened from ``file://`` as a reader opens a downloaded site."""

from __future__ import annotations

import shutil
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from greenbench.leaderboard.site import build_site
from tests.test_leaderboard_build import lab_runs

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and Path(p).exists()), None)
CHROMEDRIVER = next((p for p in ("/usr/bin/chromedriver", shutil.which("chromedriver"))
                     if p and Path(p).exists()), None)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no Chromium here: install Debian's chromium and chromium-driver (.ci/run does)")

PHONE_WIDTH = 390
WIDE = 1280


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("leaderboard") / "site"
    build_site(lab_runs(), out, figures=False)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the dev extra")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--hide-scrollbars",
                f"--user-data-dir={profile}", f"--window-size={WIDE},1000"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(120)  # a busy 2-core machine; the page itself is small
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser: Any, site: Path) -> Any:
    browser.set_window_size(WIDE, 1000)
    browser.get((site / "index.html").as_uri())
    browser.get_log("browser")  # nothing of an earlier test's page
    browser.get((site / "index.html").as_uri())
    return browser


def _by(css: str) -> tuple[str, str]:
    return ("css selector", css)


def energies(table: Any) -> list[list[float]]:
    """Each row group's energies, in the order shown."""
    return [[float(row.find_elements(*_by("td"))[2].get_attribute("data-value"))
             for row in body.find_elements(*_by("tr.row"))]
            for body in table.find_elements(*_by("tbody"))]


def header(table: Any, name: str) -> Any:
    return next(th for th in table.find_elements(*_by("thead th"))
                if th.text.strip().startswith(name))


def test_the_page_loads_from_file_with_no_console_errors(browser: Any, site: Path) -> None:
    browser.get_log("browser")
    browser.get((site / "index.html").as_uri())
    assert browser.title.startswith("greenbench leaderboard")
    assert len(browser.find_elements(*_by("table.board"))) == 3
    problems = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []


def test_sorting_by_energy_reorders_the_rows_and_says_so_in_aria_sort(page: Any) -> None:
    table = page.find_element(*_by("table.board.measured"))
    before = energies(table)
    assert before == [sorted(group) for group in before]  # ranked: lowest energy first
    energy = header(table, "Energy per token")
    assert energy.get_attribute("aria-sort") == "ascending"
    energy.find_element(*_by("button")).click()
    after = energies(table)
    assert after == [sorted(group, reverse=True) for group in before] != before
    assert energy.get_attribute("aria-sort") == "descending"
    energy.find_element(*_by("button")).click()
    assert energies(table) == before and energy.get_attribute("aria-sort") == "ascending"


def test_sorting_works_from_the_keyboard(page: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    table = page.find_element(*_by("table.board.measured"))
    before = energies(table)
    rank = header(table, "Rank")
    button = rank.find_element(*_by("button"))
    page.execute_script("arguments[0].focus()", button)
    assert page.switch_to.active_element == button  # a real button: it takes the focus
    button.send_keys(Keys.ENTER)
    assert rank.get_attribute("aria-sort") == "ascending"  # first press: rank 1 first
    button.send_keys(Keys.SPACE)
    assert rank.get_attribute("aria-sort") == "descending"
    assert header(table, "Energy per token").get_attribute("aria-sort") == "none"
    assert energies(table) == [list(reversed(group)) for group in before]


def test_a_filter_hides_the_rows_that_do_not_match(page: Any) -> None:
    from selenium.webdriver.support.ui import Select

    rows = page.find_elements(*_by("tr.row"))
    assert all(r.is_displayed() for r in rows)
    Select(page.find_element(*_by('select[data-filter="precision"]'))).select_by_value("bf16")
    shown = [r for r in rows if r.is_displayed()]
    assert {r.get_attribute("data-precision") for r in shown} == {"bf16"}
    assert len(shown) == 3 < len(rows)
    assert page.find_element(*_by("form.filters output")).text == f"3 of {len(rows)} results shown"
    # the estimated table's only hardware class has no bf16 row: its group is hidden too
    assert not page.find_element(*_by("table.board.estimated tbody")).is_displayed()
    Select(page.find_element(*_by('select[data-filter="precision"]'))).select_by_value("")
    params = page.find_element(*_by('input[data-filter="params"]'))
    params.send_keys("seq_len=1024")
    shown = [r for r in rows if r.is_displayed()]
    assert len(shown) == 3 and all("seq_len=1024" in r.get_attribute("data-params")
                                   for r in shown)
    Select(page.find_element(*_by('select[data-filter="hardware"]'))).select_by_value(
        "1 x NVIDIA H100")
    assert [r.get_attribute("data-hardware") for r in rows if r.is_displayed()] == [
        "1 x NVIDIA H100"]


def test_estimated_rows_look_different_from_measured_ones(page: Any) -> None:
    measured = page.find_element(*_by("tr.row.measured"))
    estimated = page.find_element(*_by("tr.row.estimated"))

    def style(element: Any, prop: str) -> str:
        return str(page.execute_script(
            "return getComputedStyle(arguments[0]).getPropertyValue(arguments[1])",
            element, prop))

    assert style(estimated, "background-image") != style(measured, "background-image")
    method_m = measured.find_element(*_by("td.method"))
    method_e = estimated.find_element(*_by("td.method"))
    assert style(method_e, "color") != style(method_m, "color")
    assert style(method_e, "font-style") == "italic" != style(method_m, "font-style")
    assert method_e.text.startswith("ESTIMATE") and method_m.text.startswith("measured")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.mark.parametrize("width", [WIDE, PHONE_WIDTH])
def test_the_page_fits_its_width_and_a_screenshot_is_taken(
        page: Any, site: Path, tmp_path: Path, width: int) -> None:
    page.set_window_size(width, 1000)
    page.get((site / "index.html").as_uri())
    inner = page.execute_script("return window.innerWidth")
    scroll = page.execute_script("return document.documentElement.scrollWidth")
    assert scroll <= inner  # no sideways scrolling of the page
    for box in page.find_elements(*_by("div.table")):
        # every column visible without scrolling the table either
        assert page.execute_script("return arguments[0].scrollWidth <= arguments[0].clientWidth",
                                   box)
    height = page.execute_script("return document.documentElement.scrollHeight")
    page.set_window_size(width, min(int(height) + 200, 6000))
    shot = tmp_path / f"leaderboard-{width}.png"
    assert page.save_screenshot(str(shot))
    shown_width, _ = _png_size(shot)
    assert shown_width == inner
