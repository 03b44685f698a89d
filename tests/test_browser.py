"""The app in a real browser, checked by what a person sees: Playwright driving Debian's Chromium
against `python app.py`.

Random VGG19 weights (NST_VGG19_WEIGHTS=random) where the picture does not matter, for speed: the
tests check that the picture forming stays in view, the loss plot can be read, Stop says so,
errors read whole, and a CycleGAN translation shows; the offline test runs the default, original
network. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from app_server import serve_app_with_tiny_generator
from conftest import synthetic_image

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
EXAMPLES = Path(__file__).resolve().parents[1] / "ui" / "images"
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.slow,  # a browser against a served app
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)")]

# What is on top at a point of an element (its centre, or `fx` of its width across), as a person
# would see it: the element itself (or something inside it), not an overlay.
ON_TOP = """([selector, fx]) => {
    const target = document.querySelector(selector);
    if (!target) return null;
    const box = target.getBoundingClientRect();
    const top = document.elementFromPoint(box.x + box.width * fx, box.y + box.height / 2);
    return {visible: top !== null && (top === target || target.contains(top)), src: target.src || null,
            top: top && top.tagName};
}"""


# How many times the error toasts say `text` (Gradio groups repeated errors in one toast), or,
# given more than -1, whether they say it more than that many times.
TIMES_SAID = """([text, more_than]) => {
    const said = [...document.querySelectorAll('.toast-body')].map(t => t.innerText).join('\\n').split(text).length - 1;
    return more_than === -1 ? said : said > more_than;
}"""


def on_top(page, selector: str, fx: float = 0.5) -> dict:
    return page.evaluate(ON_TOP, [selector, fx])


def label_on_top(page, selector: str, fx: float) -> bool:
    """ON_TOP for a Gradio block label, which is painted above its image but lets clicks through
    (pointer-events: none, which elementFromPoint skips): made hit-testable for the check only."""
    return page.evaluate("""([selector, fx, onTop]) => {
        const label = document.querySelector(selector), old = label.style.pointerEvents;
        label.style.pointerEvents = "auto";
        try { return eval(onTop)([selector, fx]).visible; } finally { label.style.pointerEvents = old; }
    }""", [selector, fx, ON_TOP])  # fmt: skip


def status_text(page, elem_id: str = "status") -> str:
    """The status line as a person reads it: our sentence, and no overlay of Gradio's shown on it
    (its tracker keeps an invisible, opacity 0, "Error" after a cancel)."""
    tracker = page.locator(f"#{elem_id} [data-testid=status-tracker]")
    if tracker.count():
        assert tracker.evaluate("e => getComputedStyle(e).opacity") == "0", tracker.inner_text()
    return page.locator(f"#{elem_id} .run-status").inner_text()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        # a fake camera (a moving test pattern) for the webcam test, allowed without a prompt
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-background-networking", "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream"])  # fmt: skip
        yield browser
        browser.close()


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(url)
    page.locator("#run").wait_for(timeout=60_000)
    page.wait_for_function("document.querySelector('#vgg-note').innerText.includes('VGG19')", timeout=30_000)
    return page


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    yield from serve_app_with_tiny_generator(tmp_path_factory)


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """The app as a person without internet meets it: no VGG19 on disk, no Hub cache, and every
    HTTPS request sent to a closed local port."""
    home = tmp_path_factory.mktemp("offline-home")
    yield from serve_app_with_tiny_generator(
        tmp_path_factory, NST_VGG19_WEIGHTS=None, HF_HUB_OFFLINE=None, TORCH_HOME=str(home / "torch"),
        HF_HOME=str(home / "hf"), https_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
        no_proxy="127.0.0.1,localhost",
    )  # fmt: skip


def upload_pair(page, content: Path, style: Path) -> None:
    page.locator("#content input[type=file]").set_input_files(str(content))
    page.locator("#style input[type=file]").set_input_files(str(style))
    page.locator("#content img").first.wait_for(timeout=30_000)
    page.locator("#style img").first.wait_for(timeout=30_000)


def plot_text_px(page) -> dict[str, float]:
    """Each text of the loss plot and the height in CSS px its font is drawn at: the SVG's own
    font size times the scale the page shows the SVG at."""
    return page.evaluate("""() => {
        const svg = document.querySelector('#loss-plot svg');
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        return Object.fromEntries([...svg.querySelectorAll('text')].map(
            text => [text.textContent, parseFloat(getComputedStyle(text).fontSize) * scale]));
    }""")


def set_number(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(value)
    box.press("Enter")


def test_gatys_run_is_watchable_and_stop_says_stopped(browser, served):
    page = open_page(browser, served.url)
    upload_pair(page, EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg")
    set_number(page, "steps", "1000")
    set_number(page, "size", "128")
    page.locator("#run").click()
    page.locator("#result img").first.wait_for(timeout=120_000)  # the first frame
    samples, deadline = [], time.time() + 120  # at least 30 samples, and on until a second frame came
    while time.time() < deadline and (len(samples) < 30 or len({sample["src"] for sample in samples}) < 2):
        samples.append(on_top(page, "#result img"))
        time.sleep(0.3)
    in_view = sum(sample["visible"] for sample in samples)
    assert in_view >= 0.9 * len(samples), f"the result image was on top in only {in_view} of {len(samples)} samples"
    assert len({sample["src"] for sample in samples}) >= 2, "the picture should change while the run goes on"
    status = status_text(page)
    assert status.startswith("Step ") and "of 1000" in status and on_top(page, "#status progress")["visible"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gatys-running.png"), full_page=True)

    page.locator("#stop").click()
    page.wait_for_function("document.querySelector('#status .run-status').innerText.includes('Stopped at step')",
                           timeout=30_000)  # fmt: skip
    stopped = status_text(page)
    time.sleep(2.0)
    assert status_text(page) == stopped, "no more updates after Stop"
    step = int(stopped.split("Stopped at step ")[1].split()[0])
    assert 0 < step < 1000 and f"Stopped at step {step} of 1000" in stopped
    assert on_top(page, "#result img")["visible"]
    # once the plot stands still: it names its curves in words a person can read, not clipped or covered
    for term in ("α·content", "β·style", "total"):
        label = page.locator("#loss-plot svg text", has_text=term).first
        label.scroll_into_view_if_needed()
        box, plot_box = label.bounding_box(), page.locator("#loss-plot .prose svg").bounding_box()
        assert plot_box["y"] <= box["y"] and box["y"] + box["height"] <= plot_box["y"] + plot_box["height"]
        centre = [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
        assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y)?.closest('#loss-plot')", centre), term
    sizes = plot_text_px(page)  # on a laptop's screen the plot's words read like the page's, not larger
    assert all(12 <= sizes[word] <= 16 for word in ("α·content", "β·style", "total", "step")), sizes

    page.screenshot(path=str(ARTIFACTS / "gatys-stopped.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}], ids=["laptop", "phone"])
def test_the_result_and_its_status_stay_in_view_from_run_to_the_end(browser, served, viewport):
    """A person clicks an example, scrolls to Run (a phone has four pictures above it) and clicks:
    from then on, without scrolling, the result and the status line are on screen."""
    page = browser.new_page(viewport=viewport)
    page.goto(served.url)
    page.locator("#run").wait_for(timeout=60_000)
    page.locator("#gatys-examples [data-testid=dataset-cell-0-0]").click()
    page.locator("#preview img").first.wait_for(timeout=30_000)
    set_number(page, "steps", "60")
    set_number(page, "size", "160")
    page.locator("#run").scroll_into_view_if_needed()
    page.locator("#run").click()
    page.locator("#result img").first.wait_for(timeout=120_000)
    seen = []
    while not status_text(page).startswith("Done"):
        seen.append((on_top(page, "#result img")["visible"], on_top(page, "#status .run-status", 0.1)["visible"]))
        time.sleep(0.2)
    seen.append((on_top(page, "#result img")["visible"], on_top(page, "#status .run-status", 0.1)["visible"]))
    assert len(seen) >= 3 and all(result and status for result, status in seen), seen
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"gatys-in-view-{viewport['width']}.png"))
    page.close()


def test_preview_shows_at_once_labelled_and_run_still_streams(browser, served):
    """An example, then an upload: the feed-forward preview comes up within seconds, on top, under
    a label and a note a person can read; Run then streams the Gatys result beside it."""
    page = open_page(browser, served.url)
    page.locator("#gatys-examples [data-testid=dataset-cell-1-0]").click()  # the cat in The Scream
    page.locator("#preview img").first.wait_for(timeout=10_000)
    page.locator("#preview").scroll_into_view_if_needed()  # the click left the page at the examples, below
    page.wait_for_function(f"({ON_TOP})(['#preview img', 0.5])?.visible", timeout=5_000)
    label = page.locator("#preview [data-testid=block-label]")
    assert label.inner_text().strip() == "Feed-forward preview, not Gatys"
    for fx in (0.05, 0.5, 0.95):  # the whole label on top of the picture: no button over it, nothing cut off
        assert label_on_top(page, "#preview [data-testid=block-label]", fx), fx
    assert label.evaluate("e => e.scrollWidth <= e.clientWidth")
    note = page.locator("#preview-note").inner_text()
    assert "feed-forward network of Ghiasi et al. (2017)" in note and "Run refines with Gatys' optimisation" in note
    assert on_top(page, "#preview-note p")["visible"]

    first = on_top(page, "#preview img")["src"]
    page.locator("#style input[type=file]").set_input_files(str(EXAMPLES / "starry_night.jpg"))
    page.wait_for_function(f"({ON_TOP})(['#preview img', 0.5])?.src !== {first!r}", timeout=10_000)  # a new picture
    preview = on_top(page, "#preview img")
    assert preview["visible"]

    set_number(page, "steps", "60")
    set_number(page, "size", "96")
    page.locator("#run").click()
    page.locator("#result img").first.wait_for(timeout=60_000)
    sources, deadline = set(), time.time() + 60
    while time.time() < deadline and len(sources) < 2:  # the Gatys result changes while the run goes on
        sample = on_top(page, "#result img")
        assert sample["visible"], sample
        sources.add(sample["src"])
        time.sleep(0.2)
    assert len(sources) >= 2
    page.wait_for_function("document.querySelector('#status .run-status').innerText.startsWith('Done: 60 steps')",
                           timeout=120_000)  # fmt: skip
    assert on_top(page, "#result img")["visible"] and on_top(page, "#preview img") == preview  # the preview stays
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gatys-preview.png"), full_page=True)
    page.close()


def test_offline_torchvision_is_explained_whole_and_the_original_is_one_click(browser, offline, tmp_path):
    """Offline, the default network (the original, built in) needs nothing; choosing torchvision's
    says it cannot be downloaded, Run says so in a toast, and one click goes back to the original."""
    page = open_page(browser, offline.url)
    assert page.locator("#network input[value=original]").is_checked()
    assert "built in, no download" in page.locator("#vgg-note").inner_text()
    page.locator("#network label", has_text="torchvision").click()
    page.locator("#use-original").wait_for(state="visible", timeout=30_000)
    assert "cannot be downloaded (offline)" in page.locator("#vgg-note").inner_text()
    upload_pair(page, EXAMPLES / "tubingen.jpg", EXAMPLES / "the_scream.jpg")
    page.locator("#run").click()
    toast = page.locator(".toast-body", has_text="torchvision's VGG19").first
    toast.wait_for(timeout=30_000)
    message = toast.inner_text()
    for words in ("Could not download torchvision's VGG19 weights", "cannot be reached", "Click “Use the original network”"):
        assert words in message, message
    assert status_text(page).startswith("Not run: Could not download")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gatys-offline.png"))

    page.locator("#use-original").click()
    page.wait_for_function("document.querySelector('#network input[value=original]').checked", timeout=10_000)
    set_number(page, "steps", "4")
    set_number(page, "size", "64")
    page.locator("#run").click()
    page.wait_for_function("document.querySelector('#status .run-status').innerText.startsWith('Done: 4 steps')",
                           timeout=120_000)  # fmt: skip
    assert "Traceback" not in offline.log_text()  # user errors are not logged as tracebacks
    page.close()


def test_non_image_upload_is_emptied_and_said_once(browser, served, tmp_path):
    """A text file named .png: the box is emptied (no broken-image icon that looks loaded), the
    status line and one toast say why, adding a style does not say it again, and Run asks for
    the content image, as the status line does."""
    page = open_page(browser, served.url)
    fake = tmp_path / "fake.png"
    fake.write_text("this is a text file, not a picture")
    sentence = "The Content file is not a picture that can be read"
    page.locator("#content input[type=file]").set_input_files(str(fake))
    page.wait_for_function(f"document.querySelector('#status .run-status').innerText.startsWith({sentence!r})", timeout=30_000)
    page.wait_for_function("!document.querySelector('#content img')", timeout=10_000)  # emptied: nothing to mistake for a picture
    assert page.locator("#content input[type=file]").count() == 1  # ready for another file
    page.locator("#style input[type=file]").set_input_files(str(EXAMPLES / "shipwreck.jpg"))
    page.locator("#style img").first.wait_for(timeout=30_000)
    time.sleep(1.5)  # the preview's try with the style: no second toast
    assert page.evaluate(f"({TIMES_SAID})(['{sentence}', -1])") <= 1
    assert "/tmp" not in page.locator("#status").inner_text()
    page.locator("#run").click()
    page.locator(".toast-body", has_text="Please upload a content image").first.wait_for(timeout=30_000)
    assert page.evaluate(f"({TIMES_SAID})(['{sentence}', -1])") <= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gatys-bad-upload.png"))
    page.close()


def test_first_minute_on_a_laptop_screen(browser, served):
    """At 1280 x 900: before a run no empty plot or download box and a quiet Stop; an example
    click shows its pictures and the preview without scrolling; changing a setting says the
    settings are no longer the preset's."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(served.url)
    page.locator("#run").wait_for(timeout=60_000)
    assert not page.locator("#loss-plot").is_visible() and not page.locator("#download").is_visible()
    run_colour, stop_colour = (page.evaluate(f"getComputedStyle(document.querySelector('{b}')).backgroundColor")
                               for b in ("#run", "#stop"))  # fmt: skip
    assert run_colour != stop_colour and "stop" not in page.locator("#stop").get_attribute("class")
    examples = page.locator("#gatys-examples").bounding_box()
    assert examples["y"] + examples["height"] <= 900, examples  # in the first screen
    page.locator("#gatys-examples [data-testid=dataset-cell-0-0]").click()  # Tübingen in The Starry Night
    page.locator("#preview img").first.wait_for(timeout=30_000)
    page.wait_for_function(f"({ON_TOP})(['#preview img', 0.5])?.visible", timeout=10_000)  # no scrolling needed
    for box in ("#content img", "#style img"):
        assert on_top(page, box)["visible"], box
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gatys-example-clicked.png"))
    assert page.locator("#preset input").input_value() == "study"
    set_number(page, "steps", "50")
    page.wait_for_function("document.querySelector('#preset input').value === 'edited'", timeout=10_000)
    page.close()


def _rocket() -> Path:
    """scikit-image's rocket.jpg: a photo with an embedded Adobe RGB (1998) profile, as cameras write them."""
    import importlib.resources

    return Path(str(importlib.resources.files("skimage") / "data" / "rocket.jpg"))


def _display_p3_photo(folder: Path) -> Path:
    """The Tübingen photo as a phone would write it: tagged Display P3 (its numbers then mean wider colours)."""
    from PIL import Image

    from icc import display_p3_profile

    Image.open(EXAMPLES / "tubingen.jpg").save(folder / "tubingen-p3.jpg", quality=92, icc_profile=display_p3_profile())
    return folder / "tubingen-p3.jpg"


@pytest.mark.parametrize("photo", ["srgb", "adobe-rgb", "display-p3"])
def test_painting_a_region_and_running(browser, served, photo, tmp_path):
    """Open "Where the style goes", paint a red stroke over the content, Run: the run uses the
    painting (the status says so) and the preview follows it, also over photos with a colour
    profile, whose canvas the browser shows converted to sRGB."""
    content = {"srgb": EXAMPLES / "tubingen.jpg", "adobe-rgb": _rocket()}.get(photo) or _display_p3_photo(tmp_path)
    page = open_page(browser, served.url)
    upload_pair(page, content, EXAMPLES / "starry_night.jpg")
    page.locator("#preview img").first.wait_for(timeout=30_000)
    whole = on_top(page, "#preview img")["src"]
    page.locator("#regions-box").get_by_text("Where the style goes: paint regions").click()
    canvas = page.locator("#regions canvas").first
    canvas.wait_for(timeout=30_000)
    page.locator("#regions").scroll_into_view_if_needed()
    time.sleep(2.0)  # the content comes into the canvas
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    for i in range(1, 21):  # a broad stroke across the sky
        page.mouse.move(box["x"] + box["width"] * (0.3 + 0.02 * i), box["y"] + box["height"] * (0.2 + 0.005 * i), steps=2)
    page.mouse.up()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"gatys-regions-painted-{photo}.png"))
    page.wait_for_function(f"document.querySelector('#preview img')?.src !== {whole!r}", timeout=30_000)  # the preview follows
    set_number(page, "steps", "4")
    set_number(page, "size", "160")  # the stroke must cover a position of relu5_1 (16 px) on a portrait photo too
    page.locator("#run").scroll_into_view_if_needed()
    page.locator("#run").click()
    page.wait_for_function("/^(Done|Not run|Stopped)/.test(document.querySelector('#status .run-status').innerText)",
                           timeout=120_000)  # fmt: skip
    status = status_text(page)
    assert status.startswith("Done: 4 steps") and "Painted regions: 1 styled, the rest kept as the photo." in status, status
    page.close()


def test_on_a_phone_the_examples_come_early(browser, served):
    """At 390 x 844 the examples come right after the two upload boxes, not 3000 px down."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(served.url)
    page.locator("#run").wait_for(timeout=60_000)
    top = page.evaluate("document.querySelector('#gatys-examples').getBoundingClientRect().top + window.scrollY")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert top < 0.3 * height and top < 2 * 844, (top, height)
    page.locator("#gatys-examples").scroll_into_view_if_needed()
    assert on_top(page, "#gatys-examples [data-testid=dataset-cell-0-0]")["visible"]
    page.close()


def test_cyclegan_tab_translates_with_its_default_model_offline(browser, offline):
    """A person without internet opens the tab and presses Translate on an example: the built-in
    generator translates it; the tab offers only its one direction, photos as examples, and a
    sentence where a cycle would be."""
    page = open_page(browser, offline.url)
    page.get_by_role("tab", name="CycleGAN").click()
    page.wait_for_function("document.querySelector('#cg-examples')?.innerText.includes('Examples: modern photos')",
                           timeout=30_000)  # fmt: skip
    assert page.locator("#cg-note").inner_text().startswith("In: a photo of today.")
    assert "No cycle to show" in page.locator("#cg-cycle-note").inner_text() and not page.locator("#cg-cycle").is_visible()
    page.locator("#cg-examples button").first.click()  # the Tübingen photo
    page.locator("#cg-input img").first.wait_for(timeout=30_000)
    page.locator("#cg-translate").click()
    page.wait_for_function("document.querySelector('#cg-status .run-status')?.innerText.startsWith('Done')",
                           timeout=120_000)  # fmt: skip
    assert "modern photo → vintage photo" in status_text(page, "cg-status")
    page.wait_for_function(f"({ON_TOP})(['#cg-output', 0.25]).top === 'IMG'", timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "cyclegan-tab.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    text_end, arrow_start = page.evaluate("""() => { const box = document.querySelector('#cg-model input'), style = getComputedStyle(box);
        const arrow = document.querySelector('#cg-model svg').getBoundingClientRect();
        return [box.getBoundingClientRect().right - parseFloat(style.paddingRight), arrow.left]; }""")  # fmt: skip
    assert text_end <= arrow_start + 1, (text_end, arrow_start)  # the model's name stops before the dropdown's arrow
    page.locator("#cg-output").scroll_into_view_if_needed()
    assert on_top(page, "#cg-output", 0.25)["top"] == "IMG"
    page.screenshot(path=str(ARTIFACTS / "cyclegan-tab-phone.png"), full_page=False)
    page.close()


def test_cyclegan_tab_fits_each_model_and_an_offline_hub_model_fails_fast(browser, served, offline, tmp_path):
    source = tmp_path / "photo.png"
    synthetic_image(200, 140, seed=3).save(source)
    page = open_page(browser, served.url)
    page.get_by_role("tab", name="CycleGAN").click()
    model = page.locator("#cg-model input")
    model.fill(str(served.weights_dir / "tiny"))
    model.press("Enter")
    page.locator("#cg-input input[type=file]").set_input_files(str(source))
    page.locator("#cg-input img").first.wait_for(timeout=30_000)
    page.locator("#cg-translate").click()
    page.wait_for_function("document.querySelector('#cg-status .run-status')?.innerText.startsWith('Done')",
                           timeout=60_000)  # fmt: skip
    # the slider's handle sits at the centre: look a quarter across, where the translation shows
    page.wait_for_function(f"({ON_TOP})(['#cg-output', 0.25]).top === 'IMG'", timeout=10_000)
    assert page.locator("#cg-output img").count() >= 2
    assert "No cycle to show" in page.locator("#cg-cycle-note").inner_text()  # a single generator
    model.fill(str(served.weights_dir / "tiny-cycle"))  # both directions: the cycle shows
    model.press("Enter")
    page.locator("#cg-cycle").wait_for(state="visible", timeout=30_000)
    page.locator("#cg-translate").click()
    page.wait_for_function("document.querySelector('#cg-cycle-note').innerText.includes('Cycle L1 distance')",
                           timeout=60_000)  # fmt: skip
    cycle = page.locator("#cg-cycle img")
    assert cycle.count() == 3 and all(cycle.nth(i).is_visible() for i in range(3))
    assert "photo → painting" in page.locator("#cg-status .run-status").inner_text()
    page.close()

    page = open_page(browser, offline.url)  # the catalog's Hub model, neither cached nor reachable
    page.get_by_role("tab", name="CycleGAN").click()
    model = page.locator("#cg-model input")
    model.fill("huggan/sim2real_cyclegan")
    model.press("Enter")
    page.wait_for_function("document.querySelector('#cg-note').innerText.includes('the Hub cannot be reached')", timeout=30_000)
    page.locator("#cg-input input[type=file]").set_input_files(str(source))
    page.locator("#cg-input img").first.wait_for(timeout=30_000)
    page.locator("#cg-translate").click()
    page.wait_for_function("document.querySelector('#cg-status .run-status')?.innerText.includes('Not loaded')",
                           timeout=30_000)  # fmt: skip
    assert "not in the local Hub cache and the Hub cannot be reached" in page.locator("#cg-status .run-status").inner_text()
    page.close()


def test_experiments_tab_fills_the_grid_cell_by_cell(browser, served):
    page = open_page(browser, served.url)
    page.get_by_role("tab", name="Experiments").click()
    page.locator("#sweep-content input[type=file]").set_input_files(str(EXAMPLES / "tubingen.jpg"))
    page.locator("#sweep-style input[type=file]").set_input_files(str(EXAMPLES / "the_scream.jpg"))
    page.locator("#sweep-style img").first.wait_for(timeout=30_000)
    page.locator("#sweep-figure input").click()
    page.get_by_role("option", name="pooling x LR scheduler").click()
    page.wait_for_function("document.querySelector('#sweep-columns textarea').value === 'scheduler=none,plateau'")
    set_number(page, "sweep-size", "96")
    set_number(page, "sweep-steps", "20")
    page.locator("#sweep-run").click()
    seen = _counts_while_running(page)
    assert seen[-1] == 4 and len(set(seen)) >= 3, seen  # the cells appeared one by one, not all at the end
    assert "4 of 4 cells done" in status_text(page, "sweep-status")
    assert page.locator("#sweep-plot svg text", has_text="pooling = avg, scheduler = plateau").count() >= 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "experiments-tab.png"), full_page=True)
    page.close()


def _counts_while_running(page) -> list[int]:
    """How many cells the gallery shows, sampled until it shows 4 (or two minutes pass)."""
    counts, deadline = [], time.time() + 120
    while time.time() < deadline and (not counts or counts[-1] < 4):
        counts.append(page.locator("#sweep-gallery img").count())
        time.sleep(0.2)
    return counts


def test_the_webcam_is_translated_live(browser, served):
    """Chromium's fake camera (a moving test pattern) streams into the CycleGAN tab's live view."""
    context = browser.new_context(viewport={"width": 1280, "height": 1100}, permissions=["camera"])
    try:
        page = context.new_page()
        page.goto(served.url)
        page.locator("#run").wait_for(timeout=60_000)
        page.get_by_role("tab", name="CycleGAN").click()
        model = page.locator("#cg-model input")
        model.fill(str(served.weights_dir / "tiny"))
        model.press("Enter")
        page.get_by_text("Live: the webcam, translated frame by frame").click()
        page.locator("#cg-webcam button", has_text="Click to Access Webcam").click()
        page.locator("#cg-webcam button[aria-label='capture photo']").first.click(timeout=30_000)  # starts the stream
        page.wait_for_function("document.querySelector('#cg-webcam-rate').innerText.includes('frames per second')",
                               timeout=60_000)  # fmt: skip
        page.wait_for_function("document.querySelector('#cg-webcam video')?.videoWidth > 0", timeout=30_000)
        video = page.evaluate("(v => [v.videoWidth, v.videoHeight])(document.querySelector('#cg-webcam video'))")
        shown = page.wait_for_function("""(() => { const i = document.querySelector('#cg-webcam-out img');
            return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null; })()""",
                                       timeout=30_000).json_value()  # fmt: skip
        assert abs(shown[0] / shown[1] - video[0] / video[1]) < 0.01, (shown, video)  # the camera's picture, its shape kept
        image = page.locator("#cg-webcam-out img").first
        first = image.get_attribute("src")
        page.wait_for_function(f"document.querySelector('#cg-webcam-out img').src !== {first!r}", timeout=30_000)  # it goes on
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "cyclegan-webcam.png"), full_page=True)
    finally:
        context.close()


def test_on_a_phone_the_loss_plot_is_readable_after_a_run(browser, served):
    """At 390 x 844 the plot gets its own row instead of a sliver beside the download box, and
    its text is not shrunk below about 10 px (it was 6.7 px when the plot was drawn 6.4 inches wide)."""
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(served.url)
    page.locator("#run").wait_for(timeout=60_000)
    upload_pair(page, EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg")
    set_number(page, "steps", "4")
    set_number(page, "size", "64")
    page.locator("#run").click()
    page.wait_for_function("document.querySelector('#status .run-status').innerText.startsWith('Done: 4 steps')",
                           timeout=120_000)  # fmt: skip
    page.locator("#loss-plot svg").scroll_into_view_if_needed()
    width = page.evaluate("document.querySelector('#loss-plot svg').getBoundingClientRect().width")
    assert width >= 300, width
    assert on_top(page, "#loss-plot svg")["visible"]
    sizes = plot_text_px(page)  # the page shrinks the drawing to the phone's width: its words stay readable
    assert all(sizes[word] >= 10.5 for word in ("α·content", "β·style", "total", "step", "weighted loss")), sizes
    assert min(sizes.values()) >= 9, sizes
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gatys-phone.png"), full_page=True)
    page.close()


def test_the_print_preset_shows_its_size_and_levels(browser, served):
    """Choosing "print" puts 2048 px in the size box, whose label says how large this machine
    goes, and the multi-scale settings in Advanced: what a person reads, on top."""
    page = open_page(browser, served.url)
    page.locator("#preset input").click()
    page.get_by_role("option", name="print").click()
    page.wait_for_function("document.querySelector('#size input[type=number]').value === '2048'", timeout=10_000)
    assert on_top(page, "#size input[type=number]")["visible"]
    assert re.search(r"up to \d+ fits this machine", page.locator("#size").inner_text())
    page.get_by_text("Advanced", exact=True).click()
    for label, value in (("Coarse-to-fine levels", "0"), ("Size ratio between levels", "1.414"), ("Steps of a level", "0.6")):
        block = page.locator(".block", has=page.get_by_text(label)).last
        block.scroll_into_view_if_needed()
        assert block.locator("input[type=number]").input_value() == value, label
        assert block.get_by_text(label).is_visible()
    page.close()


def test_the_regions_example_shows_the_second_style_it_paints_in(browser, served):
    """The example paints the town blue, in the second style, whose box is under Advanced: the
    regions box shows that picture beside the painting, and its label says which it is."""
    page = open_page(browser, served.url)
    page.locator("#regions-box").get_by_text("Where the style goes: paint regions").click()
    page.locator("#regions-examples [data-testid=dataset-cell-0-0]").first.click()
    shown = page.locator("#regions-style2 img").first
    shown.wait_for(timeout=30_000)
    shown.scroll_into_view_if_needed()
    assert on_top(page, "#regions-style2 img")["visible"]
    assert "second style" in page.locator("#regions-style2").inner_text()
    assert page.locator("#regions-examples").inner_text().count("The Scream (blue)") == 1
    page.close()


@pytest.mark.parametrize("rows", [1, 2, 3, 4])
def test_experiment_cells_show_at_their_own_size_with_their_captions_whole(browser, served, rows):
    """Figures of 1 to 4 rows x 2 columns of 96 px cells: on a laptop and on a phone, no cell is
    blown up past its own size (blurry), every cell can be seen, and every caption is whole, under
    its picture."""
    cells_planned = 2 * rows
    page = open_page(browser, served.url)
    page.get_by_role("tab", name="Experiments").click()
    page.locator("#sweep-content input[type=file]").set_input_files(str(EXAMPLES / "tubingen.jpg"))
    page.locator("#sweep-style input[type=file]").set_input_files(str(EXAMPLES / "the_scream.jpg"))
    page.locator("#sweep-style img").first.wait_for(timeout=30_000)
    page.locator("#sweep-rows textarea").fill("log10_ratio=" + ",".join(["1", "0", "-1", "-2"][:rows]))
    page.locator("#sweep-columns textarea").fill("pooling=max,avg")
    set_number(page, "sweep-size", "96")
    set_number(page, "sweep-steps", "2")
    page.locator("#sweep-run").click()
    page.wait_for_function(f"document.querySelector('#sweep-status .run-status')?.innerText.includes('{cells_planned} of {cells_planned} cells done')",
                           timeout=120_000)  # fmt: skip
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        time.sleep(0.5)
        cells = page.locator("#sweep-gallery .thumbnail-item")
        assert cells.count() == cells_planned
        for i in range(cells_planned):
            cell = cells.nth(i)
            cell.scroll_into_view_if_needed()
            sizes = cell.evaluate("""c => { const i = c.querySelector('img'), t = c.querySelector('.caption-label');
                const box = i.getBoundingClientRect(), top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
                return {shown: box.width, own: i.naturalWidth, on_top: top === i || i.contains(top),
                        clipped: t.scrollWidth > t.clientWidth + 1 || t.scrollHeight > t.clientHeight + 1,
                        below: t.getBoundingClientRect().top >= box.bottom - 1}; }""")  # fmt: skip
            assert sizes["shown"] <= sizes["own"] + 1 and not sizes["clipped"] and sizes["below"], (width, i, sizes)
            assert sizes["on_top"], (width, i, sizes)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"experiments-cells-{rows}x2-{width}.png"), full_page=True)
    page.close()


def test_a_model_added_while_the_page_is_open_appears_on_rescan(browser, served):
    """A training run ends (or a checkpoint is copied into weights/) after the page was opened:
    Rescan puts it in the list, no restart."""
    import torch

    from nst.cyclegan.hub import model_card, save_generator
    from nst.cyclegan.networks import ResnetGenerator, init_weights

    page = open_page(browser, served.url)
    page.get_by_role("tab", name="CycleGAN").click()
    page.locator("#cg-model input").click()
    assert page.get_by_role("option", name="fresh (local)").count() == 0
    page.keyboard.press("Escape")
    torch.manual_seed(0)
    save_generator(init_weights(ResnetGenerator(ngf=8, n_blocks=1)), served.weights_dir / "fresh", model_card("fresh", "random"))
    page.locator("#cg-refresh").click()
    time.sleep(1.0)
    page.locator("#cg-model input").click()
    page.get_by_role("option", name="fresh (local)").wait_for(timeout=10_000)
    page.close()
