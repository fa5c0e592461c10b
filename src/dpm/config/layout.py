"""The canonical layout of config files (``dpm fmt``), keeping every comment: the one module that talks to ruamel.yaml.

PyYAML, which reads config files everywhere else (``yamlio``), drops comments; ruamel.yaml's round trip keeps
them, with anchors, aliases, merge keys and block scalars. The layout:

- keys in the order of ``dpm.config.keyorder`` (the schemas' order, ``kind`` first); a mapping with a ``<<`` merge
  key keeps its order, and so do free-form mappings such as ``headers``;
- two spaces per level, sequence items indented under their key (``  - identifier: …``);
- a string is written plain when plain YAML reads it back as the same string, else in double quotes; literal
  (``|``) and folded (``>``) block scalars stay as they are, and long lines are never wrapped;
- integers in decimal, other numbers in their shortest exact form (``0.5``, ``1.5e-05``), booleans as
  ``true``/``false``, null as ``null``;
- Unix line breaks, and no byte order mark;
- a flow collection (``{…}``, ``[…]``) stays flow while it fits on its line in 120 columns, and becomes block
  style when it does not; block collections stay block;
- documents stay where they are, with their ``---`` lines and the comments around them.

When keys are reordered, the comment lines written above a key move with it, and a comment at the end of a mapping
stays at its end; a file already in canonical order keeps every comment exactly where it was. (One quirk of
ruamel.yaml stays: the comment at the end of a ``<<: *anchor`` line is written on the line below it.)

A file is read by YAML 1.1 rules, as dpm reads it. Formatting must never change what a file means, so the result is
read back with ``yamlio`` and compared with the original value for value, type for type; the two must agree and
every comment must still be there, or the file is reported and left as it is.
"""

from __future__ import annotations

import io
import itertools
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar, merge_attrib
from ruamel.yaml.emitter import Emitter
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError, YAMLWarning
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarfloat import ScalarFloat
from ruamel.yaml.scalarint import ScalarInt
from ruamel.yaml.tokens import CommentToken

from dpm.config.keyorder import Shape
from dpm.config.yamlio import comments, load_documents, plain_scalar_rules, read_text
from dpm.values import Diagnostic, Mark, has_errors

LINE_WIDTH = 120
_INDENT = 2
_STR_TAG = "tag:yaml.org,2002:str"
_MARKER = re.compile(r"^(---|\.\.\.)[ \t]*$")


@dataclass
class Formatted:
    """One file's layout: ``text`` is the canonical text, or None when the file cannot be formatted (``problems``)."""

    name: str
    original: str | None
    text: str | None
    problems: list[Diagnostic] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.text is not None and self.text != self.original


class _Resolver(VersionedResolver):
    """dpm's reader's rules (YAML 1.1 as PyYAML reads it, which is not quite ruamel.yaml's YAML 1.1: there ``n`` is
    false) for reading and for deciding what may be written plain: ``yes`` is a boolean and ``0123`` an octal
    number, so the strings "yes" and "0123" keep their quotes."""

    _rules = plain_scalar_rules()

    @property
    def processing_version(self) -> Any:
        return (1, 1)

    @property
    def versioned_resolver(self) -> Any:
        return self._rules


class _Emitter(Emitter):
    """Double quotes wherever a string needs quotes: one quoting style for the whole file."""

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        if style == "" and self.flow_level and any(mark in self.event.value for mark in "?:"):
            return '"'  # plain inside [...] and {...} by YAML 1.2's rules, not by YAML 1.1's, which dpm reads by
        return '"' if style == "'" else style


class _Representer(RoundTripRepresenter):
    """``null`` written out: ruamel.yaml would write nothing, which leaves ``- `` in a sequence."""

    def represent_none(self, data: Any) -> Any:
        return self.represent_scalar("tag:yaml.org,2002:null", "null")

    def represent_scalar_float(self, data: Any) -> Any:
        """A float in its shortest exact form (``0.5``, ``1.5e-05``), with the dot YAML 1.1 needs (``1.0e-300``):
        ruamel.yaml's rewriting of the text as written can lose a very small number's last digit."""
        if not math.isfinite(data):
            return super().represent_scalar_float(data)
        text = repr(float(data)).lower()
        text = text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
        return self.represent_scalar("tag:yaml.org,2002:float", text, anchor=data.yaml_anchor(any=True))


_Representer.add_representer(type(None), _Representer.represent_none)
_Representer.add_representer(ScalarFloat, _Representer.represent_scalar_float)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Resolver = _Resolver
    yaml.Emitter = _Emitter
    yaml.Representer = _Representer
    yaml.indent(mapping=_INDENT, sequence=2 * _INDENT, offset=_INDENT)
    yaml.width = 1 << 16  # never wrap: a long line is the user's to break
    return yaml


def format_text(name: str, raw: bytes, shape_of: Any) -> Formatted:
    """The canonical layout of the file ``name`` whose bytes are ``raw``. ``shape_of(document)`` gives the key order
    of each document (a ``Shape``), or None to leave its keys in the order written."""
    text, problems = read_text(name, raw)
    if text is None:
        return Formatted(name, None, None, problems)
    original = raw.decode("utf-8")  # as written, byte order mark and \r\n included: the layout writes neither
    text = text.replace("\r\n", "\n")
    before, problems = load_documents(name, text)
    if has_errors(problems):
        return Formatted(name, original, None, [p for p in problems if p.severity == "error"])
    try:
        result = "".join(_chunks(text, shape_of))
    except MarkedYAMLError as exc:
        return Formatted(name, original, None, [_syntax(name, exc)])
    except YAMLError as exc:
        unreadable = Diagnostic.error("yaml-syntax", f"invalid YAML: {exc}", Mark(name, 1, 1))
        return Formatted(name, original, None, [unreadable])
    unsafe = _changed_meaning(name, text, result, [d.data for d in before])
    return Formatted(name, original, None, [unsafe]) if unsafe else Formatted(name, original, result)


def _chunks(text: str, shape_of: Any) -> Iterator[str]:
    """Each document formatted on its own, between its ``---``/``...`` lines, which stay as they were written: a
    document's own comments, before and after it, are part of its text."""
    lines = text.splitlines(keepends=True)
    start = 0
    for index, line in enumerate([*lines, None]):
        if line is None or _MARKER.match(line):
            yield _document("".join(lines[start:index]), shape_of)
            if line is not None:
                yield line.rstrip() + "\n"
            start = index + 1


def _document(text: str, shape_of: Any) -> str:
    """One document laid out. The comment lines at its top (the ``$schema`` modeline, say) are kept as written and
    left out of the round trip, which loses them above a flow mapping."""
    lines = text.splitlines(keepends=True)
    top = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), len(lines))
    head, body = "".join(lines[:top]), "".join(lines[top:])
    yaml = _yaml()
    with warnings.catch_warnings():  # ruamel.yaml warns of what YAML 1.1 allows (1e3 is text there, as dpm reads it)
        warnings.simplefilter("ignore", YAMLWarning)
        data = yaml.load(body) if body.strip() else None
    if not isinstance(data, CommentedMap) or data.fa.flow_style():
        return text  # comments alone, a document written as one flow mapping, or no config document at all
    _normalize(data, shape_of(data), 0, set())
    out = io.StringIO()
    yaml.dump(data, out)
    return head + out.getvalue()


def _normalize(node: Any, shape: Shape | None, start: int, seen: set[int]) -> None:
    """Put ``node``'s keys in ``shape``'s order and its collections in their style; ``start`` is the column where
    the node begins, which decides whether a flow collection still fits on its line. An anchored node is laid out
    once, where it is first reached."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if node.anchor.value is not None:  # ruamel.yaml writes a collection's anchor only when an alias uses it
        node.yaml_set_anchor(node.anchor.value, always_dump=True)
    flow = node.fa.flow_style()
    if flow and start + len(_one_line(node)) > LINE_WIDTH:
        node.fa.set_block_style()
        flow = False
    if flow:
        return  # what is inside a flow collection is flow too, and fits
    if isinstance(node, CommentedMap):
        _normalize_mapping(node, shape, start, seen)
    else:
        for index, item in enumerate(node):
            node[index] = _scalar(item)
            if isinstance(item, CommentedMap | CommentedSeq):
                _normalize(item, shape, start + _INDENT, seen)


def _normalize_mapping(node: CommentedMap, shape: Shape | None, start: int, seen: set[int]) -> None:
    merged = bool(getattr(node, merge_attrib, None))
    own = list(node.non_merged_items()) if merged else list(node.items())
    if shape is not None and not merged:
        written = [str(key) for key, _ in own]
        ordered = shape.order(written)
        if ordered != written:
            _reorder(node, written, ordered)
    for key, value in own:
        node[key] = _scalar(value)
        child = shape.children.get(str(key)) if shape is not None else None
        if isinstance(value, CommentedMap):
            _comment_after_anchor(node, key, value, alias=id(value) in seen)
        if isinstance(value, CommentedMap | CommentedSeq):
            inline = start + len(str(key)) + 2  # a flow value begins after "key: "
            block = start + _INDENT * (2 if isinstance(value, CommentedSeq) else 1)
            _normalize(value, child, inline if value.fa.flow_style() else block, seen)


def _reorder(node: CommentedMap, written: list[str], ordered: list[str]) -> None:
    """Put ``node``'s keys in the ``ordered`` order. ruamel.yaml keeps the comment lines between two keys with the
    key above them; they belong to the key below, so they move with that one, and what follows the last key stays
    at the end."""
    above = {key: _take_following(node, before) for before, key in itertools.pairwise(written)}
    trailing = _take_following(node, written[-1])
    for key in ordered:
        node.move_to_end(key)
    for before, key in itertools.pairwise(ordered):
        _add_following(node, before, above.pop(key, ""))
    _add_following(node, ordered[-1], trailing)
    first = above.pop(ordered[0], "")
    if first:  # the new first key's comment goes above the mapping's keys
        below = node.ca.comment or [None, None]
        node.ca.comment = [below[0], [*(below[1] or []), CommentToken(first, CommentMark(0))]]


def _tail(node: Any, key: Any) -> tuple[list[Any], int] | None:
    """Where ruamel.yaml keeps the comment lines that follow ``key``'s value: on the last scalar at its end."""
    value = node[key]
    if isinstance(value, CommentedMap | CommentedSeq) and not value.fa.flow_style() and len(value):
        last = list(value.keys())[-1] if isinstance(value, CommentedMap) else len(value) - 1
        return _tail(value, last)
    if isinstance(value, CommentedMap | CommentedSeq) and not value.fa.flow_style():
        return None
    entry = node.ca.items.setdefault(key, [None, None, None, None])
    return entry, 2 if isinstance(node, CommentedMap) else 0


def _take_following(node: CommentedMap, key: str) -> str:
    found = _tail(node, key)
    token = found[0][found[1]] if found else None
    if not isinstance(token, CommentToken) or "\n" not in token.value:
        return ""
    line, _, following = token.value.partition("\n")
    token.value = line + "\n"
    return following


def _add_following(node: CommentedMap, key: str, text: str) -> None:
    found = _tail(node, key)
    if not text or found is None:
        return
    entry, index = found
    token = entry[index]
    if isinstance(token, CommentToken):
        token.value += text
    else:
        entry[index] = CommentToken("\n" + text, CommentMark(0))


def _comment_after_anchor(node: CommentedMap, key: Any, value: CommentedMap, *, alias: bool) -> None:
    """``key: &anchor  # comment`` keeps its comment on the key's line. ruamel.yaml reads that comment as one above
    the mapping's first key and would write it on a line of its own, at its old column: it is put back where ruamel
    keeps the comment of a key without an anchor."""
    entry = node.ca.items.get(key)
    below = value.ca.comment
    if not entry or len(entry) < 4 or not entry[3] or not below:
        return
    if alias:
        # ruamel.yaml copies the anchor line's comment to every alias, and an alias's entry overwrites the comment of
        # the one node both share when written: the alias gets the same entry as the anchor, which writes nothing.
        if below[0] is not None and all(token is below[0] for token in entry[3]):
            node.ca.items[key] = [entry[0], entry[1], below[0], None]
        return
    if entry[2] is not None or not below[1] or entry[3][0] is not below[1][0]:
        return
    token, rest = below[1][0], below[1][1:] or None
    if _line_of(node, key) == token.start_mark.line:  # not a comment line above the mapping's first key
        node.ca.items[key] = [entry[0], entry[1], token, rest]
        value.ca.comment = [token, rest]


def _line_of(node: CommentedMap, key: Any) -> int | None:
    try:
        line: int = node.lc.key(key)[0]
    except (KeyError, TypeError, AttributeError):
        return None
    return line


def _scalar(value: Any) -> Any:
    """Integers in decimal: ``0x10`` and ``0o10`` read as the same number either way, and octal has no form that
    YAML 1.1 and 1.2 both read as a number. ``!!str 123`` is the string "123", which is how it is written then
    (ruamel.yaml would write the tag as ``!!%20str``)."""
    if isinstance(value, ScalarInt) and type(value) is not ScalarInt and value.anchor.value is None:
        return int(value)
    if isinstance(value, TaggedScalar) and str(value.tag) == _STR_TAG and value.anchor.value is None:
        return str(value.value)
    return value


def _one_line(node: Any) -> str:
    """``node`` as it would be written in flow style on one line (near enough to decide whether it fits)."""
    if isinstance(node, dict):
        return "{" + ", ".join(f"{key}: {_one_line(value)}" for key, value in node.items()) + "}"
    if isinstance(node, list):
        return "[" + ", ".join(_one_line(item) for item in node) + "]"
    if isinstance(node, str):
        return f'"{node}"' if not node or not node[0].isalnum() else node
    return str(node).lower() if isinstance(node, bool) else str(node)


def _syntax(name: str, exc: MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    where = Mark(name, mark.line + 1, mark.column + 1) if mark else Mark(name, 1, 1)
    return Diagnostic.error("yaml-syntax", f"invalid YAML: {exc.problem or 'cannot be read'}", where)


def _changed_meaning(name: str, original: str, result: str, before: list[Any]) -> Diagnostic | None:
    """Why ``result`` may not replace ``original``, or None: it must read as the same values and keep every
    comment."""
    after, problems = load_documents(name, result)
    kept = Counter(comments(result))
    kept.subtract(comments(original))
    lost = [comment for comment, count in kept.items() if count < 0]
    if has_errors(problems) or not _same(before, [d.data for d in after]) or lost:
        what = f"would lose the comment {lost[0]!r}" if lost else "would change what the file means"
        hint = "the file was left as it is; please report this with the file"
        return Diagnostic.error("fmt-unsafe", f"formatting {what}", Mark(name, 1, 1), hint=hint)
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal values of equal types all the way down (``True == 1`` in Python, but not in a config file)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (isinstance(a, float) and math.isnan(a) and math.isnan(b))  # NaN is NaN here
