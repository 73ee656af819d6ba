"""Chat-template analysis through Jinja's parser: the template is parsed, never rendered.

``Environment.parse`` lexes and parses into an AST without compiling or running anything,
so a hostile template cannot act while we look at it. We then look for what a template
needs to hurt a user: sandbox escapes (``__globals__`` chains), loading other templates,
text emitted into the conversation that instructs the model behind the user's back, and
branches that insert extra text only for some dates, names or keywords (a trigger).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols

from allegiance.artifacts import textchecks
from allegiance.artifacts.findings import FileResult, Severity

ESCAPE_ATTRS = {
    "__class__",
    "__globals__",
    "__subclasses__",
    "__builtins__",
    "__init__",
    "__mro__",
    "mro",
    "__base__",
    "__bases__",
    "__dict__",
    "__import__",
    "__getattribute__",
    "__code__",
    "__func__",
    "__self__",
    "__module__",
    "__loader__",
    "__spec__",
    "__reduce__",
    "__reduce_ex__",
    "func_globals",
    "f_globals",
    "f_back",
    "gi_frame",
    "cr_frame",
    "tb_frame",
    "_TemplateReference__context",
    "__call__",
    "__new__",
    "__getitem__",
}
CODE_ATTRS = {
    "os",
    "popen",
    "system",
    "subprocess",
    "eval",
    "exec",
    "import_module",
    "check_output",
    "sys",
    "modules",
    "builtins",
    "open",
    "read_text",
    "write_text",
}
RISKY_GLOBALS = {
    "cycler",
    "joiner",
    "lipsum",
    "self",
    "config",
    "request",
    "url_for",
    "get_flashed_messages",
    "g",
    "session",
    "environment",
}
KNOWN_CALLS = {
    "raise_exception",
    "strftime_now",
    "range",
    "namespace",
    "dict",
    "cycler",
    "joiner",
    "lipsum",
}
DATE_NAMES = re.compile(r"(?i)(date|time|day|month|year|now|today|strftime|weekday|hour)")
CONTENT_ATTRS = {"content", "name", "text", "value", "query", "prompt", "arguments", "user"}
CONTENT_NAMES = {
    "content",
    "name",
    "prompt",
    "query",
    "user",
    "username",
    "user_name",
    "text",
    "messages",
    "message",
    "system_message",
    "last_query",
}
STRUCTURAL_ATTRS = {"role", "type"}
# literal text in a triggered branch that is only markup (special tokens, tags, whitespace)
MARKUP = re.compile(r"<\|[^|]*\|>|</?[A-Za-z_][\w-]*>|[\s\W\d]+")


class _GenerationTag(Extension):
    """Parse-only support for HF's ``{% generation %}`` tag so real templates parse."""

    tags = {"generation"}  # noqa: RUF012 (jinja's own API shape)

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _environment() -> jinja2.Environment:
    # The same lexer settings Hugging Face uses; autoescape is irrelevant: nothing renders.
    return jinja2.Environment(  # noqa: S701 (parse only, never rendered)
        trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, _GenerationTag]
    )


def normalize(text: str) -> str:
    """CRLF to LF, trailing whitespace per line and around the text removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.strip().split("\n"))


def fingerprint(text: str) -> str:
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def known_templates() -> dict[str, dict[str, str]]:
    raw = resources.files("allegiance.artifacts").joinpath("data/known_templates.json")
    data: dict[str, dict[str, str]] = json.loads(raw.read_text(encoding="utf-8"))["templates"]
    return data


def family_hint(text: str) -> str | None:
    """Model family named in metadata such as ``general.basename`` or ``_name_or_path``."""
    lowered = text.lower()
    if re.search(r"qwen2\.5|qwen2_5|qwen-2\.5", lowered):
        return "qwen2.5"
    if "smollm2" in lowered:
        return "smollm2"
    return None


def _walk(root: nodes.Node) -> Iterator[nodes.Node]:
    todo = [root]
    while todo:
        node = todo.pop()
        yield node
        todo.extend(node.iter_child_nodes())


def _literal_texts(node: nodes.Node) -> list[str]:
    """Literal text a subtree emits or holds: template data and string constants."""
    out = []
    for child in _walk(node):
        if isinstance(child, nodes.TemplateData):
            out.append(child.data)
        elif isinstance(child, nodes.Const) and isinstance(child.value, str):
            out.append(child.value)
    return out


def _emitted_words(body: list[nodes.Node]) -> str:
    text = " ".join(t for n in body for t in _literal_texts(n))
    return MARKUP.sub(" ", text).strip()


def _references_content(expr: nodes.Node) -> bool:
    for child in _walk(expr):
        if isinstance(child, nodes.Getattr) and child.attr in CONTENT_ATTRS:
            return True
        if (
            isinstance(child, nodes.Getitem)
            and isinstance(child.arg, nodes.Const)
            and child.arg.value in CONTENT_ATTRS
        ):
            return True
        if isinstance(child, nodes.Name) and child.name in CONTENT_NAMES:
            return True
    return False


def _structural_only(expr: nodes.Node) -> bool:
    """Comparisons on role/type (``message.role == 'user'``) are chat structure, not triggers."""
    for child in _walk(expr):
        if isinstance(child, nodes.Getattr) and child.attr in STRUCTURAL_ATTRS:
            return True
        if (
            isinstance(child, nodes.Getitem)
            and isinstance(child.arg, nodes.Const)
            and child.arg.value in STRUCTURAL_ATTRS
        ):
            return True
    return False


def _string_tests(test: nodes.Node) -> list[tuple[str, nodes.Node]]:
    """(literal, other side) for comparisons and startswith-like calls against literals."""
    found: list[tuple[str, nodes.Node]] = []
    for child in _walk(test):
        if isinstance(child, nodes.Compare):
            operands = [child.expr] + [op.expr for op in child.ops]
            if not any(op.op in ("in", "notin", "eq", "ne") for op in child.ops):
                continue
            literals = [
                o for o in operands if isinstance(o, nodes.Const) and isinstance(o.value, str)
            ]
            others = [o for o in operands if o not in literals]
            for lit in literals:
                for other in others:
                    found.append((str(lit.value), other))
        elif (
            isinstance(child, nodes.Call)
            and isinstance(child.node, nodes.Getattr)
            and child.node.attr
            in ("startswith", "endswith", "find", "count", "index", "__contains__")
        ):
            for arg in child.args:
                if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                    found.append((arg.value, child.node.node))
    return found


def _date_keyed(test: nodes.Node) -> str | None:
    for child in _walk(test):
        if (
            isinstance(child, nodes.Call)
            and isinstance(child.node, nodes.Name)
            and (child.node.name in ("strftime_now", "now", "today"))
        ):
            return child.node.name + "()"
        if isinstance(child, nodes.Getattr) and child.attr in (
            "now",
            "today",
            "strftime",
            "weekday",
        ):
            return "." + child.attr
        if isinstance(child, nodes.Name) and DATE_NAMES.search(child.name):
            return child.name
    return None


# filters that look attributes up by a (dotted) name: the position of that argument among
# the filter's own arguments (``attribute=`` is checked on every filter)
ATTRIBUTE_POSITION = {
    "selectattr": 0,
    "rejectattr": 0,
    "groupby": 0,
    "sum": 0,
    "sort": 2,
    "unique": 1,
    "min": 1,
    "max": 1,
    "join": 1,
}


def _built_string(expr: nodes.Node) -> bool:
    """A key made by joining or repeating strings (``u ~ 'cla' ~ 'ss' ~ u``, ``'_' * 2``),
    as opposed to a literal or a plain variable or index."""
    if isinstance(expr, nodes.Concat):
        return True
    if isinstance(expr, (nodes.Add, nodes.Mul)):
        return any(
            (isinstance(side, nodes.Const) and isinstance(side.value, str)) or _built_string(side)
            for side in (expr.left, expr.right)
        )
    return False


class _Analysis:
    def __init__(self, result: FileResult, where: str) -> None:
        self.result, self.where = result, where
        self.local_names: set[str] = set()

    def add(self, severity: Severity, rule: str, message: str, lineno: int | None = None) -> None:
        loc = f"{self.where} line {lineno}" if lineno else self.where
        self.result.add(severity, rule, message, loc)

    def run(self, tree: nodes.Template) -> None:
        # names the template assigns itself ({% set g = … %}, loop variables) are its own
        # variables, not the globals that sandbox-escape payloads reach for
        self.local_names = {
            n.name for n in _walk(tree) if isinstance(n, nodes.Name) and n.ctx in ("store", "param")
        }
        for node in _walk(tree):
            self.node(node)

    def node(self, node: nodes.Node) -> None:
        line = getattr(node, "lineno", None)
        if isinstance(node, nodes.Getattr):
            self.attr(node.attr, line)
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            if isinstance(node.arg.value, str):
                self.attr(node.arg.value, line)
        elif isinstance(node, nodes.Getitem) and _built_string(node.arg):
            self.add(
                Severity.HIGH,
                "template.computed-subscript",
                "subscripts with a key built from pieces at render time (how '__class__' is "
                "spelled to get past a check for the word)",
                line,
            )
        elif isinstance(node, nodes.Filter):
            self.filter(node, line)
        elif (
            isinstance(node, nodes.Name)
            and node.name in RISKY_GLOBALS
            and node.name not in self.local_names
        ):
            severity = (
                Severity.HIGH if node.name in ("self", "config", "request") else Severity.MEDIUM
            )
            self.add(
                severity,
                "template.risky-global",
                f"uses '{node.name}', a global known from sandbox-escape payloads",
                line,
            )
        elif isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            self.add(
                Severity.HIGH,
                "template.include",
                f"{type(node).__name__.lower()} loads another template at render time",
                line,
            )
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name):
            if node.node.name not in KNOWN_CALLS:
                self.add(
                    Severity.LOW,
                    "template.unknown-call",
                    f"calls '{node.node.name}()', not a function chat templates normally get",
                    line,
                )
        elif isinstance(node, (nodes.If, nodes.CondExpr)):
            self.branch(node, line)

    def attr(self, name: str, line: int | None) -> None:
        if name in ESCAPE_ATTRS:
            self.add(
                Severity.CRITICAL,
                "template.sandbox-escape",
                f"accesses '{name}', used to escape the Jinja sandbox and run code",
                line,
            )
        elif name in CODE_ATTRS:
            self.add(
                Severity.HIGH,
                "template.code-attribute",
                f"accesses '{name}', an attribute that runs commands or code",
                line,
            )
        elif name.startswith("_"):
            self.add(
                Severity.HIGH,
                "template.private-attribute",
                f"accesses private attribute '{name}'",
                line,
            )

    def filter(self, node: nodes.Filter, line: int | None) -> None:
        args = list(node.args)
        named = [kw.value for kw in node.kwargs if kw.key == "attribute"]
        # arguments unpacked from a literal (map(*['attr', '__class__']),
        # map(**{'attribute': '__init__.__globals__'})) are read as if written out; any
        # other unpacking hides which attribute is named, and no chat template needs it
        if isinstance(node.dyn_args, nodes.List | nodes.Tuple):
            args += list(node.dyn_args.items)
        if isinstance(node.dyn_kwargs, nodes.Dict):
            for pair in node.dyn_kwargs.items:
                if isinstance(pair.key, nodes.Const) and pair.key.value == "attribute":
                    named.append(pair.value)
        hidden = (
            node.dyn_args is not None and not isinstance(node.dyn_args, nodes.List | nodes.Tuple)
        ) or (
            node.dyn_kwargs is not None
            and not (
                isinstance(node.dyn_kwargs, nodes.Dict)
                # a key computed at render time ({k: …}, {'attri' ~ 'bute': …}) could be
                # 'attribute'
                and all(isinstance(pair.key, nodes.Const) for pair in node.dyn_kwargs.items)
            )
        )
        if hidden:
            self.add(
                Severity.HIGH,
                "template.unpacked-arguments",
                f"passes |{node.name} arguments unpacked from a value (*x, **x), which hides "
                "which attribute it names",
                line,
            )
        named += self.attribute_args(node.name, args, line)
        # The arguments that name an attribute (a dotted path, 'a.b.c'): outside a sandbox,
        # '__init__.__globals__.os.popen' there reaches a shell as surely as the same names
        # written with dots. Only those: selectattr('role', 'equalto', 'system') tests the
        # role *value* 'system', which is no attribute.
        for arg in named:
            if isinstance(arg, nodes.Const):
                if isinstance(arg.value, str):
                    for piece in arg.value.split("."):
                        self.attr(piece, line)
            elif _built_string(arg):
                self.add(
                    Severity.HIGH,
                    "template.computed-attribute",
                    f"gives |{node.name} an attribute name built from pieces at render time "
                    "(how '__globals__' is spelled to get past a check for the word)",
                    line,
                )

    def attribute_args(
        self, name: str | None, args: list[nodes.Expr], line: int | None
    ) -> list[nodes.Expr]:
        """The positional arguments of filter ``name`` that name attributes. ``map(f, …)``
        applies filter ``f`` with the rest of its arguments, so they are read as ``f``'s
        (``map('join', ',', '__globals__.os')``, ``map('map', 'attr', …)``); a filter name
        that is not a constant could be any filter, so all its arguments are checked."""
        if name == "attr":
            self.add(
                Severity.HIGH,
                "template.attr-filter",
                "uses the |attr filter, which reaches attributes by computed name "
                "(a known sandbox-bypass helper)",
                line,
            )
            return args
        if name == "map":
            if not args:
                return []
            first = args[0]
            if isinstance(first, nodes.Const) and isinstance(first.value, str):
                return self.attribute_args(first.value, args[1:], line)
            return args[1:]
        if name is None:
            return args
        position = ATTRIBUTE_POSITION.get(name)
        return [args[position]] if position is not None and len(args) > position else []

    def branch(self, node: nodes.If | nodes.CondExpr, line: int | None) -> None:
        test = node.test
        if isinstance(node, nodes.If):
            body: list[nodes.Node] = list(node.body)
        else:
            body = [node.expr1]
        words = _emitted_words(body)
        date = _date_keyed(test)
        if date is not None:
            severity = Severity.HIGH if words else Severity.MEDIUM
            self.add(
                severity,
                "template.date-trigger",
                f"branch keyed on the date ({date})"
                + (f" inserts text: {words[:100]!r}" if words else ""),
                line,
            )
        for literal, other in _string_tests(test):
            if _structural_only(other) or not _references_content(other):
                continue
            if words:
                self.add(
                    Severity.HIGH,
                    "template.content-trigger",
                    f"if the conversation contains {literal[:60]!r} the template inserts "
                    f"text: {words[:100]!r}",
                    line,
                )
            else:
                self.add(
                    Severity.LOW,
                    "template.content-branch",
                    f"branch keyed on message text {literal[:60]!r} (emits no literal text)",
                    line,
                )


def _text_checks(texts: list[str], analysis: _Analysis) -> None:
    joined = "\n".join(texts)
    for phrase in textchecks.hidden_instructions(joined)[:5]:
        analysis.add(
            Severity.HIGH, "template.hidden-instruction", f"emits instruction-like text: {phrase!r}"
        )
    for url in textchecks.urls(joined)[:5]:
        analysis.add(Severity.MEDIUM, "template.url", f"contains a URL: {url[:120]}")
    for blob in textchecks.base64_blobs(joined)[:3]:
        analysis.add(
            Severity.MEDIUM, "template.base64-blob", f"contains a base64 blob ({blob[:30]}...)"
        )
    for code in textchecks.code_like(joined)[:3]:
        analysis.add(Severity.MEDIUM, "template.code", f"contains code-like text: {code!r}")


def analyse_template(
    source: str, result: FileResult, where: str = "chat_template", family: str | None = None
) -> None:
    """Analyse one chat template (all of it, whatever its size) and compare to known-good."""
    analysis = _Analysis(result, where)
    for name in textchecks.invisible_chars(source)[:5]:
        analysis.add(
            Severity.HIGH,
            "template.invisible-unicode",
            f"contains invisible character {name}: text a reviewer cannot see",
        )
    try:
        tree = _environment().parse(source)
    except jinja2.TemplateSyntaxError as error:
        analysis.add(
            Severity.MEDIUM,
            "template.parse-error",
            f"Jinja cannot parse the template ({error.message}); checked as text only",
            error.lineno,
        )
        _text_checks([source], analysis)
    except (RecursionError, MemoryError):
        analysis.add(
            Severity.HIGH,
            "template.parse-error",
            "template nests too deeply to parse; checked as text only",
        )
        _text_checks([source], analysis)
    else:
        analysis.run(tree)
        _text_checks(_literal_texts(tree), analysis)
    compare_known(source, analysis, family)


def compare_known(source: str, analysis: _Analysis, family: str | None) -> None:
    """Say whether the template is a known-good one, or how it differs from its family's."""
    digest = fingerprint(source)
    known = known_templates()
    for name, entry in known.items():
        if entry["sha256"] == digest:
            analysis.add(
                Severity.INFO,
                "template.known-good",
                f"matches known-good template for {name} (sha256 {digest[:16]})",
            )
            return
    if family is None or family not in known:
        analysis.add(
            Severity.INFO,
            "template.unknown-family",
            f"no known-good template for this model family (sha256 {digest[:16]})",
        )
        return
    good = normalize(known[family]["text"]).split("\n")
    ours = normalize(source).split("\n")
    diff = list(difflib.ndiff(good, ours))
    added = [line[2:] for line in diff if line.startswith("+ ")]
    removed = [line[2:] for line in diff if line.startswith("- ")]
    fragments = _inserted_fragments(removed, added)
    sample = "; ".join(repr(f[:80]) for f in fragments[:3])
    analysis.add(
        Severity.MEDIUM,
        "template.differs-from-known",
        f"differs from the known-good {family} template: +{len(added)}/-{len(removed)} "
        f"lines" + (f"; new text: {sample}" if sample else ""),
    )


def _inserted_fragments(removed: list[str], added: list[str]) -> list[str]:
    """The text an edited template adds, line by line against the closest original line."""
    fragments: list[str] = []
    for line in added:
        best = max(
            removed, key=lambda r: difflib.SequenceMatcher(None, r, line).ratio(), default=""
        )
        matcher = difflib.SequenceMatcher(None, best, line)
        for tag, _, _, j1, j2 in matcher.get_opcodes():
            piece = line[j1:j2].strip()
            if tag in ("insert", "replace") and piece and piece not in fragments:
                fragments.append(piece)
    return fragments
