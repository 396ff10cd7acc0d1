"""Every studio endpoint through ``gradio_client``, as a script would call them, and the README's example run for
real against a studio started by the test."""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from artforge import api

README = Path(__file__).resolve().parents[2] / "README.md"

WaitJob = Callable[..., dict[str, Any]]  # the wait_job fixture (conftest.py)


def test_the_readme_example_runs(studio: Any, photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- studio-client-example[^>]*-->\s*```python\n(.*?)```", text, re.S)
    assert block, "README: the studio's gradio_client example is missing"
    code = block.group(1).replace("http://127.0.0.1:7860/", studio.url)
    (tmp_path / "photo.jpg").write_bytes(photo.read_bytes())  # a PNG under a .jpg name: sniffed, not trusted
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    out = tmp_path / "photo-swamp.png"
    assert api.read_params(out)["model"] == "adain-wesnoth-fast" and max(api.load_image(out).size) == 512
    assert api.read_params(out)["precision"] == api.fast_precision()  # --instant-precision auto: bf16 where native


def test_instant_with_an_uploaded_style_and_a_per_style_model(client: Client, photo: Path) -> None:
    painting = api.sample_paintings()["altar"]
    job, msg, _, png = client.predict(
        content=handle_file(str(photo)), model="adain-wesnoth-tiny", style="upload",
        style_upload=handle_file(str(painting)), alpha=0.5, size=128, api_name="/instant",
    )  # fmt: skip
    params = api.read_params(png)
    assert msg.startswith(f"job {job}: done") and params["alpha"] == 0.5 and params["model"] == "adain-wesnoth-tiny"
    assert [Path(str(s)).name for s in params["styles"]] == ["style.png"]  # type: ignore[union-attr]
    job, msg, _, png = client.predict(
        content=handle_file(str(photo)), model="johnson-mountains", style_upload=None, size=96, api_name="/instant"
    )
    assert msg.startswith(f"job {job}: done") and api.read_params(png)["styles"] == []
    _, msg, _, _ = client.predict(
        content=handle_file(str(photo)), model="adain-wesnoth-tiny", style="upload", style_upload=None,
        api_name="/instant",
    )  # fmt: skip
    assert msg == "style image: upload an image first"


def test_generate_from_a_trained_run(client: Client, tiny_run: str) -> None:
    job, msg, _, png = client.predict(run=tiny_run, seed=3, n=4, truncation=1.0, class_index=-1, api_name="/generate")
    assert msg.startswith(f"job {job}: done")
    grid = api.load_image(png)
    assert min(grid.size) >= 2 * 28  # a 2 x 2 grid of 28 px Fashion-MNIST samples
    again = client.predict(run=tiny_run, seed=3, n=4, truncation=1.0, class_index=-1, api_name="/generate")[3]
    assert Path(again).read_bytes() == Path(png).read_bytes()  # same seed, same images
    for run, expected in (("../../etc", "run must be one of"), ("/tmp", "run must be one of")):
        assert client.predict(run=run, seed=0, n=4, api_name="/generate")[1].startswith(expected)
    msg = client.predict(run=tiny_run, seed=0, n=4, truncation=0.5, api_name="/generate")[1]
    assert msg == f"truncation is for stylegan2 runs; {tiny_run} is dcgan: use 1"


def test_instant_over_a_zip_of_photos(client: Client, photo: Path, tmp_path: Path, studio: Any) -> None:
    photos = tmp_path / "photos.zip"
    with zipfile.ZipFile(photos, "w") as z:
        z.write(photo, "holiday/cat.png")
        z.write(photo, "../../escape.jpg")  # zip slip: read in memory, named by the app
    job, msg, shown, results = client.predict(
        photos=handle_file(str(photos)), model="johnson-mountains", style_upload=None, size=64, api_name="/instant_zip"
    )
    assert msg.startswith(f"job {job}: done") and api.load_image(shown).size == (64, 43)
    with zipfile.ZipFile(results) as z:
        assert sorted(z.namelist()) == ["cat.png", "escape.png"]
    assert not (studio.data_dir.parent / "escape.jpg").exists() and not (studio.data_dir / "escape.jpg").exists()
    assert job in [r["id"] for r in client.predict(api_name="/gallery")]
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("notes/readme.png", "not a picture")
    _, msg, _, _ = client.predict(
        photos=handle_file(str(bad)), model="johnson-mountains", style_upload=None, api_name="/instant_zip"
    )
    assert msg == "bad.zip entry readme.png: not an image file PIL can read"


def test_instant_over_a_folder_of_photos(client: Client, photo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "holiday"
    folder.mkdir()
    for name in ("cat.png", "cat-again.png"):
        (folder / name).write_bytes(photo.read_bytes())
    (folder / "Thumbs.db").write_bytes(b"\0" * 64)  # desktop litter: skipped
    (folder / ".hidden.png").write_bytes(b"not a picture")  # hidden: skipped
    files = [handle_file(str(f)) for f in sorted(folder.iterdir())]
    job, msg, shown, results = client.predict(
        photos=files, model="johnson-mountains", style_upload=None, size=64, api_name="/instant_folder"
    )
    assert msg.startswith(f"job {job}: done") and api.load_image(shown).size == (64, 43)
    with zipfile.ZipFile(results) as z:
        assert sorted(z.namelist()) == ["cat-again.png", "cat.png"]
        first = Image.open(io.BytesIO(z.read("cat.png")))
        assert np.array_equal(np.asarray(first.convert("RGB")), np.asarray(api.load_image(shown)))
    (folder / "notes.txt").write_text("a list of the photos")  # not an image, not litter: refused, named
    files = [handle_file(str(f)) for f in sorted(folder.iterdir())]
    for given, expected in (
        (files, "folder file notes.txt: not an image file PIL can read"),
        ([], "photos: choose a folder (or several photos) first"),
    ):
        msg = client.predict(photos=given, model="johnson-mountains", style_upload=None, api_name="/instant_folder")[1]
        assert msg == expected


def test_paint_job_cancel_gallery_download_delete(
    wait_job: WaitJob, client: Client, photo: Path, tmp_path: Path
) -> None:
    job, msg = client.predict(
        content=handle_file(str(photo)), style="altar", style_upload=None, size=64, iterations=10, api_name="/paint"
    )
    assert re.fullmatch(r"[0-9a-f]{12}", job) and msg == f"job {job} submitted"
    long, _ = client.predict(
        content=handle_file(str(photo)), style="swamp", style_upload=None, size=256, iterations=500, api_name="/paint"
    )
    queued = client.predict(long, api_name="/job")
    assert queued["status"] in ("queued", "running")
    assert wait_job(client, job)["status"] == "done"
    assert client.predict(long, api_name="/cancel") == f"job {long}: cancel requested"
    assert wait_job(client, long)["status"] == "cancelled"

    rows = client.predict(api_name="/gallery")
    assert job in [r["id"] for r in rows] and long not in [r["id"] for r in rows]
    params, png, line = client.predict(job, api_name="/download")
    assert '"style": "sample:altar"' in params and line.startswith(f"job {job}: done")
    assert api.read_params(png)["styles"] == ["sample:altar"] and os.path.basename(png) == f"artforge-{job}-result.png"
    assert client.predict(job, api_name="/delete") == f"job {job} deleted"
    assert client.predict(job, api_name="/job") == {"error": f"job {job}: no such job"}


def test_endpoints_refuse_bad_input_in_one_line(client: Client, tmp_path: Path) -> None:
    notes = tmp_path / "notes.png"
    notes.write_text("hello\n")
    job, msg, shown, png = client.predict(
        content=handle_file(str(notes)),
        model="adain-wesnoth-fast",
        style="swamp",
        style_upload=None,
        api_name="/instant",
    )
    assert (job, shown, png) == ("", None, None) and msg == "content image notes.png: not an image file PIL can read"
    _, msg = client.predict(content=handle_file(str(notes)), style="altar", style_upload=None, api_name="/paint")
    assert msg == "content image notes.png: not an image file PIL can read"
    with pytest.raises(AppError, match="not in the list of choices"):  # Gradio checks a choice before we see it
        client.predict(content=handle_file(str(notes)), style="nowhere", style_upload=None, api_name="/paint")
    for bad in ("../../etc/passwd", "/etc/passwd", "0123456789ab"):
        assert "no such job" in client.predict(bad, api_name="/job")["error"]
        assert "no such job" in client.predict(bad, api_name="/cancel")
        assert "no such job" in client.predict(bad, api_name="/download")[2]


def test_paint_with_several_styles_blended_or_masked(
    wait_job: WaitJob, client: Client, photo: Path, tmp_path: Path
) -> None:
    """Two styles (a painting ticked, an upload) with blend weights reach the engine: the result's parameters name
    both and hold the weights; a job with masks, one per style, paints; mismatched counts, and weights with masks,
    are refused in one line."""
    from PIL import Image

    upload = api.sample_paintings()["swamp"]
    common = {"content": handle_file(str(photo)), "style": "altar", "style_upload": None, "size": 64, "iterations": 5,
              "api_name": "/paint_styles"}  # fmt: skip
    none = {"more_paintings": [], "more_uploads": None, "blend": "", "masks": None}  # the API wants every field
    blended, msg = client.predict(**common, **{**none, "more_uploads": [handle_file(str(upload))], "blend": "3, 1"})
    assert blended, msg
    w, h = api.load_image(photo).size
    left, right = tmp_path / "left.png", tmp_path / "right.png"
    half = Image.new("L", (w, h), 0)
    half.paste(255, (0, 0, w // 2, h))
    half.save(left)
    Image.eval(half, lambda v: 255 - v).save(right)
    masks = [handle_file(str(left)), handle_file(str(right))]
    masked, msg = client.predict(**common, **{**none, "more_paintings": ["mountains"], "masks": masks})
    assert masked, msg
    assert wait_job(client, blended)["status"] == "done" and wait_job(client, masked)["status"] == "done"
    params, png, _ = client.predict(blended, api_name="/download")
    stored = api.read_params(png)
    assert stored["styles"] == ["sample:altar", upload.name] and stored["config"]["style_blend"] == [3.0, 1.0]
    _, png2, _ = client.predict(masked, api_name="/download")
    assert api.read_params(png2)["styles"] == ["sample:altar", "sample:mountains"]

    refusals = [
        ({"blend": "1 2 3"}, "give one blend weight per style (2), or none; 3 given"),
        ({"blend": "a b"}, "blend weights are numbers, one per style, like '2 1'"),
        ({"masks": [handle_file(str(left))]}, "give one mask per style (2), or none"),
        ({"blend": "1 1", "masks": masks}, "blend weights and masks do not combine"),
    ]  # fmt: skip
    for extra, want in refusals:
        job, msg = client.predict(**common, **{**none, "more_paintings": ["swamp"], **extra})
        assert job == "" and msg.startswith(want), msg
    for job in (blended, masked):
        client.predict(job, api_name="/delete")
