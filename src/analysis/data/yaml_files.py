"""The one reader of the package's YAML files (mapping files, the report schedule).

Stricter than :func:`yaml.safe_load` in three ways, so a careless or hostile file is refused
with one short line instead of being expanded:

- anchors and aliases (``&name`` / ``*name``, also ``<<: *name``) are refused at the first one,
  before anything is expanded: a 300-byte "billion laughs" file cannot grow into gigabytes;
- a key given twice in one mapping is refused (PyYAML would silently keep the last);
- files are read as UTF-8 (a UTF-8 byte-order mark is fine), never in the locale's encoding,
  and files over :data:`MAX_BYTES` are refused unread.

Every message names the file and the line and stays short (values are shortened with
:func:`analysis.data.messages.short`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent

from analysis.data.messages import short

__all__ = ["YamlFileError", "load_yaml", "MAX_BYTES"]

MAX_BYTES = 1 << 20  # a mapping or schedule file is a few hundred bytes; 1 MiB is generous


class YamlFileError(ValueError):
    """A YAML file that cannot be read; the message is one line naming the file and the line."""


class _StrictComposer(Composer):
    def compose_node(self, parent, index):  # noqa: D102 - PyYAML hook
        event = self.peek_event()
        anchor = None if isinstance(event, AliasEvent) else getattr(event, "anchor", None)
        if isinstance(event, AliasEvent) or anchor is not None:
            name = event.anchor
            raise _Refused(
                event.start_mark,
                f"YAML anchors and aliases are not allowed (found {'*' if anchor is None else '&'}"
                f"{short(name)[1:-1]}); write the value out in full",
            )
        return super().compose_node(parent, index)


class _StrictConstructor(SafeConstructor):
    def construct_mapping(self, node, deep=False):  # noqa: D102 - PyYAML hook
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: SafeConstructor reports it itself
                continue
            if first != key_node.start_mark.line + 1:
                raise _Refused(key_node.start_mark, f"key {short(key)} given twice (first on line {first})")
        return super().construct_mapping(node, deep=deep)


_StrictConstructor.add_constructor("tag:yaml.org,2002:map", _StrictConstructor.construct_yaml_map)


class _Refused(yaml.YAMLError):
    def __init__(self, mark, what: str):
        super().__init__(what)
        self.mark, self.what = mark, what


class _StrictLoader(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, _StrictComposer,
                    _StrictConstructor, yaml.resolver.Resolver):
    def __init__(self, stream):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        _StrictComposer.__init__(self)
        _StrictConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)


def _where(path: Path, mark) -> str:
    return f"{path}, line {mark.line + 1}" if mark is not None else str(path)


def load_yaml(path: str | Path) -> Any:
    """Read one YAML document from ``path`` strictly (see the module docstring).

    Returns
    -------
    object
        The document (``None`` for an empty file).

    Raises
    ------
    YamlFileError
        Not UTF-8, too large, not valid YAML, an anchor/alias, a duplicated key. The message is
        one line, under 1 kB: ``<file>, line <n>: <what>``.
    FileNotFoundError
        When the file does not exist.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
    ...     _ = f.write("a: &x [1, 2]\\nb: *x\\n")
    >>> try:
    ...     load_yaml(f.name)
    ... except YamlFileError as exc:
    ...     print(str(exc).split(", line ")[1])
    1: YAML anchors and aliases are not allowed (found &x); write the value out in full
    >>> os.remove(f.name)
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise YamlFileError(f"{path}: {size:,} bytes; a mapping or schedule file is at most {MAX_BYTES:,} bytes")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # UTF-8, with or without a byte-order mark
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlFileError(
            f"{path}, line {line}: not UTF-8 (byte {data[exc.start]:#04x}); save the file as UTF-8"
        ) from None
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise YamlFileError(f"{_where(path, exc.mark)}: {exc.what}") from None
    except yaml.MarkedYAMLError as exc:
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise YamlFileError(f"{_where(path, exc.problem_mark)}: not valid YAML: {what[:200]}") from None
    except yaml.YAMLError as exc:
        raise YamlFileError(f"{path}: not valid YAML: {str(exc)[:200]}") from None
    finally:
        loader.dispose()
