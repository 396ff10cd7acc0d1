"""The VGG encoder: names and shapes, and the converted weights against a direct numpy convolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from artforge.nn.encoders import CAFFE, VGGEncoder, conv_names, default_style_layers, layer_names
from artforge.nn.weights import HED_H5, package_file, state_from_hed_h5, state_from_torchvision


def test_layer_names_follow_the_paper() -> None:
    names = layer_names("vgg19")
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert "relu5_4" in names and "relu4_2" in names
    assert len(conv_names("vgg16")) == 13 and len(conv_names("vgg19")) == 16
    assert default_style_layers("vgg16") == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


@pytest.mark.parametrize("arch", ["vgg16", "vgg19"])
def test_encoder_shapes(arch: str) -> None:
    enc = VGGEncoder(arch, width=8)
    out = enc(torch.rand(2, 3, 64, 48), ["relu1_1", "relu2_1", "relu3_1", "relu4_2", "relu5_1", "pool5"])
    assert out["relu1_1"].shape == (2, 8, 64, 48)
    assert out["relu2_1"].shape == (2, 16, 32, 24)
    assert out["relu3_1"].shape == (2, 32, 16, 12)
    assert out["relu4_2"].shape == (2, 64, 8, 6)
    assert out["relu5_1"].shape == (2, 64, 4, 3)
    assert out["pool5"].shape == (2, 64, 2, 2)


def test_encoder_stops_at_deepest_requested_layer() -> None:
    enc = VGGEncoder("vgg16", width=8)
    calls: list[str] = []
    for name, conv in enc.convs.items():
        conv.register_forward_hook(lambda *_a, n=name: calls.append(n))
    enc(torch.rand(1, 3, 32, 32), ["relu2_1"])
    assert calls == ["conv1_1", "conv1_2", "conv2_1"]


def test_unknown_layer_is_an_error() -> None:
    with pytest.raises(ValueError, match="relu9_9"):
        VGGEncoder("vgg16", width=8)(torch.rand(1, 3, 32, 32), ["relu9_9"])


def _numpy_conv_same(x: np.ndarray, kernel_hwio: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Direct 'same' 3x3 convolution (cross-correlation, as Keras/Caffe) of x [H, W, I]."""
    h, w, _ = x.shape
    pad = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((h, w, kernel_hwio.shape[3]))
    for dy in range(3):
        for dx in range(3):
            out += pad[dy : dy + h, dx : dx + w, :] @ kernel_hwio[dy, dx]
    return out + bias


def test_converted_vgg_matches_numpy_convolution_of_the_h5(vgg: VGGEncoder) -> None:
    import h5py

    h5 = package_file(HED_H5)
    assert h5 is not None
    rng = np.random.default_rng(0)
    rgb = rng.random((12, 10, 3))
    with h5py.File(h5, "r") as f:
        k1, b1 = np.asarray(f["block1/layers/conv2d/vars/0"]), np.asarray(f["block1/layers/conv2d/vars/1"])
        k2, b2 = np.asarray(f["block1/layers/conv2d_1/vars/0"]), np.asarray(f["block1/layers/conv2d_1/vars/1"])
    bgr = rgb[:, :, ::-1] * 255.0 - np.array(CAFFE.mean)  # Caffe preprocessing, by hand
    relu1_1 = np.maximum(_numpy_conv_same(bgr, k1.astype(np.float64), b1), 0)
    relu1_2 = np.maximum(_numpy_conv_same(relu1_1, k2.astype(np.float64), b2), 0)
    x = torch.from_numpy(rgb.transpose(2, 0, 1)).float().unsqueeze(0)
    out = vgg(x, ["relu1_1", "relu1_2"])
    got1 = out["relu1_1"][0].permute(1, 2, 0).double().numpy()
    got2 = out["relu1_2"][0].permute(1, 2, 0).double().numpy()
    assert np.allclose(got1, relu1_1, rtol=1e-4, atol=1e-3)
    assert np.allclose(got2, relu1_2, rtol=1e-4, atol=1e-2)
    assert np.abs(relu1_2).max() > 10  # real, non-trivial activations


def test_pretrained_features_separate_images(vgg: VGGEncoder) -> None:
    """ImageNet features: a photo and its flipped copy are closer than the photo and noise."""
    import skimage.data
    from PIL import Image

    from artforge.data.images import to_tensor

    img = Image.fromarray(skimage.data.chelsea()).resize((64, 48))
    x = to_tensor(img)
    f = lambda t: vgg(t, ["relu4_1"])["relu4_1"].mean((2, 3))  # noqa: E731
    d_flip = (f(x) - f(x.flip(-1))).norm()
    d_noise = (f(x) - f(torch.rand_like(x))).norm()
    assert float(d_flip) < 0.5 * float(d_noise)


def test_torchvision_layout_is_mapped_in_order(tmp_path: Path) -> None:
    # A fake torchvision VGG16 state_dict: features.<k> indices as torchvision lays them out.
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    state = {}
    for n, k in enumerate(idx):
        state[f"features.{k}.weight"] = torch.full((1,), float(n))
        state[f"features.{k}.bias"] = torch.full((1,), float(-n))
    state["classifier.0.weight"] = torch.zeros(1)
    path = tmp_path / "vgg16-fake.pth"
    torch.save(state, path)
    arch, out = state_from_torchvision(path)
    assert arch == "vgg16"
    assert float(out["conv1_1.weight"]) == 0 and float(out["conv3_3.weight"]) == 6
    assert float(out["conv5_3.bias"]) == -12
    assert not any(k.startswith("classifier") for k in out)


def test_hed_h5_layout_is_transposed_to_oihw() -> None:
    h5 = package_file(HED_H5)
    assert h5 is not None
    state = state_from_hed_h5(h5)
    assert state["conv1_1.weight"].shape == (64, 3, 3, 3)
    assert state["conv5_3.weight"].shape == (512, 512, 3, 3)
    assert len(state) == 26
