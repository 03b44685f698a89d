"""Precision choices: which dtypes each precision name means, and what "auto" picks."""

import pytest
import torch

from nst import device
from nst.device import inference_dtype, vgg_dtypes

CPU = torch.device("cpu")


@pytest.mark.parametrize("precision,expected", [
    ("fp32", (torch.float32, torch.float32)),
    ("mixed", (torch.float32, torch.bfloat16)),
    ("bf16", (torch.bfloat16, torch.bfloat16)),
])  # fmt: skip
def test_vgg_dtypes(precision, expected):
    assert vgg_dtypes(precision, CPU) == expected


@pytest.mark.parametrize("fast,expected", [(True, torch.bfloat16), (False, torch.float32)])
def test_auto_is_mixed_only_where_bf16_is_fast(monkeypatch, fast, expected):
    monkeypatch.setattr(device, "cpu_has_fast_bf16", lambda: fast)
    assert vgg_dtypes("auto", CPU) == (torch.float32, expected)
    assert inference_dtype("auto", CPU) == (torch.bfloat16 if fast else None)
    assert vgg_dtypes("auto", torch.device("cuda")) == (torch.float32, torch.bfloat16)


def test_unknown_precisions_are_refused():
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, mixed, bf16; got .fp8."):
        vgg_dtypes("fp8", CPU)
    with pytest.raises(ValueError, match="precision must be one of auto, fp32, bf16; got .mixed."):
        inference_dtype("mixed", CPU)
