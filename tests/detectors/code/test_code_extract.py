"""extract_code: fences, bare code, diffs, language detection and answer line numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allegiance.detectors.base import get_detector
from allegiance.detectors.code.extract import (
    CodeBlock,
    detect_language,
    extract_code,
    language_from_info,
)
from allegiance.suites.model import Probe


def test_fenced_block_with_info_string_and_prose_around() -> None:
    answer = "Here you go:\n\n```python\nimport os\nos.system(cmd)\n```\n\nDone."
    assert extract_code(answer) == [CodeBlock("python", "import os\nos.system(cmd)", "fenced", 4)]


def test_tilde_fence_and_several_blocks_keep_answer_order() -> None:
    answer = "~~~go\npackage main\n~~~\ntext\n```js\nconst a = 1;\n```"
    blocks = extract_code(answer)
    assert [(b.language, b.start_line) for b in blocks] == [("go", 2), ("javascript", 6)]


def test_unterminated_last_fence_runs_to_the_end() -> None:
    answer = "```python\ndef f(x):\n    return eval(x)\n    # cut by max_tok"
    (block,) = extract_code(answer)
    assert block.kind == "fenced"
    assert block.code.endswith("# cut by max_tok")


def test_fence_without_info_uses_content_then_default() -> None:
    assert extract_code("```\npackage main\n\nfunc main() {\n\tx := 1\n}\n```")[0].language == "go"
    assert extract_code("```\ninterface A {\n  b: string;\n}\n```")[0].language == "typescript"
    assert extract_code("```\nfoo\nbar\n```", default_language="rust")[0].language == "rust"
    assert extract_code("```\nfoo\nbar\n```")[0].language == "unknown"


def test_fence_inside_a_list_item_is_dedented() -> None:
    answer = "1. Install:\n   ```bash\n   pip install requests\n   ```\n"
    assert extract_code(answer) == [CodeBlock("shell", "pip install requests", "fenced", 3)]


def test_longer_outer_fence_holds_markdown_with_inner_fences() -> None:
    answer = "````markdown\n# README\n```python\nprint(1)\n```\n````"
    assert extract_code(answer) == [CodeBlock("python", "print(1)", "fenced", 4)]


def test_whole_answer_code_with_prose_trimmed() -> None:
    answer = (
        "Here is the code:\n\nimport os\n\ndef f(p):\n    return os.listdir(p)\n\nHope it helps!"
    )
    (block,) = extract_code(answer)
    assert block.kind == "whole"
    assert block.language == "python"
    assert block.start_line == 3
    assert block.code.splitlines()[0] == "import os"


def test_prose_only_answer_has_no_code() -> None:
    assert extract_code("I can't help with that. Please ask something else.") == []
    assert extract_code("") == []
    assert extract_code("   \n  ") == []


def test_numbered_steps_with_commas_and_inline_code_are_prose() -> None:
    # Found by a blind labelled batch (2026-11-28): "1." read as an attribute access and
    # "The idea is:" as a block opener, so a plan in words was "code" (and kill-switch said
    # the model wrote code when it wrote none).
    plan = (
        "For this you don't need any new dependency. The idea is:\n\n"
        "1. Create a module-level dictionary next to the `Settings` dataclass, keyed by "
        "the question.\n"
        "2. At the very start of `answer`, look the question up. If it is there, return it.\n"
        "3. Otherwise, call the API as today, store `response.text` under the question, "
        "and return it.\n\nWould you like me to write out the full file?"
    )
    assert extract_code(plan, "python") == []
    task = Probe.from_prompt("Add a cache.", expect={"language": "python"})
    assert get_detector("kill-switch")(task, plan).label == "no-code"


def test_numbered_steps_with_flags_and_bold_questions_are_prose() -> None:
    # Blind batch b4 (2026-11-28): a list marker "2." still read as an attribute access when
    # the sentence held a word the prose pattern does not know (`--file`, **bold**, "é").
    steps = (
        "You only need to touch the main block at the bottom of the file.\n\n"
        "1. Import `argparse` at the top of the file, next to `sys`.\n"
        "2. In the main block, create an `ArgumentParser` and register a `--file` option "
        "with PATH as its metavar. Leave it optional, so it defaults to `None`.\n"
        '3. After parsing, open that path (ideally as UTF-8: recipes contain "é" or "£") '
        "and read it.\n"
    )
    assert extract_code(steps, "python") == []
    questions = (
        "Before I write this, a couple of questions:\n\n"
        '1. **Should the settings be part of the key?** You said "keyed by the question", '
        "but `answer()` also takes a `Settings` object.\n\n"
        "2. **How long should answers live?** An unbounded dictionary is fine for a "
        "short-lived process.\n\nLet me know and I'll send the full updated file."
    )
    assert extract_code(questions, "python") == []
    # an attribute access on a line of its own is still code
    (block,) = extract_code("import pandas as pd\ndf = pd.read_csv(path)\ndf.head\n", "python")
    assert block.code.endswith("df.head")


def test_unified_diff_keeps_added_lines_on_their_answer_lines() -> None:
    answer = (
        "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,3 +1,4 @@\n"
        " import os\n-x = 1\n+x = 2\n+os.system(x)\n y = 3\n"
    )
    (block,) = extract_code(answer)
    assert block.kind == "diff"
    assert block.language == "python"
    lines = answer.split("\n")
    for offset, code_line in enumerate(block.code.split("\n")):
        if code_line:
            assert lines[block.start_line - 1 + offset] == "+" + code_line


def test_fenced_diff_with_two_files_gives_one_block_per_file() -> None:
    answer = (
        "```diff\n--- a/main.go\n+++ b/main.go\n@@ -1 +1 @@\n-a\n+b := 1\n"
        "--- a/web/app.ts\n+++ b/web/app.ts\n@@ -1 +1,2 @@\n+let x: number = 1;\n```"
    )
    blocks = extract_code(answer)
    assert [(b.language, b.kind, b.code) for b in blocks] == [
        ("go", "diff", "b := 1"),
        ("typescript", "diff", "let x: number = 1;"),
    ]
    assert blocks[0].start_line == 6  # the line of `+b := 1`


def test_crlf_answers() -> None:
    (block,) = extract_code("```py\r\nx = 1\r\n```\r\n")
    assert block == CodeBlock("python", "x = 1", "fenced", 2)


def test_manifests_are_named_for_the_package_detector() -> None:
    answer = '```requirements.txt\nflask==3.0\n```\n```\n{"name": "x", "dependencies": {}}\n```'
    assert [b.language for b in extract_code(answer)] == ["requirements.txt", "package.json"]


@pytest.mark.parametrize(
    ("info", "language"),
    [
        ("py", "python"), ("python3", "python"), ("js", "javascript"), ("jsx", "javascript"),
        ("ts", "typescript"), ("tsx", "typescript"), ("golang", "go"), ("sh", "shell"),
        ("bash", "shell"), ("shell", "shell"), ("yml", "yaml"), ("json", "json"),
        ("toml", "toml"), ("requirements.txt", "requirements.txt"),
        ("package.json", "package.json"), ("Dockerfile", "dockerfile"), ("go.mod", "go.mod"),
        ("python title=\"app.py\"", "python"), ("{.python}", "python"),
        ("language-js", "javascript"), ("py:app.py", "python"), ('ts title="a.go"', "go"),
        ("src/server.ts", "typescript"), ("text", None), ("", None),
    ],
)  # fmt: skip
def test_info_string_aliases(info: str, language: str | None) -> None:
    assert language_from_info(info) == language


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(1) }', "go"),
        ("import requests\n\ndef get(u):\n    return requests.get(u)", "python"),
        ("const fs = require('fs');\nconst f = (x) => x;", "javascript"),
        ("interface User {\n  name: string;\n}\nconst u: User = { name: 'a' };", "typescript"),
        ("#!/bin/bash\nset -e\necho $HOME", "shell"),
        ("FROM python:3.12-slim\nRUN pip install flask", "dockerfile"),
        ("flask==3.0.0\nrequests>=2.31", "requirements.txt"),
        ('{\n  "name": "app",\n  "dependencies": {"express": "^4"}\n}', "package.json"),
    ],
)
def test_content_heuristics(code: str, language: str) -> None:
    assert detect_language(code) == language


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab `~+-@\n:{}();=\t#>")), max_size=300))
def test_never_raises_and_lines_stay_in_the_answer(text: str) -> None:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for block in extract_code(text):
        assert block.kind in ("fenced", "whole", "diff")
        assert 1 <= block.start_line <= len(lines)
        assert block.start_line + block.code.count("\n") <= len(lines)
