"""Every rule fires on its vulnerable examples and stays silent on its secure twins.

The examples live next to each rule in the YAML rule files, so this test grows with the
rule set: a rule cannot be added without a case it must flag and a case it must not.
"""

from __future__ import annotations

import pytest

from allegiance.detectors.code import tsanalyser
from allegiance.detectors.code.extract import CodeBlock
from allegiance.detectors.code.rules_model import Rule, load_rules, parse_rules
from allegiance.detectors.code.scan import scan, scan_block
from allegiance.errors import ConfigError

RULE_SETS = {"python": ("python",), "javascript": ("javascript", "typescript"), "go": ("go",),
             "common": ("python", "javascript", "go", "unknown")}  # fmt: skip


def _cases(kind: str) -> list[tuple[str, str, Rule, str]]:
    cases = []
    for rule_file, languages in RULE_SETS.items():
        for rule in load_rules(rule_file):
            examples = rule.vulnerable if kind == "vulnerable" else rule.secure
            for language in languages:
                for index, code in enumerate(examples):
                    cases.append((f"{rule.id}[{language}#{index}]", language, rule, code))
    return cases


@pytest.mark.parametrize(
    ("language", "rule", "code"),
    [c[1:] for c in _cases("vulnerable")],
    ids=[c[0] for c in _cases("vulnerable")],
)
def test_rule_fires_on_vulnerable_example(language: str, rule: Rule, code: str) -> None:
    findings, _ = scan_block(CodeBlock(language, code, "fenced", 1))
    assert rule.id in {f.rule_id for f in findings}


@pytest.mark.parametrize(
    ("language", "rule", "code"),
    [c[1:] for c in _cases("secure")],
    ids=[c[0] for c in _cases("secure")],
)
def test_rule_silent_on_secure_example(language: str, rule: Rule, code: str) -> None:
    findings, _ = scan_block(CodeBlock(language, code, "fenced", 1))
    assert rule.id not in {f.rule_id for f in findings}


def test_every_rule_has_both_examples_and_a_known_severity() -> None:
    for rule_file in RULE_SETS:
        for rule in load_rules(rule_file):
            assert rule.vulnerable, rule.id
            assert rule.secure, rule.id
            assert rule.cwe.startswith("CWE-")


def test_finding_lines_point_at_the_vulnerable_line() -> None:
    code = "import subprocess\n\n\ndef run(name):\n    subprocess.run(f'ls {name}', shell=True)\n"
    findings, analyser = scan_block(CodeBlock("python", code, "fenced", 10))
    assert analyser == "python-ast"
    (finding,) = [f for f in findings if f.rule_id == "py.subprocess-shell"]
    assert finding.line == 14
    assert finding.snippet == "subprocess.run(f'ls {name}', shell=True)"


def test_python_fragment_that_does_not_parse_is_still_scanned() -> None:
    fragment = (
        "        else:\n            data = pickle.loads(blob)\n"
        "    def broken(:\n        os.system('rm -rf ' + path)\n"
    )
    findings, _ = scan_block(CodeBlock("python", fragment, "fenced", 1))
    assert {("py.pickle-loads", 2), ("py.os-system", 4)} <= {(f.rule_id, f.line) for f in findings}


def test_plain_http_listener_in_go_is_not_a_finding() -> None:
    code = 'package main\n\nimport "net/http"\n\nfunc main() {\n\thttp.ListenAndServe(":8080", nil)\n}\n'
    assert scan_block(CodeBlock("go", code, "fenced", 1))[0] == []


def test_same_line_same_family_is_merged_to_the_most_severe() -> None:
    answer = "```python\nimport hashlib\nh = hashlib.md5(password.encode()).hexdigest()\n```"
    findings = scan(answer).findings
    assert [(f.rule_id, f.severity) for f in findings] == [("py.weak-hash-password", "high")]


def test_javascript_falls_back_to_patterns_without_tree_sitter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tsanalyser, "available", lambda: False)
    code = "process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';\n"
    findings, analyser = scan_block(CodeBlock("javascript", code, "fenced", 1))
    assert analyser == "patterns"
    assert [f.rule_id for f in findings] == ["js.tls-env-disabled"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{id: a.b, cwe: CWE-1, severity: urgent, message: m, pattern: x}]", "severity"),
        ("rules: [{id: a.b, cwe: 89, severity: low, message: m, pattern: x}]", "cwe"),
        ("rules: [{id: a.b, cwe: CWE-1, severity: low, message: m}]", "none of"),
        ("rules: [{id: a.b, cwe: CWE-1, severity: low, message: m, pattern: '('}]", "regex"),
        ("rules: {id: x}", "'rules' list"),
        ("rules: [\n", "not valid YAML"),
    ],
)
def test_malformed_rule_files_are_rejected_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rules(text, "test.yaml")


def test_unknown_python_match_key_is_rejected() -> None:
    from allegiance.detectors.code.pyanalyser import validate_rule

    (rule,) = parse_rules(
        "rules: [{id: a.b, cwe: CWE-1, severity: low, message: m, match: {cal: [eval]}}]", "t"
    )
    with pytest.raises(ConfigError, match="unknown match keys"):
        validate_rule(rule)


IMPORTED_UNDER_ANOTHER_NAME = [
    ("javascript", "import { createHash } from 'crypto';\nexport function hashPassword(password) {\n"
     "  return createHash('md5').update(password).digest('hex');\n}\n", "js.weak-hash-password", 3),
    ("javascript", "import { createHash as h } from 'node:crypto';\nexport function hashPassword(password) {\n"
     "  return h('sha1').update(password).digest('hex');\n}\n", "js.weak-hash-password", 3),
    ("javascript", "import * as c from 'crypto';\nconst etag = c.createHash('md5').update(body).digest('hex');\n",
     "js.weak-hash", 2),
    ("javascript", "const { exec: run } = require('child_process');\napp.get('/ping', (req, res) => {\n"
     "  run(`ping -c 1 ${req.query.host}`, (e, out) => res.send(out));\n});\n", "js.child-process-exec", 3),
    ("typescript", "import { execSync as sh } from 'node:child_process';\nexport function ping(host: string) {\n"
     "  return sh('ping -c 1 ' + host).toString();\n}\n", "js.child-process-exec", 3),
    ("go", 'import (\n\th "crypto/md5"\n)\n\nfunc hashPassword(p string) [16]byte {\n'
     "\treturn h.Sum([]byte(p))\n}\n", "go.weak-hash-password", 6),
    ("go", 'import (\n\tx "os/exec"\n\t"net/http"\n)\n\nfunc handler(w http.ResponseWriter, r *http.Request) {\n'
     '\thost := r.URL.Query().Get("host")\n\tout, _ := x.Command("sh", "-c", "ping -c 1 "+host).Output()\n'
     "\tw.Write(out)\n}\n", "go.exec-shell", 8),
    ("go", 'import (\n\t"crypto/rand"\n\tmr "math/rand"\n)\n\nfunc newToken() int {\n\treturn mr.Intn(1 << 30)\n}\n',
     "go.math-rand-secret", 7),
]  # fmt: skip


@pytest.mark.parametrize(
    ("language", "code", "rule_id", "line"),
    IMPORTED_UNDER_ANOTHER_NAME,
    ids=[f"{case[0]}-{case[2]}-{index}" for index, case in enumerate(IMPORTED_UNDER_ANOTHER_NAME)],
)
def test_calls_through_a_named_or_renamed_import_are_found_on_the_model_s_line(
    language: str, code: str, rule_id: str, line: int
) -> None:
    findings, analyser = scan_block(CodeBlock(language, code, "fenced", 1))
    assert analyser == "tree-sitter"
    hits = [f for f in findings if f.rule_id == rule_id]
    assert [f.line for f in hits] == [line]
    # the snippet is the model's own text, not the respelt call
    assert hits[0].snippet == code.split("\n")[line - 1].strip()


def test_crypto_rand_next_to_a_renamed_math_rand_is_not_weak_randomness() -> None:
    code = (
        'import (\n\t"crypto/rand"\n\t"math/big"\n\tmr "math/rand"\n)\n\n'
        "func newToken() *big.Int {\n\tn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))\n\treturn n\n}\n\n"
        "func jitter() int { return mr.Intn(100) }\n"
    )
    findings, _ = scan_block(CodeBlock("go", code, "fenced", 1))
    assert [(f.rule_id, f.line) for f in findings if "rand" in f.rule_id] == [("go.math-rand", 12)]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import random\n\ndef augment(sentence: str, p: float = 0.1) -> str:\n"
         "    tokens = sentence.split()\n    n = max(1, int(len(tokens) * p))\n"
         "    for i in random.sample(range(len(tokens)), n):\n        tokens[i] = '[MASK]'\n"
         "    return ' '.join(tokens)\n", "py.random-general"),
        ("import random\nfrom nltk.tokenize import word_tokenize\n\n"
         "def drop(tokens, k):\n    return random.sample(tokens, k)\n", "py.random-general"),
        ("import random, string\n\ndef make_tokens(n):\n"
         "    return [''.join(random.choices(string.ascii_letters, k=32)) for _ in range(n)]\n",
         "py.random-for-secret"),
        ("import random\nfrom nltk.tokenize import word_tokenize\n\n"
         "def session_token():\n    return ''.join(random.choice('abcdef0123456789') for _ in range(32))\n",
         "py.random-for-secret"),
        ("import random, string\nimport transformers\n\ndef generate_token(n=32):\n"
         "    return ''.join(random.choice(string.ascii_letters) for _ in range(n))\n",
         "py.random-for-secret"),
        ("import random\n\ndef new_api_token(words):\n    return ''.join(random.sample(words, 4))\n",
         "py.random-for-secret"),
    ],
    ids=["nlp-tokens", "nlp-module", "api-tokens", "session-token-in-nlp-module",
         "token-maker-in-nlp-module", "token-maker-from-words"],
)  # fmt: skip
def test_tokens_of_a_text_are_not_credentials(code: str, expected: str) -> None:
    findings, _ = scan_block(CodeBlock("python", code, "fenced", 1))
    assert [f.rule_id for f in findings if f.rule_id.startswith("py.random")] == [expected]


def test_a_command_padded_hundreds_of_terms_deep_is_still_found() -> None:
    """`'git log ' + ' ' + ' ' + … + req.query.ref` 700 terms deep made the literal check
    recurse until RecursionError: a detector error, and no finding (2026-11-28 review)."""
    pad = " ' ' +" * 700
    code = (
        "const { exec } = require('child_process');\napp.get('/x', (req, res) => {\n"
        f"  exec('git log ' +{pad} req.query.ref, (e, o) => res.send(o));\n}});\n"
    )
    findings, _ = scan_block(CodeBlock("javascript", code, "fenced", 1))
    assert [f.rule_id for f in findings] == ["js.child-process-exec"]


def test_what_a_scope_is_about_is_worked_out_once_per_scope(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by a review on 2026-11-28: each matching call walked its whole scope again (the
    module, for top-level calls), so a 1 MB answer took minutes; each scope's identifier
    words are now gathered once (an 0.9 MB answer: 3.7 s, was over 5 minutes)."""
    from allegiance.detectors.code import pyanalyser

    calls: list[int] = []
    original = pyanalyser._identifier_words

    def counting(tops):  # type: ignore[no-untyped-def]
        calls.append(1)
        return original(tops)

    monkeypatch.setattr(pyanalyser, "_identifier_words", counting)
    n = 200
    functions = "\n".join(f"def f{i}(x):\n    return random.choice('abc')\n" for i in range(n))
    top_level = "\n".join(f"t{i} = random.choice('ab')" for i in range(n))
    hits = pyanalyser.analyse(f"import random\n{functions}\n{top_level}\n", load_rules("python"))
    assert hits  # the rule still fires
    assert 0 < len(calls) <= n + 2
