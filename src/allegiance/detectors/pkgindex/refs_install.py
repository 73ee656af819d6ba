"""Install commands anywhere in an answer: code blocks, inline code and prose.

``pip``/``pip3``/``python -m pip``/``uv pip``/``uv add``/``poetry add``/``pipenv``/``pdm``/
``pipx`` and ``npm``/``yarn``/``pnpm``/``bun``. Models write these in sentences as often as
in shell blocks ("Install with: pip install httpx if needed", ``"...: pip install x"`` in an
error message), so the argument list ends at shell separators, comments, closing quotes and
parentheses, and at the first English word that cannot be a package ("if", "and", "the").
Options and their values, URLs, paths, wheels, version numbers and placeholders are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from allegiance.detectors.pkgindex.names import Ecosystem, requirement_name
from allegiance.detectors.pkgindex.refs_python import is_placeholder

_PY_INSTALLERS: Final = re.compile(
    r"(?<![\w./-])(?:"
    r"(?:python(?:3(?:\.\d+)?)?|py(?:\s+-3(?:\.\d+)?)?)\s+-m\s+pip\s+install"
    r"|pip(?:3(?:\.\d+)?)?\s+install|pipx\s+install|uv\s+pip\s+install|uv\s+add"
    r"|poetry\s+add|pipenv\s+install|pdm\s+add|rye\s+add)\b",
    re.IGNORECASE,
)
_NPM_INSTALLERS: Final = re.compile(
    r"(?<![\w./-])(?:npm\s+(?:install|i|add)|yarn\s+(?:global\s+)?add|pnpm\s+(?:add|install|i)"
    r"|bun\s+(?:add|install|i))\b",
    re.IGNORECASE,
)
# Options that take a value as the next word (pip, uv, poetry, npm, yarn, pnpm).
_VALUE_OPTIONS: Final = frozenset({
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
    "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--root",
    "--platform", "--python-version", "--implementation", "--abi", "--src", "--cache-dir",
    "--log", "--proxy", "--trusted-host", "--upgrade-strategy", "--progress-bar", "-C",
    "--config-settings", "--global-option", "--python", "-p", "--group", "-G", "--source",
    "--registry", "-w", "--workspace", "--tag", "--filter", "--dir", "--only-binary",
    "--no-binary", "--index", "--default-index",
})  # fmt: skip
# Words that end an install command written inside a sentence ("pip install x if needed").
_STOP_WORDS: Final = frozenset({
    "a", "after", "again", "also", "an", "and", "are", "as", "before", "being", "but", "by",
    "e.g", "eg", "etc", "first", "for", "from", "globally", "here", "i.e", "if", "in", "inside",
    "instead", "into", "is", "it", "its", "later", "locally", "manually", "not", "now", "of",
    "on", "once", "only", "or", "our", "package", "packages", "library", "libraries", "module",
    "modules", "dependency", "dependencies", "requirements", "command", "separately", "so",
    "that", "the", "them", "then", "there", "these", "this", "those", "to", "too", "using",
    "via", "we", "when", "where", "which", "with", "you", "your", "install", "line", "lines",
    "step", "steps", "call", "calls", "hint", "instructions", "output", "error",
})  # fmt: skip
# "the pip install line", "a pip install step": prose about a command, not the command.
_NOUN_PHRASE: Final = re.compile(r"(?i)\b(?:the|a|an|this|that|your|each|every|any)\s*[`'\"]?$")
_HTML_TAG: Final = re.compile(r"</?[A-Za-z][^<>]*>")
_ARG_END: Final = re.compile(r"&&|\|\||[;|`)]|\s#|\\n|\\t|\\r|<br\s*/?>|\s--\s")
_QUOTES: Final = "\"'`\u2018\u2019\u201c\u201d"


def _install_args(text: str) -> Iterator[tuple[Ecosystem, str, int]]:
    """(ecosystem, argument text, answer line) for each install command in ``text``."""
    lines = text.replace("\r\n", "\n").split("\n")
    number = 0
    while number < len(lines):
        line = lines[number]
        line_no = number + 1
        # A shell line continuation joins the next line.
        while line.rstrip().endswith("\\") and number + 1 < len(lines):
            number += 1
            line = line.rstrip()[:-1] + " " + lines[number]
        number += 1
        starts: list[tuple[int, int, Ecosystem]] = []
        for pattern, ecosystem in ((_PY_INSTALLERS, "pypi"), (_NPM_INSTALLERS, "npm")):
            for match in pattern.finditer(line):
                starts.append((match.start(), match.end(), ecosystem))  # type: ignore[arg-type]
        starts = [s for s in starts if not _NOUN_PHRASE.search(line, 0, s[0])]
        starts.sort()
        for i, (_, end, ecosystem) in enumerate(starts):
            stop = starts[i + 1][0] if i + 1 < len(starts) else len(line)
            args = _HTML_TAG.sub(" ", line[end:stop])
            cut = _ARG_END.search(args)
            yield ecosystem, args[: cut.start()] if cut else args, line_no


def install_names(text: str) -> Iterator[tuple[Ecosystem, str, str, int]]:
    """(ecosystem, package name, raw token, answer line) for install commands in ``text``."""
    for ecosystem, args, line_no in _install_args(text):
        skip_next = False
        previous_comma = False
        for token in args.split():
            if skip_next:
                skip_next = False
                continue
            bare = token.strip(_QUOTES + "(")
            bare = bare.rstrip(".,;:!?)}" + _QUOTES)
            if any(q in bare for q in _QUOTES):
                break  # a quote inside the word: code or prose, not an argument list
            while bare.endswith("]") and bare.count("[") < bare.count("]"):
                bare = bare[:-1].rstrip(".,;:!?)}" + _QUOTES)
            ends_string = token.rstrip(".,;:!?)]}").endswith(tuple(_QUOTES)) and (
                sum(token.count(q) for q in _QUOTES) % 2 == 1
            )
            if not bare:
                if ends_string:
                    break
                continue
            if bare.startswith("-"):
                skip_next = bare in _VALUE_OPTIONS
                continue
            lowered = bare.lower()
            if lowered in _STOP_WORDS:
                if lowered in ("and", "or") and previous_comma:
                    continue  # "pip install a, b, and c"
                break
            previous_comma = token.rstrip(_QUOTES).endswith(",")
            if "://" in bare or bare.startswith((".", "/", "~", "git+", "file:", "$", "<", "{")):
                continue  # URLs, paths, variables, <placeholders>
            if bare.endswith((".whl", ".tar.gz", ".zip", ".txt", ".toml", ".cfg", ".lock")):
                continue
            if re.fullmatch(r"[\d.*x]+", bare):
                continue  # a version number ("pip install 2.0"), not a name
            name = requirement_name(ecosystem, bare)
            if name is None:
                break  # prose, not a package list
            if name and not is_placeholder(name):
                yield ecosystem, name, bare, line_no
            if ends_string:
                break
