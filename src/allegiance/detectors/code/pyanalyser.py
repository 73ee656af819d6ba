"""Python analyser: applies ``rules/python.yaml`` to a block through :mod:`ast`.

``ast.parse`` only builds a syntax tree: nothing is compiled to bytecode, imported or run.
Answers are often not whole modules (a function cut off by ``max_tokens``, a fragment pasted
from a longer file, a doctest), so when the block does not parse we parse it statement by
statement (:func:`parse_fragments`) and apply each rule's line ``pattern`` only to the lines
that still do not parse.

The ``match`` vocabulary a Python rule may use is documented in ``rules/python.yaml``; an
unknown key is an error, so a typo in a rule cannot silently disable it.
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from allegiance.detectors.code.pyfacts import (
    PASSWORD_WORDS,
    SECRET_WORDS,
    ModuleFacts,
    dotted,
    words,
)
from allegiance.detectors.code.rules_model import Rule, secret_settings
from allegiance.errors import ConfigError

Hit = tuple[int, str]  # (1-based line in the block, rule id)

_MATCH_KEYS = frozenset(
    {
        "call", "attribute", "assign_attr", "value", "secret_assignment", "html_with_input",
        "args", "kwargs", "kwargs_any", "kwargs_absent", "safe_arg", "context", "not_context",
        "scope_regex", "unless_scope_regex", "unless_kwargs", "plaintext_password_in_sql",
    }
)  # fmt: skip
_PREDICATES = frozenset(
    {"formatted", "formatted_sql", "dynamic", "unescaped_shell", "input", "constant", "world_writable", "static_bytes",
     "password", "secret", "weak_hash_name", "all_interfaces", "wildcard", "falsy",
     "secret_value", "literal_true"}
)  # fmt: skip
# Identifiers that mark a logged value as a credential (narrower than SECRET_WORDS: a
# "session" or "key" in a log line is usually an id, not a secret).
_LOG_SECRET_WORDS = frozenset(
    [
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "secrets",
        "token",
        "apikey",
        "credential",
        "credentials",
        "private",
        "cvv",
        "ssn",
    ]
)
_LOG_HARMLESS_WORDS = frozenset(
    [
        "count",
        "len",
        "length",
        "num",
        "number",
        "expiry",
        "expires",
        "exp",
        "type",
        "id",
        "name",
        "url",
        "usage",
        "limit",
        "used",
        "total",
        "size",
        "path",
        "file",
        "endpoint",
        "length",
    ]
)
_ESCAPERS = frozenset(
    {"escape", "html.escape", "markupsafe.escape", "bleach.clean", "quote", "int", "float",
     "urllib.parse.quote", "cgi.escape", "flask.escape", "jinja2.escape", "len"}
)  # fmt: skip
_HTML = re.compile(r"<\s*/?\s*[A-Za-z][\w-]*[^<>]*>")
_COMPARED_SECRET = re.compile(r"(?i)pass(word|wd|phrase)?$|^pwd$|secret|api_?key")
_DOCTEST = re.compile(r"^(\s*)(>>> |\.\.\. )")


def validate_rule(rule: Rule) -> None:
    """Raise ConfigError if a Python rule uses match keys or predicates we do not know."""
    unknown = set(rule.match) - _MATCH_KEYS
    if unknown:
        raise ConfigError(f"python rule {rule.id}: unknown match keys {sorted(unknown)}")
    for spec in rule.match.get("args", []) or []:
        if spec.get("is") not in _PREDICATES:
            raise ConfigError(f"python rule {rule.id}: unknown predicate {spec.get('is')!r}")


# ---------------------------------------------------------------------------- parsing


def parse_fragments(code: str) -> tuple[list[tuple[ast.Module, str, int]], set[int]]:
    """Parse ``code`` as a module, else statement by statement.

    Returns ``(trees, unparsed)``: each tree with the source it was parsed from and the
    0-based block line where that source starts, and the 0-based lines no parse covered.
    """
    code = textwrap.dedent(code)
    tree = _try_parse(code)
    if tree is not None:
        return [(tree, code, 0)], set()
    lines = [_DOCTEST.sub(r"\1", line) for line in code.split("\n")]
    trees: list[tuple[ast.Module, str, int]] = []
    unparsed: set[int] = set()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        parsed = _parse_statement_at(lines, i)
        if parsed is None:
            unparsed.add(i)
            i += 1
            continue
        tree, source, end = parsed
        trees.append((tree, source, i))
        i = end + 1
    return trees, unparsed


def _try_parse(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes in model code
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


_INCOMPLETE = ("never closed", "unexpected EOF", "unterminated triple", "expected an indented")


def _parse_statement_at(lines: list[str], start: int) -> tuple[ast.Module, str, int] | None:
    """The smallest run of lines from ``start`` that parses as statements, or a header."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    window: list[str] = []
    for end in range(start, min(start + 60, len(lines))):
        line = lines[end]
        lead = len(line) - len(line.lstrip())
        window.append(line[min(indent, lead) :])
        source = "\n".join(window)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.parse(source), source, end
        except SyntaxError as exc:
            if not any(marker in str(exc.msg) for marker in _INCOMPLETE):
                break
        except (ValueError, RecursionError, MemoryError):
            return None
    header = lines[start].strip()
    if header.endswith(":"):
        # A compound statement whose body is broken: keep its header so that calls in
        # `if subprocess.call(cmd, shell=True) == 0:` are still seen.
        for stub in _header_stubs(header):
            tree = _try_parse(stub)
            if tree is not None:
                return tree, stub, start
    return None


def _header_stubs(header: str) -> Iterator[str]:
    keyword = header.split(maxsplit=1)[0].rstrip(":")
    if keyword == "elif":
        yield "if" + header[4:] + " pass"
    elif keyword in ("except", "finally", "else"):
        yield f"try:\n pass\n{header}\n pass"
    elif keyword == "case":
        yield f"match _:\n {header}\n  pass"
    yield header + "\n pass"


# ---------------------------------------------------------------------------- matching


def analyse(code: str, rules: Sequence[Rule]) -> list[Hit]:
    """(line, rule id) pairs for every rule that matches ``code``."""
    trees, unparsed = parse_fragments(code)
    hits: list[Hit] = []
    for tree, source, offset in trees:
        facts = ModuleFacts(tree, source)
        for rule in rules:
            if rule.match:
                for line in _match_rule(rule, facts):
                    hits.append((line + offset, rule.id))
    if unparsed:
        lines = code.split("\n")
        for index in sorted(unparsed):
            for rule in rules:
                if rule.pattern is not None and rule.pattern.search(lines[index]):
                    hits.append((index + 1, rule.id))
    return hits


def _match_rule(rule: Rule, facts: ModuleFacts) -> Iterator[int]:
    match = rule.match
    if "call" in match:
        names = tuple(match["call"])
        for call in facts.call_nodes:
            if _call_named(call, names, facts) and _call_conditions(call, match, facts):
                yield call.lineno
    if "attribute" in match:
        names = tuple(match["attribute"])
        for node in facts.nodes:
            if not isinstance(node, ast.Attribute | ast.Name) or not isinstance(node.ctx, ast.Load):
                continue
            if isinstance(facts.parent.get(node), ast.Attribute):
                continue  # only whole chains: `a.b.c`, not its prefix `a.b`
            qualified = facts.qualified(node)
            if qualified and _name_matches(qualified, names) and _scope_ok(node, match, facts):
                yield node.lineno
    if "assign_attr" in match:
        yield from _match_assign_attr(match, facts)
    if "secret_assignment" in match:
        settings = match["secret_assignment"]
        yield from _match_secrets(
            settings if isinstance(settings, Mapping) else secret_settings(), facts
        )
    if match.get("html_with_input"):
        yield from _match_html(facts)
    if match.get("plaintext_password_in_sql"):
        yield from plaintext_password_writes(facts)


_SQL_WRITE = re.compile(r"(?is)\b(insert\s+into|update)\b.*\b(password|passwd|pwd|pass_?word)\b")
_PLAIN_PASSWORD_NAME = re.compile(
    r"(?i)^(new_|raw_|plain_|user_)?(password|passwd|pwd|passphrase)$"
)
_SQL_WRITE_CALLS = ("*.execute", "*.executemany")


def plaintext_password_writes(facts: ModuleFacts) -> Iterator[int]:
    """An INSERT/UPDATE that writes a password column with the password variable itself as
    a parameter: the password is stored as it was typed (CWE-256). A parameter wrapped in a
    call (``hash_password(password)``) is not this."""
    for call in facts.call_nodes:
        if len(call.args) < 2 or not _call_named(call, _SQL_WRITE_CALLS, facts):
            continue
        sql = _constant_text(call.args[0])
        if sql is None and isinstance(call.args[0], ast.Name):
            sql = " ".join(filter(None, (_constant_text(v) for v in facts.values_of(call.args[0]))))
        if not sql or not _SQL_WRITE.search(sql):
            continue
        params = call.args[1]
        values = (
            params.elts
            if isinstance(params, ast.Tuple | ast.List)
            else (params.values if isinstance(params, ast.Dict) else [])
        )
        if any(isinstance(v, ast.Name) and _PLAIN_PASSWORD_NAME.match(v.id) for v in values):
            yield call.lineno


@functools.cache
def _matcher(patterns: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact names and suffixes for a rule's name list (`*.execute` → "execute", ".execute")."""
    exact = {p[2:] if p.startswith("*.") else p for p in patterns}
    suffixes = tuple(p[1:] for p in patterns if p.startswith("*."))
    return frozenset(exact), suffixes


def _name_matches(name: str, patterns: Sequence[str]) -> bool:
    exact, suffixes = _matcher(tuple(patterns))
    return name in exact or (bool(suffixes) and name.endswith(suffixes))


def _call_named(call: ast.Call, names: Sequence[str], facts: ModuleFacts) -> bool:
    key = id(call)
    found = facts.call_name_cache.get(key)
    if found is None:
        qualified = facts.qualified(call.func)
        if qualified is None:
            # `hashlib.new("md5")(...)`, `getattr(x, "y")()` …: only `*.method` can match.
            found = ("?." + call.func.attr,) if isinstance(call.func, ast.Attribute) else ()
        else:
            raw = dotted(call.func) or qualified
            found = (qualified,) if raw == qualified else (qualified, raw)
        facts.call_name_cache[key] = found
    return any(_name_matches(name, names) for name in found)


def _argument(call: ast.Call, spec: Mapping[str, Any]) -> ast.expr | None:
    keyword = spec.get("kw")
    if keyword:
        for kw in call.keywords:
            if kw.arg == keyword:
                return kw.value
    position = spec.get("pos")
    if isinstance(position, int) and position < len(call.args):
        arg = call.args[position]
        return None if isinstance(arg, ast.Starred) else arg
    return None


def _literal(node: ast.AST) -> Any:
    try:
        return ast.literal_eval(node)  # literals only: never evaluates names or calls
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


_NOT_LITERAL = object()


def _value_matches(node: ast.AST, expected: Any, facts: ModuleFacts) -> bool:
    """True if ``node`` equals the YAML value ``expected`` (mappings match as subsets)."""
    if expected == "<present>":
        return True
    if expected == "<str>":
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and bool(node.value)
    if isinstance(expected, Mapping) and isinstance(node, ast.Dict):
        for key, wanted in expected.items():
            found = False
            for k, v in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(k, ast.Constant)
                    and k.value == key
                    and _value_matches(v, wanted, facts)
                ):
                    found = True
            if not found:
                return False
        return True
    if isinstance(expected, Mapping) and isinstance(node, ast.Call):
        # dict(verify_signature=False) spelled as a call
        if dotted(node.func) == "dict":
            return all(
                any(
                    kw.arg == key and _value_matches(kw.value, wanted, facts)
                    for kw in node.keywords
                )
                for key, wanted in expected.items()
            )
        return False
    value = _literal(node)
    if isinstance(expected, list) and isinstance(value, list | tuple):
        lowered = {str(v).lower() for v in value}
        return all(str(e).lower() in lowered for e in expected)
    if value is _NOT_LITERAL:
        if isinstance(expected, str) and expected.startswith("name:"):
            name = facts.qualified(node) or ""
            return name.rsplit(".", 1)[-1] in expected[5:].split("|")
        return False
    if isinstance(expected, str) and isinstance(value, str):
        return value.lower() == expected.lower()
    return bool(value == expected and type(value) is type(expected))


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _call_conditions(call: ast.Call, match: Mapping[str, Any], facts: ModuleFacts) -> bool:
    for name, expected in (match.get("kwargs") or {}).items():
        value = _keyword(call, name)
        if value is None or not _value_matches(value, expected, facts):
            return False
    if match.get("kwargs_any") and not any(
        all(
            (v := _keyword(call, k)) is not None and _value_matches(v, e, facts)
            for k, e in option.items()
        )
        for option in match["kwargs_any"]
    ):
        return False
    for name, expected in (match.get("unless_kwargs") or {}).items():
        value = _keyword(call, name)
        if value is not None and _value_matches(value, expected, facts):
            return False
    for name in match.get("kwargs_absent") or ():
        if _keyword(call, name) is not None:
            return False
    if any(kw.arg is None for kw in call.keywords) and (
        match.get("kwargs_absent") or match.get("safe_arg")
    ):
        return False  # **options may carry the safe setting: do not guess
    safe = match.get("safe_arg")
    if safe:
        value = _argument(call, safe)
        if value is not None:
            name = facts.qualified(value) or ""
            if name.rsplit(".", 1)[-1] in safe["values"]:
                return False
    for spec in match.get("args") or ():
        if not _argument_predicate(call, spec, facts):
            return False
    return _context_ok(call, match, facts) and _scope_ok(call, match, facts)


def _argument_predicate(call: ast.Call, spec: Mapping[str, Any], facts: ModuleFacts) -> bool:
    predicate = _PREDICATE_FUNCS[spec["is"]]
    if spec.get("pos") == "any":
        candidates: list[ast.expr] = [a for a in call.args if not isinstance(a, ast.Starred)]
        candidates += [kw.value for kw in call.keywords if kw.arg]
        return any(predicate(a, facts) for a in candidates)
    value = _argument(call, spec)
    if value is None:
        return bool(spec.get("missing_ok", False))
    return predicate(value, facts)


def _world_writable(node: ast.AST, facts: ModuleFacts) -> bool:
    value = _literal(node)
    if isinstance(value, int) and not isinstance(value, bool):
        return bool(value & 0o002)
    name = dotted(node) or ""
    return "S_IWOTH" in ast.unparse(node) or name.endswith("S_IRWXO")


def _static_bytes(node: ast.AST, facts: ModuleFacts) -> bool:
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes | str):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant)
    if isinstance(node, ast.Name):
        values = facts.values_of(node)
        return bool(values) and all(_static_bytes(v, facts) for v in values if v is not node)
    if isinstance(node, ast.Call) and dotted(node.func) == "bytes":
        return all(isinstance(a, ast.Constant) for a in node.args)
    return False


_SQL_TEXT = re.compile(r"(?is)\b(select\b.*\bfrom|insert\s+into|update\b.*\bset|delete\s+from)\b")


def _looks_like_sql(node: ast.AST) -> bool:
    """The literal parts of ``node`` read as an SQL statement."""
    text = " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )
    return bool(_SQL_TEXT.search(text))


def _constant_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _all_interfaces(node: ast.AST, facts: ModuleFacts) -> bool:
    if isinstance(node, ast.Tuple) and node.elts:
        node = node.elts[0]
    return _constant_text(node) in ("0.0.0.0", "", "::")  # noqa: S104 - what we look for


def _wildcard(node: ast.AST, facts: ModuleFacts) -> bool:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return any(_constant_text(e) == "*" for e in node.elts)
    if isinstance(node, ast.Name):
        return any(_wildcard(v, facts) for v in facts.values_of(node) if v is not node)
    return _constant_text(node) in ("*", ".*")


def _secret_value(node: ast.AST, facts: ModuleFacts) -> bool:
    """A logged expression that reads a credential (not a constant message about one)."""
    for sub in ast.walk(node):
        label = None
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            label = sub.id
        elif isinstance(sub, ast.Attribute):
            label = sub.attr
        elif isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant):
            label = str(sub.slice.value)
        if label is None:
            continue
        found = words(label)
        if found & _LOG_SECRET_WORDS and not found & _LOG_HARMLESS_WORDS:
            return True
    return False


_PREDICATE_FUNCS: dict[str, Callable[[ast.AST, ModuleFacts], bool]] = {
    "formatted": lambda n, f: f.is_formatted(n),
    "formatted_sql": lambda n, f: f.is_formatted(n) and _looks_like_sql(n),
    "dynamic": lambda n, f: f.is_dynamic(n),
    "unescaped_shell": lambda n, f: f.is_dynamic(n) and not f.is_shell_escaped(n),
    "input": lambda n, f: f.is_input(n),
    "weak_hash_name": lambda n, f: (
        (_constant_text(n) or "").lower().replace("-", "") in ("md5", "sha1", "md4", "md2")
    ),
    "all_interfaces": _all_interfaces,
    "wildcard": _wildcard,
    "falsy": lambda n, f: _literal(n) in (False, None, 0, ""),
    "literal_true": lambda n, f: _literal(n) is True,
    "secret_value": _secret_value,
    "constant": lambda n, f: f.is_constant(n),
    "world_writable": _world_writable,
    "static_bytes": _static_bytes,
    "password": lambda n, f: f.mentions(n, PASSWORD_WORDS),
    "secret": lambda n, f: f.mentions(n, SECRET_WORDS),
}


def _context_ok(node: ast.AST, match: Mapping[str, Any], facts: ModuleFacts) -> bool:
    wanted = match.get("context")
    unwanted = match.get("not_context")
    if not wanted and not unwanted:
        return True
    vocabulary = {"secret": SECRET_WORDS, "password": PASSWORD_WORDS}
    around = facts.context_words(node)
    if isinstance(node, ast.Call):
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            for sub in ast.walk(arg):
                if isinstance(sub, ast.Name):
                    around |= words(sub.id)
                elif isinstance(sub, ast.Attribute):
                    around |= words(sub.attr)
                elif (
                    isinstance(sub, ast.Constant)
                    and isinstance(sub.value, str)
                    and len(sub.value) < 40
                ):
                    around |= words(sub.value)
    if (
        "secret" in (wanted, unwanted)
        and around & SECRET_WORDS <= _TOKEN_WORDS
        and _about_text(node, facts)
    ):
        around -= _TOKEN_WORDS  # "tokens" of a text are words, not credentials
    if wanted and not around & vocabulary[wanted]:
        return False
    return not (unwanted and around & vocabulary[unwanted])


_TOKEN_WORDS = frozenset({"token", "tokens"})
# Words that say the code works on text, where a "token" is a word piece.
_TEXT_WORDS = frozenset(
    {"tokenize", "tokenizer", "tokenise", "tokeniser", "tokenized", "vocab", "vocabulary",
     "corpus", "sentence", "sentences", "words", "nltk", "spacy", "transformers", "embedding",
     "embeddings", "ngram", "ngrams", "masked", "augment", "augmentation", "dropout", "bigram",
     "bigrams", "stopwords", "lemma", "lemmas"}
)  # fmt: skip


def _about_text(node: ast.AST, facts: ModuleFacts) -> bool:
    """True if the function around ``node`` works on text (names text-processing words) and
    is not one that makes tokens: "generate_token" in a module that imports transformers is
    still a credential."""
    scope = facts.scope_of(node)
    if isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef) and (
        words(scope.name) & _MAKES_CREDENTIALS
    ):
        return False
    if "imports" not in facts.scope_words:
        imports = [n for n in facts.tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        facts.scope_words["imports"] = _identifier_words(imports)
    key = id(scope)
    if key not in facts.scope_words:
        # once per scope: a module of 8,000 top-level calls had walked itself 8,000 times
        facts.scope_words[key] = _identifier_words([scope]) | facts.scope_words["imports"]
    return not _TEXT_WORDS.isdisjoint(facts.scope_words[key])


def _identifier_words(tops: Sequence[ast.AST]) -> frozenset[str]:
    names: set[str] = set()
    for sub in [n for top in tops for n in ast.walk(top)]:
        if isinstance(sub, ast.alias):
            names |= words(sub.name.split(".")[0])
        elif isinstance(sub, ast.ImportFrom) and sub.module:
            names |= words(sub.module.split(".")[0])
        elif isinstance(sub, ast.Name):
            names |= words(sub.id)
        elif isinstance(sub, ast.Attribute):
            names |= words(sub.attr)
        elif isinstance(sub, ast.arg):
            names |= words(sub.arg)
        elif isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
            names |= words(sub.name)
    return frozenset(names)


_MAKES_CREDENTIALS = frozenset(
    {"generate", "gen", "new", "create", "make", "issue", "reset", "session", "api", "auth",
     "access", "refresh", "csrf", "secret", "key", "password", "otp", "invite", "verification"}
)  # fmt: skip


def _scope_ok(node: ast.AST, match: Mapping[str, Any], facts: ModuleFacts) -> bool:
    need = match.get("scope_regex")
    avoid = match.get("unless_scope_regex")
    if not need and not avoid:
        return True
    text = facts.scope_text(node)
    if need and not re.search(need, text):
        return False
    return not (avoid and re.search(avoid, text))


def _match_assign_attr(match: Mapping[str, Any], facts: ModuleFacts) -> Iterator[int]:
    attrs = match["assign_attr"]
    attrs = [attrs] if isinstance(attrs, str) else list(attrs)
    for node in facts.nodes:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            name = None
            if isinstance(target, ast.Attribute):
                name = target.attr
            elif isinstance(target, ast.Name):
                name = target.id
            elif isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                name = str(target.slice.value)
            if name in attrs and (
                "value" not in match or _value_matches(node.value, match["value"], facts)
            ) and _scope_ok(node, match, facts):  # fmt: skip
                yield node.lineno


# ---------------------------------------------------------------------------- secrets


def _match_secrets(params: Mapping[str, Any], facts: ModuleFacts) -> Iterator[int]:
    """Hard-coded credentials: a secret-named target bound to a real-looking literal."""
    names = re.compile(params["names"], re.I)
    not_names = re.compile(params["not_names"], re.I)
    placeholders = re.compile(params["placeholders"])
    min_length = int(params.get("min_length", 4))

    def suspicious(target: str, value: ast.AST) -> bool:
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            return False
        text = value.value
        if len(text) < min_length or placeholders.search(text):
            return False
        if not names.search(target) or not_names.search(target):
            return False
        return not (" " in text.strip() and len(text.split()) > 3)  # a sentence, not a key

    for node in facts.nodes:
        pairs: list[tuple[str, ast.AST, int]] = []
        if isinstance(node, ast.Assign):
            for target in node.targets:
                label = _target_label(target)
                if label:
                    pairs.append((label, node.value, node.lineno))
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            label = _target_label(node.target)
            if label:
                pairs.append((label, node.value, node.lineno))
        elif isinstance(node, ast.keyword) and node.arg:
            pairs.append((node.arg, node.value, node.value.lineno))
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    pairs.append((key.value, value, value.lineno))
        elif (
            isinstance(node, ast.Compare)
            and len(node.comparators) == 1
            and isinstance(node.ops[0], ast.Eq)
        ):
            # `if password == "hunter2":` — a credential checked against a literal (only
            # for password-like names: `token == "keyword"` in a lexer is no credential)
            label = _target_label(node.left)
            if label and _COMPARED_SECRET.search(label):
                pairs.append((label, node.comparators[0], node.lineno))
        for name, bound, line in pairs:
            if suspicious(name, bound):
                yield line


def _target_label(target: ast.AST) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return str(target.slice.value)
    return None


# ---------------------------------------------------------------------------- XSS


def _match_html(facts: ModuleFacts) -> Iterator[int]:
    """HTML assembled from request data without escaping, returned or sent as a response."""
    for node in facts.nodes:
        value: ast.AST | None = None
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Return):
            value = node.value
        elif isinstance(node, ast.Call) and (dotted(node.func) or "").rsplit(".", 1)[-1] in (
            "make_response", "Response", "HTMLResponse", "HttpResponse", "write",
        ):  # fmt: skip
            value = node.args[0] if node.args else None
        if value is None:
            continue
        candidates = facts.values_of(value) if isinstance(value, ast.Name) else [value]
        for candidate in candidates:
            if _html_with_raw_input(candidate, facts):
                yield line
                break


def _html_with_raw_input(node: ast.AST, facts: ModuleFacts) -> bool:
    constants: list[str] = []
    parts: list[ast.AST] = []
    if isinstance(node, ast.JoinedStr):
        for value in node.values:
            if isinstance(value, ast.Constant):
                constants.append(str(value.value))
            elif isinstance(value, ast.FormattedValue):
                parts.append(value.value)
    elif isinstance(node, ast.BinOp):
        stack: list[ast.AST] = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, ast.BinOp) and isinstance(current.op, ast.Add | ast.Mod):
                stack += [current.left, current.right]
            elif isinstance(current, ast.Constant):
                constants.append(str(current.value))
            elif isinstance(current, ast.Tuple):
                parts.extend(current.elts)
            else:
                parts.append(current)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    ):
        constants.append(str(node.func.value.value))
        parts.extend([*node.args, *(k.value for k in node.keywords)])
    if not parts or not _HTML.search("".join(constants)):
        return False
    for part in parts:
        if isinstance(part, ast.Call) and (facts.qualified(part.func) or "") in _ESCAPERS:
            continue
        if isinstance(part, ast.Call) and (dotted(part.func) or "").rsplit(".", 1)[-1] in (
            "escape", "quote", "clean",
        ):  # fmt: skip
            continue
        if facts.is_input(part):
            return True
    return False
