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
                called = _CALL.search(line[: index + 1])
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
