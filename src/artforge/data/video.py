"""Video I/O on FFmpeg through PyAV: decode -> RGB frames ``[H, W, 3]`` uint8 -> f -> encode H.264 (libx264; MPEG-4
Part 2 where PyAV's FFmpeg lacks it), with the input's first audio stream copied packet for packet (re-encoded to AAC
only when the output container cannot hold its codec). Timestamps are the input's, so audio stays in sync; frames
are turned upright by their display matrix (portrait phone videos), so the output needs none.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from artforge.core.atomic import atomic_path
from artforge.core.errors import ArtforgeError

OUT_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
VIDEO_CODECS = ("libx264", "mpeg4")  # first one PyAV's FFmpeg can encode
CRF = "18"  # libx264 quality: visually near lossless
MP4_AUDIO = ("aac", "mp3", "ac3", "eac3", "opus", "flac", "alac")  # what players accept in .mp4; else -> AAC


@dataclass(frozen=True)
class VideoInfo:
    """What ``probe`` learns without decoding: frame size, rate, frame count if the container says, audio codec."""

    width: int
    height: int
    fps: Fraction
    frames: int | None
    audio: str | None


def _av() -> Any:
    try:
        import av  # noqa: PLC0415 - lazy: optional [video] extra (PyAV)
    except ImportError:
        raise ArtforgeError("video needs PyAV and OpenCV: pip install 'artforge[video]'") from None
    return av


def _open_input(path: Path) -> Any:
    av = _av()
    if not path.is_file():
        raise ArtforgeError(f"{path}: no such video file")
    try:
        container = av.open(str(path))
    except av.error.EOFError:
        raise ArtforgeError(f"{path}: has no video frames (the file ends before any media data)") from None
    except av.error.FFmpegError as e:
        raise ArtforgeError(f"{path}: not a video file FFmpeg can read ({e.strerror or type(e).__name__})") from None
    if not container.streams.video:
        container.close()
        raise ArtforgeError(f"{path}: has no video frames (no video stream in the file)")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        container.close()
        raise ArtforgeError(f"{path}: no decoder for its video codec in PyAV's FFmpeg; convert it to H.264 first")
    return container


def upright(frame: Any) -> np.ndarray:
    """A decoded frame as RGB uint8 ``[H, W, 3]``, turned as its display matrix says (phone videos): the
    matrix's rotation is counter-clockwise in degrees, and np.rot90 turns counter-clockwise."""
    rgb: np.ndarray = frame.to_ndarray(format="rgb24")
    turns = round(getattr(frame, "rotation", 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Upright frame size, frame rate, frame count (None when the container does not store it) and audio codec;
    decodes the first frame, so a video without frames or with an unreadable codec fails here, before any work."""
    av, p = _av(), Path(path)
    with _open_input(p) as container:
        v = container.streams.video[0]
        a = container.streams.audio[0] if container.streams.audio else None
        fps = v.average_rate or v.guessed_rate or v.base_rate or Fraction(25)
        try:
            first = next(container.decode(v), None)
        except av.error.FFmpegError as e:
            raise ArtforgeError(f"{p}: cannot decode its {v.codec_context.name} video ({e.strerror})") from None
        if first is None:
            raise ArtforgeError(f"{p}: has no video frames (its video stream is empty)")
        h, w = upright(first).shape[:2]
        return VideoInfo(w, h, Fraction(fps), v.frames or None, a.codec_context.name if a else None)


def check_output(path: str | os.PathLike[str]) -> Path:
    """Fail before any work if ``path`` is not a writable .mp4/.m4v/.mov/.mkv."""
    p = Path(path)
    if p.suffix.lower() not in OUT_SUFFIXES:
        raise ArtforgeError(f"-o {p}: write the video as {', '.join(OUT_SUFFIXES)}")
    if p.is_dir():
        raise ArtforgeError(f"-o {p}: is a folder; give a video file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ArtforgeError(f"-o {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise ArtforgeError(f"-o {p}: not writable")
    return p


def container_format(suffix: str) -> str:
    """FFmpeg's muxer for an output suffix: .mp4/.m4v -> mp4, .mov -> mov, .mkv -> matroska."""
    return suffix.lower().lstrip(".").replace("m4v", "mp4").replace("mkv", "matroska")


def _video_stream(out: Any, fps: Fraction, size: tuple[int, int], time_base: Fraction) -> Any:
    av = _av()
    for name in VIDEO_CODECS:
        try:
            stream = out.add_stream(name, rate=fps)
        except (av.error.FFmpegError, ValueError):
            continue
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = time_base
        if name == "libx264":
            stream.options = {"crf": CRF, "preset": "fast"}
        else:
            stream.bit_rate = int(size[0] * size[1] * fps / 2)  # 0.5 bit per pixel and frame
        return stream
    raise ArtforgeError("PyAV's FFmpeg has no H.264 or MPEG-4 encoder; reinstall av (pip install -U av)")


def _copy_stream(out: Any, template: Any) -> Any:
    """An output stream that takes ``template``'s packets as they are (PyAV >= 13 names it add_stream_from_template)."""
    if hasattr(out, "add_stream_from_template"):
        return out.add_stream_from_template(template)
    return out.add_stream(template=template)  # PyAV 12


def transcode(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], fn: Callable[[np.ndarray], np.ndarray],
    size: tuple[int, int], suffix: str | None = None,
) -> int:  # fmt: skip
    """Decode ``src``'s video, write ``fn(frame)`` (RGB uint8, ``size`` = (W, H), both even) to ``dest`` with the
    input's timestamps and audio; returns the number of frames written. ``dest`` is written in place: callers write
    to a temporary path (``atomic_path``) and give the real name's ``suffix`` (.mp4, .mov, .mkv), which picks the
    container."""
    av = _av()
    src, dest = Path(src), Path(dest)
    with _open_input(src) as inp:
        vin = inp.streams.video[0]
        ain = inp.streams.audio[0] if inp.streams.audio else None
        fps = Fraction(vin.average_rate or vin.guessed_rate or 25)
        fmt = container_format(suffix or dest.suffix)
        with av.open(str(dest), "w", format=fmt) as out:
            vout = _video_stream(out, fps, size, vin.time_base or Fraction(1, 90000))
            aout, copy = None, False
            if ain is not None and ain.codec_context is not None:
                name = ain.codec_context.name
                copy = name in out.supported_codecs and (fmt != "mp4" or name in MP4_AUDIO)
                aout = _copy_stream(out, ain) if copy else out.add_stream("aac", rate=ain.sample_rate)
            n, last_pts = 0, -1
            streams = [vin] if aout is None else [vin, ain]
            try:
                for packet in inp.demux(*streams):
                    if packet.stream is ain and aout is not None:
                        if copy:
                            if packet.dts is not None:  # the flush packet at the end has none
                                packet.stream = aout
                                out.mux(packet)
                        else:
                            for aframe in packet.decode():
                                out.mux(aout.encode(aframe))
                        continue
                    for frame in packet.decode():
                        rgb = fn(upright(frame))  # [H, W, 3] uint8
                        if rgb.shape != (size[1], size[0], 3):
                            raise ValueError(f"frame function returned {rgb.shape}, expected {(size[1], size[0], 3)}")
                        vframe = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                        pts = frame.pts if frame.pts is not None and frame.pts > last_pts else last_pts + 1
                        vframe.pts, vframe.time_base, last_pts = pts, frame.time_base, pts
                        out.mux(vout.encode(vframe))
                        n += 1
            except av.error.FFmpegError as e:
                what = vin.codec_context.name
                raise ArtforgeError(f"{src}: cannot decode its {what} video after {n} frames ({e.strerror})") from None
            if n == 0:
                raise ArtforgeError(f"{src}: has no video frames (its video stream is empty)")
            out.mux(vout.encode(None))
            if aout is not None and not copy:
                out.mux(aout.encode(None))
    return n


def read_frames(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """All frames of a (short) video as RGB uint8 arrays: for tests and small tools, not for long videos."""
    with _open_input(Path(path)) as container:
        return [upright(f) for f in container.decode(video=0)]


def write_frames(
    dest: str | os.PathLike[str], frames: Sequence[np.ndarray], fps: int = 25, min_side: int = 256
) -> Path:  # fmt: skip
    """Encode RGB uint8 frames ``[H, W, 3]`` (all one size) as an H.264 video at ``fps``, atomically.

    Small frames (generator samples are often 28 or 32 px) are enlarged by a whole factor with nearest
    neighbours until the short side is at least ``min_side``, and sizes are made even for yuv420p."""
    av = _av()
    p = check_output(dest)
    if not frames:
        raise ArtforgeError(f"-o {p}: no frames to write")
    h, w = frames[0].shape[:2]
    k = max(1, -(-min_side // min(h, w)))
    size = ((w * k + 1) // 2 * 2, (h * k + 1) // 2 * 2)
    fmt = container_format(p.suffix)
    with atomic_path(p) as tmp, av.open(str(tmp), "w", format=fmt) as out:
        stream = _video_stream(out, Fraction(fps), size, Fraction(1, fps))
        for i, rgb in enumerate(frames):
            big = np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)
            big = np.pad(big, ((0, size[1] - big.shape[0]), (0, size[0] - big.shape[1]), (0, 0)), mode="edge")
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(big), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return p
