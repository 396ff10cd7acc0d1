"""Video: flow and warping against known motion, the temporal-consistency criterion of issue 5 on a synthetic pan,
audio kept, bad input, and the CLI end to end. Clips are made here with PyAV from scikit-image photos."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from artforge.core.errors import ArtforgeError
from artforge.data import samples
from artforge.data import video as io
from artforge.families.registry import build_stylizer_net
from artforge.families.stylizer import NetSpec
from artforge.feedforward import stylizer as stylizers
from artforge.feedforward.stylizer import Stylizer
from artforge.feedforward.video import flow
from artforge.feedforward.video.pipeline import FrameStylizer, stylize_video
from artforge.feedforward.video.temporal import DEFAULT_WEIGHT, box, match_contrast, warp

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")

MODEL = "johnson-mountains"  # the shipped per-style model; its style image:
STYLE = samples.painting_path("mountains")


def panning_clip(
    n: int = 10, size: int = 128, step: tuple[int, int] = (5, 2), scale: int = 3, noise: float = 0.01, seed: int = 0
) -> tuple[list[np.ndarray], tuple[float, float]]:
    """A camera panning over a still photo: frame t is the astronaut crop at (40, 40) + t * step (full-res px),
    area-downscaled by ``scale``, plus Gaussian sensor noise. So frame_t(x) = frame_{t-1}(x + v), v = step / scale
    (sub-pixel), up to noise and resampling; returns the RGB uint8 frames and v."""
    import skimage.data

    src = skimage.data.astronaut()[..., :3]
    rng = np.random.default_rng(seed)
    frames, big = [], size * scale
    for t in range(n):
        x0, y0 = 40 + step[0] * t, 40 + step[1] * t
        f = cv2.resize(src[y0 : y0 + big, x0 : x0 + big], (size, size), interpolation=cv2.INTER_AREA) / 255.0
        frames.append((np.clip(f + rng.normal(0, noise, f.shape), 0, 1) * 255).round().astype(np.uint8))
    return frames, (step[0] / scale, step[1] / scale)


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 10, audio: str | None = None) -> Path:
    """Frames -> H.264 video (+ a 440 Hz tone as ``audio``: aac or pcm_s16le) with PyAV."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        a = c.add_stream(audio, rate=16000) if audio else None
        if a is not None:
            a.layout = "mono"
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            c.mux(v.encode(vf))
        c.mux(v.encode(None))
        if a is not None:
            tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000 * len(frames) // fps) / 16000)
            data = tone[None].astype(np.float32) if audio == "aac" else (tone * 32000).astype(np.int16)[None]
            af = av.AudioFrame.from_ndarray(data, format="fltp" if audio == "aac" else "s16", layout="mono")
            af.sample_rate, af.pts = 16000, 0
            c.mux(a.encode(af))
            c.mux(a.encode(None))
    return path


def audio_seconds(path: Path) -> float:
    """Decoded duration of the first audio stream (AAC priming/padding trimmed by the decoder's timestamps)."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        first = last = None
        for frame in c.decode(s):
            t = float(frame.pts * frame.time_base)
            first = t if first is None else first
            last = t + frame.samples / frame.sample_rate
        assert first is not None and last is not None
        return last - max(first, 0.0)


@pytest.fixture(scope="module")
def stylizer() -> Stylizer:
    """The shipped Johnson model when it is there; else a seeded random-init network of the same architecture."""
    if MODEL in stylizers.shipped():
        return stylizers.load(MODEL)  # type: ignore[no-any-return]
    torch.manual_seed(0)
    spec = NetSpec("johnson", 16)
    return Stylizer(spec, build_stylizer_net(spec), "random-johnson")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    spec = NetSpec("johnson", 4, blocks=1)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    return stylizers.save_model(path, Stylizer(spec, build_stylizer_net(spec), "tiny"))


# ---------------------------------------------------------------- flow and warping


def test_flow_and_warp_recover_a_known_pan() -> None:
    frames, v = panning_clip(n=2, noise=0.0)
    back, mask = flow.backward_flow(flow.FlowEstimator(), frames[0], frames[1])
    inner = (slice(8, -8), slice(8, -8))
    err = np.abs(back - np.array(v, np.float32))[inner]
    assert np.median(err) < 0.1 and np.percentile(err, 95) < 0.3  # px, for a (1.67, 0.67) px pan
    assert mask[inner].mean() > 0.99  # a rigid pan: reliable everywhere away from the borders
    assert mask[:, -1].max() == 0  # ... but pixels that come from outside frame t-1 are not
    prev, cur = (torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255 for f in frames)
    warped = warp(prev, torch.from_numpy(back).permute(2, 0, 1)[None])
    assert (warped - cur)[..., 8:-8, 8:-8].abs().mean() < 0.015 < 0.5 * (prev - cur)[..., 8:-8, 8:-8].abs().mean()


def test_torch_warp_matches_opencv_remap_and_is_exact_for_integer_shifts() -> None:
    rng = np.random.default_rng(0)
    img = rng.random((20, 30, 3), dtype=np.float32)
    f = np.zeros((20, 30, 2), np.float32)
    f[..., 0], f[..., 1] = 0.3, -1.7
    t = warp(torch.from_numpy(img).permute(2, 0, 1)[None], torch.from_numpy(f).permute(2, 0, 1)[None], "bilinear")
    assert np.allclose(t[0].permute(1, 2, 0).numpy(), flow.sample(img, f), atol=1e-3)
    f[..., 0], f[..., 1] = 2, 1
    t = warp(torch.from_numpy(img).permute(2, 0, 1)[None], torch.from_numpy(f).permute(2, 0, 1)[None])
    assert torch.allclose(t[0].permute(1, 2, 0)[:-1, :-2], torch.from_numpy(img)[1:, 2:], atol=1e-5)


def test_reliability_is_ruder_forward_backward_check() -> None:
    h, w = 32, 48
    back = np.zeros((h, w, 2), np.float32)
    back[..., 0] = 2.0  # frame t's pixels come from 2 px to the right in t-1
    fwd = -back  # consistent
    m = flow.reliability(back, fwd)
    assert m[:, : w - 2].min() == 1 and m[:, w - 2 :].max() == 0  # only what enters at the right edge
    fwd_bad = fwd.copy()
    fwd_bad[10:20, 10:20, 0] = 3.0  # disagreement |w~ + w^|^2 = 25 > 0.01 * (4 + 9) + 0.5 -> disocclusion
    m = flow.reliability(back, fwd_bad)
    assert m[12:18, 8:18].max() == 0 and m[:8, :-2].min() == 1 and m[12:18, :6].min() == 1
    back_edge = back.copy()
    back_edge[:, 24:, 0] = 6.0  # a motion boundary at x = 24
    m = flow.reliability(back_edge, -back_edge)
    assert m[:, 23:25].max() == 0 and m[:, :20].min() == 1


def test_contrast_match_restores_the_texture_that_averaging_flattens() -> None:
    g = torch.Generator().manual_seed(0)
    a, b = (0.5 + 0.1 * torch.randn(1, 3, 64, 64, generator=g) for _ in range(2))  # two uncorrelated textures
    mixed = 0.5 * a + 0.5 * b  # std drops by sqrt(2)
    restored = match_contrast(mixed, b)
    inner = (..., slice(8, -8), slice(8, -8))
    assert mixed[inner].std() < 0.75 * b[inner].std()
    assert restored[inner].std() == pytest.approx(float(b[inner].std()), rel=0.05)
    assert torch.allclose(match_contrast(b, b), b, atol=1e-6)  # where nothing was blended, nothing changes
    assert (restored - mixed).mean().abs() < 1e-3  # local means are kept
    two = torch.cat([a, b])  # a batch of 2 takes the pooling path (as on a GPU), one image OpenCV's box filter
    assert torch.allclose(box(two, 9), torch.cat([box(a, 9), box(b, 9)]), atol=1e-5)


def test_occluded_pixels_take_the_fresh_stylization() -> None:
    """A textured square moves 6 px right over a static photo: what it uncovers must not be copied from t-1."""
    import skimage.data

    bg = cv2.resize(skimage.data.chelsea(), (128, 96), interpolation=cv2.INTER_AREA)
    patch = cv2.resize(skimage.data.coffee(), (32, 32), interpolation=cv2.INTER_AREA)
    frames = []
    for x0 in (40, 46):
        f = bg.copy()
        f[30:62, x0 : x0 + 32] = patch
        frames.append(f)
    _, mask = flow.backward_flow(flow.FlowEstimator(), frames[0], frames[1])
    assert mask[36:56, 41:45].mean() < 0.2  # uncovered background, left of the square
    assert mask[5:25, 10:118].mean() > 0.95 and mask[36:56, 56:74].mean() > 0.9  # static bg, square's inside


# ---------------------------------------------------------------- temporal consistency (issue 5)


def warping_error(outs: list[np.ndarray], v: tuple[float, float], margin: int = 8) -> float:
    """Mean squared difference between o_t and o_{t-1} warped by the TRUE motion, over pixels visible in both
    frames (a ``margin`` from the borders, which also skips the network's padding)."""
    h, w = outs[0].shape[:2]
    f = torch.tensor(v, dtype=torch.float32).view(1, 2, 1, 1).expand(1, 2, h, w)
    ts = [torch.from_numpy(o).permute(2, 0, 1)[None].float() / 255 for o in outs]
    errs = [(b - warp(a, f, "bilinear"))[..., margin:-margin, margin:-margin].square().mean()
            for a, b in zip(ts[:-1], ts[1:], strict=True)]  # fmt: skip
    return float(torch.stack(errs).mean())


def style_loss(outs: list[np.ndarray], frames: list[np.ndarray], d: Path) -> float:
    from artforge.metrics.stylization import stylization_metrics

    losses = []
    for i in range(1, len(outs), 2):
        Image.fromarray(outs[i]).save(d / "out.png")
        Image.fromarray(frames[i]).save(d / "content.png")
        m = stylization_metrics(d / "out.png", d / "content.png", STYLE, device="cpu")
        losses.append(m["style_loss"])
    return float(np.mean(losses))


@pytest.fixture(scope="module")
def pan_runs(stylizer: Stylizer) -> dict[str, list[np.ndarray]]:
    """The synthetic pan stylised frame by frame and with the default temporal blending (the pipeline's step)."""
    frames, _ = panning_clip()
    size = frames[0].shape[1::-1]
    runs = {"content": frames}
    for name, blend in (("per-frame", 0.0), ("temporal", DEFAULT_WEIGHT)):
        step = FrameStylizer(stylizer, size, blend=blend)
        runs[name] = [step(f) for f in frames]
    return runs


def test_temporal_blending_cuts_the_warping_error(stylizer: Stylizer, pan_runs: dict[str, list[np.ndarray]]) -> None:
    v = panning_clip(n=2)[1]
    e0, e1 = warping_error(pan_runs["per-frame"], v), warping_error(pan_runs["temporal"], v)
    print(f"\n{stylizer.name}: warping error {e0:.5f} -> {e1:.5f} ({1 - e1 / e0:.0%} lower)")
    assert e1 <= 0.7 * e0


def test_temporal_blending_keeps_the_style(
    stylizer: Stylizer, pan_runs: dict[str, list[np.ndarray]], cache_env: Path, tmp_path: Path
) -> None:
    if MODEL not in stylizers.shipped():
        # An untrained network has no style to keep: its texture is per-frame noise, i.e. all flicker, which any
        # consistency method removes, and its Gram loss against the painting moves arbitrarily (-70% to +17% over
        # seeds 0-3 for the same method). Only a trained model makes this half of the criterion meaningful.
        pytest.skip(f"needs the shipped {MODEL} model")
    frames = pan_runs["content"]
    s0, s1 = style_loss(pan_runs["per-frame"], frames, tmp_path), style_loss(pan_runs["temporal"], frames, tmp_path)
    print(f"\n{stylizer.name}: style loss {s0:.4f} -> {s1:.4f} ({s1 / s0 - 1:+.1%})")
    assert s1 <= 1.1 * s0


# ---------------------------------------------------------------- files: audio, bad input


@pytest.mark.parametrize(("name", "audio", "out_name", "out_codec"), [
    ("in.mp4", "aac", "out.mp4", "aac"),  # copied packet for packet
    ("in.mkv", "pcm_s16le", "out.mp4", "aac"),  # PCM in .mp4 plays badly: re-encoded
    ("in.mkv", "pcm_s16le", "out.mkv", "pcm_s16le"),
])  # fmt: skip
def test_audio_and_frame_count_are_kept(
    tiny_model: Path, tmp_path: Path, name: str, audio: str, out_name: str, out_codec: str
) -> None:
    frames, _ = panning_clip(n=12, size=48)
    src = write_clip(tmp_path / name, frames, fps=10, audio=audio)
    out = stylize_video(src, tmp_path / out_name, str(tiny_model), progress=False)
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]
        assert c.streams.audio[0].codec_context.name == out_codec
        assert c.streams.video[0].codec_context.name == "h264"
        assert Fraction(c.streams.video[0].average_rate) == 10
    assert len(io.read_frames(out)) == len(frames)
    assert audio_seconds(out) == pytest.approx(audio_seconds(src), abs=0.07)  # one AAC frame of padding at most
    assert audio_seconds(out) == pytest.approx(1.2, abs=0.07)


def test_size_is_the_long_side_rounded_to_even(tiny_model: Path, tmp_path: Path) -> None:
    frames, _ = panning_clip(n=3, size=64)
    src = write_clip(tmp_path / "in.mp4", [f[:, :58] for f in frames])  # 58 x 64
    out = stylize_video(src, tmp_path / "o.mov", str(tiny_model), size=33, progress=False)
    assert io.probe(out).width % 2 == 0 and io.read_frames(out)[0].shape == (32, 30, 3)
    assert io.probe(out).audio is None


def test_mpeg4_when_ffmpeg_has_no_h264_encoder(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io, "VIDEO_CODECS", ("no-such-encoder", "mpeg4"))
    src = write_clip(tmp_path / "in.mp4", panning_clip(n=5, size=32)[0], audio="aac")
    out = stylize_video(src, tmp_path / "o.mp4", str(tiny_model), progress=False)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "mpeg4"
    assert len(io.read_frames(out)) == 5 and io.probe(out).audio == "aac"


def test_phone_rotation_is_applied_to_the_pixels(tiny_model: Path, tmp_path: Path) -> None:
    """A display matrix (portrait phone video) is honoured: frames are stylised upright, OUT needs no matrix."""
    frame = np.zeros((32, 64, 3), np.uint8)
    frame[:, :10] = 255  # a white band on the left of the stored frame
    src = tmp_path / "portrait.mp4"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 32, "yuv420p"
        if not hasattr(v, "set_display_rotation"):
            pytest.skip("PyAV < 18 cannot write a display matrix")
        v.set_display_rotation(90)  # counter-clockwise: the band is at the bottom when displayed
        for i in range(3):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            c.mux(v.encode(vf))
        c.mux(v.encode(None))
    assert (io.probe(src).width, io.probe(src).height) == (32, 64)
    out = stylize_video(src, tmp_path / "o.mp4", _Wrap(lambda x, *a, **k: x), blend=0.0, progress=False)
    got = io.read_frames(out)[0]
    assert got.shape == (64, 32, 3) and got[-8:].mean() > 200 and got[:40].mean() < 30
    with av.open(str(out)) as c:
        assert getattr(next(c.decode(video=0)), "rotation", 0) == 0


def zero_frame_video(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        v = c.add_stream("mpeg4" if path.suffix == ".avi" else "libx264", rate=10)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        c.start_encoding()
    return path


def garbage_h264(path: Path) -> Path:
    """An .mkv whose H.264 stream holds random bytes: the container opens, the codec cannot decode it."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            p = av.Packet(rng.integers(0, 256, 400, dtype=np.uint8).tobytes())
            p.stream, p.pts, p.dts, p.time_base = v, i, i, Fraction(1, 10)
            c.mux(p)
    return path


def tone_only(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        a = c.add_stream("pcm_s16le", rate=8000)
        a.layout = "mono"
        af = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        af.sample_rate = 8000
        c.mux(a.encode(af))
        c.mux(a.encode(None))
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: (p.write_text("not a video\n" * 50), p)[1], r"not a video file FFmpeg can read"),
    (lambda p: p.with_name("missing.mp4"), r"no such video file"),
    (zero_frame_video, r"has no video frames \(no video stream in the file\)"),  # FFmpeg drops empty mp4 tracks
    (lambda p: zero_frame_video(p.with_suffix(".mkv")), r"has no video frames \(the file ends before"),
    (lambda p: zero_frame_video(p.with_suffix(".avi")), r"has no video frames \(its video stream is empty\)"),
    (lambda p: garbage_h264(p.with_suffix(".mkv")), r"cannot decode its h264 video|has no video frames"),
    (lambda p: tone_only(p.with_suffix(".wav")), r"has no video frames \(no video stream"),
])  # fmt: skip
def test_bad_input_is_one_line_and_keeps_the_old_output(tiny_model: Path, tmp_path: Path, make, message) -> None:  # type: ignore[no-untyped-def]
    src = make(tmp_path / "in.mp4")
    out = tmp_path / "out.mp4"
    out.write_bytes(b"the user's earlier video")
    with pytest.raises(ArtforgeError, match=message) as e:
        stylize_video(src, out, str(tiny_model), progress=False)
    assert "\n" not in str(e.value)
    assert out.read_bytes() == b"the user's earlier video"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_ctrl_c_leaves_the_old_output(tiny_model: Path, tmp_path: Path) -> None:
    frames, _ = panning_clip(n=6, size=32)
    src = write_clip(tmp_path / "in.mp4", frames, audio="aac")
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old")
    calls = []

    def interrupted(x: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        stylize_video(src, out, _Wrap(interrupted), progress=False)
    assert out.read_bytes() == b"old" and len(calls) == 3
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


class _Wrap:
    """A styliser-like callable for tests."""

    kind, name, needs_style = "johnson", "test", False

    def __init__(self, fn: object) -> None:
        self.fn = fn

    def __call__(self, x: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        return self.fn(x, *args, **kwargs)  # type: ignore[operator, no-any-return]


def test_style_is_refused_for_per_style_models_and_required_for_adain(tiny_model: Path, tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", panning_clip(n=2, size=32)[0])
    with pytest.raises(ArtforgeError, match="--style is for AdaIN models"):
        stylize_video(src, tmp_path / "o.mp4", str(tiny_model), style="sample:swamp", progress=False)
    with pytest.raises(ArtforgeError, match="write the video as"):
        stylize_video(src, tmp_path / "o.gif", str(tiny_model), progress=False)
    with pytest.raises(ArtforgeError, match="is the input"):
        stylize_video(src, src, str(tiny_model), progress=False)
    assert not (tmp_path / "o.mp4").exists()


def test_adain_video_encodes_the_style_once(cache_env: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    spec = NetSpec("adain", 1)
    model = Stylizer(spec, build_stylizer_net(spec), "adain-random")
    encoder, shapes = model.encoder, []

    def counting(x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        shapes.append(tuple(x.shape[-2:]))
        return encoder(x, layers)  # type: ignore[no-any-return]

    model.encoder = counting
    src = write_clip(tmp_path / "in.mp4", panning_clip(n=4, size=32)[0])
    out = stylize_video(src, tmp_path / "o.mp4", model, style="sample:swamp", alpha=0.5, progress=False)
    assert len(io.read_frames(out)) == 4 and model.encoder is counting
    assert shapes.count((32, 32)) == 4 and len(shapes) == 5  # 4 frames + the style once


# ---------------------------------------------------------------- CLI


def artforge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "artforge", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})  # fmt: skip


def test_cli_end_to_end(tiny_model: Path, tmp_path: Path) -> None:
    frames, _ = panning_clip(n=8, size=48)
    src = write_clip(tmp_path / "in.mp4", frames, audio="aac")
    out = tmp_path / "styled.mp4"
    r = artforge("video", str(src), "-o", str(out), "--model", str(tiny_model), "--temporal-weight", "0.5", "-q")
    assert r.returncode == 0, r.stderr
    assert len(io.read_frames(out)) == 8 and io.probe(out).audio == "aac"
    r = artforge("video", str(src), "-o", str(tmp_path / "raw.mkv"), "--model", str(tiny_model), "--no-temporal")
    assert r.returncode == 0 and r.stdout.strip().endswith("raw.mkv"), r.stderr
    bad = tmp_path / "notes.mp4"
    bad.write_text("hello")
    r = artforge("video", str(bad), "-o", str(out), "--model", str(tiny_model), "-q")
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "not a video file" in r.stderr
    assert len(io.read_frames(out)) == 8  # the earlier output is intact
