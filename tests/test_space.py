"""The repo as a Hugging Face Space: valid front matter, matching versions, no CUDA at import."""

import json
import re
import subprocess
import sys
from pathlib import Path

from huggingface_hub import metadata_load

ROOT = Path(__file__).resolve().parents[1]
HARDWARE = {"cpu-basic", "cpu-upgrade", "t4-small", "t4-medium", "l4x1", "a10g-small", "a10g-large", "a100-large", "zero-a10g"}


def test_readme_front_matter_is_a_space_config():
    meta = metadata_load(ROOT / "README.md")
    pinned = re.search(r"^gradio==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == pinned
    assert (ROOT / meta["app_file"]).is_file()
    assert meta["title"] and meta["emoji"] and 0 < len(meta["short_description"]) <= 60
    assert meta["suggested_hardware"] in HARDWARE
    catalog = {m["source"] for m in json.loads((ROOT / "weights" / "catalog.json").read_text())["models"]}
    assert set(meta["models"]) == catalog


def test_importing_the_app_touches_no_gpu_and_loads_no_model():
    code = (
        "import torch, app, nst.vgg as v, nst.hub\n"
        "assert not torch.cuda.is_initialized()\n"
        "assert v.load_vgg19_features.cache_info().currsize == 0\n"
        "assert app.cached_generator.cache_info().currsize == 0\n"
        "print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]


def test_examples_come_from_the_project():
    from PIL import Image

    from ui.examples import GATYS_PAIRS, PAINTINGS, example_files

    files = example_files()
    assert all(path.is_file() and "shared" not in path.parts for path in files.values())
    assert {name for pair in GATYS_PAIRS for name in pair} <= set(files)
    shipped = [files[name] for name in (*PAINTINGS, "tubingen")]
    assert sum(path.stat().st_size for path in shipped) < 2_000_000
    assert all(max(Image.open(path).size) <= 512 for path in shipped)
