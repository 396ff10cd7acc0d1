"""``artforge.data.images`` on real files written with PIL: every failure is one clear ArtforgeError."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from artforge.core.errors import ArtforgeError
from artforge.data import image_io, images


def _noise(size: tuple[int, int] = (64, 64), seed: int = 0) -> Image.Image:
    """Random RGB pixels: compresses badly, so half of the file cuts deep into the pixel data."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8), "RGB")


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature + IHDR claiming ``width`` x ``height`` RGB, with (almost) no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )
    return path


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _png_with_text(path: Path, text: str) -> Path:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(images.PARAMS_KEY, text)
    Image.new("RGB", (32, 32), (10, 20, 30)).save(path, pnginfo=info)
    return path


def _px(img: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    v = img.getpixel(xy)
    assert isinstance(v, tuple)
    return v


# --------------------------------------------------------------------------------------------- bad paths / files


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    p = tmp_path / "nope.png"
    with pytest.raises(ArtforgeError, match="no such file") as e:
        images.load(p, "content image")
    assert str(p) in str(e.value)
    assert str(e.value).startswith("content image ")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    d = tmp_path / "folder.png"
    d.mkdir()
    with pytest.raises(ArtforgeError, match="is a directory") as e:
        images.load(d)
    assert str(d) in str(e.value)


def test_random_bytes_with_png_name(tmp_path: Path) -> None:
    p = tmp_path / "garbage.png"
    p.write_bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ArtforgeError, match="corrupt|truncated|not an image") as e:
        images.load(p)
    assert str(p) in str(e.value)


def test_truncated_png(tmp_path: Path) -> None:
    p = tmp_path / "cut.png"
    _noise().save(p)
    assert images.load(p).size == (64, 64)  # intact file loads
    _truncate(p)
    with pytest.raises(ArtforgeError, match="corrupt or truncated") as e:
        images.load(p)
    assert str(p) in str(e.value)
    assert "\n" not in str(e.value)


def test_truncated_jpeg(tmp_path: Path) -> None:
    p = tmp_path / "cut.jpg"
    _noise().save(p, quality=95)
    assert images.load(p).size == (64, 64)
    _truncate(p)
    with pytest.raises(ArtforgeError, match="corrupt or truncated") as e:
        images.load(p)
    assert str(p) in str(e.value)


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    p = tmp_path / "notes.txt"
    p.write_text("this is not a picture\n" * 20)
    with pytest.raises(ArtforgeError, match="not an image") as e:
        images.load(p, "style image")
    assert str(p) in str(e.value)


def test_errors_are_one_line_without_cause(tmp_path: Path) -> None:
    p = tmp_path / "notes.png"
    p.write_text("hello")
    with pytest.raises(ArtforgeError) as e:
        images.load(p)
    assert "\n" not in str(e.value)
    assert e.value.__cause__ is None and e.value.__suppress_context__


# --------------------------------------------------------------------------------------------- decompression bombs


def test_pixel_limit_monkeypatched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "big.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(p)
    before = Image.MAX_IMAGE_PIXELS
    monkeypatch.setattr(image_io, "MAX_PIXELS", 1000)  # 4096 px > 2 x 1000: PIL's hard error
    with pytest.raises(ArtforgeError, match="too many pixels") as e:
        images.load(p)
    assert "1,000" in str(e.value) and "decompression bomb" in str(e.value)
    assert Image.MAX_IMAGE_PIXELS == before
    monkeypatch.setattr(image_io, "MAX_PIXELS", 3000)  # 1x..2x the limit: PIL only warns; still refused
    with pytest.raises(ArtforgeError, match="too many pixels"):
        images.load(p)
    assert Image.MAX_IMAGE_PIXELS == before
    monkeypatch.setattr(image_io, "MAX_PIXELS", 4096)  # exactly at the limit: fine
    assert images.load(p).size == (64, 64)
    assert Image.MAX_IMAGE_PIXELS == before


@pytest.mark.parametrize("side", [20000, 30000], ids=["warning-range", "error-range"])
def test_pixel_limit_real_header(tmp_path: Path, side: int) -> None:
    """A PNG whose header claims 400 M / 900 M pixels is refused before any pixel is decoded."""
    p = _png_header_only(tmp_path / "bomb.png", side, side)
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ArtforgeError, match="too many pixels"):
        images.load(p)
    assert Image.MAX_IMAGE_PIXELS == before


def test_global_pil_limit_restored_after_success(tmp_path: Path) -> None:
    p = tmp_path / "ok.png"
    Image.new("RGB", (32, 32)).save(p)
    before = Image.MAX_IMAGE_PIXELS
    images.load(p)
    assert Image.MAX_IMAGE_PIXELS == before


# --------------------------------------------------------------------------------------------- modes


def test_16bit_grey_is_rescaled_not_clipped(tmp_path: Path) -> None:
    a = np.zeros((32, 32), np.uint16)
    a[:, 0:8], a[:, 8:16], a[:, 16:24], a[:, 24:32] = 0, 32768, 65535, 257 * 64
    p = tmp_path / "deep.png"
    Image.fromarray(a).save(p)
    assert Image.open(p).mode.startswith("I")  # really a 16-bit file
    img = images.load(p)
    assert img.mode == "RGB" and img.size == (32, 32)
    assert _px(img, (2, 2)) == (0, 0, 0)
    assert all(abs(c - 128) <= 1 for c in _px(img, (10, 2)))
    assert _px(img, (18, 2)) == (255, 255, 255)
    assert _px(img, (26, 2)) == (64, 64, 64)


def test_dark_16bit_grey_stays_dark(tmp_path: Path) -> None:
    """Values <= 255 in a 16-bit file are near-black, not read as 8-bit."""
    p = tmp_path / "dark.png"
    Image.fromarray(np.full((32, 32), 200, np.uint16)).save(p)
    assert _px(images.load(p), (5, 5)) == (1, 1, 1)


@pytest.mark.parametrize(
    ("values", "expected"),
    [((0, 65535), (0, 255)), ((0, 200), (0, 200))],
    ids=["I-16bit-range", "I-8bit-range"],
)
def test_to_rgb_mode_i(values: tuple[int, int], expected: tuple[int, int]) -> None:
    a = np.array([[values[0], values[1]]] * 2, np.int32)
    rgb = images.to_rgb(Image.fromarray(a, "I"))
    assert rgb.mode == "RGB"
    assert _px(rgb, (0, 0))[0] == expected[0] and _px(rgb, (1, 0))[0] == expected[1]


def test_cmyk_jpeg(tmp_path: Path) -> None:
    img = Image.new("CMYK", (40, 20), (255, 0, 0, 0))  # pure cyan
    img.paste((0, 0, 0, 255), (20, 0, 40, 20))  # pure black
    p = tmp_path / "print.jpg"
    img.save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    rgb = images.load(p)
    assert rgb.mode == "RGB"
    r, g, b = _px(rgb, (5, 10))
    assert r < 40 and g > 215 and b > 215
    assert max(_px(rgb, (35, 10))) < 40


def test_palette_without_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (32, 32), 0)
    img.putpalette([0, 0, 255, 255, 0, 0] + [0] * (256 * 3 - 6))
    img.paste(1, (16, 0, 32, 32))
    p = tmp_path / "pal.png"
    img.save(p)
    assert Image.open(p).mode == "P"
    rgb = images.load(p)
    assert rgb.mode == "RGB"
    assert _px(rgb, (4, 4)) == (0, 0, 255)
    assert _px(rgb, (20, 4)) == (255, 0, 0)


def test_palette_with_transparency_goes_white(tmp_path: Path) -> None:
    img = Image.new("P", (32, 32), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    img.paste(1, (16, 0, 32, 32))
    p = tmp_path / "pal_t.png"
    img.save(p, transparency=0)  # index 0 (black) is fully transparent
    assert "transparency" in Image.open(p).info
    rgb = images.load(p)
    assert _px(rgb, (4, 4)) == (255, 255, 255)
    assert _px(rgb, (20, 4)) == (255, 0, 0)


def test_rgba_alpha_composited_over_white(tmp_path: Path) -> None:
    a = np.zeros((32, 32, 4), np.uint8)
    a[:, :16] = (0, 0, 0, 0)  # transparent black -> white
    a[:, 16:24] = (0, 0, 0, 255)  # opaque black stays black
    a[:, 24:] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    p = tmp_path / "alpha.png"
    Image.fromarray(a, "RGBA").save(p)
    rgb = images.load(p)
    assert rgb.mode == "RGB"
    assert _px(rgb, (4, 4)) == (255, 255, 255)
    assert _px(rgb, (20, 4)) == (0, 0, 0)
    assert all(120 <= c <= 135 for c in _px(rgb, (28, 4)))


def test_la_mode(tmp_path: Path) -> None:
    a = np.zeros((32, 32, 2), np.uint8)
    a[:, :16] = (0, 0)  # transparent
    a[:, 16:] = (100, 255)  # opaque grey
    p = tmp_path / "la.png"
    Image.fromarray(a, "LA").save(p)
    assert Image.open(p).mode == "LA"
    rgb = images.load(p)
    assert _px(rgb, (4, 4)) == (255, 255, 255)
    assert _px(rgb, (20, 4)) == (100, 100, 100)


def test_plain_grey_becomes_rgb(tmp_path: Path) -> None:
    p = tmp_path / "grey.png"
    Image.new("L", (20, 20), 77).save(p)
    rgb = images.load(p)
    assert rgb.mode == "RGB" and _px(rgb, (3, 3)) == (77, 77, 77)


# --------------------------------------------------------------------------------------------- EXIF orientation


def _red_left_blue_right() -> Image.Image:
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (20, 0, 40, 20))
    return img


def _is_red(c: tuple[int, ...]) -> bool:
    return c[0] > 200 and c[1] < 60 and c[2] < 60


def _is_blue(c: tuple[int, ...]) -> bool:
    return c[2] > 200 and c[0] < 60 and c[1] < 60


def test_exif_orientation_6_rotates_clockwise(tmp_path: Path) -> None:
    img = _red_left_blue_right()
    exif = img.getexif()
    exif[0x0112] = 6  # stored image must be rotated 90 degrees clockwise to display
    p = tmp_path / "phone.jpg"
    img.save(p, exif=exif, quality=95)
    assert Image.open(p).size == (40, 20)  # stored sideways
    up = images.load(p)
    assert up.size == (20, 40)
    assert _is_red(_px(up, (10, 5)))  # the left (red) half is now on top
    assert _is_blue(_px(up, (10, 35)))


def test_exif_orientation_3_rotates_180(tmp_path: Path) -> None:
    img = _red_left_blue_right()
    exif = img.getexif()
    exif[0x0112] = 3
    p = tmp_path / "upside_down.jpg"
    img.save(p, exif=exif, quality=95)
    up = images.load(p)
    assert up.size == (40, 20)
    assert _is_blue(_px(up, (5, 10))) and _is_red(_px(up, (35, 10)))


def test_no_exif_is_left_alone(tmp_path: Path) -> None:
    p = tmp_path / "plain.jpg"
    _red_left_blue_right().save(p, quality=95)
    up = images.load(p)
    assert up.size == (40, 20)
    assert _is_red(_px(up, (5, 10))) and _is_blue(_px(up, (35, 10)))


# --------------------------------------------------------------------------------------------- size limits


def test_one_pixel_image_too_small(tmp_path: Path) -> None:
    p = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (9, 9, 9)).save(p)
    with pytest.raises(ArtforgeError, match="too small") as e:
        images.load(p)
    assert "1x1" in str(e.value) and str(p) in str(e.value)


def test_min_side_parameter(tmp_path: Path) -> None:
    p = tmp_path / "strip.png"
    Image.new("RGB", (40, 20)).save(p)
    assert images.load(p).size == (40, 20)  # default MIN_SIDE = 16 <= 20
    with pytest.raises(ArtforgeError, match="need at least 32 px"):
        images.load(p, min_side=32)
    assert images.load(p, min_side=20).size == (40, 20)
    q = tmp_path / "thin.png"
    Image.new("RGB", (40, images.MIN_SIDE - 1)).save(q)
    with pytest.raises(ArtforgeError, match="too small"):
        images.load(q)
    assert images.load(q, min_side=1).size == (40, images.MIN_SIDE - 1)


# --------------------------------------------------------------------------------------------- masks


def test_mask_same_aspect_is_resized(tmp_path: Path) -> None:
    m = Image.new("L", (128, 64), 0)
    m.paste(255, (0, 0, 64, 64))  # left half white
    p = tmp_path / "mask.png"
    m.save(p)
    out = images.load_mask(p, (64, 32))
    assert out.mode == "L" and out.size == (64, 32)
    assert out.getpixel((5, 16)) == 255 and out.getpixel((60, 16)) == 0


def test_mask_small_and_coloured_is_accepted(tmp_path: Path) -> None:
    """Masks skip the MIN_SIDE rule (they are only resized) and are converted to greyscale."""
    p = tmp_path / "tiny_mask.png"
    Image.new("RGB", (4, 2), (255, 255, 255)).save(p)
    out = images.load_mask(p, (64, 32))
    assert out.mode == "L" and out.size == (64, 32) and out.getextrema() == (255, 255)


def test_mask_within_tolerance(tmp_path: Path) -> None:
    p = tmp_path / "near.png"
    Image.new("L", (101, 50), 255).save(p)  # 1% off 2:1
    assert images.load_mask(p, (200, 100)).size == (200, 100)


def test_mask_other_aspect_ratio_refused(tmp_path: Path) -> None:
    p = tmp_path / "square.png"
    Image.new("L", (64, 64), 255).save(p)
    with pytest.raises(ArtforgeError, match="aspect ratio") as e:
        images.load_mask(p, (96, 64))
    assert str(p) in str(e.value) and "64x64" in str(e.value) and "96x64" in str(e.value)


def test_mask_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ArtforgeError, match=r"^mask .*no such file"):
        images.load_mask(tmp_path / "nomask.png", (32, 32))


# --------------------------------------------------------------------------------------------- save / read_params


def test_save_png_params_round_trip(tmp_path: Path) -> None:
    img = _noise((24, 16))
    params: dict[str, object] = {"content": "/x/c.png", "styles": ["a.jpg", "b.jpg"], "config": {"size": 32}, "t": "é"}
    out = images.save(img, tmp_path / "out.png", params)
    assert out == tmp_path / "out.png"
    assert images.read_params(out) == params
    with Image.open(out) as back:
        assert back.format == "PNG"
        assert np.array_equal(np.asarray(back.convert("RGB")), np.asarray(img))  # lossless
    assert images.load(out, min_side=1).size == (24, 16)
    assert oct(out.stat().st_mode & 0o777) == oct(0o644)


def test_save_png_without_params_has_none(tmp_path: Path) -> None:
    out = images.save(_noise((16, 16)), tmp_path / "plain.png")
    with pytest.raises(ArtforgeError, match="no artforge parameters"):
        images.read_params(out)


@pytest.mark.parametrize("name", ["out.jpg", "out.JPEG", "out.PNG"])
def test_save_other_suffixes(tmp_path: Path, name: str) -> None:
    img = Image.new("RGB", (30, 20), (200, 30, 40))
    out = images.save(img, tmp_path / name, {"a": 1})
    with Image.open(out) as back:
        assert back.format == ("PNG" if name.endswith("PNG") else "JPEG")
        assert back.size == (30, 20)
        r, g, b = back.convert("RGB").getpixel((10, 10))  # type: ignore[misc]
        assert abs(r - 200) < 8 and abs(g - 30) < 8 and abs(b - 40) < 8


@pytest.mark.parametrize("name", ["out.gif", "out.txt", "out"])
def test_save_unknown_suffix_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ArtforgeError, match=r"\.png, \.jpg or \.jpeg"):
        images.save(Image.new("RGB", (16, 16)), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_save_missing_directory_refused(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "out.png"
    with pytest.raises(ArtforgeError, match="does not exist") as e:
        images.save(Image.new("RGB", (16, 16)), target)
    assert str(target) in str(e.value)
    assert not (tmp_path / "no").exists()


def test_save_under_a_regular_file_refused(tmp_path: Path) -> None:
    """The parent 'directory' is a file: unwritable even for root."""
    afile = tmp_path / "afile"
    afile.write_bytes(b"keep me")
    with pytest.raises(ArtforgeError, match="output"):
        images.save(Image.new("RGB", (16, 16)), afile / "out.png")
    with pytest.raises(ArtforgeError):
        images.check_writable(afile / "out.png")
    assert afile.read_bytes() == b"keep me"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["afile"]


def test_save_onto_a_directory_refused(tmp_path: Path) -> None:
    (tmp_path / "out.png").mkdir()
    with pytest.raises(ArtforgeError, match="is a directory"):
        images.save(Image.new("RGB", (16, 16)), tmp_path / "out.png")


def test_check_writable_returns_path(tmp_path: Path) -> None:
    assert images.check_writable(tmp_path / "x.jpeg") == tmp_path / "x.jpeg"
    assert not (tmp_path / "x.jpeg").exists()  # checking writes nothing


def test_check_writable_not_writable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unwritable directory or file is refused (os.access is faked: chmod does not stop root)."""
    existing = tmp_path / "old.png"
    existing.write_bytes(b"x")
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != tmp_path)
    with pytest.raises(ArtforgeError, match="not writable"):
        images.check_writable(tmp_path / "out.png")
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: Path(path) != existing)
    with pytest.raises(ArtforgeError, match="not writable"):
        images.save(Image.new("RGB", (16, 16)), existing)
    assert images.check_writable(tmp_path / "new.png") == tmp_path / "new.png"
    assert existing.read_bytes() == b"x"


@pytest.mark.parametrize("partial", [False, True], ids=["fails-at-once", "fails-after-writing"])
def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partial: bool) -> None:
    dest = tmp_path / "out.png"
    dest.write_bytes(b"old bytes")

    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        if partial and isinstance(fp, (str, os.PathLike)):
            Path(fp).write_bytes(b"\x89PNG half written")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ArtforgeError, match="could not write") as e:
        images.save(Image.new("RGB", (16, 16)), dest, {"a": 1})
    assert "No space left on device" in str(e.value)
    assert dest.read_bytes() == b"old bytes"
    assert [x.name for x in tmp_path.iterdir()] == ["out.png"]  # no temp files left behind


def test_save_replaces_existing_file(tmp_path: Path) -> None:
    dest = tmp_path / "out.png"
    dest.write_bytes(b"old bytes")
    images.save(Image.new("RGB", (16, 16), (1, 2, 3)), dest, {"v": 2})
    assert images.read_params(dest) == {"v": 2}
    assert [x.name for x in tmp_path.iterdir()] == ["out.png"]


def test_read_params_png_without_params(tmp_path: Path) -> None:
    p = tmp_path / "other.png"
    Image.new("RGB", (16, 16)).save(p)
    with pytest.raises(ArtforgeError, match="no artforge parameters") as e:
        images.read_params(p)
    assert str(p) in str(e.value)


def test_read_params_jpeg_and_other_text_chunks(tmp_path: Path) -> None:
    j = tmp_path / "photo.jpg"
    Image.new("RGB", (16, 16)).save(j)
    with pytest.raises(ArtforgeError, match="no artforge parameters"):
        images.read_params(j)
    p = tmp_path / "other_tool.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "some editor")
    Image.new("RGB", (16, 16)).save(p, pnginfo=info)
    with pytest.raises(ArtforgeError, match="no artforge parameters"):
        images.read_params(p)


def test_read_params_missing_and_non_image(tmp_path: Path) -> None:
    with pytest.raises(ArtforgeError, match="no such file"):
        images.read_params(tmp_path / "gone.png")
    with pytest.raises(ArtforgeError, match="no such file"):
        images.read_params(tmp_path)  # a directory is not a params file
    t = tmp_path / "t.png"
    t.write_text("plain text")
    with pytest.raises(ArtforgeError, match="not an image"):
        images.read_params(t)


@pytest.mark.parametrize("text", ["{not json", "[1, 2, 3]", '"just a string"'], ids=["bad-json", "list", "string"])
def test_read_params_malformed(tmp_path: Path, text: str) -> None:
    p = _png_with_text(tmp_path / "bad.png", text)
    with pytest.raises(ArtforgeError, match="malformed") as e:
        images.read_params(p)
    assert str(p) in str(e.value)


def test_read_params_valid_handwritten(tmp_path: Path) -> None:
    p = _png_with_text(tmp_path / "hand.png", json.dumps({"config": {"size": 64}}))
    assert images.read_params(p) == {"config": {"size": 64}}


def test_read_params_decompression_bomb(tmp_path: Path) -> None:
    p = _png_header_only(tmp_path / "bomb.png", 30000, 30000)
    with pytest.raises(ArtforgeError, match="too many pixels"):
        images.read_params(p)
