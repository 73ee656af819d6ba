"""Find the code in a model answer and say which language it is.

Model answers carry code in three shapes, and a detector must see all of them:

* **fenced** Markdown blocks (```` ``` ```` or ``~~~``, with or without an info string). The
  last fence is often left open because generation stopped at ``max_tokens``; that block
  still counts, up to the end of the answer.
* **whole**: an answer that is nothing but code (``Only return the code`` prompts, small
  models that ignore Markdown). Leading and trailing prose lines ("Here is the code:") are
  trimmed off.
* **diff**: unified diffs (coding agents answer with patches). Only the *added* lines are
  what the model wrote, so only they are kept; every other line of the hunk becomes an empty
  line, so that ``start_line + i`` is still the answer line of code line ``i``. A diff that
  touches several files gives one block per file.

The language comes from the fence info string (``py``, ``python3``, ``golang``,
``requirements.txt``, ``title="app.ts"`` …), from a diff's file name, or else from cheap
content cues; ``default_language`` (usually the probe's ``expect.language``) is the last
resort. Languages are reported under the canonical names in :data:`LANGUAGES`.

This is a pure function of its input: it never runs, imports or renders the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

KINDS: Final = ("fenced", "whole", "diff")

#: Canonical language names this module returns ("unknown" when nothing fits).
LANGUAGES: Final = (
    "python", "javascript", "typescript", "go", "shell", "yaml", "json", "toml",
    "dockerfile", "requirements.txt", "package.json", "go.mod", "c", "cpp", "csharp",
    "java", "kotlin", "rust", "php", "ruby", "swift", "sql", "html", "css", "xml",
    "powershell", "unknown",
)  # fmt: skip


@dataclass(frozen=True)
class CodeBlock:
    """One piece of code found in an answer.

    ``start_line`` is the 1-based answer line of the block's first code line, so that code
    line ``i`` (0-based) is answer line ``start_line + i``: reports use it to highlight the
    exact lines a finding points at.
    """

    language: str
    code: str
    kind: str
    start_line: int

    def answer_line(self, code_line: int) -> int:
        """The 1-based answer line of 1-based ``code_line`` of this block."""
        return self.start_line + code_line - 1


# --------------------------------------------------------------------------- languages

_ALIASES: Final[dict[str, str]] = {
    "py": "python", "py3": "python", "python": "python", "python3": "python",
    "python2": "python", "ipython": "python", "pycon": "python", "pyi": "python",
    "gyp": "python", "sage": "python", "starlark": "python", "bzl": "python",
    "js": "javascript", "javascript": "javascript", "node": "javascript",
    "nodejs": "javascript", "jsx": "javascript", "mjs": "javascript", "cjs": "javascript",
    "ecmascript": "javascript", "es6": "javascript",
    "ts": "typescript", "typescript": "typescript", "tsx": "typescript",
    "mts": "typescript", "cts": "typescript",
    "go": "go", "golang": "go",
    "sh": "shell", "bash": "shell", "shell": "shell", "zsh": "shell", "console": "shell",
    "shell-session": "shell", "shellsession": "shell", "ksh": "shell", "fish": "shell",
    "terminal": "shell", "cmd": "shell", "bat": "shell",
    "ps1": "powershell", "powershell": "powershell", "pwsh": "powershell",
    "yaml": "yaml", "yml": "yaml",
    "json": "json", "json5": "json", "jsonc": "json", "jsonl": "json",
    "toml": "toml", "ini": "toml", "cfg": "toml",
    "dockerfile": "dockerfile", "docker": "dockerfile", "containerfile": "dockerfile",
    "requirements": "requirements.txt", "requirements.txt": "requirements.txt",
    "pip": "requirements.txt", "pip-requirements": "requirements.txt",
    "package.json": "package.json", "go.mod": "go.mod", "gomod": "go.mod",
    "c": "c", "h": "c", "cpp": "cpp", "c++": "cpp", "cc": "cpp", "cxx": "cpp",
    "hpp": "cpp", "hh": "cpp", "cs": "csharp", "csharp": "csharp", "c#": "csharp",
    "java": "java", "kotlin": "kotlin", "kt": "kotlin", "kts": "kotlin",
    "rust": "rust", "rs": "rust", "php": "php", "ruby": "ruby", "rb": "ruby",
    "swift": "swift", "sql": "sql", "mysql": "sql", "postgresql": "sql", "psql": "sql",
    "sqlite": "sql", "html": "html", "htm": "html", "css": "css", "xml": "xml",
    "svg": "xml", "vue": "javascript", "svelte": "javascript",
}  # fmt: skip

# Info strings that say nothing about the language: fall through to content cues.
_NEUTRAL: Final = frozenset(
    {"", "text", "txt", "plain", "plaintext", "code", "output", "none", "nohighlight", "src"}
)
_DIFF_INFOS: Final = frozenset({"diff", "patch", "udiff", "git-diff"})

_INFO_TOKEN = re.compile(r"[A-Za-z0-9_.+#/\\-]+")
_INFO_FILE = re.compile(r"""(?:title|file|filename|path)\s*=\s*["']?([^"'\s}]+)""", re.I)


def _language_of_filename(name: str) -> str | None:
    """The language of a file name or path (``src/app.ts`` → typescript)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if not base:
        return None
    if base in ("package.json", "go.mod", "dockerfile", "containerfile"):
        return _ALIASES.get(base, base)
    if base.startswith("dockerfile") or base.endswith(".dockerfile"):
        return "dockerfile"
    if base.startswith("requirements") and base.endswith((".txt", ".in")):
        return "requirements.txt"
    if base in ("makefile", "gnumakefile"):
        return "shell"
    if "." in base:
        return _ALIASES.get(base.rsplit(".", 1)[1])
    return None


def language_from_info(info: str) -> str | None:
    """The language named by a fence info string, or None when it names none.

    Accepts the forms models and Markdown tools use: ``python``, ``py:app.py``,
    ``language-js``, ``{.python}``, ``ts title="api.ts"``, ``requirements.txt``.
    """
    info = info.strip()
    if not info:
        return None
    match = _INFO_FILE.search(info)
    if match:
        by_file = _language_of_filename(match.group(1))
        if by_file:
            return by_file
    token_match = _INFO_TOKEN.search(info.lstrip("{.").lower())
    if not token_match:
        return None
    token = token_match.group(0).removeprefix("language-").removeprefix("lang-")
    if token in _ALIASES:
        return _ALIASES[token]
    head = re.split(r"[:/,]", token, maxsplit=1)[0]
    if head in _ALIASES:
        return _ALIASES[head]
    by_file = _language_of_filename(token)
    if by_file or token in _NEUTRAL or head in _NEUTRAL:
        return by_file
    return None


# Content cues: (language, weight, pattern). Cheap line-anchored regexes; the highest total
# wins. Weights favour constructs that are unique to one language.
_M = re.MULTILINE
_CUES: Final[tuple[tuple[str, int, re.Pattern[str]], ...]] = (
    ("go", 6, re.compile(r"^package\s+\w+\s*$", _M)),
    ("go", 4, re.compile(r"^func\s+(\(\w+\s+\*?\w+\)\s*)?\w+\s*\(", _M)),
    ("go", 3, re.compile(r":=")),
    ("go", 3, re.compile(r'^import\s+\(\s*$|^import\s+"[\w./-]+"\s*$', _M)),
    ("go", 2, re.compile(r"\b(fmt|http|os|errors)\.[A-Z]\w*\(")),
    ("go", 2, re.compile(r"\berr\s*!=\s*nil\b")),
    ("python", 4, re.compile(r"^\s*def\s+\w+\s*\(.*\)\s*(->\s*[^:]+)?:\s*(#.*)?$", _M)),
    ("python", 3, re.compile(r"^\s*(import\s+[\w.]+(\s+as\s+\w+)?(\s*,\s*[\w.]+)*"
                             r"|from\s+[\w.]+\s+import\s+[\w*(])\s*(#.*)?$", _M)),
    ("python", 2, re.compile(r"^\s*class\s+\w+(\(.*\))?:\s*$", _M)),
    ("python", 2, re.compile(r"^\s*(if|elif|for|while|with|try|except|else)\b.*:\s*$", _M)),
    ("python", 2, re.compile(r"\bself\.|__name__|\bprint\(|\bNone\b|\bTrue\b|\bFalse\b")),
    ("python", 3, re.compile(r"^#!.*python", _M)),
    ("javascript", 3, re.compile(r"^\s*(const|let|var)\s+[\w{}\[\], ]+\s*=", _M)),
    ("javascript", 3, re.compile(r"\brequire\(\s*['\"]")),
    ("javascript", 2, re.compile(r"=>")),
    ("javascript", 2, re.compile(r"^\s*(import\s+.+\s+from\s+['\"]|export\s+(default\s+)?"
                                 r"(function|class|const|async))", _M)),
    ("javascript", 2, re.compile(r"\bfunction\s*\w*\s*\(|\bconsole\.log\(|module\.exports")),
    ("javascript", 1, re.compile(r";\s*$", _M)),
    ("typescript", 5, re.compile(r"^\s*(export\s+)?(interface|type)\s+\w+(<[^>]*>)?\s*[{=]", _M)),
    ("typescript", 3, re.compile(r"\w\s*:\s*(string|number|boolean|void|any|unknown|never"
                                 r"|Promise<|Record<|Array<)\b")),
    ("typescript", 2, re.compile(r"\b(private|public|readonly)\s+\w+\s*:|\bas\s+(const|string)\b")),
    ("shell", 5, re.compile(r"^#!/(usr/)?bin/(env\s+)?(ba|z|k)?sh\b", _M)),
    ("shell", 3, re.compile(r"^\s*\$?\s*(sudo\s+)?(apt(-get)?|pip3?|npm|yarn|pnpm|brew|curl"
                            r"|wget|chmod|chown|mkdir|cd|export|echo|git|docker)\s", _M)),
    ("shell", 2, re.compile(r"^\s*(fi|done|esac)\s*$|\$\{?\w+\}?|\bthen\s*$", _M)),
    ("dockerfile", 6, re.compile(r"^FROM\s+[\w./:@-]+(\s+AS\s+\w+)?\s*$", _M | re.I)),
    ("dockerfile", 3, re.compile(r"^(RUN|COPY|WORKDIR|ENTRYPOINT|CMD|EXPOSE|ENV|ARG)\s", _M)),
    ("requirements.txt", 2, re.compile(r"^[A-Za-z0-9][\w.\-\[\],]*\s*(==|>=|<=|~=|!=)\s*[\w.*]+"
                                       r"\s*(#.*)?$", _M)),
    ("go.mod", 6, re.compile(r"^module\s+[\w./-]+\s*$", _M)),
    ("go.mod", 4, re.compile(r"^go\s+1\.\d+", _M)),
    ("yaml", 2, re.compile(r"^[\w.-]+:\s*(\S.*)?$", _M)),
    ("yaml", 2, re.compile(r"^\s*-\s+[\w.-]+:?\s", _M)),
    ("toml", 3, re.compile(r"^\[[\w.\-\"]+\]\s*$", _M)),
    ("toml", 2, re.compile(r"^[\w.-]+\s*=\s*(\"|'|\d|\[|\{|true|false)", _M)),
    ("c", 4, re.compile(r"^#include\s*<\w+\.h>", _M)),
    ("cpp", 5, re.compile(r"^#include\s*<\w+>|\bstd::|\btemplate\s*<|\bnamespace\s+\w+", _M)),
    ("c", 2, re.compile(r"\b(malloc|printf|sizeof|strcpy)\s*\(")),
    ("csharp", 5, re.compile(r"^\s*using\s+System(\.\w+)*;|\bnamespace\s+[\w.]+\s*$"
                             r"|\bConsole\.Write", _M)),
    ("java", 5, re.compile(r"\bpublic\s+(static\s+)?(final\s+)?class\s+\w+|\bSystem\.out\."
                           r"|^import\s+java\.", _M)),
    ("rust", 5, re.compile(r"^\s*(pub\s+)?fn\s+\w+.*->|\blet\s+mut\b|\bimpl\b.*\{"
                           r"|^use\s+\w+::", _M)),
    ("php", 8, re.compile(r"<\?php")),
    ("php", 2, re.compile(r"\$\w+\s*=.*;\s*$|\becho\s+\$", _M)),
    ("ruby", 3, re.compile(r"^\s*(require\s+['\"]|def\s+\w+[^:(]*$|end\s*$|puts\s)", _M)),
    ("sql", 5, re.compile(r"^\s*(SELECT\s.+\sFROM|INSERT\s+INTO|CREATE\s+TABLE|UPDATE\s+\w+\s+SET"
                          r"|DELETE\s+FROM)\b", _M | re.I)),
    ("html", 6, re.compile(r"^\s*<(!DOCTYPE\s+html|html|head|body|div)\b", _M | re.I)),
    ("xml", 5, re.compile(r"^\s*<\?xml\s", _M)),
    ("powershell", 5, re.compile(r"\b(Get|Set|New|Invoke|Write)-[A-Z]\w+")),
)  # fmt: skip

_JSON_START = re.compile(r"^\s*[{\[]")
_PACKAGE_JSON = re.compile(r'"(dependencies|devDependencies|scripts|peerDependencies)"\s*:')


def detect_language(code: str, default: str | None = None) -> str:
    """Guess the language of ``code`` from content cues, else ``default`` or "unknown".

    Deliberately simple (line regexes with weights): it only has to separate the languages
    our analysers handle from each other and from prose, in a few microseconds.
    """
    sample = code[:6000]
    if _JSON_START.match(sample) and sample.rstrip().endswith(("}", "]")):
        stripped = sample.lstrip()
        if stripped.startswith("{") and re.match(r'\{\s*("|\})', stripped):
            return "package.json" if _PACKAGE_JSON.search(sample) else "json"
        if stripped.startswith("[") and re.match(r"\[\s*[\"{\[\d\]-]", stripped):
            return "json"
    scores: dict[str, int] = {}
    for language, weight, pattern in _CUES:
        hits = len(pattern.findall(sample))
        if hits:
            scores[language] = scores.get(language, 0) + weight * min(hits, 4)
    if "typescript" in scores:
        # TypeScript is JavaScript with types: its JS cues count for it too.
        scores["typescript"] += scores.get("javascript", 0)
    if "cpp" in scores:
        scores["cpp"] += scores.get("c", 0)
    if not scores:
        return default or "unknown"
    best = max(scores.items(), key=lambda item: item[1])
    if best[1] < 3:
        return default or "unknown"
    if default and scores.get(default, 0) >= best[1] - 1:
        return default  # a tie goes to the language the task asked for
    return best[0]


# --------------------------------------------------------------------------- fences

_FENCE_OPEN = re.compile(r"^(?P<indent>[ \t>]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")


def _fence_close(line: str, char: str, length: int) -> bool:
    stripped = line.strip().lstrip(">").strip()
    return len(stripped) >= length and stripped == char * len(stripped)


def _dedent(line: str, indent: str) -> str:
    """Remove a fence's indentation (list items, blockquotes) from one of its lines."""
    if not indent:
        return line
    if line.startswith(indent):
        return line[len(indent) :]
    return line.lstrip(" \t>") if not line.strip(" \t>") else _strip_up_to(line, len(indent))


def _strip_up_to(line: str, n: int) -> str:
    i = 0
    while i < n and i < len(line) and line[i] in " \t>":
        i += 1
    return line[i:]


# --------------------------------------------------------------------------- diffs

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")
_DIFF_FILE_NEW = re.compile(r"^\+\+\+ (?:b/)?(?P<path>\S+)")
_DIFF_GIT = re.compile(r"^diff --git a/\S+ b/(?P<path>\S+)")


def _looks_like_diff(lines: list[str]) -> bool:
    """True if ``lines`` hold a unified diff (hunk headers, or ---/+++ file headers)."""
    if any(_HUNK.match(line) for line in lines):
        return True
    return any(
        line.startswith("--- ") and lines[i + 1].startswith("+++ ")
        for i, line in enumerate(lines[:-1])
    )


def _diff_blocks(
    lines: list[str], first_line: int, hint: str | None, default: str | None
) -> list[CodeBlock]:
    """Blocks of added lines from a unified diff, one per file it touches.

    ``lines`` are the diff's lines; ``first_line`` is the answer line of ``lines[0]``.
    """
    # Split into per-file sections: (path, [(answer_line, added_text) ...]).
    sections: list[tuple[str | None, list[tuple[int, str]]]] = []
    path: str | None = None
    added: list[tuple[int, str]] = []
    in_hunk = False

    def flush() -> None:
        if added:
            sections.append((path, list(added)))
        added.clear()

    for offset, line in enumerate(lines):
        git = _DIFF_GIT.match(line)
        if git or (line.startswith("--- ") and offset + 1 < len(lines)
                   and lines[offset + 1].startswith("+++ ")):  # fmt: skip
            flush()
            in_hunk = False
            if git:
                path = git.group("path")
            continue
        new_file = _DIFF_FILE_NEW.match(line)
        if new_file and not in_hunk:
            candidate = new_file.group("path")
            path = None if candidate == "/dev/null" else candidate
            continue
        if _HUNK.match(line):
            in_hunk = True
            continue
        # Inside a hunk, "+++ x" is an added line that starts with "++"; outside, a header.
        if line.startswith("+") and (in_hunk or not line.startswith("+++ ")):
            added.append((first_line + offset, line[1:]))
    flush()

    blocks = []
    for section_path, section in sections:
        start = section[0][0]
        body = [""] * (section[-1][0] - start + 1)
        for answer_line, text in section:
            body[answer_line - start] = text
        code = "\n".join(body)
        language = (
            (section_path and _language_of_filename(section_path))
            or hint
            or detect_language(code, default)
        )
        blocks.append(CodeBlock(language, code, "diff", start))
    return blocks


# --------------------------------------------------------------------------- whole answers

_CODE_LINE = re.compile(
    r"""^\s*(
        [#@]|//|/\*|\*|--\s|<!--|[{}\[\])(]            # comments, decorators, brackets
      | (def|class|import|from|return|if|elif|else|for|while|try|except|finally|with|async
         |await|raise|yield|const|let|var|function|func|package|type|interface|export|public
         |private|protected|static|struct|fn|use|pub|impl|namespace|using|include|require
         |module|print|echo|switch|case|break|continue|go|defer|select|SELECT|INSERT|UPDATE
         |CREATE|FROM|RUN|COPY|pass|lambda|del|assert|global|throw|new|enum|trait)\b
      | [\w.\[\]'"]+\s*(=|\+=|-=|:=|\(|\.(?=[A-Za-z_]))       # assignment, call, attribute
    )""",
    re.VERBOSE,
)
_CODE_END = re.compile(r"[;{}\[\](),:]\s*$|^\s+\S")
# A sentence: a capitalised word or a list marker, then at least three more words (commas,
# sentence stops and `inline code` allowed between them), e.g. "1. At the start of `answer`,
# look the question up." or "The idea is:". Indented lines are never prose (see below).
_PROSE_START = r"^\s*([A-Z][a-z']+|\d+[.)]|[-*] [A-Za-z`])"
_PROSE_WORD = r"(,?\s+[`(\"]?[A-Za-z][\w'`()/\".-]*[,;:!?]?)"
_PROSE_LINE = re.compile(
    rf"{_PROSE_START}{_PROSE_WORD}{{3,}}\s*$|{_PROSE_START}{_PROSE_WORD}{{2,}}[.:!?]\s*$"
)


def _is_code_line(line: str) -> bool:
    if _PROSE_LINE.match(line) and not _CODE_END.search(line.rstrip(".:!? ")):
        return False
    return bool(_CODE_LINE.match(line) or _CODE_END.search(line))


def _whole_block(lines: list[str], default: str | None) -> CodeBlock | None:
    """The answer as one code block, if it is (almost) nothing but code.

    Prose lines at the very start or end ("Here is the function:") are trimmed; a block
    whose remaining non-blank lines are less than 80 % code-like is not code.
    """
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if not nonblank:
        return None
    first, last = nonblank[0], nonblank[-1]
    while first <= last and (not lines[first].strip() or not _is_code_line(lines[first])):
        first += 1
    while last >= first and (not lines[last].strip() or not _is_code_line(lines[last])):
        last -= 1
    if first > last:
        return None
    body = lines[first : last + 1]
    filled = [line for line in body if line.strip()]
    code_like = sum(1 for line in filled if _is_code_line(line))
    if code_like < 0.8 * len(filled):
        return None
    code = "\n".join(body)
    language = detect_language(code, default)
    if language == "unknown" and len(filled) < 3:
        return None  # a stray line with a colon is not a program
    return CodeBlock(language, code, "whole", first + 1)


# --------------------------------------------------------------------------- entry point


def answer_lines(text: str) -> list[str]:
    """The lines of an answer as :func:`extract_code` numbers them (``CodeBlock.start_line``):
    CRLF and a lone CR end a line as LF does."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def extract_code(text: str, default_language: str | None = None) -> list[CodeBlock]:
    """All code blocks in ``text``, in answer order.

    Fenced blocks win: if the answer has any fence, only fenced code is returned (prose
    around fences is explanation, not code). Otherwise the answer is tried as a unified
    diff, then as code on its own. Empty blocks are dropped.
    """
    if not text or not text.strip():
        return []
    text = text.removeprefix("\ufeff")  # a byte-order mark would hide an opening fence
    lines = answer_lines(text)
    blocks: list[CodeBlock] = []
    i = 0
    saw_fence = False
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i])
        if not opening or (opening.group("fence")[0] == "`" and "`" in opening.group("info")):
            i += 1
            continue
        saw_fence = True
        fence = opening.group("fence")
        indent = opening.group("indent")
        info = opening.group("info")
        body_start = i + 1
        j = body_start
        while j < len(lines) and not _fence_close(lines[j], fence[0], len(fence)):
            j += 1
        body = [_dedent(line, indent) for line in lines[body_start:j]]
        i = j + 1  # past the closing fence (or the end, when the fence was left open)
        blocks.extend(_fenced_blocks(body, body_start + 1, info, default_language))
    if saw_fence:
        return blocks
    if _looks_like_diff(lines):
        return _diff_blocks(lines, 1, None, default_language)
    whole = _whole_block(lines, default_language)
    return [whole] if whole else []


def _fenced_blocks(
    body: list[str], first_line: int, info: str, default: str | None
) -> list[CodeBlock]:
    """The block(s) one fence holds; ``first_line`` is the answer line of ``body[0]``."""
    info_token = info.strip().split(maxsplit=1)[0].lower() if info.strip() else ""
    if info_token in ("markdown", "md") and any(_FENCE_OPEN.match(line) for line in body):
        # A Markdown document shown as a block (a README the model wrote): its own
        # fences are the code.
        return [
            CodeBlock(b.language, b.code, b.kind, b.start_line + first_line - 1)
            for b in extract_code("\n".join(body), default)
        ]
    is_diff_info = info_token in _DIFF_INFOS
    if is_diff_info or (_looks_like_diff(body) and not info_token.startswith(("py", "js"))):
        rest = info.strip().split(maxsplit=1)[1:] if is_diff_info else []
        hint = language_from_info(rest[0]) if rest else None
        blocks = _diff_blocks(body, first_line, hint, default)
        if blocks or is_diff_info:
            return blocks
    # Trim blank lines at both ends so start_line points at real code.
    lo, hi = 0, len(body)
    while lo < hi and not body[lo].strip():
        lo += 1
    while hi > lo and not body[hi - 1].strip():
        hi -= 1
    if lo == hi:
        return []
    code = "\n".join(body[lo:hi])
    language = language_from_info(info) or detect_language(code, default)
    return [CodeBlock(language, code, "fenced", first_line + lo)]
