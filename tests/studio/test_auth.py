"""With --auth: nothing without a login, and each user sees only their own jobs, in the browser and the API."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AuthenticationError
from playwright.sync_api import expect


def _login(browser: Any, url: str, user: str, password: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(url)
    expect(page.get_by_text("artforge studio: sign in")).to_be_visible()
    page.get_by_test_id("textbox").fill(user)
    page.get_by_test_id("password").fill(password)
    page.get_by_role("button", name="Login").click()
    expect(page.locator("#instant-go")).to_be_visible()
    return page


def test_no_access_without_a_login(auth_studio: Any, browser: Any) -> None:
    page = browser.new_context().new_page()
    page.goto(auth_studio.url)
    expect(page.get_by_text("artforge studio: sign in")).to_be_visible()
    expect(page.locator("#instant-go")).to_have_count(0)
    page.get_by_test_id("textbox").fill("ann")
    page.get_by_test_id("password").fill("wrong")
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_text(re.compile("incorrect", re.I))).to_be_visible()
    expect(page.locator("#instant-go")).to_have_count(0)
    with pytest.raises(AuthenticationError, match="credentials were not provided"):
        Client(auth_studio.url, verbose=False).predict("0123456789ab", api_name="/job")


def test_a_user_cannot_open_another_users_job(auth_studio: Any, browser: Any, photo: Path) -> None:
    ann = Client(auth_studio.url, auth=("ann", "pw-ann"), verbose=False)
    job, msg, _, _ = ann.predict(
        content=handle_file(str(photo)), model="johnson-mountains", style_upload=None, size=64, api_name="/instant"
    )
    assert msg.startswith(f"job {job}: done")

    page = _login(browser, auth_studio.url, "bob", "pw-bob")
    page.goto(f"{auth_studio.url}?job={job}")
    expect(page.locator("#url-msg")).to_have_text(f"job {job}: no such job")
    expect(page.locator("#instant-result img")).to_have_count(0)
    page.get_by_role("tab", name="Gallery").click()
    expect(page.locator("#gallery-msg")).to_have_text("no finished jobs yet")

    bob = Client(auth_studio.url, auth=("bob", "pw-bob"), verbose=False)
    assert bob.predict(job, api_name="/job") == {"error": f"job {job}: no such job"}
    assert bob.predict(job, api_name="/cancel") == f"job {job}: no such job"
    assert bob.predict(job, api_name="/download")[2] == f"job {job}: no such job"
    assert bob.predict(job, api_name="/delete") == f"job {job}: no such job"
    assert bob.predict(api_name="/gallery") == []
    assert [r["id"] for r in ann.predict(api_name="/gallery")] == [job]

    mine = _login(browser, auth_studio.url, "ann", "pw-ann")
    mine.goto(f"{auth_studio.url}?job={job}")
    expect(mine.locator("#instant-result img")).to_be_visible()
    expect(mine.locator("#instant-msg")).to_contain_text(f"job {job}: done")
