"""The app in a real browser: Playwright driving Debian's Chromium against `python app.py`.

Random VGG19 weights (NST_VGG19_WEIGHTS=random): the test checks what a user sees happen,
streaming frames, a growing loss plot, Stop, a CycleGAN translation, not artistic quality.
Screenshots of both tabs are saved to test-artifacts/.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app_server import serve_app_with_tiny_generator
from conftest import synthetic_image

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    yield from serve_app_with_tiny_generator(tmp_path_factory)


@pytest.fixture(scope="module")
def page(served):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(served.url, wait_until="networkidle")
        yield page
        browser.close()


def _distinct_values(read, wanted: int, timeout: float) -> list:
    seen, deadline = [], time.time() + timeout
    while time.time() < deadline and len(seen) < wanted:
        value = read()
        if value and (not seen or value != seen[-1]):
            seen.append(value)
        time.sleep(0.1)
    return seen


def _set_number(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(value)
    box.press("Enter")


def test_gatys_tab_streams_and_stops(page, tmp_path):
    content, style = tmp_path / "content.png", tmp_path / "style.png"
    synthetic_image(160, 120, seed=1).save(content)
    synthetic_image(120, 160, seed=2).save(style)
    page.locator("#content input[type=file]").set_input_files(str(content))
    page.locator("#style input[type=file]").set_input_files(str(style))
    _set_number(page, "steps", "1000")
    _set_number(page, "size", "96")
    page.locator("#content img").first.wait_for(timeout=30_000)
    page.locator("#run").click()
    result_src = lambda: page.locator("#result img").first.get_attribute("src") if page.locator("#result img").count() else None  # noqa: E731
    frames = _distinct_values(result_src, wanted=3, timeout=120)
    assert len(frames) >= 3, "the result image should change at least twice while running"
    plot = page.locator("#loss-plot")
    first_plot = plot.screenshot()
    time.sleep(2.0)
    assert plot.screenshot() != first_plot, "the loss plot should grow while running"
    page.locator("#stop").click()
    # While the event runs, Gradio overlays its progress text on the outputs; once stopped, our
    # own status line ("step N/1000 · ...") shows again.
    page.wait_for_function(
        "/^step \\d+\\/1000/.test(document.querySelector('#status').innerText.trim())", timeout=30_000
    )
    status_after_stop = page.locator("#status").inner_text()
    time.sleep(3.0)
    assert page.locator("#status").inner_text() == status_after_stop, "no more updates after Stop"
    step = int(status_after_stop.split("step ")[1].split("/")[0])
    assert 0 < step < 1000
    assert page.locator("#result img").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gatys-tab.png"), full_page=True)


def test_cyclegan_tab_translates(page, served, tmp_path):
    source = tmp_path / "photo.png"
    synthetic_image(200, 140, seed=3).save(source)
    page.get_by_role("tab", name="CycleGAN").click()
    model = page.locator("#cg-model input")
    model.fill(str(served.weights_dir / "tiny"))
    model.press("Enter")
    page.locator("#cg-input input[type=file]").set_input_files(str(source))
    page.locator("#cg-input img").first.wait_for(timeout=30_000)
    page.locator("#cg-translate").click()
    page.wait_for_function("document.querySelectorAll('#cg-output img').length >= 2", timeout=60_000)
    assert page.locator("#cg-output img").count() >= 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cyclegan-tab.png"), full_page=True)
