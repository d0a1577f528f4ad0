"""A pickle whose unpickling runs code: the security tests prove nobody unpickles it."""
from pathlib import Path


class Payload:
    """Unpickling this writes ``'pwned'`` to ``marker`` (so a test can see it never ran)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, 'pwned'))
