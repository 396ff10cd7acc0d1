"""User-facing errors: the CLI prints ``str(err)`` as one line and exits non-zero, no traceback."""


class ArtforgeError(Exception):
    """A problem the user can fix (bad path, corrupt image, missing weights). Message: one line."""
