"""artforge studio: a local web app (Gradio Blocks) over :mod:`artforge.api`, with a SQLite job store."""
