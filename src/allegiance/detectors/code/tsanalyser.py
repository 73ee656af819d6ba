"""JavaScript/TypeScript and Go analyser: tree-sitter queries from the rule files.

Tree-sitter parses with error recovery, so a function cut off by ``max_tokens`` or a
fragment without its imports still yields a tree whose intact parts the queries match. A
rule is a tree-sitter query (data, in ``rules/javascript.yaml`` / ``rules/go.yaml``) plus
conditions on its captures that a query cannot express: "is this argument assembled from
request data?", "is this about a password?", "does the enclosing function check the path?".

The grammars come from the ``tree-sitter-javascript``, ``-typescript`` and ``-go`` wheels
(about 6 MB installed with ``tree-sitter`` itself). When they are missing the analyser
falls back to each rule's line ``pattern`` and says so in the verdict evidence.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from allegiance.detectors.code import ts_imports
from allegiance.detectors.code.pyfacts import PASSWORD_WORDS, SECRET_WORDS, words
from allegiance.detectors.code.rules_model import Rule
from allegiance.detectors.code.ts_imports import node_text as _text
from allegiance.detectors.code.ts_imports import walk as _walk
from allegiance.errors import ConfigError

Hit = tuple[int, str]  # (1-based line in the block, rule id)
# Expressions made of parts (a constant if all their parts are) and the type nodes inside
# composite literals that are not parts.
_COMPOSITE = frozenset(
    {"binary_expression", "parenthesized_expression", "array", "literal_value",
     "composite_literal", "expression_list", "literal_element"}
)  # fmt: skip
_TYPE_NODES = frozenset({"type_identifier", "qualified_type", "slice_type", "array_type"})

_GLOBAL_KEYS = frozenset(
    {"context", "not_context", "scope_regex", "unless_scope_regex", "file_regex",
     "unless_file_regex", "report", "secret_assignment"}
)  # fmt: skip
_CAPTURE_KEYS = frozenset({"regex", "not_regex", "is", "object_pairs", "object_lacks"})

_SQL = re.compile(
    r"(?is)\b(select\b.+\bfrom|insert\s+into|update\b.+\bset|delete\s+from|create\s+table"
    r"|drop\s+table|alter\s+table|where\b.+=)"
)


@dataclass(frozen=True)
class LanguageSpec:
    """What differs between grammars: node types and where user input comes from."""

    name: str
    strings: frozenset[str]
    literals: frozenset[str]
    functions: frozenset[str]
    sources: re.Pattern[str]
    format_calls: re.Pattern[str]


_JS_SOURCES = re.compile(
    r"\breq(?:uest)?\.(?:query|params|body|headers|cookies|url|originalUrl|path|files?|ip)\b"
    r"|\bctx\.(?:query|params|request)\b|\blocation\.(?:search|hash|href|pathname)\b"
    r"|\bdocument\.(?:URL|referrer|cookie|documentURI)\b|\bprocess\.argv\b"
    r"|\b(?:event|evt|msg|message)\.data\b|\bsearchParams\.get\(|\bnew URLSearchParams\("
    r"|\bprompt\(|\.getParam\("
)
_GO_SOURCES = re.compile(
    r"\br\.(?:URL\.Query\(\)|FormValue\(|PostFormValue\(|Form\b|PostForm\b|Header\.Get\("
    r"|URL\.Path|URL\.RawQuery|Body\b|Cookie\(|PathValue\()|\bmux\.Vars\(|\bchi\.URLParam\("
    r"|\bc\.(?:Param|Query|PostForm|FormValue|DefaultQuery|GetHeader|QueryParam)\("
    r"|\bos\.Args\b|\bps\.ByName\(|\bctx\.(?:Param|Query|FormValue|Params)\("
    r"|\breq\.(?:URL\.Query\(\)|FormValue\()"
)

SPECS: dict[str, LanguageSpec] = {
    "javascript": LanguageSpec(
        "javascript",
        strings=frozenset({"string", "template_string"}),
        literals=frozenset({"number", "true", "false", "null", "undefined", "regex"}),
        functions=frozenset(
            {
                "function_declaration",
                "function_expression",
                "arrow_function",
                "method_definition",
                "function",
                "generator_function_declaration",
            }
        ),
        sources=_JS_SOURCES,
        format_calls=re.compile(r"(^|\.)(format|concat|join)$"),
    ),
    "go": LanguageSpec(
        "go",
        strings=frozenset({"interpreted_string_literal", "raw_string_literal"}),
        literals=frozenset(
            {
                "int_literal",
                "float_literal",
                "true",
                "false",
                "nil",
                "rune_literal",
                "imaginary_literal",
            }
        ),
        functions=frozenset({"function_declaration", "method_declaration", "func_literal"}),
        sources=_GO_SOURCES,
        format_calls=re.compile(r"^(fmt\.Sprintf|fmt\.Sprint|fmt\.Sprintln|strings\.Join)$"),
    ),
}
SPECS["typescript"] = SPECS["javascript"]


# ---------------------------------------------------------------------------- grammars


class TreeSitterUnavailable(RuntimeError):
    """The tree-sitter runtime or a grammar wheel is not installed."""


@functools.cache
def _language(grammar: str) -> Any:
    try:
        import tree_sitter
    except ImportError as exc:  # pragma: no cover - exercised only without the wheels
        raise TreeSitterUnavailable("tree-sitter is not installed") from exc
    try:
        if grammar == "javascript":
            import tree_sitter_javascript as module

            return tree_sitter.Language(module.language())
        if grammar in ("typescript", "tsx"):
            import tree_sitter_typescript as ts_module

            raw = ts_module.language_tsx() if grammar == "tsx" else ts_module.language_typescript()
            return tree_sitter.Language(raw)
        if grammar == "go":
            import tree_sitter_go as go_module

            return tree_sitter.Language(go_module.language())
    except ImportError as exc:
        raise TreeSitterUnavailable(f"tree-sitter grammar for {grammar} is not installed") from exc
    raise TreeSitterUnavailable(f"no tree-sitter grammar for {grammar}")


def available() -> bool:
    """True if tree-sitter and all three grammar wheels import."""
    try:
        for grammar in ("javascript", "typescript", "go"):
            _language(grammar)
    except TreeSitterUnavailable:
        return False
    return True


@functools.cache
def _query(grammar: str, rule_id: str, text: str) -> Any:
    import tree_sitter

    try:
        return tree_sitter.Query(_language(grammar), text)
    except (tree_sitter.QueryError, ValueError, SyntaxError) as exc:
        raise ConfigError(f"rule {rule_id}: query does not compile for {grammar}: {exc}") from exc


def compile_rule(rule: Rule, grammar: str) -> None:
    """Raise ConfigError if ``rule`` is malformed or its query does not compile."""
    for key, value in rule.match.items():
        if key in _GLOBAL_KEYS:
            continue
        if not isinstance(value, Mapping) or set(value) - _CAPTURE_KEYS:
            raise ConfigError(f"rule {rule.id}: bad condition for capture {key!r}")
        for predicate in _as_list(value.get("is")):
            if predicate not in _PREDICATES:
                raise ConfigError(f"rule {rule.id}: unknown predicate {predicate!r}")
    if rule.query:
        _query(grammar, rule.id, rule.query)
        if grammar == "tsx":
            _runnable_query("typescript", rule)


def _parse(language: str, source: bytes) -> tuple[Any, str]:
    """Parse ``source``; TypeScript tries TSX first (JSX is common in model answers) and
    falls back to the plain TypeScript grammar when TSX cannot parse `<T>x` casts."""
    import tree_sitter

    grammar = "tsx" if language == "typescript" else language
    tree = tree_sitter.Parser(_language(grammar)).parse(source)
    if grammar == "tsx" and tree.root_node.has_error:
        plain = tree_sitter.Parser(_language("typescript")).parse(source)
        if not plain.root_node.has_error:
            return plain, "typescript"
    return tree, grammar


def _runnable_query(grammar: str, rule: Rule) -> Any | None:
    """The compiled query, or None for a JSX rule on the plain TypeScript grammar."""
    assert rule.query is not None
    if grammar == "typescript" and "jsx_" in rule.query:
        return None
    return _query(grammar, rule.id, rule.query)


# ---------------------------------------------------------------------------- facts


class FileFacts:
    """Source text, assignments and taint of one parsed block."""

    def __init__(self, tree: Any, source: bytes, spec: LanguageSpec) -> None:
        self.tree = tree
        self.source = source
        self.text = source.decode("utf-8", "replace")
        self.spec = spec
        self.assigned: dict[str, list[Any]] = {}
        self._tainted: set[str] | None = None
        self._collect(tree.root_node)

    def _collect(self, root: Any) -> None:
        stack = [root]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            kind = node.type
            if kind == "variable_declarator":
                name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                if name is not None and value is not None:
                    for ident in _identifiers(name):
                        self.assigned.setdefault(ident, []).append(value)
            elif kind in ("assignment_expression", "augmented_assignment_expression"):
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if left is not None and right is not None and left.type == "identifier":
                    self.assigned.setdefault(_text(left), []).append(right)
            elif kind in ("short_var_declaration", "assignment_statement"):
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if left is None or right is None:
                    continue
                lefts = [c for c in left.named_children if c.type == "identifier"]
                rights = list(right.named_children)
                for index, ident in enumerate(lefts):
                    value = rights[index] if len(rights) == len(lefts) else rights[0]
                    self.assigned.setdefault(_text(ident), []).append(value)
            elif kind in ("var_spec", "const_spec"):
                value = node.child_by_field_name("value")
                if value is None:
                    continue
                names = [c for c in node.children_by_field_name("name")]
                values = list(value.named_children)
                for index, ident in enumerate(names):
                    if values:
                        self.assigned.setdefault(_text(ident), []).append(
                            values[index] if len(values) == len(names) else values[0]
                        )

    # -------------------------------------------------------------- predicates

    def resolve(self, node: Any, depth: int = 0) -> list[Any]:
        if node.type == "identifier" and depth < 3:
            values = self.assigned.get(_text(node), [])
            out: list[Any] = []
            for value in values:
                out.extend(self.resolve(value, depth + 1))
            return out or [node]
        if node.type in ("parenthesized_expression", "literal_element", "expression_list"):
            inner = node.named_children
            if len(inner) == 1:
                return self.resolve(inner[0], depth)
        return [node]

    def is_literal(self, node: Any, depth: int = 0) -> bool:
        """Is ``node`` a constant: literals, strings without substitutions, CONSTANT_NAMES,
        variables assigned only constants (followed three assignments deep) and expressions
        built only of these? Walked with a stack, not recursion: a command padded with
        hundreds of ``' ' +`` terms once ended in RecursionError."""
        stack = [(node, depth)]
        while stack:
            current, level = stack.pop()
            kind = current.type
            if kind in self.spec.literals:
                continue
            if kind in self.spec.strings:
                if any(c.type == "template_substitution" for c in current.children):
                    return False
                continue
            if kind == "identifier":
                if re.match(r"^[A-Z][A-Z0-9_]*$", _text(current)):
                    continue
                values = self.assigned.get(_text(current))
                if not values or level > 3:
                    return False
                stack.extend((value, level + 1) for value in values)
                continue
            if kind in _COMPOSITE:
                stack.extend(
                    (child, level + 1)
                    for child in current.named_children
                    if child.type not in _TYPE_NODES
                )
                continue
            return False
        return True

    def is_formatted(self, node: Any, depth: int = 0) -> bool:
        if depth > 4:
            return False
        kind = node.type
        if kind == "template_string":
            return any(
                c.type == "template_substitution" and not self.is_literal(c.named_children[0])
                for c in node.children
                if c.named_children
            )
        if kind == "binary_expression":
            operator = node.child_by_field_name("operator")
            if operator is not None and _text(operator) == "+":
                return not self.is_literal(node) and (
                    self._stringish(node)
                    or any(self.is_formatted(c, depth + 1) for c in node.named_children)
                )
            return False
        if kind == "call_expression":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            if function is not None and self.spec.format_calls.search(_text(function)):
                args = arguments.named_children if arguments is not None else []
                parts = args[1:] if _text(function).startswith("fmt.") else args
                if _text(function).endswith(("concat", "join")) and function.type in (
                    "member_expression",
                    "selector_expression",
                ):
                    receiver = function.named_children[0]
                    parts = [receiver, *args]
                return any(not self.is_literal(p) for p in parts)
        if kind == "identifier" and depth < 4:
            return any(self.is_formatted(v, depth + 1) for v in self.assigned.get(_text(node), []))
        if kind == "parenthesized_expression" and node.named_children:
            return self.is_formatted(node.named_children[0], depth + 1)
        return False

    def _stringish(self, node: Any) -> bool:
        stack = [node]
        while stack:
            current = stack.pop()
            if current.type in self.spec.strings:
                return True
            if current.type in ("binary_expression", "parenthesized_expression"):
                stack.extend(current.named_children)
            elif current.type == "identifier" and any(
                v.type in self.spec.strings or v.type == "binary_expression"
                for v in self.assigned.get(_text(current), [])
            ):
                return True
        return False

    def formatted_sql(self, node: Any) -> bool:
        if not self.is_formatted(node):
            return False
        texts = [_text(v) for v in self.resolve(node)] + [_text(node)]
        for value in self.resolve(node):
            if value.type == "identifier":
                texts += [_text(v) for v in self.assigned.get(_text(value), [])]
        return any(_SQL.search(t) for t in texts)

    def tainted(self) -> set[str]:
        if self._tainted is None:
            names: set[str] = set()
            for _ in range(4):
                before = len(names)
                for name, values in self.assigned.items():
                    if name not in names and any(self._mentions_input(v, names) for v in values):
                        names.add(name)
                if len(names) == before:
                    break
            self._tainted = names
        return self._tainted

    def _mentions_input(self, node: Any, names: set[str]) -> bool:
        text = _text(node)
        if self.spec.sources.search(text):
            return True
        return any(_text(i) in names for i in _walk(node) if i.type == "identifier")

    def is_input(self, node: Any) -> bool:
        return self._mentions_input(node, self.tainted())

    def static_bytes(self, node: Any) -> bool:
        for value in self.resolve(node):
            text = _text(value)
            if self.is_literal(value):
                return True
            if re.match(r"^(Buffer\.(from|alloc)\(\s*(['\"`][^'\"`]*['\"`]|\d+)\s*(,\s*\S+)?\)"
                        r"|\[\]byte\(\s*[\"`][^\"`]*[\"`]\s*\)|make\(\[\]byte,\s*[\w.]+\))$", text):  # fmt: skip
                return True
        return False

    # -------------------------------------------------------------- context

    def enclosing_function(self, node: Any) -> Any | None:
        current = node.parent
        while current is not None:
            if current.type in self.spec.functions:
                return current
            current = current.parent
        return None

    def scope_text(self, node: Any) -> str:
        function = self.enclosing_function(node)
        return self.text if function is None else _text(function)

    def context_words(self, node: Any) -> set[str]:
        out: set[str] = set()
        function = self.enclosing_function(node)
        if function is not None:
            name = function.child_by_field_name("name")
            if name is None and function.parent is not None:
                name = function.parent.child_by_field_name(
                    "name"
                ) or function.parent.child_by_field_name("key")  # fmt: skip
            if name is not None:
                out |= words(_text(name))
        current = node
        while current.parent is not None and current.parent.type not in self.spec.functions:
            parent = current.parent
            if parent.type in ("variable_declarator", "pair", "keyed_element", "var_spec",
                               "const_spec", "jsx_attribute"):  # fmt: skip
                key = (parent.child_by_field_name("name") or parent.child_by_field_name("key")
                       or (parent.named_children[0] if parent.named_children else None))  # fmt: skip
                if key is not None and key is not current:
                    out |= words(_text(key))
            elif parent.type in ("assignment_expression", "short_var_declaration",
                                 "assignment_statement"):  # fmt: skip
                left = parent.child_by_field_name("left")
                if left is not None:
                    out |= words(_text(left))
            if parent.type.endswith("statement") or parent.type.endswith("declaration"):
                if len(parent.text or b"") < 400:
                    for sub in _walk(parent):
                        if sub.type in ("identifier", "property_identifier", "field_identifier",
                                        "shorthand_property_identifier"):  # fmt: skip
                            out |= words(_text(sub))
                break
            current = parent
        return out


def _identifiers(node: Any) -> list[str]:
    return [
        _text(n)
        for n in _walk(node)
        if n.type in ("identifier", "shorthand_property_identifier_pattern")
    ]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _world_writable(node: Any, facts: FileFacts) -> bool:
    text = _text(node).lower().replace("_", "")
    try:
        if text.startswith("0o"):
            value = int(text[2:], 8)
        elif text.startswith("0") and len(text) > 1 and text.isdigit():
            value = int(text, 8)
        else:
            return False
    except ValueError:
        return False
    return bool(value & 0o002)


_PREDICATES: dict[str, Callable[[Any, FileFacts], bool]] = {
    "literal": lambda n, f: f.is_literal(n),
    "dynamic": lambda n, f: not f.is_literal(n),
    "formatted": lambda n, f: f.is_formatted(n),
    "formatted_sql": lambda n, f: f.formatted_sql(n),
    "input": lambda n, f: f.is_input(n),
    "password": lambda n, f: bool(words(_text(n)) & PASSWORD_WORDS),
    "secret": lambda n, f: bool(words(_text(n)) & SECRET_WORDS),
    "static_bytes": lambda n, f: f.static_bytes(n),
    "world_writable": _world_writable,
    "string": lambda n, f: n.type in f.spec.strings,
}


# ---------------------------------------------------------------------------- matching


def analyse(
    code: str, language: str, rules: Sequence[Rule], secrets: Mapping[str, Any]
) -> list[Hit]:
    """(line, rule id) pairs for the rules that match ``code`` (javascript/typescript/go)."""
    import tree_sitter

    source = code.encode("utf-8", "replace")
    tree, grammar = _parse(language, source)
    respelt = ts_imports.canonical_source(tree, source, language)
    if respelt is not None:
        source = respelt
        tree = tree_sitter.Parser(_language(grammar)).parse(source)
    facts = FileFacts(tree, source, SPECS[language])
    hits: list[Hit] = []
    for rule in rules:
        if rule.match.get("secret_assignment"):
            hits += [(line, rule.id) for line in _secret_lines(facts, secrets)]
            continue
        if not rule.query:
            continue
        query = _runnable_query(grammar, rule)
        if query is None:
            continue
        cursor = tree_sitter.QueryCursor(query)
        seen: set[int] = set()
        for _, captures in cursor.matches(tree.root_node):
            line = _evaluate(rule, captures, facts)
            if line is not None and line not in seen:
                seen.add(line)
                hits.append((line, rule.id))
    return hits


def _evaluate(rule: Rule, captures: Mapping[str, list[Any]], facts: FileFacts) -> int | None:
    match = rule.match
    for name, condition in match.items():
        if name in _GLOBAL_KEYS:
            continue
        nodes = captures.get(name, [])
        if not nodes or not all(_capture_ok(n, condition, facts) for n in nodes[:1]):
            return None
    report_name = match.get("report") or next(iter(captures))
    report = captures.get(report_name, [None])[0] or next(iter(captures.values()))[0]
    if match.get("file_regex") and not re.search(match["file_regex"], facts.text):
        return None
    if match.get("unless_file_regex") and re.search(match["unless_file_regex"], facts.text):
        return None
    scope = None
    if match.get("scope_regex") or match.get("unless_scope_regex"):
        scope = facts.scope_text(report)
        if match.get("scope_regex") and not re.search(match["scope_regex"], scope):
            return None
        if match.get("unless_scope_regex") and re.search(match["unless_scope_regex"], scope):
            return None
    if match.get("context") or match.get("not_context"):
        vocabulary = {"secret": SECRET_WORDS, "password": PASSWORD_WORDS}
        around = facts.context_words(report)
        if match.get("context") and not around & vocabulary[match["context"]]:
            return None
        if match.get("not_context") and around & vocabulary[match["not_context"]]:
            return None
    return int(report.start_point[0]) + 1


def _capture_ok(node: Any, condition: Mapping[str, Any], facts: FileFacts) -> bool:
    text = _text(node)
    if "regex" in condition and not re.search(condition["regex"], text):
        return False
    if "not_regex" in condition and re.search(condition["not_regex"], text):
        return False
    for predicate in _as_list(condition.get("is")):
        if not _PREDICATES[predicate](node, facts):
            return False
    if "object_pairs" in condition or "object_lacks" in condition:
        pairs = _object_pairs(node)
        for key, pattern in (condition.get("object_pairs") or {}).items():
            if key not in pairs or not re.search(str(pattern), pairs[key]):
                return False
        for key, pattern in (condition.get("object_lacks") or {}).items():
            # absent, or present with a value matching `pattern` (e.g. false)
            if key in pairs and not re.search(str(pattern), pairs[key]):
                return False
    return True


def _object_pairs(node: Any) -> dict[str, str]:
    """Keys and value texts of a JS object literal or Go composite literal."""
    out: dict[str, str] = {}
    for child in _walk(node):
        if child.type in ("pair", "keyed_element"):
            key = child.child_by_field_name("key") or (
                child.named_children[0] if child.named_children else None
            )
            value = child.child_by_field_name("value") or (
                child.named_children[-1] if len(child.named_children) > 1 else None
            )
            if key is not None and value is not None:
                out.setdefault(_unquote(_text(key)), _text(value))
        elif child.type == "shorthand_property_identifier":
            out.setdefault(_text(child), _text(child))
    return out


def _unquote(text: str) -> str:
    return text.strip().strip("'\"`")


# ---------------------------------------------------------------------------- secrets


def _secret_lines(facts: FileFacts, params: Mapping[str, Any]) -> Iterator[int]:
    names = re.compile(params["names"], re.I)
    not_names = re.compile(params["not_names"], re.I)
    placeholders = re.compile(params["placeholders"])
    min_length = int(params.get("min_length", 4))
    for node in _walk(facts.tree.root_node):
        key = value = None
        if node.type == "variable_declarator":
            key, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        elif node.type == "pair":
            key, value = node.child_by_field_name("key"), node.child_by_field_name("value")
        elif node.type == "assignment_expression":
            key, value = node.child_by_field_name("left"), node.child_by_field_name("right")
            if key is not None and key.type == "member_expression":
                key = key.child_by_field_name("property")
        elif node.type in ("const_spec", "var_spec", "keyed_element", "short_var_declaration"):
            children = node.named_children
            if len(children) >= 2:
                key, value = children[0], children[-1]
        if key is None or value is None:
            continue
        value = _single_string(value, facts)
        if value is None:
            continue
        label = _unquote(_text(key))
        literal = _unquote(_text(value))
        if len(literal) < min_length or placeholders.search(literal):
            continue
        if not names.search(label) or not_names.search(label):
            continue
        if " " in literal.strip() and len(literal.split()) > 3:
            continue
        yield int(value.start_point[0]) + 1


def _single_string(node: Any, facts: FileFacts) -> Any | None:
    while node.type in ("expression_list", "literal_element") and len(node.named_children) == 1:
        node = node.named_children[0]
    if node.type in ("call_expression", "type_conversion_expression") and re.match(
        r"^\[\]byte\(", _text(node)
    ):
        # Go: []byte("secret") is still a literal secret
        inner = [c for c in _walk(node) if c.type in facts.spec.strings]
        node = inner[0] if len(inner) == 1 else node
    if node.type in facts.spec.strings and facts.is_literal(node):
        return node
    return None
