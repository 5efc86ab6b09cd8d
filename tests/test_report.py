"""The HTML report (stylizer/report.py): rendered in a real headless browser from disk, with no network.

The browser is Debian's chromium and chromedriver, driven by Selenium. Without them these tests skip, unless
STYLIZER_REQUIRE_BROWSER is set (CI sets it and installs both), where a missing browser fails.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import FAST, make_image
from conftest_media import make_video
from stylizer import report


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        message = "no chromium and chromedriver (apt-get install chromium chromium-driver)"
        if os.environ.get("STYLIZER_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                # Any attempt to reach a host fails: the page must not need the network.
                "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)  # explicit paths: no download
    yield driver
    driver.quit()


def rendered_images(browser, page: Path) -> list[dict]:
    """Every <img> of the page as the browser loaded it, once the page has finished loading."""
    browser.get(page.resolve().as_uri())
    return browser.execute_script(
        "return Array.from(document.images).map(i => ({src: i.getAttribute('src'), alt: i.alt,"
        " loaded: i.complete && i.naturalWidth > 0, shown: i.getBoundingClientRect().width > 0}))")


def assert_self_contained(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "the page refers to another host"
    assert "<script" not in text


def test_folder_report_opens_in_a_headless_browser_and_shows_every_thumbnail(tmp_path: Path, style_image: Path,
                                                                            stylize, browser) -> None:
    photos = tmp_path / "photos"
    names = ["a.png", "b.jpg", "deep/c.png", "d e.png"]  # a sub-folder and a space in a name
    for i, name in enumerate(names):
        make_image(photos / name, seed=i)
    (photos / "broken.png").write_bytes(b"not an image")
    out = tmp_path / "out"
    rc, stdout, err = stylize(photos, style_image, *FAST, "--recursive", "-o", out)
    assert rc == 1, err  # the broken file fails, every other image is done
    page = out / "report.html"
    assert f"report: {page}" in err

    # The next night adds one photo: the earlier ones are shown as finished earlier, with their thumbnails.
    make_image(photos / "f.png", seed=9)
    rc, stdout, err = stylize(photos, style_image, *FAST, "--recursive", "-o", out)
    assert rc == 1, err
    assert "done 1" in stdout and "skipped 4" in stdout

    assert_self_contained(page)
    images = rendered_images(browser, page)
    thumbs = [i for i in images if i["alt"] in ("before", "after")]
    # Each of the 5 made images has both thumbnails; the broken file has none (it never decoded).
    assert len(thumbs) == 10
    assert all(i["loaded"] and i["shown"] for i in images), [i for i in images if not i["loaded"]]
    body = browser.find_element("tag name", "body").text
    for name in names + ["f.png"]:
        assert name in body
    assert "broken.png" in body and "failed" in body
    assert body.count("finished earlier") == 4
    # Failures come first: what the morning has to act on.
    assert body.index("broken.png") < body.index("a.png")


def test_video_report_has_a_strip_and_per_frame_plots_and_the_record_holds_the_flicker(
        tmp_path: Path, style_image: Path, stylize, browser) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=0.6)  # 15 frames
    out = tmp_path / "out.mp4"
    records = tmp_path / "records.jsonl"
    rc, _, err = stylize(clip, style_image, *FAST, "-o", out, "--records", records)
    assert rc == 0, err
    page = tmp_path / "out.mp4.report.html"
    assert_self_contained(page)
    images = rendered_images(browser, page)
    assert len([i for i in images if i["alt"].startswith("input frame")]) == report.STRIP_FRAMES
    assert len([i for i in images if i["alt"].startswith("output frame")]) == report.STRIP_FRAMES
    assert all(i["loaded"] and i["shown"] for i in images)
    plots = browser.execute_script(
        "return Array.from(document.querySelectorAll('svg')).map(s => [s.getAttribute('aria-label'),"
        " s.querySelectorAll('polyline, circle').length, s.getBoundingClientRect().height])")
    assert [label.split()[0] for label, _, _ in plots] == ["iterations", "loss", "flicker:"]
    assert all(lines >= 1 and height > 50 for _, lines, height in plots)

    lines = [json.loads(line) for line in records.read_text().splitlines()]
    assert [r["item"] for r in lines[:-1]] == [f"{clip} frame {j}" for j in range(15)]
    video = lines[-1]
    assert video["item"] == str(clip) and video["frames"] == 15 and video["status"] == "done"
    assert video["flicker"] > 0


def test_video_stats_count_both_chunks_of_a_faded_frame_and_the_last_version_of_a_remade_one() -> None:
    parts = {"content": 1.0, "style": 0.1, "tv": 0.01, "temporal": 0.0}
    records = [
        {"index": 0, "role": "own", "iterations": 10, "losses": parts},
        {"index": 1, "role": "fade-out", "iterations": 3, "losses": parts},
        {"index": 1, "role": "fade-in", "iterations": 12, "losses": parts},
        {"index": 2, "role": "own", "iterations": 40, "losses": parts},  # failed later, made again:
        {"index": 2, "role": "own", "iterations": 5, "losses": parts},
    ]
    stats = report.video_stats(records, 4, (1.0, 10.0, 1.0))
    assert [s.iterations for s in stats[:3]] == [10, 15, 5]
    assert stats[0].loss == pytest.approx(1.0 + 10 * 0.1 + 0.01)
    assert math.isnan(stats[3].iterations) and math.isnan(stats[3].loss)  # no record: a gap, not a zero


def test_a_plot_breaks_its_line_at_gaps_and_marks_cuts() -> None:
    svg = report._plot("flicker", [0, 1, 2, 3, 4, 5], [math.nan, 1.0, 2.0, math.nan, 3.0, 1.0], cuts=[3])
    assert svg.count("<polyline") == 2  # frames 1-2 and 4-5
    assert svg.count('stroke="#ccc"') == 1
    lone = report._plot("flicker", [0, 1, 2], [math.nan, 1.0, math.nan], cuts=[])
    assert "<circle" in lone and "<polyline" not in lone
