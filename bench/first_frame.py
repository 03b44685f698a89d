"""What a person waits for after `python app.py`: the seconds to the first streamed Gatys picture
and to the first preview, with the app's defaults, measured from outside the app's own process
(bench.app_process) in two ways:

- `through_api`: the app's API (gradio_client), as a script uses it: each Run uploads both pictures;
- `in_browser`: Chromium, as a person uses it: the pictures are uploaded when they are chosen, and
  the clock runs from the click on Run to the picture on the screen.

bench.gatys reports both, in its one run; `python -m bench.first_frame` measures them alone
(a few minutes, against bench.gatys's two hours), into bench/results/first-frame-cpu.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps

from bench.app_process import AppProcess
from bench.common import ROOT, machine, print_table, result_path, tubingen_and_starry_night, write_json
from nst.device import resolve_device
from nst.gatys.config import default_vgg_weights
from nst.images import load_image

FIRST_FRAME_STEPS = 2  # each Run ends by itself before the next; its first picture, step 0's, is the same whatever the steps
CHROMIUM = Path("/usr/bin/chromium")  # Debian's (apt-get install chromium), as the browser tests use


def fresh_app(folder: str) -> AppProcess:
    return AppProcess(Path(folder) / "app.log", {"NST_VGG19_WEIGHTS": default_vgg_weights()})


def pictures(folder: str, content: Image.Image, style: Image.Image) -> dict[str, str]:
    """The content, the style and a mirrored copy of the style (new bytes, the same size), as PNG
    files in `folder`, by name."""
    files = {"content": f"{folder}/content.png", "style": f"{folder}/style.png", "new style": f"{folder}/mirrored.png"}
    content.save(files["content"]), style.save(files["style"]), ImageOps.mirror(style).save(files["new style"])
    return files


def through_api(content: Image.Image, style: Image.Image, sizes: list[int], repeats: int = 3,
                pause_s: float = 5.0) -> list[dict]:  # fmt: skip
    """With the pictures `content` and `style` (bench.gatys: the Tübingen photo and The Starry
    Night): seconds until the page is served, then per size the seconds from Run to the first streamed
    picture: on a fresh process with Run pressed as soon as the page is served (cold: the network
    is still loading) and on later Runs (warm, median of `repeats`); then, on another fresh
    process, with Run pressed `pause_s` after the page is served (a person picking pictures: the
    networks load meanwhile, ui.warm_up), and that process's first feed-forward preview. Later
    Runs on the same pictures reuse the targets (ui.gatys_handlers.targets_cache); one more, with
    the style picture mirrored, computes them anew."""
    from gradio_client import Client, handle_file

    rows = []
    with tempfile.TemporaryDirectory() as folder:
        files = pictures(folder, content, style)

        def seconds_to_first_picture(client: Client, size: int, style: str = "style") -> float:
            start = time.perf_counter()
            job = client.submit(content=handle_file(files["content"]), style=handle_file(files[style]), style2=None,
                                size=size, steps=FIRST_FRAME_STEPS, api_name="/gatys")  # fmt: skip
            next(output for output in job if isinstance(output[0], str))  # a picture, not gr.skip()
            seconds = time.perf_counter() - start
            job.result()
            return seconds

        for size in sizes:
            app = fresh_app(folder)  # the process where Run is pressed at once
            try:
                client = Client(app.url, verbose=False)
                seconds = [seconds_to_first_picture(client, size) for _ in range(repeats + 1)]
                new_pictures = seconds_to_first_picture(client, size, "new style")
            finally:
                app.stop()
            paused = fresh_app(folder)
            try:
                client = Client(paused.url, verbose=False)
                time.sleep(pause_s)
                after_pause = seconds_to_first_picture(client, size)
                start = time.perf_counter()
                client.predict(content=handle_file(files["content"]), style=handle_file(files["style"]), strength=1.0,
                               api_name="/preview")  # fmt: skip
                preview_s = time.perf_counter() - start
            finally:
                paused.stop()
            rows.append({"size": size, "app served s": app.started_s, "first frame, Run at once s": seconds[0],
                         f"first frame, Run after {pause_s:g} s": after_pause,
                         "later Runs, same pictures s (median)": statistics.median(seconds[1:]),
                         "later Run, new pictures s": new_pictures, "first preview s": preview_s,
                         "target": "<= 5 s cold, <= 1 s warm"})  # fmt: skip
    return rows


# The result picture, once it differs from `old` and is what a person sees at its centre
# (document.elementFromPoint), not an overlay.
NEW_PICTURE_SHOWN = """(old) => {
    const img = document.querySelector('#result img');
    if (!img || !img.src || img.src === old || !img.complete) return false;
    const box = img.getBoundingClientRect();
    const top = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
    return top === img;
}"""


def in_browser(content: Image.Image, style: Image.Image, sizes: list[int], repeats: int = 3,
               pause_s: float = 5.0) -> list[dict] | None:  # fmt: skip
    """Per size, on a fresh `python app.py` in Chromium: the pictures chosen (uploaded then, as a
    person does), Run clicked `pause_s` later, and the seconds from the click to the first picture
    on the screen; then later Runs on the same pictures (median of `repeats`) and one after a new
    style picture was chosen (and its preview shown). None where Chromium or Playwright is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    rows = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        files = pictures(folder, content, style)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        for size in sizes:
            app = fresh_app(folder)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1100})
                page.goto(app.url)
                for name, value in (("size", size), ("steps", FIRST_FRAME_STEPS)):
                    page.locator(f"#{name} input[type=number]").fill(str(value))
                    page.locator(f"#{name} input[type=number]").press("Enter")
                choose(page, "content", files["content"])
                choose(page, "style", files["style"])
                time.sleep(pause_s)
                first = seconds_to_picture(page)
                later = [seconds_to_picture(page) for _ in range(repeats)]
                preview = page.evaluate("document.querySelector('#preview img')?.src || ''")
                choose(page, "style", files["new style"])
                page.wait_for_function(f"(document.querySelector('#preview img')?.src || '') !== {preview!r}", timeout=60_000)
                new_style = seconds_to_picture(page)
                page.close()
            finally:
                app.stop()
            rows.append({"size": size, f"first Run, {pause_s:g} s after choosing the pictures s": first,
                         "later Runs, same pictures s (median)": statistics.median(later),
                         "a Run after choosing a new style picture s": new_style, "target": "<= 1 s warm"})  # fmt: skip
    return rows


def choose(page, elem_id: str, path: str) -> None:
    """Pick a picture for an image input, and wait until the page shows it."""
    old = page.evaluate(f"document.querySelector('#{elem_id} img')?.src || ''")
    page.locator(f"#{elem_id} input[type=file]").set_input_files(path)
    page.wait_for_function(f"(document.querySelector('#{elem_id} img')?.src || '') !== {old!r}", timeout=60_000)


def seconds_to_picture(page) -> float:
    """Click Run; the seconds until its first picture is on the screen. Returns once the run is done."""
    old = page.evaluate("document.querySelector('#result img')?.src || ''")
    start = time.perf_counter()
    page.locator("#run").click()
    page.wait_for_function(NEW_PICTURE_SHOWN, arg=old, timeout=120_000, polling=10)
    seconds = time.perf_counter() - start
    page.wait_for_function("document.querySelector('#status .run-status').innerText.startsWith('Done')", timeout=300_000)
    return seconds


def measure(content: Image.Image, style: Image.Image, quick: bool) -> dict:
    """Both measures at 256 and 512 px (64 px with `quick`), printed and by report key."""
    sizes, repeats, pause_s = ([64], 1, 1) if quick else ([256, 512], 3, 5)
    report = {"first_frame": through_api(content, style, sizes, repeats, pause_s)}
    print_table("The app's Run through its API: seconds from python app.py to the first streamed picture (app defaults)",
                report["first_frame"])  # fmt: skip
    report["first_frame_browser"] = in_browser(content, style, sizes, repeats, pause_s)
    if report["first_frame_browser"] is None:
        print(f"\nFirst frame in a browser skipped: it needs Playwright and {CHROMIUM}")
    else:
        print_table("The app's Run in Chromium: seconds from the click to the first picture on the screen",
                    report["first_frame_browser"])  # fmt: skip
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="64 px, one Run each: checks the script runs")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"), help="folder for the JSON report")
    args = parser.parse_args()
    content, style = (load_image(path) for path in tubingen_and_starry_night())
    report = {"machine": machine(), **measure(content, style, args.quick)}
    write_json(result_path(args.out, "first-frame", resolve_device("auto").type, args.quick), report)


if __name__ == "__main__":
    main()
