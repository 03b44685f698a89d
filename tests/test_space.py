"""The repo as a Hugging Face Space: valid front matter, matching versions, no CUDA at import."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import metadata_load

from nst.cyclegan.hub import BUILTIN_MODELS

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
    assert set(meta["models"]) == catalog - set(BUILTIN_MODELS)  # the Hub models it uses; built-in ones install with it
    assert "vintagify" in catalog


@pytest.mark.slow
def test_the_gatys_engine_imports_no_cyclegan_code():
    """The techniques stand apart: Gatys (and the feed-forward networks it can start from) pulls in
    neither the CycleGAN networks nor huggingface_hub."""
    code = "import sys, nst.gatys.engine, nst.feedforward.magenta\nprint(sorted(m for m in sys.modules if 'cyclegan' in m or 'huggingface' in m or m in ('nst.cyclegan.weights', 'nst.cyclegan.hub')))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr[-2000:]


@pytest.mark.slow
def test_importing_the_app_touches_no_gpu_and_loads_no_model():
    code = (
        "import torch, app, nst.gatys.vgg as v, nst.cyclegan.hub, nst.feedforward.magenta as fast, ui.cyclegan_handlers as handlers\n"
        "assert not torch.cuda.is_initialized()\n"
        "assert v.load_vgg19.cache_info().currsize == 0\n"
        "assert fast.load_models.cache_info().currsize == 0\n"
        "assert handlers.cached_generator.cache_info().currsize == 0\n"
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


def test_the_app_needs_only_requirements_txt():
    """A Space installs requirements.txt and runs app.py: every third-party module imported by
    app.py and the project modules it reaches (ui/, nst/) comes from a distribution listed there."""
    import ast
    import importlib.metadata
    import sys

    listed = {re.split(r"[<>=\[ ;#]", line.strip())[0].lower().replace("_", "-")
              for line in (ROOT / "requirements.txt").read_text().splitlines() if line.strip() and not line.startswith("#")}  # fmt: skip
    providers = importlib.metadata.packages_distributions()
    imported, todo, seen = set(), [ROOT / "app.py"], set()
    while todo:  # follow the project's own imports from app.py
        path = todo.pop()
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                if name.split(".")[0] in ("nst", "ui"):
                    local = ROOT / (name.replace(".", "/") + ".py")
                    if local.is_file() and local not in seen:
                        todo.append(local)
                else:
                    imported.add(name.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"__future__"}
    missing = {m for m in third_party if not {d.lower().replace("_", "-") for d in providers.get(m, [])} & listed}
    assert not missing, f"imported by the app but not in requirements.txt: {missing}"
    assert {ROOT / "nst" / "gatys" / "engine.py", ROOT / "ui" / "loss_plot.py"} <= seen
    assert ROOT / "nst" / "cyclegan" / "data.py" not in seen and ROOT / "nst" / "cyclegan" / "trainer.py" not in seen


@pytest.mark.slow
def test_each_technique_imports_only_what_it_needs():
    """The Gatys engine pulls in neither CycleGAN (nor huggingface_hub), torchvision, gradio nor
    the app; the command line does not pull in the UI or the training extras."""
    import subprocess
    import sys

    def loaded(modules: str) -> set[str]:
        code = f"import sys, {modules}; print(sorted(sys.modules))"
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        return {name.strip("' ") for name in out.strip("[]\n").split(",")}

    engine = loaded("nst.gatys.engine, nst.gatys.sweep, nst.quality")
    tops = {name.split(".")[0] for name in engine}
    assert not tops & {"huggingface_hub", "torchvision", "gradio", "ui", "app", "accelerate"}, tops
    assert "nst.gatys.engine" in engine and not any(name.startswith("nst.cyclegan") for name in engine)
    cli = {name.split(".")[0] for name in loaded("nst.cli")}
    assert not cli & {"gradio", "ui", "app", "accelerate", "torchvision"}, cli
