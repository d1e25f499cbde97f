"""Typed errors the engine raises; the CLI turns them into `error:` lines, the app into dialogs."""


class LutLabError(Exception):
    """Base of every error caused by bad input; the message says what and where."""


class InputError(LutLabError):
    """A user-supplied argument or file is unusable (the CLI exits 2)."""


class Cancelled(Exception):
    """A long job was cancelled by the user; no partial output was left behind (CLI exit 130)."""
