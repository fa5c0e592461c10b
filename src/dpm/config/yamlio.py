"""YAML reading: every value remembers where it was written, and hostile input is refused early.

The one module that talks to PyYAML. It composes nodes with libyaml when available (fast) and builds plain
Python values itself, which is where it catches what a plain ``yaml.safe_load`` would let through: duplicate keys,
alias bombs, runaway nesting and oversized files.
"""

from __future__ import annotations

import bisect
import functools
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from dpm.values import Diagnostic, Mark, Path

# libyaml composes several times faster; the pure-Python loader behaves the same where it is missing.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
LIBRARY = f"pyyaml {yaml.__version__} {'libyaml' if _Loader is not yaml.SafeLoader else 'python'}"  # for cache keys
_RESOLVED_LIMIT = 100_000


_CONSTRUCTED: dict[tuple[str, str], Any] = {}  # plain scalars' values by tag and text, across files
_UNKNOWN = object()
_IMMUTABLE = frozenset({bool, int, float, type(None)})


class _Reader(_Loader):  # type: ignore[misc]
    """The loader, with the implicit type of each plain scalar's text remembered: a config repeats ``true``, ``USD``
    and its numbers thousands of times, and finding the type (a regular expression per candidate) is a third of
    parsing with libyaml. Plain YAML has no path resolvers, so the hooks for them do nothing."""

    _resolved: dict[tuple[Any, Any, Any], str] = {}

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        key = (kind, value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            if len(self._resolved) > _RESOLVED_LIMIT:
                self._resolved.clear()
            tag = self._resolved[key] = super().resolve(kind, value, implicit)
        return tag

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None


_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 64
# An alias may be reused, but a document may not grow past this many times its written size when expanded.
MAX_EXPANSION_FACTOR = 10
MIN_EXPANSION_BUDGET = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_CORE_TAG_PREFIX = "tag:yaml.org,2002:"
_STR_TAG = _CORE_TAG_PREFIX + "str"
_INT_TAG = _CORE_TAG_PREFIX + "int"
_MAX_INT_DIGITS = sys.get_int_max_str_digits()  # Python refuses to read longer integers from text
_SHOWN_CHARACTERS = 40


Position = tuple[int, int]  # line and column, 1-based; a Mark is made only when a diagnostic needs one


@dataclass
class Document:
    """One YAML document: its plain data and the position of every value and mapping key in it."""

    file: str
    index: int
    data: Any
    marks: dict[Path, Position] = field(default_factory=dict)
    key_marks: dict[Path, Position] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    secrets: dict[Path, Any] = field(default_factory=dict)  # filled by rendering: where each Secret stands
    # The path of every string value that holds ``${``, in document order: what rendering needs to look at.
    expressions: list[Path] | None = None
    # Set while ``marks`` and ``key_marks`` hold only some positions (``keep_positions``): reads the rest again.
    reread: Callable[[], tuple[dict[Path, Position], dict[Path, Position]]] | None = None

    def mark(self, path: Path, *, key: bool = False) -> Mark:
        """The position of ``path``, or of its nearest written ancestor when the path itself is absent."""
        if self.reread is not None and path not in (self.key_marks if key else self.marks):
            self.complete()
        table = self.key_marks if key else self.marks
        for end in range(len(path), -1, -1):
            found = table.get(path[:end]) or self.marks.get(path[:end])
            if found:
                return Mark(self.file, *found)
        return Mark(self.file, 1, 1)

    def complete(self) -> Document:
        """The document with every position again, after ``keep_positions`` dropped most of them."""
        if self.reread is not None:
            self.marks, self.key_marks = self.reread()
            self.reread = None
        return self

    def keep_positions(self, paths: Iterable[Path], text: str) -> None:
        """Drop every position but those of ``paths``: a large config holds hundreds of thousands of them, and later
        stages need only a few, or the rest for a problem, which reads ``text`` (the file's) again to find them."""
        self.marks = {path: self.marks[path] for path in paths if path in self.marks}
        self.key_marks = {}
        self.reread = rereader(self.file, self.index, text)


def rereader(name: str, index: int, text: str) -> Callable[[], tuple[dict[Path, Position], dict[Path, Position]]]:
    """What finds the positions of the document ``index`` of the file ``name`` again, from its ``text``."""
    return functools.partial(_positions, name, index, text)


def _positions(name: str, index: int, text: str) -> tuple[dict[Path, Position], dict[Path, Position]]:
    documents, _ = load_documents(name, text)
    found = next(document for document in documents if document.index == index)
    return found.marks, found.key_marks


class _Problems(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def read_text(name: str, raw: bytes) -> tuple[str | None, list[Diagnostic]]:
    """Decode a config file, refusing oversized and non-UTF-8 input with a precise position."""
    if len(raw) > MAX_FILE_BYTES:
        size = len(raw) / 1024 / 1024
        message = f"file is {size:.1f} MiB; dpm reads config files of at most {MAX_FILE_BYTES // 1024 // 1024} MiB"
        return None, [Diagnostic.error("file-too-large", message, Mark(name, 1, 1), hint="split it into several files")]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"file is not UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded"
        hint = "save the file as UTF-8"
        return None, [Diagnostic.error("encoding", message, Mark(name, line, column), hint=hint)]


def load_documents(name: str, text: str, *, positions: bool = True) -> tuple[list[Document], list[Diagnostic]]:
    """Every non-empty document in ``text``, with positions; syntax errors become diagnostics.

    Without ``positions``, a document records only the few that compiling needs (its own, each model's identifier,
    each ``${{ }}`` expression's) and reads ``text`` again for any other (``Document.mark``): building the rest for
    every value costs as much as parsing, and a valid config never shows them.
    """
    documents: list[Document] = []
    loader = _Reader(text)
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is not None and not _is_null(node):
                document = _build(name, index, loader, node, text=text, positions=positions)
                if not positions:
                    document.reread = rereader(name, index, text)
                documents.append(document)
            index += 1
        return documents, [problem for document in documents for problem in document.problems]
    except yaml.MarkedYAMLError as exc:
        return documents, [_syntax_diagnostic(name, exc)]
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{code:04X} is not allowed in YAML"
        hint = "remove control characters from the file"
        return documents, [Diagnostic.error("yaml-syntax", message, Mark(name, line, column), hint=hint)]
    except yaml.YAMLError as exc:
        return documents, [Diagnostic.error("yaml-syntax", f"invalid YAML: {exc}", Mark(name, 1, 1))]
    except _Problems as problem:
        return documents, [problem.diagnostic]
    finally:
        loader.dispose()


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _syntax_diagnostic(name: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    where = Mark(name, mark.line + 1, mark.column + 1) if mark else Mark(name, 1, 1)
    problem = exc.problem or "invalid YAML"
    context = f" ({exc.context})" if exc.context else ""
    hint = "check indentation and quoting; values that contain ': ' or start with '{' need quotes"
    return Diagnostic.error("yaml-syntax", f"invalid YAML: {problem}{context}", where, hint=hint)


def _mark(name: str, node: yaml.Node) -> Mark:
    return Mark(name, *_position(node))


def _position(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(name: str, index: int, loader: yaml.SafeLoader, root: yaml.Node, *, text: str, positions: bool) -> Document:
    if "*" in text:
        _check_expansion(name, root)
    document = Document(name, index, None, expressions=[])
    builder = _Builder(name, loader, document, positions=positions, merges="<<" in text)
    if not positions:
        document.marks[()] = _position(root)
    document.data = builder.value(root, (), 0)
    document.problems = builder.problems
    return document


def _check_expansion(name: str, root: yaml.Node) -> None:
    """Refuse alias bombs ("billion laughs") and recursive aliases before building anything."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise _Problems(Diagnostic.error("yaml-alias", "recursive YAML alias", _mark(name, node)))
        in_progress.add(key)
        total = 1 + sum(size(child) for child in _children(node))
        in_progress.discard(key)
        sizes[key] = total
        return total

    try:
        expanded = size(root)
    except RecursionError:
        raise _Problems(_too_deep(name, root)) from None
    budget = max(MIN_EXPANSION_BUDGET, MAX_EXPANSION_FACTOR * len(sizes))
    if expanded > budget:
        message = (
            f"YAML aliases expand this document to {expanded:,} values from {len(sizes):,} written ones; "
            "refusing it (an alias bomb?)"
        )
        raise _Problems(Diagnostic.error("yaml-alias", message, _mark(name, root), hint="reuse anchors less deeply"))


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _too_deep(name: str, node: yaml.Node) -> Diagnostic:
    return Diagnostic.error("yaml-depth", f"nesting deeper than {MAX_DEPTH} levels", _mark(name, node))


class _Builder:
    def __init__(
        self, name: str, loader: yaml.SafeLoader, document: Document, *, positions: bool = True, merges: bool = True
    ) -> None:
        self.name = name
        self.loader = loader
        self.document = document
        self.positions = positions
        self.merges = merges  # without a "<<" in the text, no mapping needs flattening
        self.problems: list[Diagnostic] = []
        self.first_written: dict[int, int] = {}
        self.reported: set[int] = set()  # nodes already reported: an alias reaches a node again

    def value(self, node: yaml.Node, path: Path, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _Problems(_too_deep(self.name, node))
        if self.positions:
            self.document.marks.setdefault(path, _position(node))
        kind = type(node)
        if kind is yaml.ScalarNode:
            value = self.scalar(node)
            if type(value) is str and "${" in value:
                self.document.expressions.append(path)  # type: ignore[union-attr]
                if not self.positions:
                    self.document.marks.setdefault(path, _position(node))  # where an expression's problem points
            return value
        self.known_tag(node)  # the collection is read as written either way: its values are still checked
        if kind is yaml.MappingNode:
            return self.mapping(node, path, depth)  # type: ignore[arg-type]
        return [self.value(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]

    def scalar(self, node: yaml.Node) -> Any:
        # Straight to the tag's constructor: construct_object's bookkeeping is for graphs this builder walks itself.
        if node.tag == _STR_TAG:
            return node.value
        key = (node.tag, node.value)
        known = _CONSTRUCTED.get(key, _UNKNOWN)
        if known is not _UNKNOWN:
            return known
        if not self.known_tag(node):
            return node.value  # kept as the written text, so the rest of the document is still checked
        try:
            value = self.loader.yaml_constructors[node.tag](self.loader, node)
            if type(value) in _IMMUTABLE:  # true, 8192 and 0.0015 recur thousands of times in a large config
                if len(_CONSTRUCTED) > _RESOLVED_LIMIT:
                    _CONSTRUCTED.clear()
                _CONSTRUCTED[key] = value
            return value
        except (ValueError, TypeError, OverflowError, yaml.YAMLError):
            # e.g. ``!!int abc`` or ``!!binary`` that is not base64: the tag and the text disagree
            shown = node.value if len(node.value) <= _SHOWN_CHARACTERS else node.value[:_SHOWN_CHARACTERS] + "…"
            if node.tag == _INT_TAG and len(node.value) > _MAX_INT_DIGITS:
                message = f"integer {shown!r} has more than {_MAX_INT_DIGITS:,} digits, more than dpm reads"
                self.report(node, message, "quote it if it is meant as text")
            else:
                self.report(
                    node, f"{shown!r} cannot be read as {_shown_tag(node.tag)}", "remove the tag or fix the value"
                )
            return node.value

    def known_tag(self, node: yaml.Node) -> bool:
        """Whether the reader can build ``node``'s tag; an unknown one (``!foo``, ``!!python/object``) is reported."""
        if node.tag in self.loader.yaml_constructors:
            return True
        message = f"unknown YAML tag {_shown_tag(node.tag)}; dpm reads only plain YAML values"
        self.report(node, message, "remove the tag, or quote the value if the '!' belongs to it")
        return False

    def report(self, node: yaml.Node, message: str, hint: str) -> None:
        if id(node) not in self.reported:
            self.reported.add(id(node))
            self.problems.append(Diagnostic.error("yaml-tag", message, _mark(self.name, node), hint=hint))

    def mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        # flatten_mapping puts merged pairs first; a written key may override those, but not another written key.
        # A node reached again through an alias is already flattened, so remember where its written keys start.
        if self.merges and id(node) not in self.first_written:
            own = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
            if own < len(node.value):
                self.loader.flatten_mapping(node)
            self.first_written[id(node)] = len(node.value) - own
        first_written = self.first_written.get(id(node), 0) if self.merges else 0
        result: dict[str, Any] = {}
        written: dict[str, yaml.Node] = {}
        model = not self.positions and len(path) == 2 and path[0] == "models"  # where a model's identifier is
        for position, (key_node, value_node) in enumerate(node.value):
            key = self.scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str):
                shown = f"{type(key).__name__} ({key!r})" if key is not None else "a collection"
                message = f"mapping keys must be strings, not {shown}"
                self.problems.append(Diagnostic.error("yaml-key", message, _mark(self.name, key_node)))
                continue
            child = (*path, key)
            if position >= first_written and key in written:
                first_line = _position(written[key])[0]
                message = f"duplicate key '{key}' (first defined at line {first_line})"
                where = _mark(self.name, key_node)
                self.problems.append(Diagnostic.error("duplicate-key", message, where, hint="remove one of them"))
                continue
            if position >= first_written:
                written[key] = key_node
            if self.positions:
                self.document.key_marks[child] = _position(key_node)
            elif model and key == "identifier":
                self.document.marks[child] = _position(value_node)
            result[key] = self.value(value_node, child, depth + 1)
        return result


def _shown_tag(tag: str) -> str:
    """A tag as it was written: ``!!int`` for the YAML core's own tags."""
    return "!!" + tag.removeprefix(_CORE_TAG_PREFIX) if tag.startswith(_CORE_TAG_PREFIX) else tag


def dump_yaml(data: Any) -> str:
    """Plain data as block-style YAML, keys in the order given."""
    text: str = yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120
    )
    return text


def scalar(text: str) -> Any:
    """``text`` read as one YAML value (``8192`` an int, ``true`` a bool), or ``text`` itself when it is not YAML."""
    try:
        return yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):  # ``!!int abc``, an integer too long to read
        return text


_COMMENT_START = re.compile(r"(?:^|(?<=[ \t]))#", re.MULTILINE)


def comments(text: str) -> list[str]:
    """Every comment in ``text``, from its ``#`` to the end of its line, in order: a ``#`` inside a value (a quoted
    string, a block scalar) is no comment. Empty when ``text`` is not YAML."""
    try:
        spans = [(t.start_mark.index, t.end_mark.index) for t in yaml.scan(text, Loader=_Loader)]
    except (yaml.YAMLError, ValueError):
        return []
    starts = [start for start, _ in spans]
    found: list[str] = []
    line_done = -1  # the end of the line whose comment was taken: a '#' before it is part of that comment
    for match in _COMMENT_START.finditer(text):
        at = bisect.bisect_right(starts, match.start()) - 1
        if match.start() < line_done or (at >= 0 and spans[at][0] <= match.start() < spans[at][1]):
            continue
        end = text.find("\n", match.start())
        line_done = len(text) if end < 0 else end
        found.append(text[match.start() : line_done].rstrip())
    return found


def plain_scalar_rules() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    """How dpm's reader types a plain scalar (YAML 1.1, as PyYAML reads it): for each first character, the
    (tag, pattern) pairs to try in order. ``dpm fmt`` writes by the same rules, so ``yes`` keeps its meaning."""
    table: dict[str | None, list[tuple[str, re.Pattern[str]]]] = _Loader.yaml_implicit_resolvers
    return {first: list(rules) for first, rules in table.items()}
