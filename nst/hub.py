"""Loading and saving CycleGAN generators: Hugging Face Hub repos, local folders and files.

A model source is one of
- a Hub repo id, `owner/name` or `owner/name@revision` (downloads through the Hub cache and so
  honours HF_HOME and HF_HUB_OFFLINE),
- a local folder laid out like such a repo,
- a `.safetensors` file, or a legacy `.pth`/`.bin` state dict (read with weights_only=True).

A folder or repo holds either one generator (`config.json` + `model.safetensors`, the
PyTorchModelHubMixin format; or HugGAN's `pytorch_model.bin`) or both directions of a CycleGAN:
`cyclegan.json` names the subfolder of each direction (`G_AB/`, `G_BA/`) and the two domains.
"""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from huggingface_hub import ModelCard, constants, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
)  # fmt: skip
from safetensors.torch import load_file

from nst.cyclegan import ResnetBlock, ResnetGenerator
from nst.network import reachable

DIRECTIONS = ("AtoB", "BtoA")
INDEX_FILE = "cyclegan.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+(@[\w./-]+)?$")
# Keys that instance norm carried in old PyTorch versions; today's InstanceNorm2d has none.
_LEGACY_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


class ModelLoadError(ValueError):
    """A model source that cannot be served; the message says what to do about it."""


@dataclass
class LoadedGenerator:
    generator: ResnetGenerator
    source: str
    direction: str
    layout: str  # "reference" (transposed convolutions) or "huggan" (nearest upsampling)
    label: str  # e.g. "photo → monet", when the source says


def load_generator(source: str, direction: str = "AtoB") -> LoadedGenerator:
    """Resolve `source` (see the module docstring) and return a ready generator in eval mode."""
    if direction not in DIRECTIONS:
        raise ModelLoadError(f"direction must be AtoB or BtoA; got {direction!r}")
    source = str(source).strip()
    path = Path(source).expanduser()
    if path.is_dir():
        return _load_from_files(_LocalFiles(path), direction, source)
    if path.is_file():
        if direction != "AtoB":
            raise ModelLoadError(f"{source} is a single generator: only direction AtoB is available")
        generator, layout = build_generator(read_state_dict(path), None, source)
        return LoadedGenerator(generator, source, direction, layout, "")
    if _looks_like_path(source):
        raise ModelLoadError(f"no such file or folder: {source} (looked in {Path.cwd()})")
    if _REPO_ID.match(source):
        repo_id, _, revision = source.partition("@")
        return _load_from_files(_HubFiles(repo_id, revision or None), direction, source)
    raise ModelLoadError(f"model not found: {source} is neither a local file or folder nor a Hub repo id (owner/name)")


def is_cached_or_reachable(source: str) -> bool:
    """Whether loading `source` can work now: a local file or folder, a Hub repo with files in
    the local cache, or any Hub repo while the Hub answers. Takes at most a few seconds."""
    if Path(source).expanduser().exists():
        return True
    if _looks_like_path(source) or not _REPO_ID.match(source):
        return False
    repo_id = source.partition("@")[0]
    cached = (Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "snapshots").is_dir()
    return cached or (not constants.HF_HUB_OFFLINE and reachable(constants.ENDPOINT))


def _looks_like_path(source: str) -> bool:
    """A source meant as a local path: it starts like one, names a checkpoint file, or begins
    with a folder that exists here (weights/photo2monet), so it is no Hub id."""
    first = source.split("/")[0]
    return (
        source.startswith((".", "/", "~"))
        or source.endswith((".safetensors", ".pth", ".pt", ".bin"))
        or ("/" in source and Path(first).is_dir())
    )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file, or from a pickle through weights_only (no code runs)."""
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise ModelLoadError(
            f"{path} is not a checkpoint that can be loaded safely: it holds Python objects other "
            "than tensors, and unpickling them could run code"
        ) from error
    except Exception as error:  # noqa: BLE001 - untrusted bytes fail in many ways; all mean "no"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelLoadError(f"{path} is not a checkpoint that can be loaded safely: {reason}") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{path} is not a checkpoint: it holds no state dict of tensors")
    return state


def normalize_state_dict(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Bring a generator state dict to our key layout; returns it and the detected layout.

    Drops the legacy instance-norm buffers and a DataParallel `module.` prefix; renames HugGAN's
    residual `block.` to the reference `conv_block.`.
    """
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.endswith(_LEGACY_SUFFIXES)}
    if any(".block." in key for key in state):
        return {key.replace(".block.", ".conv_block."): v for key, v in state.items()}, "huggan"
    return state, "reference"


def infer_generator_config(state: dict[str, torch.Tensor], layout: str, where: str = "checkpoint") -> dict:
    """ngf, n_blocks and upsampling read off the keys and shapes of a normalised state dict."""
    if "model.1.weight" not in state:
        raise ModelLoadError(
            f"{where} is not a CycleGAN ResNet generator: it has no first convolution model.1.weight "
            f"(its keys begin {_few(sorted(state), 3)})"
        )
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))}
    return {
        "ngf": state["model.1.weight"].shape[0],
        "n_blocks": len(blocks),
        "upsampling": "nearest" if layout == "huggan" else "transpose",
    }


def build_generator(state: dict[str, torch.Tensor], config: dict | None, where: str) -> tuple[ResnetGenerator, str]:
    """A generator with `state` loaded strictly; a mismatch lists the keys that differ."""
    state, layout = normalize_state_dict(state)
    config = {**infer_generator_config(state, layout, where), **(config or {})}
    try:
        generator = ResnetGenerator(**{k: config[k] for k in ("ngf", "n_blocks", "upsampling")})
    except (TypeError, ValueError) as error:
        raise ModelLoadError(f"{where}: unusable generator config {config}: {error}") from error
    expected = generator.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    reshaped = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or reshaped:
        raise ModelLoadError(
            f"{where} does not match a ResnetGenerator(ngf={config['ngf']}, n_blocks={config['n_blocks']}, "
            f"upsampling={config['upsampling']}): missing keys {_few(missing)}, unexpected keys "
            f"{_few(unexpected)}, wrong shapes {_few(reshaped)}"
        )
    generator.load_state_dict(state, strict=True)
    return generator.eval().requires_grad_(False), layout


def _few(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit]) or "none"
    return f"[{shown}{f', … {len(keys) - limit} more' if len(keys) > limit else ''}]"


def direction_labels(index: dict) -> dict[str, str]:
    """{"AtoB": "a → b", "BtoA": "b → a"} from the domain names in a cyclegan.json index."""
    a, b = index.get("domain_a", "A"), index.get("domain_b", "B")
    return {"AtoB": f"{a} → {b}", "BtoA": f"{b} → {a}"}


def _load_from_files(files: "_LocalFiles | _HubFiles", direction: str, where: str) -> LoadedGenerator:
    """The common path for Hub repos and local folders."""
    prefix, label = "", ""
    index_path = files.get(INDEX_FILE)
    if index_path is not None:
        index = json.loads(index_path.read_text())
        prefix = index["generators"][direction].rstrip("/") + "/"
        label = direction_labels(index)[direction]
    weights = next((p for name in WEIGHT_FILES if (p := files.get(prefix + name)) is not None), None)
    if weights is None:
        if files.uncached:
            raise ModelLoadError(
                f"{where} is not in the local Hub cache and the Hub cannot be reached (offline, or "
                "HF_HUB_OFFLINE=1). Load it once while online, or give a local folder or file."
            )
        raise ModelLoadError(f"{where} has no generator weights (looked for {prefix}{' and '.join(WEIGHT_FILES)})")
    if index_path is None and direction != "AtoB":
        raise ModelLoadError(f"{where} holds a single generator: only direction AtoB is available")
    config_path = files.get(prefix + "config.json")
    config = json.loads(config_path.read_text()) if config_path is not None else None
    generator, layout = build_generator(read_state_dict(weights), config, where)
    return LoadedGenerator(generator, where, direction, layout, label)


class _LocalFiles:
    uncached: tuple = ()  # a folder is never "not downloaded"

    def __init__(self, root: Path):
        self.root = root

    def get(self, name: str) -> Path | None:
        return self.root / name if (self.root / name).is_file() else None


class _HubFiles:
    """Files of a Hub repo through the cache; `uncached` lists those neither cached nor reachable."""

    def __init__(self, repo_id: str, revision: str | None):
        self.repo_id, self.revision, self.uncached = repo_id, revision, []

    def get(self, name: str) -> Path | None:
        # Ask the cache only when the Hub does not answer within seconds: huggingface_hub would
        # otherwise retry for a minute or more before falling back to it.
        cache_only = constants.HF_HUB_OFFLINE or not reachable(constants.ENDPOINT)
        try:
            return Path(hf_hub_download(self.repo_id, name, revision=self.revision, local_files_only=cache_only))
        except RepositoryNotFoundError as error:
            raise ModelLoadError(
                f"Hub repo {self.repo_id} not found (if it is private or gated, log in with `hf auth login`)"
            ) from error
        except RevisionNotFoundError as error:
            raise ModelLoadError(f"revision {self.revision} not found in Hub repo {self.repo_id}") from error
        except LocalEntryNotFoundError:
            self.uncached.append(name)  # offline, or the Hub unreachable, and not in the cache
            return None
        except EntryNotFoundError:
            return None  # the Hub answered: no such file in this repo


def model_card(title: str, body: str) -> ModelCard:
    """A model card with the metadata the Hub uses to list CycleGAN generators."""
    metadata = "\n".join([
        "---", "library_name: nst", "license: mit", "pipeline_tag: image-to-image",
        "tags:", "- cyclegan", "- image-to-image", "- style-transfer", "---",
    ])  # fmt: skip
    usage = (
        "## Use\n\n```bash\npython -m nst cyclegan --model OWNER/REPO --input photo.jpg --out out.png\n```\n\n"
        "The network is the ResNet generator of Zhu et al. (2017), "
        "[Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks]"
        "(https://arxiv.org/abs/1703.10593), in the reference implementation's key layout."
    )
    return ModelCard(f"{metadata}\n\n# {title}\n\n{body}\n\n{usage}\n")


def save_generator(generator: ResnetGenerator, directory: Path, card: ModelCard) -> Path:
    """One generator as config.json + model.safetensors + README.md."""
    directory = Path(directory)
    generator.save_pretrained(directory)
    card.save(directory / "README.md")
    return directory


def save_cyclegan(
    g_ab: ResnetGenerator, g_ba: ResnetGenerator, directory: Path, domain_a: str, domain_b: str, card: ModelCard
) -> Path:
    """Both generators of a CycleGAN, G_AB/ and G_BA/, with cyclegan.json saying which is which."""
    directory = Path(directory)
    for name, generator in (("G_AB", g_ab), ("G_BA", g_ba)):
        generator.save_pretrained(directory / name)
    index = {"generators": {"AtoB": "G_AB", "BtoA": "G_BA"}, "domain_a": domain_a, "domain_b": domain_b}
    (directory / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    card.save(directory / "README.md")
    return directory


def import_official(checkpoint: Path, out_dir: Path) -> Path:
    """Convert a reference-implementation generator checkpoint (`latest_net_G.pth`) to our format.

    The old files carry instance-norm running statistics that today's InstanceNorm2d lacks;
    build_generator drops them and then loads strictly.
    """
    checkpoint = Path(checkpoint)
    generator, _ = build_generator(read_state_dict(checkpoint), None, str(checkpoint))
    n_blocks = sum(isinstance(module, ResnetBlock) for module in generator.model)
    body = (
        f"Imported from the reference implementation's checkpoint `{checkpoint.name}` "
        f"(junyanz/pytorch-CycleGAN-and-pix2pix) with `python -m nst import-official`: "
        f"{n_blocks} residual blocks, ngf={generator.model[1].out_channels}."
    )
    return save_generator(generator, out_dir, model_card(f"CycleGAN generator: {checkpoint.stem}", body))


def push_folder(folder: Path, repo_id: str, private: bool = False, message: str = "Upload CycleGAN generator") -> str:
    """Create the Hub repo if needed and upload `folder`; the token comes from the environment or
    the saved login (never from, or into, our logs). Returns the commit URL."""
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo(repo_id, private=private, exist_ok=True)
    return str(api.upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=message))
