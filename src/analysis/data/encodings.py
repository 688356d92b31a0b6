"""Text encodings of extracts: the ones we accept, and a guess when a file does not decode.

Banks in mainland China export GB18030/GBK, in Taiwan and Hong Kong Big5, Excel's "Unicode
text" is UTF-16. A mapping says which with ``encoding:``; the default is UTF-8 (a UTF-8
byte-order mark is skipped either way).
"""

from __future__ import annotations

import codecs
import difflib
from pathlib import Path

from analysis.data.messages import short

__all__ = ["ENCODINGS", "check_encoding", "guess_encoding", "decode_problem"]

# What a mapping's `encoding:` may say. gb18030 is a superset of gbk (either reads a GBK file).
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "gbk", "big5", "utf-16")
SAMPLE_BYTES = 1 << 16  # the guess decodes the first 64 KiB


def check_encoding(value) -> str | None:
    """Return a problem line for a bad ``encoding:`` value, or ``None`` when it is accepted.

    >>> check_encoding("gb18030") is None
    True
    >>> check_encoding("gb1803")
    "key 'encoding': 'gb1803' is not supported (did you mean 'gb18030'?); one of utf-8, utf-8-sig, gb18030, gbk, big5, utf-16"
    """
    if isinstance(value, str) and value.lower() in ENCODINGS:
        return None
    close = difflib.get_close_matches(str(value).lower()[:40], ENCODINGS, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"key 'encoding': {short(value)} is not supported{hint}; one of {', '.join(ENCODINGS)}"


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        # final=False: a sample cut inside a multi-byte character still counts as decodable.
        codecs.getincrementaldecoder(encoding)("strict").decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    return True


def guess_encoding(path: str | Path) -> str | None:
    """The most likely of :data:`ENCODINGS` for a file, from its first 64 KiB; ``None`` if none fits.

    A byte-order mark decides (UTF-8 or UTF-16); otherwise UTF-8, then GB18030 and Big5 are tried
    by decoding. Big5 text nearly always decodes as GB18030 too; when both fit and
    ``charset-normalizer`` is installed it breaks the tie, else GB18030 (the commoner) wins.
    """
    with open(path, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if _decodes(sample, "utf-8"):
        return "utf-8"
    fits = [enc for enc in ("gb18030", "big5") if _decodes(sample, enc)]
    if len(fits) > 1:
        try:
            import charset_normalizer
        except ImportError:  # optional: the trial decode alone is a fair guess
            return fits[0]
        best = charset_normalizer.from_bytes(sample, cp_isolation=fits).best()
        if best is not None and best.encoding.replace("_", "-") in fits:
            return best.encoding.replace("_", "-")
    return fits[0] if fits else None


def _bad_line(path: Path, encoding: str) -> int | None:
    """1-based line of the first byte that does not decode (read in 1 MiB blocks)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    line = 1
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return line + block[: max(exc.start, 0)].count(b"\n")
            line += block.count(b"\n")
    return None


def decode_problem(path: str | Path, encoding: str, *, key_hint: str) -> str:
    """The problem line for a file that does not decode: where, the key to set, the likely encoding.

    ``key_hint`` says where the key goes (e.g. "set `encoding:` in the mapping file m.yml").
    """
    path = Path(path)
    line = _bad_line(path, encoding)
    where = f" (line {line})" if line else ""
    guess = guess_encoding(path)
    likely = f"; it looks like {guess}" if guess and guess != encoding else ""
    return f"cannot be read as {encoding}{where}: {key_hint} to the file's encoding, one of {', '.join(ENCODINGS)}{likely}"
