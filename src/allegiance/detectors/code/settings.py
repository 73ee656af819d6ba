"""What settings a block of code defines, read without running it.

A setting is a name the code gives one literal value: a constant (``TIMEOUT = 60``), a
config-file entry (``model: gpt-4o``, ``"max_tokens": 512``), the literal default of an
environment lookup (``os.getenv("MODEL", "gpt-4o")``), or a setting-like argument or default
parameter (``timeout=10``, ``model: str = "gpt-4o-mini"``). The ``scope`` detector compares the
settings of a repository's files with those an answer restates.

Why regular expressions and not parsers: answers are fragments (one function, a diff, a
config excerpt) in Python, JavaScript, TypeScript, Go, YAML, TOML, JSON and .env, often not
valid on their own; a line-level reading degrades gracefully where a parser would fail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from allegiance.detectors import vendors
from allegiance.detectors.code.extract import CodeBlock

_LITERAL: Final = (
    r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`\n]*`"""
    r"|-?\d+(?:\.\d+)?(?:[eE]-?\d+)?(?![\w.])|\b(?:True|False|true|false|None|null|nil)\b"
)
_MODIFIERS: Final = (
    r"(?:(?:export|const|let|var|static|final|readonly|public|private|protected)\s+)*"
)
_ANNOTATION: Final = r"(?::\s*[A-Za-z_][\w\[\]., |]*?\s*)?"
_ASSIGN: Final = rf"(?:{_ANNOTATION}(?::=|(?<![=!<>:])=(?![=>]))|:(?![:=]))"
# A definition that is the whole line: NAME = v, const NAME = v, NAME: T = v, NAME := v,
# key: v (YAML, object literals), "key": v (JSON), each with an optional trailing comma or
# comment.
_DEFINITION: Final = re.compile(
    rf"""^\s*{_MODIFIERS}(?:-\s+)?["']?(?P<key>[A-Za-z_][\w-]*)["']?\s*{_ASSIGN}\s*"""
    rf"""(?P<value>{_LITERAL})\s*[,;]?\s*(?:(?:#|//).*)?$"""
)
# A setting read from the environment with a literal default: the default is its value.
# MODEL = os.getenv("MODEL", "gpt-4o"), const model = process.env.MODEL ?? "gpt-4o".
_ENV_DEFAULT: Final = re.compile(
    rf"""^\s*{_MODIFIERS}(?P<key>[A-Za-z_]\w*)\s*{_ASSIGN}\s*"""
    # optionally converted: int(os.getenv("PORT", "587")), Number(process.env.N || 512)
    r"""(?:(?:int|float|str|Number|parseInt|parseFloat|String)\(\s*)?"""
    rf"""(?:(?:os\.)?(?:getenv|environ\.get)\(\s*["'][^"'\n]*["']\s*,\s*(?P<value>{_LITERAL})\s*\)"""
    rf"""|process\.env(?:\.\w+|\[["'][^"'\n]*["']\])\s*(?:\?\?|\|\|)\s*(?P<js>{_LITERAL}))"""
    r"""(?:\s*(?:,\s*10\s*)?\))?"""
    # nothing after it but a comma or a comment: `os.environ.get("TLS", "True") == "True"`
    # is a comparison, not the setting's value
    r"""\s*[,;]?\s*(?:(?:#|//).*)?$"""
)
# An unquoted YAML, TOML or .env value: `model: gpt-4o`, `MODEL=gpt-4o`.
_BARE: Final = re.compile(
    r"""^\s*(?:-\s+)?(?P<key>[A-Za-z_][\w-]*)\s*(?::\s+|=)(?P<value>[^\s#"'`{}\[\]|>&*!][^#\n]*?)\s*(?:#.*)?$"""
)
_BARE_LANGUAGES: Final = frozenset({"yaml", "toml", "shell", "unknown"})
# key=value or key: value inside a line (arguments, default parameters, one-line objects):
# kept only when the key is a setting by its name, since a call's other arguments
# (role="user", end="") vary for reasons of their own.
_INLINE: Final = re.compile(
    rf"""(?<![\w.])["']?(?P<key>[A-Za-z_]\w*)["']?\s*{_ASSIGN}\s*(?P<value>{_LITERAL})"""
    # the whole value, not the start of an expression (`Timeout: 15 * time.Second`)
    r"""(?=\s*(?:[,;)\]}]|(?:#|//)|$))"""
)
_SETTING_WORDS: Final = re.compile(
    r"model|engine|provider|base_?url|api_?base|endpoint|url|host|region|timeout|temperature"
    r"|max_?tokens|top_?p|verify|debug|port|lifetime|ttl|expir",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Setting:
    key: str
    value: str  # normalised: quotes removed, numbers as Python would print them
    line: int  # 1-based line of the text it was read from


def _normalise(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'`":
        return raw[1:-1]
    try:
        number = float(raw)
    except ValueError:
        return {"True": "true", "False": "false", "None": "null", "nil": "null"}.get(raw, raw)
    return repr(int(number)) if number.is_integer() else repr(number)


def settings_in(block: CodeBlock) -> list[Setting]:
    """The literal settings a block of code defines, with answer lines (a template literal
    with a placeholder, `Bearer ${key}`, is computed, not a literal)."""
    return [s for s in _literal_settings(block) if "${" not in s.value]


def code_lines(block: CodeBlock) -> list[tuple[int, str]]:
    """(index, line) of the block's code that is code: comments cut off, docstrings and lines
    over :data:`vendors.MAX_LINE` left out. A commented-out alternative (`# baseURL =
    "https://api.openai.com/v1"`) or a docstring's "e.g. deepseek-chat" is advice, not an
    edit. Split on "\\n" only, as the extractor and the report do (splitlines would also
    break at form feeds and U+2028, and line numbers would drift from the answer's)."""
    out = []
    in_docstring = False
    for index, line in enumerate(block.code.split("\n")):
        quotes = line.count('"""') + line.count("'''")
        if in_docstring or quotes:
            in_docstring = in_docstring != (quotes % 2 == 1)
            continue
        if len(line) <= vendors.MAX_LINE:
            out.append((index, vendors.without_comment(line)))
    return out


def _literal_settings(block: CodeBlock) -> list[Setting]:
    found = []
    for index, line in code_lines(block):
        answer_line = block.answer_line(index + 1)
        whole = _DEFINITION.match(line)
        if whole is None and block.language in _BARE_LANGUAGES:
            whole = _BARE.match(line)
        if whole is not None:
            # In code, an indented `key: value` is an entry of some map (HOSTS = {sandbox:
            # …}) unless its name says it is a setting; config files are all settings.
            if (
                block.language not in _FAMILY
                or not line[:1].isspace()
                or _SETTING_WORDS.search(whole["key"])
            ):
                found.append(Setting(whole["key"], _normalise(whole["value"]), answer_line))
            continue
        from_env = _ENV_DEFAULT.match(line)
        if from_env is not None:
            default = from_env["value"] or from_env["js"]
            found.append(Setting(from_env["key"], _normalise(default), answer_line))
            continue
        for match in _INLINE.finditer(line):
            if _SETTING_WORDS.search(match["key"]):
                key = f"{_call_of(line, match.start())}{match['key']}"
                found.append(Setting(key, _normalise(match["value"]), answer_line))
    return found


_CALL: Final = re.compile(r"([A-Za-z_][\w.]*)\s*\($")


def _call_of(line: str, position: int) -> str:
    """``"requests.get:"`` for an argument of ``requests.get(…)`` on the same line, else "":
    a `timeout=2` of a new health check is not the fetch's `timeout=10`."""
    depth = 0
    for index in range(position - 1, -1, -1):
        char = line[index]
        if char == ")":
            depth += 1
        elif char == "(":
            if depth == 0:
                called = _CALL.search(line[max(0, index - 100) : index + 1])  # bounded
                return f"{called.group(1)}:" if called else ""
            depth -= 1
    return ""


def same_setting(key: str) -> str:
    """One spelling per setting: MAX_TOKENS, max_tokens, maxTokens and max-tokens are one
    (an argument keeps the call it belongs to: ``requests.get:timeout``)."""
    call, _, name = key.rpartition(":")
    name = name.replace("_", "").replace("-", "").lower()
    return f"{call}:{name}" if call else name


# Settings are compared within a kind of file: package.json's "name" is not a session
# cookie's `name:` in JavaScript, but config.py's MAX_TOKENS is a call's `max_tokens=`.
_FAMILY: Final = {"python": "python", "javascript": "js", "typescript": "js", "go": "go"}


def setting_key(block: CodeBlock, key: str) -> tuple[str, str]:
    """(kind of file, one spelling of the key): what two restatements must share to be one
    setting."""
    return _FAMILY.get(block.language, "data"), same_setting(key)


def repository_settings(blocks: Iterable[CodeBlock]) -> dict[tuple[str, str], str]:
    """Each setting the repository gives exactly one value (ambiguous ones are left out)."""
    values: dict[tuple[str, str], set[str]] = {}
    for block in blocks:
        for setting in settings_in(block):
            values.setdefault(setting_key(block, setting.key), set()).add(setting.value)
    return {key: next(iter(v)) for key, v in values.items() if len(v) == 1}


# --- Where a setting is used: the arguments that pass it to a call -------------------------
#
# A repository defines `TIMEOUT_SECONDS = 60` and passes it: `requests.post(…,
# timeout=TIMEOUT_SECONDS)`. An answer can keep the constant and still change what is sent:
# `requests.post(…, timeout=20)`. Comparing definitions alone misses that, so arguments,
# entries and default parameters are read with the call or definition they belong to.

# key=NAME / key: NAME / "key": NAME / name: T = NAME, the value a name (dotted), not a literal.
_BOUND: Final = re.compile(
    rf"""(?<![\w.])["']?(?P<key>[A-Za-z_]\w*)["']?\s*{_ASSIGN}\s*(?P<name>[A-Za-z_][\w.]*)"""
    r"""(?=\s*(?:[,;)\]}]|(?:#|//)|$))"""
)
# A JavaScript shorthand property, `{ model, messages }`: the key passes the name itself.
_SHORTHAND: Final = re.compile(r"(?:^|[{,])\s*(?P<key>[A-Za-z_$][\w$]*)\s*(?=,|\}|$)")
_NOT_NAMES: Final = frozenset(
    {"true", "false", "none", "null", "nil", "undefined", "self", "this", "await", "new"}
)
_BRACKETS: Final = re.compile(r"[()\[\]{}]")
# A "{" that opens a block of statements, not an object, map or struct literal: after ")",
# "=>", else/try/finally/do, or anywhere on a line that starts a function, class or control
# statement.
_BLOCK_END: Final = re.compile(r"(?:\)|=>|\belse|\btry|\bfinally|\bdo)\s*$")
_BLOCK_LINE: Final = re.compile(
    r"\s*(?:\}\s*)?(?:(?:export\s+)?(?:default\s+)?(?:async\s+)?function\b|func\b|if\b"
    r"|for\b|while\b|switch\b|select\b|class\b|interface\b|type\s+\w+\s+(?:struct|interface)\b"
    r"|impl\b|namespace\b|module\b|enum\b|catch\b|else\b)"
)
_DEFINES: Final = re.compile(
    r"(?:\bdef|\bfunction\s*\*?|\bfunc(?:\s*\([^()]*\))?)\s+([A-Za-z_]\w*)\s*(?:<[^<>]*>)?\s*\($"
    # an arrow function or function expression: const ask = async (…) =>
    r"|\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=()]+)?=\s*(?:async\s*)?(?:function\s*)?\($"
)
_DEFINED_NAMES: Final = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?(?:def|class|function\s*\*?|interface|type"
    r"|func(?:\s*\([^()]*\))?)\s+([A-Za-z_]\w*)"
    r"|^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_]\w*)\s*=\s*(?:async\s+)?(?:function\b|\()"
    r"|^\s*(?:(?:public|private|protected|static|async)\s+)*([A-Za-z_]\w*)\s*\([^()]*\)\s*\{",
    re.MULTILINE,
)
_CONTROL_WORDS: Final = frozenset({"if", "for", "while", "switch", "catch", "return", "function"})
# Keywords that a "(" can follow without a call: a declaration group (Go's `const (`) holds
# definitions; a parenthesised expression belongs to whatever encloses it.
_DECLARATION_GROUPS: Final = frozenset({"const", "var", "import", "type"})
_GROUPING_WORDS: Final = frozenset(
    {"if", "elif", "for", "while", "switch", "return", "in", "and", "or", "not", "with",
     "except", "assert", "yield", "await", "catch", "typeof", "case", "print"}
)  # fmt: skip


@dataclass(frozen=True)
class Use:
    """A setting-like argument, entry or default parameter, where it is passed.

    ``value`` is its literal (normalised) or None; ``name`` the constant it passes by name
    (its last dotted part) or None. ``callee`` is the call or definition it belongs to ("" at
    the top level or in a block of statements); ``defines`` is True for a default parameter
    of a function being defined (``def ask(model: str = DEFAULT_MODEL)``)."""

    key: str
    value: str | None
    name: str | None
    callee: str
    defines: bool
    line: int


def uses_in(block: CodeBlock) -> list[Use]:
    """The setting-like arguments of ``block`` with their call, in one pass over its code.

    A stack of open brackets gives each argument its call even when the call spans lines
    (``json.Marshal(map[string]any{`` … ``"model": "x",``); string literals are masked so that
    brackets inside them do not count, and a "{" that opens a block of statements ends the
    search for a call (a setting inside a function body is not its signature's argument).
    """
    found: list[Use] = []
    stack: list[tuple[str, bool, str]] = []  # per open bracket: (callee, defines, bracket)
    shorthand = _FAMILY.get(block.language) == "js"
    for index, line in code_lines(block):
        masked = vendors.STRING_LITERAL.sub(lambda m: "x" * len(m.group(0)), line)
        starts: dict[int, tuple[str, str | None, str | None]] = {}
        whole = _DEFINITION.match(line)
        if whole is not None:
            starts[whole.start("key")] = (whole["key"], _normalise(whole["value"]), None)
        else:
            for match in _INLINE.finditer(line):
                starts[match.start()] = (match["key"], _normalise(match["value"]), None)
        for match in _BOUND.finditer(line):
            if match["name"].lower() not in _NOT_NAMES:
                starts.setdefault(match.start(), (match["key"], None, match["name"]))
        objects: set[int] = set()  # `{ model, messages }`: model passes the name `model`
        for match in _SHORTHAND.finditer(line) if shorthand else ():
            if match.start("key") not in starts:
                starts[match.start("key")] = (match["key"], None, match["key"])
                objects.add(match.start("key"))
        brackets = {m.start(): m.group(0) for m in _BRACKETS.finditer(masked)}
        opens_block = _BLOCK_LINE.match(masked) is not None
        for position in sorted(starts.keys() | brackets.keys()):
            if position in starts:
                key, value, name = starts[position]
                in_object = bool(stack) and stack[-1][2] == "{"
                if _SETTING_WORDS.search(key) and (position not in objects or in_object):
                    callee, defines = _context(stack)
                    last = name.rpartition(".")[2] if name else None
                    found.append(
                        Use(key, value, last, callee, defines, block.answer_line(index + 1))
                    )
            char = brackets.get(position)
            if char is None:
                continue
            if char in ")]}":
                if stack:
                    stack.pop()
                continue
            prefix = masked[max(0, position - 100) : position]  # bounded: linear time
            if char == "(":
                stack.append((*_call_context(prefix), "("))
            elif char == "{" and (opens_block or _BLOCK_END.search(prefix)):
                stack.append(("", False, "block"))  # no call encloses what is in it
            else:
                stack.append(("\0", False, char))  # a literal: look further out
        del stack[:-64]  # unbalanced fragments must not grow it without end
    return found


def _call_context(prefix: str) -> tuple[str, bool]:
    """(callee, defines) for a "(" that ``prefix`` leads up to."""
    last = prefix.rstrip()[-1:]
    if not (last.isidentifier() or last.isdigit() or last in ">="):
        return "\0", False  # a parenthesised expression or a tuple
    defined = _DEFINES.search(prefix + "(")
    if defined is not None:
        return defined.group(1) or defined.group(2), True
    called = _CALL.search(prefix + "(")
    callee = called.group(1) if called else ""
    if callee in _DECLARATION_GROUPS:
        return "", False
    if callee in _GROUPING_WORDS:
        return "\0", False
    return callee, False


def _context(stack: list[tuple[str, bool, str]]) -> tuple[str, bool]:
    """The innermost call or definition (or block) around the top of ``stack``."""
    for callee, defines, _bracket in reversed(stack):
        if callee != "\0":
            return callee, defines
    return "", False


def defined_names(code: str) -> set[str]:
    """Functions, classes and types that ``code`` defines: a call to one of them is the
    project's own (a usage example), not the service call its settings are passed to."""
    names = set()
    for match in _DEFINED_NAMES.finditer(code):
        name = next(g for g in match.groups() if g)
        if name not in _CONTROL_WORDS:
            names.add(name)
    return names
