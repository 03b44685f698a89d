"""Every command in the README's bash blocks, pasted as it is written, in a copy of the project.

Each command is matched to what it must do here (offline, on the CPU, in this test's time): finish
and leave its files, start and get going (the app, a training run), stop with one line of error
where the internet is needed, or be left out with the reason. A new README command without a
match fails the first test, so none goes untested by accident.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import torch
from PIL import Image

from bench.app_process import free_port
from hub_fixtures import reference_generator
from nst.cyclegan.hub import model_card, save_cyclegan
from nst.cyclegan.networks import ResnetGenerator, init_weights
from synthetic_cyclegan import make_dataset

pytestmark = pytest.mark.slow  # the README's commands, each in a new process, the Gatys one on the real network

ROOT = Path(__file__).resolve().parents[1]

# What each command must do, by its first words: "finishes" (exit 0, and these files), "starts"
# (still running after doing its first work), "offline" (exit 2, one line naming what is
# unreachable), or a reason it is not run here.
EXPECTED = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt -e . && python app.py": "starts",
    "python3 -m venv .venv && . .venv/bin/activate && pip install torch --index-url": "not run: PyTorch's index is not reachable from the test machines",
    "bash .ci/run": "not run: it is the command that runs these tests",
    ". .venv/bin/activate && python -m pytest -q -m \"not slow\"": "not run: the unit tests, which CI runs with the rest",
    "pip install -r requirements-train.txt": "not run: it would re-point the test environment at the copy (CI installs it)",
    "python -m nst gatys --content ui/images/tubingen.jpg --style ui/images/starry_night.jpg --style": ("finishes", ["regions.png"]),
    "python -m nst gatys": ("finishes", ["result.png"]),
    "python -m nst sweep": ("finishes", ["sheet.png", "sweep.json"]),
    "python -m nst fast --content ui/images/tubingen.jpg --style ui/images/starry_night.jpg --style": ("finishes", ["regions-fast.png"]),
    "python -m nst fast": ("finishes", ["fast.png"]),
    "python -m nst cyclegan --model huggan/": "offline",
    "python -m nst cyclegan --model vintagify": ("finishes", ["vintage.png"]),
    "python -m nst cyclegan --model outputs/": ("finishes", ["monet.png"]),
    "python -m nst import-official latest_net_G.pth --out weights/style_monet --push-to-hub": "offline",
    "python -m nst import-official": ("finishes", ["weights/style_monet/model.safetensors"]),
    "python train/cyclegan.py --dataset data/": "starts",
    "python train/cyclegan.py --dataset huggan/": "offline",
}


DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]  # the front page and the pages it links


def readme_commands() -> list[str]:
    """The bash blocks' commands in the README and docs/*.md, each once: continued lines joined,
    comments dropped."""
    commands = []
    for document in DOCUMENTS:
        for block in re.findall(r"```bash\n(.*?)```", document.read_text(), re.S):
            for line in re.sub(r"\\\n\s*", "", block).splitlines():
                line = line.strip()
                if line and not line.startswith("#") and re.sub(r"\s+#.*$", "", line) not in commands:
                    commands.append(re.sub(r"\s+#.*$", "", line))
    return commands


def expected(command: str):
    return next((how for start, how in EXPECTED.items() if command.startswith(start)), None)


def test_every_readme_command_is_accounted_for():
    commands = readme_commands()
    assert len(commands) >= 12
    assert [c for c in commands if expected(c) is None] == []
    assert all("[" not in c for c in commands if "pytest" not in c)  # no usage-line brackets: each pastes as is


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project's files, with what the README's commands assume exists by then: a
    folder dataset, a finished training run's export and a reference checkpoint."""
    copy = tmp_path_factory.mktemp("project")
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    make_dataset(copy / "data" / "monet2photo", n=4, test=1)
    torch.manual_seed(0)
    g_ab, g_ba = init_weights(ResnetGenerator(ngf=8, n_blocks=1)), init_weights(ResnetGenerator(ngf=8, n_blocks=1))
    save_cyclegan(g_ab, g_ba, copy / "outputs" / "monet2photo" / "export", "monet", "photo", model_card("t", "t"))
    torch.save(reference_generator(ngf=8, n_blocks=2).state_dict(), copy / "latest_net_G.pth")
    return copy


def environment(port: int) -> dict:
    """This test's Python first on PATH (the README's `python`), offline, the app on `port`."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HF_HUB_OFFLINE": "0",
            "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "127.0.0.1,localhost",
            "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "NST_VGG19_WEIGHTS": "",
            "HF_HOME": str(port_home(port))}  # fmt: skip


def port_home(port: int) -> Path:
    """An empty Hugging Face home per command: nothing cached from elsewhere answers for the Hub."""
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"readme-hf-{port}"
    home.mkdir(exist_ok=True)
    return home


@pytest.mark.parametrize("command", [c for c in readme_commands() if not str(expected(c)).startswith("not run")],
                         ids=lambda command: re.sub(r"[^\w./-]+", "_", " ".join(command.split()[:6])))
def test_readme_command_as_written(project, command):
    how = expected(command)
    if how == "starts":
        _starts(project, command)
        return
    result = subprocess.run(command, shell=True, cwd=project, env=environment(free_port()), capture_output=True,
                            text=True, timeout=900, executable="/bin/bash")  # fmt: skip
    if how == "offline":
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert re.search(r"cannot be reached|reach|offline|connect|resolve", errors[0], re.I), errors[0]
        return
    assert result.returncode == 0, result.stderr[-3000:]
    for name in how[1]:
        assert (project / name).stat().st_size > 100, name
        if name.endswith(".png"):
            assert max(Image.open(project / name).size) >= 128, name
    if command.startswith("python -m nst gatys") and "--size" not in command and "--preset" not in command:
        assert max(Image.open(project / "result.png").size) == 512  # the default: at least the preview's size


def _starts(project: Path, command: str) -> None:
    """The app serves its page; a training run logs its first step. The install before `python
    app.py` is what .ci/run does in every CI run, so here it starts from `python app.py`."""
    port = free_port()
    if "app.py" in command:
        command, ready = "python app.py", lambda: _serves(f"http://127.0.0.1:{port}/")
    else:
        log = project / command.split("--output-dir ")[1].split()[0] / "train_log.jsonl"
        ready = lambda: log.is_file() and log.read_text().strip() != ""  # noqa: E731
    process = subprocess.Popen(command, shell=True, cwd=project, env=environment(port), start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, executable="/bin/bash")  # fmt: skip
    try:
        deadline = time.time() + 300
        while time.time() < deadline and process.poll() is None and not ready():
            time.sleep(1)
        assert process.poll() is None and ready(), process.stdout.read()[-3000:] if process.poll() is not None else "no start"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
