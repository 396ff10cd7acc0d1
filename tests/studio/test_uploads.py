"""Uploads are checked by decoding them, within a byte limit: real bad files get one line that names them."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from artforge import api
from artforge.studio.settings import ServeOptions
from artforge.studio.uploads import MAX_ZIP_FILES, check_image, keep_image, read_zip, safe_name


def _png(size: tuple[int, int] = (64, 48)) -> bytes:
    """A PNG of noise (so that its pixel data is long and cutting it short really truncates it)."""
    buf = io.BytesIO()
    Image.frombytes(
        "RGB", size, np.random.default_rng(0).integers(0, 256, size[0] * size[1] * 3, np.uint8).tobytes()
    ).save(buf, format="PNG")
    return buf.getvalue()


def test_a_good_upload_is_rgb(tmp_path: Path) -> None:
    p = tmp_path / "photo.jpg"  # the name says JPEG; the bytes are a PNG: decoding decides
    p.write_bytes(_png())
    img = check_image(str(p), "content image", 2**20)
    assert img.mode == "RGB" and img.size == (64, 48)


def _upload(tmp_path: Path, name: str, img: Image.Image, **save: object) -> Path:
    p = tmp_path / name
    img.save(p, **save)  # type: ignore[arg-type]
    return p


def test_kept_uploads_are_the_picture_checked_and_only_plain_pngs_keep_their_bytes(tmp_path: Path) -> None:
    rgb = Image.open(io.BytesIO(_png((40, 30)))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to show
    cases = {
        "plain.png": (_upload(tmp_path, "plain.png", rgb), True),
        "photo.jpg": (_upload(tmp_path, "photo.jpg", rgb, quality=90), False),
        "alpha.png": (_upload(tmp_path, "alpha.png", rgb.convert("RGBA")), False),
        "turned.png": (_upload(tmp_path, "turned.png", rgb, exif=exif), False),
    }
    for name, (upload, same_bytes) in cases.items():
        checked = check_image(str(upload), "content image", 2**20)
        dest = tmp_path / f"kept-{name}.png"
        keep_image(str(upload), checked, dest)
        with Image.open(dest) as kept:
            assert kept.format == "PNG", name
            assert np.array_equal(np.asarray(kept.convert("RGB")), np.asarray(checked)), name  # what the job reads
        assert (dest.read_bytes() == upload.read_bytes()) == same_bytes, name
    assert check_image(str(cases["turned.png"][0]), "content image", 2**20).size == (30, 40)  # stored upright
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"just some notes, not a picture\n" * 10, "not an image file"),
        (_png()[: len(_png()) // 2], "corrupt or truncated"),
        (b"", "empty"),
    ],
    ids=["text-named-png", "truncated-png", "empty"],
)
def test_bad_uploads_get_one_line_naming_the_file(tmp_path: Path, data: bytes, expected: str) -> None:
    p = tmp_path / "holiday.png"
    p.write_bytes(data)
    with pytest.raises(api.ArtforgeError, match=expected) as e:
        check_image(str(p), "content image", 2**20)
    msg = str(e.value)
    assert "\n" not in msg and "holiday.png" in msg and str(tmp_path) not in msg


def test_too_many_bytes_or_pixels_or_too_small(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    big.write_bytes(_png((400, 400)) + b"\0" * 2**20)
    with pytest.raises(api.ArtforgeError, match="over the upload limit of 1 MB"):
        check_image(str(big), "style image", ServeOptions(max_upload_mb=1).max_upload_bytes)
    bomb = tmp_path / "bomb.png"  # a tiny file that claims 20000 x 20000 px, over artforge's pixel limit
    Image.new("1", (20000, 20000)).save(bomb, optimize=True)
    with pytest.raises(api.ArtforgeError, match="decompression bomb"):
        check_image(str(bomb), "style image", 2**20)
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8)).save(tiny)
    with pytest.raises(api.ArtforgeError, match="too small"):
        check_image(str(tiny), "style image", 2**20)
    with pytest.raises(api.ArtforgeError, match="upload an image first"):
        check_image(None, "content image", 2**20)


def test_paint_settings_from_a_job_or_an_artforge_png() -> None:
    from artforge.studio.pages import paint_settings

    paintings = ["mountains", "swamp", "altar"]
    job = {"style": "sample:swamp", "size": 96, "iterations": 7, "style_weight": 3.0, "preserve_color": "none"}
    one = {"more_paintings": [], "blend": ""}
    assert paint_settings(job, paintings) == {**{k: v for k, v in job.items() if k != "style"}, "style": "swamp", **one}
    png = {"content": "/home/ann/cat.jpg", "styles": ["/home/ann/monet.jpg"], "config": {"size": 512, "tv_weight": 2}}
    assert paint_settings(png, paintings) == {"size": 512, "style": "upload", **one}
    # several styles: the first is the style, the bundled ones after it are ticked (an upload among them is not in
    # a PNG), the blend weights come back as typed
    blended = {
        "styles": ["sample:altar", "monet.png", "sample:swamp"],
        "config": {"size": 256, "style_blend": [2, 1, 0.5]},
    }
    assert paint_settings(blended, paintings) == {"size": 256, "style": "altar", "more_paintings": ["swamp"],
                                                  "blend": "2 1 0.5"}  # fmt: skip
    with pytest.raises(api.ArtforgeError, match="no Paint settings"):
        paint_settings({"model": "johnson-mountains", "styles": []}, paintings)


def _zip(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def test_zip_entries_are_read_in_memory_with_their_names(tmp_path: Path) -> None:
    z = _zip(tmp_path / "photos.zip", {"../../evil.png": _png(), "/abs/x.png": _png(), "dir/": b"", ".DS_Store": b"x"})
    entries = read_zip(str(z), 2**20)
    assert [n for n, _ in entries] == ["../../evil.png", "/abs/x.png"]
    assert [safe_name(n) for n, _ in entries] == ["evil.png", "x.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.zip"]  # nothing extracted anywhere
    assert not (tmp_path.parent / "evil.png").exists()


@pytest.mark.parametrize("entry", ["../../evil.png", "a/../../evil.png", "/abs/x.png", "C:/x.png", "..\\x.png"])
def test_training_zips_refuse_entries_that_point_outside(tmp_path: Path, entry: str) -> None:
    z = _zip(tmp_path / "data.zip", {"ok/a.png": _png(), entry: _png()})
    with pytest.raises(api.ArtforgeError, match=r"^data.zip: entry .* points outside the zip \(zip slip\)$"):
        read_zip(str(z), 2**20, strict_paths=True)
    ok = _zip(tmp_path / "ok.zip", {"ok/a..b.png": _png()})
    assert [n for n, _ in read_zip(str(ok), 2**20, 10, True)] == ["ok/a..b.png"]  # dots in a name are no way out


def test_zip_bombs_and_bad_zips_are_refused_in_one_line(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.zip", {"zeros.png": b"\0" * (12 * 2**20)})  # 12 MB of zeros: a few kB zipped
    assert bomb.stat().st_size < 2**20
    with pytest.raises(api.ArtforgeError, match="bomb.zip: its files unpack to more than 10 MB"):
        read_zip(str(bomb), 2**20)
    many = _zip(tmp_path / "many.zip", {f"{i}.png": b"x" for i in range(MAX_ZIP_FILES + 1)})
    with pytest.raises(api.ArtforgeError, match=f"101 files; at most {MAX_ZIP_FILES}"):
        read_zip(str(many), 2**20)
    text = tmp_path / "photos.zip"
    text.write_text("not a zip")
    with pytest.raises(api.ArtforgeError, match="photos.zip: not a zip file"):
        read_zip(str(text), 2**20)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(_zip(tmp_path / "whole.zip", {"a.png": _png((400, 400))}).read_bytes()[:-100])
    with pytest.raises(api.ArtforgeError, match="cut.zip: "):
        read_zip(str(cut), 2**20)


def test_a_zip_entry_that_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    z = _zip(tmp_path / "liar.zip", {"a.png": b"\0" * 5000}, zipfile.ZIP_STORED)
    data = bytearray(z.read_bytes())
    data[
        data.index(b"a.png", data.index(b"PK\x01\x02")) - 22 : data.index(b"a.png", data.index(b"PK\x01\x02")) - 18
    ] = (100).to_bytes(4, "little")  # the central directory's uncompressed size: 100 instead of 5000
    z.write_bytes(bytes(data))
    with pytest.raises(api.ArtforgeError, match="liar.zip: "):
        read_zip(str(z), 2**20)
