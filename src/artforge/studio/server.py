"""Starting the studio: check the options, open the job store, build the pages and serve them until Ctrl-C."""

from __future__ import annotations

import os
import sys
from typing import Any

from artforge.studio import app
from artforge.studio.service import Studio
from artforge.studio.settings import ServeOptions, check


def launch(opts: ServeOptions, block: bool = True) -> tuple[Studio, Any]:
    """Serve the studio at ``opts.url``; with ``block`` until Ctrl-C, else return (studio, Blocks) running."""
    check(opts)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    studio = Studio(opts)
    interrupted = studio.start()
    if interrupted:
        print(f"{interrupted} job(s) of the previous server were interrupted; they are marked so", flush=True)
    demo = app.build(studio)
    demo.queue(default_concurrency_limit=32)
    demo.launch(
        server_name=opts.host, server_port=opts.port, auth=list(opts.auth) or None, prevent_thread_lock=True,
        max_file_size=opts.max_upload_bytes, blocked_paths=[str(opts.data_dir)], ssr_mode=False, quiet=True,
        footer_links=["api"], auth_message="artforge studio: sign in",
    )  # fmt: skip
    print(f"artforge studio: {opts.url}  (data: {opts.data_dir}; Ctrl-C stops it)", flush=True)
    if not block:
        return studio, demo
    try:
        demo.block_thread()
    finally:
        demo.close()
        studio.stop()
        print("artforge studio: stopped", file=sys.stderr)
    return studio, demo
