"""Render one report notebook in a language and list the words not in that language.

    .venv/bin/python tools/check_language.py notebooks/01_attrition_overview.ipynb \\
        [--lang zh] [--param branch=North] [--html out.html]

Prints each English word found in the visible text of the Chinese HTML with its context (the
same check as ``tests/test_i18n.py``), and the msgids of ``tr`` missing from the catalogue.
Exit status 1 when any English word is found.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import nbformat
import papermill as pm
import yaml

from analysis.i18n import english_words
from analysis.report.html import notebook_to_html, visible_text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebook")
    ap.add_argument("--lang", default="zh")
    ap.add_argument("--param", action="append", default=[], help="name=value (YAML value)")
    ap.add_argument("--html", help="also write the page here")
    args = ap.parse_args(argv)
    params = {"lang": args.lang}
    for item in args.param:
        name, _, value = item.partition("=")
        params[name] = yaml.safe_load(value)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.ipynb"
        pm.execute_notebook(args.notebook, str(out), parameters=params, kernel_name="python3",
                            progress_bar=False, log_output=False)
        page = notebook_to_html(nbformat.read(out, as_version=4))
    if args.html:
        Path(args.html).write_text(page, encoding="utf-8")
    text = re.sub(r"\s+", " ", visible_text(page))
    found = english_words(text)
    for word in dict.fromkeys(found):
        i = text.find(word)
        print(f"{word!r}: ...{text[max(0, i - 60): i + 60]}...")
    print(f"{len(found)} English words ({len(set(found))} distinct), page {len(page) / 1e3:.0f} kB")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
