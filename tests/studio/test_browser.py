"""The studio in a real browser (Chromium through Playwright) against ``artforge serve`` started by the test:
Instant, Paint with previews, Cancel, a refresh that keeps the job, bad uploads, and the Gallery after a restart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image
from playwright.sync_api import expect

from artforge import api
from artforge.studio.jobs import JobStore

LONG = 120_000  # ms: VGG loads and paints on 2 busy cores


def _upload(page: Any, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))
    expect(page.locator(f"#{elem_id}").get_by_role("cell", name=path.name)).to_be_visible()


def _job_id(page: Any, elem_id: str) -> str:
    box = page.locator(f"#{elem_id} textarea, #{elem_id} input").first
    expect(box).to_have_value(re.compile(r"^[0-9a-f]{12}$"), timeout=LONG)
    return str(box.input_value())


def _paint(page: Any, photo: Path, size: int, iterations: int, painting: str | None = None) -> str:
    page.get_by_role("tab", name="Paint").click()
    _upload(page, "paint-content", photo)
    if painting is not None:  # chosen from the thumbnails
        page.locator("#paint-paintings").get_by_text(painting, exact=True).click()
        expect(page.locator("#paint-style").get_by_label(painting)).to_be_checked()
    for elem_id, value in (("paint-size", size), ("paint-iterations", iterations)):
        box = page.locator(f"#{elem_id} input[type=number]")
        box.fill(str(value))
        box.press("Enter")
        expect(box).to_have_value(str(value))
    page.locator("#paint-go").click()
    return _job_id(page, "paint-job")


def test_instant_stylisation_of_an_uploaded_photo(studio: Any, page: Any, photo: Path) -> None:
    page.goto(studio.url)
    _upload(page, "instant-content", photo)
    page.locator("#instant-go").click()
    expect(page.locator("#instant-result img")).to_be_visible(timeout=LONG)
    expect(page.locator("#instant-msg")).to_contain_text("done")
    job = _job_id(page, "instant-job")
    expect(page).to_have_url(re.compile(rf"\?job={job}$"))
    params = api.read_params(studio.data_dir / "jobs" / job / "result.png")
    assert params["model"] == "adain-wesnoth-fast" and params["styles"] == ["sample:mountains"]


def test_paint_shows_a_preview_then_the_result(studio: Any, page: Any, photo: Path) -> None:
    page.goto(studio.url)
    job = _paint(page, photo, size=64, iterations=40)
    expect(page.locator("#paint-preview img")).to_be_visible(timeout=LONG)
    expect(page.locator("#paint-result img")).to_be_visible(timeout=LONG)
    expect(page.locator("#paint-progress")).to_contain_text(f"job {job}: done")
    expect(page.locator("#paint-progress progress")).to_have_attribute("value", "1.000")
    result = studio.data_dir / "jobs" / job / "result.png"
    assert api.load_image(result).size == (64, 43) and api.read_params(result)["content"] == "cat.png"


def test_cancel_a_running_paint_job(studio: Any, page: Any, photo: Path) -> None:
    page.goto(studio.url)
    job = _paint(page, photo, size=256, iterations=500)
    expect(page.locator("#paint-progress")).to_contain_text(re.compile(r"level \d/\d .* step \d+/\d+"), timeout=LONG)
    page.locator("#paint-cancel").click()
    expect(page.locator("#paint-progress")).to_contain_text(f"job {job}: cancelled", timeout=LONG)
    expect(page.locator("#paint-result img")).to_have_count(0)


def test_queue_position_and_instant_beside_a_painting(studio: Any, page: Any, photo: Path) -> None:
    page.goto(studio.url)
    running = _paint(page, photo, size=256, iterations=500)
    expect(page.locator("#paint-progress")).to_contain_text("step", timeout=LONG)
    second = page.context.new_page()
    second.goto(studio.url)
    queued = _paint(second, photo, size=64, iterations=10, painting="altar")
    expect(second.locator("#paint-progress")).to_contain_text(f"job {queued}: queued, position 1 in the heavy lane")
    assert JobStore(studio.data_dir).get("local", queued).params["style"] == "sample:altar"

    second.get_by_role("tab", name="Instant").click()  # the light lane does not wait for the painting
    _upload(second, "instant-content", photo)
    second.locator("#instant-go").click()
    expect(second.locator("#instant-result img")).to_be_visible(timeout=LONG)
    expect(page.locator("#paint-progress")).to_contain_text(f"job {running}: running")

    second.goto(f"{studio.url}?job={queued}")
    second.locator("#paint-cancel").click()
    expect(second.locator("#paint-progress")).to_contain_text(f"job {queued}: cancelled")
    page.locator("#paint-cancel").click()
    expect(page.locator("#paint-progress")).to_contain_text(f"job {running}: cancelled", timeout=LONG)


def test_a_refresh_and_another_tab_keep_the_job(studio: Any, page: Any, photo: Path) -> None:
    page.goto(studio.url)
    job = _paint(page, photo, size=64, iterations=30)
    expect(page).to_have_url(re.compile(rf"\?job={job}$"))
    page.reload()
    other = page.context.new_page()
    other.goto(page.url)
    for pg in (page, other):
        assert _job_id(pg, "paint-job") == job
        expect(pg.get_by_role("tab", name="Paint")).to_have_attribute("aria-selected", "true")
        expect(pg.locator("#paint-result img")).to_be_visible(timeout=LONG)
        expect(pg.locator("#paint-progress")).to_contain_text(f"job {job}: done")


def test_bad_uploads_get_a_one_line_message(studio: Any, page: Any, tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("not a picture\n" * 50)
    page.goto(studio.url)
    _upload(page, "instant-content", text)
    page.locator("#instant-go").click()
    expect(page.locator("#instant-msg")).to_have_text("content image notes.png: not an image file PIL can read")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes((Path(api.sample_paintings()["swamp"])).read_bytes()[:5000])
    page.goto(studio.url)
    _upload(page, "instant-content", truncated)
    page.locator("#instant-go").click()
    expect(page.locator("#instant-msg")).to_contain_text("content image cut.png: corrupt or truncated image")
    expect(page.locator("#instant-result img")).to_have_count(0)


def test_an_oversize_upload_is_refused_on_the_page(studio: Any, page: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.png"  # the test studio allows 1 MB; noise does not compress
    Image.frombytes("RGB", (800, 800), np.random.default_rng(0).integers(0, 256, 800 * 800 * 3, np.uint8)).save(big)
    assert big.stat().st_size > 2**20
    page.goto(studio.url)
    page.locator("#instant-content input[type=file]").set_input_files(str(big))
    expect(page.locator(".toast-body")).to_contain_text('exceed the maximum allowed size of 1.0 Mb: "big.png"')
    page.locator("#instant-go").click()
    expect(page.locator("#instant-msg")).to_have_text("content image: upload an image first")


def test_generate_a_grid_from_a_trained_run(studio: Any, page: Any, tiny_run: str) -> None:
    page.goto(studio.url)
    page.get_by_role("tab", name="Generate").click()
    page.locator("#generate-refresh").click()  # the run was trained after the server started
    expect(page.locator("#generate-run input")).to_have_value(tiny_run)
    page.locator("#generate-go").click()
    expect(page.locator("#generate-result img")).to_be_visible(timeout=LONG)
    job = _job_id(page, "generate-job")
    page.reload()  # ?job=ID opens the Generate tab with its result
    expect(page.get_by_role("tab", name="Generate")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#generate-result img")).to_be_visible()
    expect(page.locator("#generate-msg")).to_contain_text(f"job {job}: done")
    page.get_by_role("tab", name="Gallery").click()
    page.get_by_role("tab", name="Generate").click()  # opening the tab lists the runs again and picks one
    expect(page.locator("#generate-run input")).to_have_value(tiny_run)
    page.get_by_text("Latent walk (a video)").click()
    page.locator("#walk-go").click()
    expect(page.locator("#walk-result video")).to_be_visible(timeout=LONG)
    walk = _job_id(page, "extras-job")
    expect(page).to_have_url(re.compile(rf"\?job={walk}$"))
    page.reload()  # a walk's address shows its video too
    expect(page.get_by_role("tab", name="Generate")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#walk-result video")).to_be_visible()
    expect(page.locator("#extras-msg")).to_contain_text(f"job {walk}: done")


def test_open_in_paint_from_the_gallery_and_from_a_png(studio: Any, page: Any, photo: Path) -> None:
    client = Client(studio.url, verbose=False)
    job, _ = client.predict(
        content=handle_file(str(photo)), style="altar", style_upload=None, size=96, iterations=7, style_strength=3,
        preserve_color="luminance", api_name="/paint",
    )  # fmt: skip
    page.goto(f"{studio.url}?job={job}")
    expect(page.locator("#paint-progress")).to_contain_text(f"job {job}: done", timeout=LONG)
    page.get_by_role("tab", name="Gallery").click()
    page.locator("#gallery-images").get_by_text(job).click()
    page.locator("#gallery-reopen").click()
    expect(page.get_by_role("tab", name="Paint")).to_have_attribute("aria-selected", "true")
    _expect_paint_fields(page, size="96", iterations="7", style="altar", color="luminance")
    expect(page.locator("#paint-content").get_by_role("cell", name=f"artforge-{job}-content.png")).to_be_visible()
    page.locator("#paint-go").click()  # the same settings and photo paint again
    expect(page.locator("#paint-job textarea, #paint-job input").first).not_to_have_value(job)
    again = _job_id(page, "paint-job")
    expect(page.locator("#paint-progress")).to_contain_text(f"job {again}: done", timeout=LONG)
    assert again != job and JobStore(studio.data_dir).get("local", again).params["iterations"] == 7

    page.goto(studio.url)  # a fresh page: the PNG alone brings its settings
    page.get_by_role("tab", name="Gallery").click()
    page.locator("#gallery-png input[type=file]").set_input_files(str(studio.data_dir / "jobs" / job / "result.png"))
    expect(page.locator("#gallery-msg")).to_have_text("its settings are in Paint: add a content photo")
    _expect_paint_fields(page, size="96", iterations="7", style="altar", color="luminance")


def _expect_paint_fields(page: Any, size: str, iterations: str, style: str, color: str) -> None:
    expect(page.locator("#paint-size input[type=number]")).to_have_value(size)
    expect(page.locator("#paint-iterations input[type=number]")).to_have_value(iterations)
    expect(page.locator("#paint-style").get_by_label(style)).to_be_checked()
    expect(page.get_by_label(color, exact=True)).to_be_checked()


def test_gallery_after_a_server_restart(studio: Any, page: Any, photo: Path, tmp_path: Path) -> None:
    page.goto(studio.url)
    _upload(page, "instant-content", photo)
    page.locator("#instant-go").click()
    expect(page.locator("#instant-msg")).to_contain_text("done", timeout=LONG)
    done = _job_id(page, "instant-job")
    running = _paint(page, photo, size=256, iterations=500)
    expect(page.locator("#paint-progress")).to_contain_text("step", timeout=LONG)

    studio.restart()  # kill -9 mid-painting, then a new server on the same data dir
    assert any("interrupted" in ln for ln in studio.lines)
    page.goto(f"{studio.url}?job={running}")
    expect(page.locator("#paint-progress")).to_contain_text(f"job {running}: interrupted", timeout=LONG)
    page.get_by_role("tab", name="Gallery").click()
    expect(page.locator("#gallery-images")).to_contain_text(done, timeout=LONG)
    expect(page.locator("#gallery-images img").first).to_be_visible()
    page.locator("#gallery-images").get_by_text(done).click()
    expect(page.locator("#gallery-params")).to_contain_text("adain-wesnoth-fast")
    link = page.locator("#gallery-download a").first
    expect(link).to_have_attribute("href", re.compile(rf"artforge-{done}-result\.png$"))
    download = tmp_path / "download.png"  # the bytes the browser gets keep artforge's parameter chunk
    download.write_bytes(page.request.get(link.get_attribute("href")).body())
    assert api.read_params(download)["model"] == "adain-wesnoth-fast"


def test_train_page_shows_progress_samples_and_keeps_the_job(studio: Any, page: Any) -> None:
    page.goto(studio.url)
    page.get_by_role("tab", name="Train").click()
    expect(page.locator("#train-data").get_by_label("fashion-mnist")).to_be_checked()
    page.get_by_text("More settings").click()
    for elem_id, value in (("train-kimg", "0.064"), ("train-resolution", "32"), ("train-batch", "16"),
                           ("train-width", "8"), ("train-max-images", "256")):  # fmt: skip
        box = page.locator(f"#{elem_id} input")
        box.fill(value)
        box.press("Enter")
    page.locator("#train-go").click()
    job = _job_id(page, "train-job")
    expect(page).to_have_url(re.compile(rf"\?job={job}$"))
    expect(page.locator("#train-grid img")).to_be_visible(timeout=LONG)
    expect(page.locator("#train-progress")).to_contain_text(f"job {job}: done", timeout=LONG)
    expect(page.locator("#train-plot")).to_contain_text("Losses")
    page.reload()  # ?job=ID opens the Train tab with the job, its samples and its curves
    expect(page.get_by_role("tab", name="Train")).to_have_attribute("aria-selected", "true")
    expect(page.locator("#train-grid img")).to_be_visible()
    expect(page.locator("#train-progress")).to_contain_text(f"job {job}: done")
    params = JobStore(studio.data_dir).get("local", job).params
    assert params["config"]["kimg"] == 0.064 and params["config"]["max_images"] == 256
