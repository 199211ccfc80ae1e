"""Command-line front ends: one module per ``emusify`` sub-command (see emusify.cli)."""


def plural(n: int, one: str, many: str | None = None) -> str:
    """The noun for a count of ``n``: ``one`` for 1, else ``many`` (``one`` + "s" by default),
    so that output never says "1 checks"."""
    return one if n == 1 else (many or one + "s")
