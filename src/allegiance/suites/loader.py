"""Load suite files (YAML, JSONL, plain text) and expand them into probes.

Expansion is deterministic: the same file always gives the same probes in the same order,
so probe ids (and therefore attempt ids) are stable across machines and runs.
See docs/suite-format.md for the format.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from allegiance.errors import SuiteError
from allegiance.jsonl import read_objects
from allegiance.suites.model import Probe

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
_FIELD_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CODE_FENCE_LANG = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".json": "json",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".txt": "text",
    ".html": "html",
    ".sql": "sql",
    ".mod": "go-mod",
}


@dataclass(frozen=True)
class Suite:
    """An expanded suite: its probes plus the metadata analysis needs."""

    name: str
    version: str
    description: str
    probes: tuple[Probe, ...]
    quick: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()
    source: str = ""
    max_tokens: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def argument(self) -> str:
        """How to name this suite on the command line: its name if it ships with
        allegiance, else the file it was read from (a file suite's name alone finds
        nothing, so a reproduce line built from it would fail)."""
        if not self.source or Path(self.source).parent == builtin_suite_dir():
            return self.name
        return str(Path(self.source).absolute())  # the line must work from any folder

    def quick_slice(self) -> Suite:
        """The probes selected by the suite's ``quick`` patterns (all of them if none)."""
        return self.select(self.quick) if self.quick else self

    def select(self, patterns: Sequence[str]) -> Suite:
        """The probes whose id matches any of the fnmatch ``patterns``. A pattern may carry
        the suite's name as `show` and reports print ids (``censorship/tiananmen*``)."""
        prefix = f"{self.name}/"
        own = [p.removeprefix(prefix) for p in patterns]
        chosen = tuple(p for p in self.probes if _matches_any(p.id, own))
        return dataclasses.replace(self, probes=chosen)


def _matches_any(probe_id: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(probe_id, pattern) for pattern in patterns)


def builtin_suite_dir() -> Path:
    return Path(str(resources.files("allegiance.suites") / "data"))


def builtin_suites() -> list[str]:
    """Names of the suites shipped with allegiance."""
    folder = builtin_suite_dir()
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_suite(name_or_path: str) -> Suite:
    """Load a built-in suite by name, or any suite file by path.

    A file or folder of the same name as a built-in suite does not hide it unless it is a
    file: ``allegiance run censorship`` in a folder that holds a ``censorship/`` directory
    still means the built-in suite.
    """
    path = Path(name_or_path)
    builtin = builtin_suite_dir() / f"{name_or_path}.yaml"
    if not path.is_file() and _ID_RE.match(name_or_path) and builtin.is_file():
        path = builtin
    elif not path.exists():
        known = ", ".join(builtin_suites())
        raise SuiteError(
            f"no suite named {name_or_path!r} and no such file; built-in suites: {known}"
        )
    if path.is_dir():
        raise SuiteError(f"{path} is a folder; a suite is one .yaml, .jsonl or .txt file")
    suffix = path.suffix.lower()
    if suffix not in (".yaml", ".yml", ".jsonl", ".txt"):
        raise SuiteError(f"{path}: unknown suite file type {suffix!r}; use .yaml, .jsonl or .txt")
    try:
        # utf-8-sig: files saved by editors that write a byte-order mark still load
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise SuiteError(f"cannot read suite {path}: {error}") from error
    if suffix == ".jsonl":
        return _load_jsonl(text, path)
    if suffix == ".txt":
        return _load_text(text, path)
    return _load_yaml(text, path)


def _load_text(text: str, path: Path) -> Suite:
    probes = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        probes.append(
            Probe(
                id=f"line-{number}",
                suite=path.stem,
                messages=({"role": "user", "content": stripped},),
                tags={"probe": f"line-{number}"},
                detectors=DEFAULT_DETECTORS,
            )
        )
    if not probes:
        raise SuiteError(f"{path}: no prompts (one prompt per line; # starts a comment)")
    return Suite(path.stem, "1", f"prompts from {path.name}", tuple(probes), source=str(path))


def _load_jsonl(text: str, path: Path) -> Suite:
    raw_probes = []
    places = []
    for number, record in read_objects(text, str(path), SuiteError):
        record.setdefault("id", f"line-{number}")
        raw_probes.append(record)
        places.append(f"{path}:{number}")
    if not raw_probes:
        raise SuiteError(f"{path}: no probes (one JSON object per line)")
    spec = {"name": path.stem, "probes": raw_probes}
    return _expand(spec, path, probe_places=places)


def _load_yaml(text: str, path: Path) -> Suite:
    # only YAML suites pay for importing PyYAML
    from allegiance.yaml_safe import YAMLError, safe_load, where_and_what

    try:
        spec = safe_load(text)
    except YAMLError as error:
        where, problem = where_and_what(error)
        raise SuiteError(f"{path}{where}: invalid YAML: {problem}") from error
    except RecursionError:
        raise SuiteError(f"{path}: YAML nested too deeply to read") from None
    if not isinstance(spec, dict):
        raise SuiteError(f"{path}: a suite file must be a mapping with 'name' and 'probes'")
    _check_keys(spec, SUITE_KEYS, str(path))
    return _expand(spec, path)


# What each part of a suite file may contain; anything else is a typo that would otherwise
# be ignored in silence (``detector:`` for ``detectors:`` runs the probe unjudged).
SUITE_KEYS = frozenset(
    {
        "name",
        "version",
        "description",
        "detectors",
        "defaults",
        "quick",
        "contexts",
        "probes",
        "entities",
        "templates",
        "pairs",
    }
)
PROBE_KEYS = frozenset(
    {"id", "prompt", "messages", "system", "files", "task", "tags", "expect", "detectors"}
    | {"max_tokens"}
)
TEMPLATE_KEYS = PROBE_KEYS | {"variables"}
CONTEXT_KEYS = frozenset({"id", "kind", "system", "prefix", "suffix", "tags", "baseline"})
DEFAULTS_KEYS = frozenset({"max_tokens"})
MAX_ANSWER_TOKENS = 32768  # as --max-tokens and the config's max_tokens
# A template's variables multiply; a typo (a 1,000-value list crossed with itself) or a
# hostile file must fail with a message instead of exhausting memory.
MAX_PROBES = 200_000
# What a suite that names no detectors is judged with: a file of prompts from a user is most
# often asked "does it answer?", and a run that stored answers but no verdict looked empty.
# ``detectors: []`` still means none.
DEFAULT_DETECTORS = ("refusal",)

_Base = tuple[str, list[dict[str, str]], dict[str, str], dict[str, Any], Mapping[str, Any], str]


def _expand(
    spec: Mapping[str, Any], path: Path, *, probe_places: Sequence[str] | None = None
) -> Suite:
    name = _text(spec.get("name") or path.stem, f"{path}: name")
    default_detectors = (
        _names(spec.get("detectors"), f"{path}: detectors")
        if spec.get("detectors") is not None  # a bare `detectors:` is not "none"; [] is
        else DEFAULT_DETECTORS
    )
    defaults = spec.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise SuiteError(f"{path}: 'defaults' must be a mapping")
    _check_keys(defaults, DEFAULTS_KEYS, f"{path}: defaults")
    max_tokens = _positive_int(defaults.get("max_tokens"), f"{path}: defaults.max_tokens")
    entities = spec.get("entities") or {}
    if not isinstance(entities, dict):
        raise SuiteError(f"{path}: 'entities' must be a mapping of list names to lists")
    contexts = _contexts(spec.get("contexts"), path)
    per_base = max(1, len(contexts))

    base: list[_Base] = []
    for index, raw in enumerate(_list(spec.get("probes"), f"{path}: probes")):
        where = probe_places[index] if probe_places else f"{path}: probes[{index}]"
        if not isinstance(raw, dict):
            raise SuiteError(f"{where}: each probe must be a mapping")
        _check_keys(raw, PROBE_KEYS, where)
        probe_id = _check_id(raw.get("id"), where)
        messages = _messages(raw, where, {})
        base.append(
            (probe_id, messages, _str_tags(raw.get("tags"), where), _expect(raw, where), raw, where)
        )

    for index, raw in enumerate(_list(spec.get("templates"), f"{path}: templates")):
        where = f"{path}: templates[{index}]"
        if not isinstance(raw, dict):
            raise SuiteError(f"{where}: each template must be a mapping")
        _check_keys(raw, TEMPLATE_KEYS, where)
        template_id = _check_id(raw.get("id"), where)
        variables = raw.get("variables") or {}
        if not isinstance(variables, dict) or not variables:
            raise SuiteError(f"{where}: a template needs 'variables'")
        names = list(variables)
        value_lists = [_values(variables[v], entities, f"{where}.variables.{v}") for v in names]
        if (len(base) + math.prod(len(v) for v in value_lists)) * per_base > MAX_PROBES:
            raise SuiteError(f"{where}: expands to more than {MAX_PROBES:,} probes")
        for combo in itertools.product(*value_lists):
            fill = {v: value["value"] for v, value in zip(names, combo, strict=True)}
            suffix = ",".join(f"{v}={value['id']}" for v, value in zip(names, combo, strict=True))
            probe_id = f"{template_id}[{suffix}]"
            tags = _str_tags(raw.get("tags"), where)
            tags["template"] = template_id
            for v, value in zip(names, combo, strict=True):
                tags.update(value["tags"])
                tags[v] = value["id"]
            expect = _fill(_expect(raw, where), fill)
            base.append((probe_id, _messages(raw, where, fill), tags, expect, raw, where))

    if not base:
        raise SuiteError(f"{path}: the suite has no probes or templates")
    if len(base) * per_base > MAX_PROBES:
        raise SuiteError(f"{path}: expands to more than {MAX_PROBES:,} probes")

    probes: list[Probe] = []
    seen: set[str] = set()
    for probe_id, messages, tags, expect, raw, where in base:
        _check_unicode([messages, tags, expect], where)
        detectors = (  # a probe's own list, even an empty one ("none"), wins
            _names(raw.get("detectors"), f"{where}: detectors")
            if raw.get("detectors") is not None
            else default_detectors
        )
        probe_max = _positive_int(raw.get("max_tokens"), f"{where}: max_tokens") or max_tokens
        tags.setdefault("probe", probe_id)
        expansions: list[dict[str, Any] | None] = list(contexts) if contexts else [None]
        for context in expansions:
            full_id = probe_id if context is None else f"{probe_id}@{context['id']}"
            if full_id in seen:
                raise SuiteError(f"{path}: duplicate probe id {full_id!r}")
            seen.add(full_id)
            ctx_tags = dict(tags)
            ctx_messages = [dict(m) for m in messages]
            if context is not None:
                # the context's own tags first: they may not rename the context, whose id
                # the analysis and the reproduce line (`*@ID`) rely on
                ctx_tags.update(context["tags"])
                ctx_tags["context"] = context["id"]
                ctx_tags["context_kind"] = context["kind"]
                if context["baseline"]:
                    ctx_tags["baseline"] = context["baseline"]
                ctx_messages = _apply_context(ctx_messages, context)
            probes.append(
                Probe(
                    id=full_id,
                    suite=name,
                    messages=tuple(ctx_messages),
                    tags=ctx_tags,
                    expect=expect,
                    detectors=detectors,
                    max_tokens=probe_max,
                )
            )

    pairs = tuple(
        _pair(raw, index, path)
        for index, raw in enumerate(_list(spec.get("pairs"), f"{path}: pairs"))
    )
    _check_pairs(pairs, probes, path)
    quick = _names(spec.get("quick"), f"{path}: quick")
    for pattern in quick:
        if not any(fnmatch.fnmatchcase(p.id, pattern) for p in probes):
            raise SuiteError(
                f"{path}: quick pattern {pattern!r} matches no probe (in fnmatch '[' starts a "
                "character class: write '?' for a literal bracket)"
            )
    return Suite(
        name=name,
        version=str(spec.get("version", "1")),
        description=str(spec.get("description", "")).strip(),
        probes=tuple(probes),
        quick=quick,
        pairs=pairs,
        source=str(path),
        max_tokens=max_tokens,
    )


def _check_unicode(value: Any, where: str) -> None:
    """JSON and YAML both accept ``\\ud800``-style escapes that decode to lone surrogates:
    not text, impossible to hash into an attempt id or to send. Said here, with the place."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        bad = f"U+{ord(error.object[error.start]):04X}"
        raise SuiteError(
            f"{where}: contains {bad}, a lone surrogate escape, which is not text"
        ) from error


def _check_keys(raw: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = (
                f"; did you mean {close[0]!r}?"
                if close
                else f"; known: {', '.join(sorted(allowed))}"
            )
            raise SuiteError(f"{where}: unknown key {key!r}{hint}")


def _list(raw: Any, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SuiteError(f"{where}: must be a list")
    return raw


def _names(raw: Any, where: str) -> tuple[str, ...]:
    """A list of names (detectors, quick patterns); one bare string is a list of one."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
        raise SuiteError(f"{where}: must be a list of names")
    return tuple(raw)


def _positive_int(raw: Any, where: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise SuiteError(f"{where}: must be a positive whole number (got {raw!r})")
    if raw > MAX_ANSWER_TOKENS:  # every such field is an answer cap
        raise SuiteError(f"{where}: at most {MAX_ANSWER_TOKENS:,} (got {raw:,})")
    return raw


def _expect(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    expect = raw.get("expect")
    if expect is None:
        return {}
    if not isinstance(expect, dict):
        raise SuiteError(f"{where}: 'expect' must be a mapping")
    return dict(expect)


def _pair(raw: Any, index: int, path: Path) -> tuple[str, str]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise SuiteError(f"{path}: pairs[{index}] must be a list of two entity ids")
    return str(raw[0]), str(raw[1])


def _check_pairs(pairs: Sequence[tuple[str, str]], probes: Sequence[Probe], path: Path) -> None:
    """Pairs compare values of the ``entity`` tag; a pair naming none would silently give no
    comparison at all."""
    entities = {p.tags.get("entity") for p in probes}
    for index, pair in enumerate(pairs):
        for entity in pair:
            if entity not in entities:
                raise SuiteError(
                    f"{path}: pairs[{index}]: no probe has entity {entity!r} (pairs compare the "
                    "ids of a template variable named 'entity')"
                )


def _check_id(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not _ID_RE.match(str(value)):
        raise SuiteError(f"{where}: 'id' must be letters, digits, '.', '_' or '-' (got {value!r})")
    return str(value)


def _str_tags(raw: Any, where: str) -> dict[str, str]:
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise SuiteError(f"{where}: 'tags' must be a mapping of names to values")
    return {str(k): str(v) for k, v in raw.items()}


def _values(raw: Any, entities: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        if raw not in entities:
            raise SuiteError(f"{where}: no entity list named {raw!r}")
        raw = entities[raw]
    if not isinstance(raw, list) or not raw:
        raise SuiteError(f"{where}: must name an entity list or be a non-empty list")
    values = []
    for item in raw:
        if isinstance(item, dict):
            if "value" not in item:
                raise SuiteError(f"{where}: each value needs 'value' (and usually 'id')")
            value = str(item["value"])
            value_id = _check_id(item.get("id") or _slug(value), where)
            values.append(
                {"id": value_id, "value": value, "tags": _str_tags(item.get("tags"), where)}
            )
        else:
            values.append({"id": _slug(str(item)), "value": str(item), "tags": {}})
    return values


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _fill(value: Any, fill: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _FIELD_RE.sub(lambda m: fill.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [_fill(v, fill) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, fill) for k, v in value.items()}
    return value


def _text(value: Any, where: str) -> str:
    """A prompt, role, system line or name: a string (a bare YAML number is read as its
    text); a list or mapping is an error, not its Python repr sent to a model."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SuiteError(f"{where}: must be text (got {type(value).__name__})")
    return str(value)


def _messages(raw: Mapping[str, Any], where: str, fill: Mapping[str, str]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    if raw.get("system"):
        system = _text(raw["system"], f"{where}: system")
        messages.append({"role": "system", "content": _fill(system, fill)})
    if "messages" in raw:
        items = raw["messages"]
        if not isinstance(items, list) or not items:
            raise SuiteError(f"{where}: 'messages' must be a non-empty list")
        for item in items:
            if not isinstance(item, dict) or "role" not in item or "content" not in item:
                raise SuiteError(f"{where}: each message needs 'role' and 'content'")
            role = _text(item["role"], f"{where}: role")
            content = _text(item["content"], f"{where}: content")
            messages.append({"role": role, "content": _fill(content, fill)})
    elif "prompt" in raw:
        messages.append(
            {"role": "user", "content": _fill(_text(raw["prompt"], f"{where}: prompt"), fill)}
        )
    elif "task" in raw:
        files = raw.get("files") or {}
        if not isinstance(files, dict):
            raise SuiteError(f"{where}: 'files' must be a mapping of paths to contents")
        task = _fill(_text(raw["task"], f"{where}: task"), fill)
        messages.append({"role": "user", "content": render_task(files, task)})
    else:
        raise SuiteError(f"{where}: a probe needs 'prompt', 'messages', or 'files' and 'task'")
    return messages


def render_task(files: Mapping[str, Any], task: str) -> str:
    """Render a coding task the way a coding agent shows a repository to its model."""
    parts = []
    if files:
        parts.append("Here are the relevant files of the repository.\n")
        for file_path, content in files.items():
            language = _CODE_FENCE_LANG.get(Path(str(file_path)).suffix, "")
            body = str(content).rstrip("\n")
            parts.append(f"### {file_path}\n```{language}\n{body}\n```\n")
    parts.append(f"Task: {task.strip()}")
    return "\n".join(parts)


def _contexts(raw: Any, path: Path) -> list[dict[str, Any]]:
    if not raw:
        return []
    if not isinstance(raw, list):
        raise SuiteError(f"{path}: 'contexts' must be a list")
    contexts = []
    for index, item in enumerate(raw):
        where = f"{path}: contexts[{index}]"
        if not isinstance(item, dict):
            raise SuiteError(f"{where}: each context must be a mapping")
        _check_keys(item, CONTEXT_KEYS, where)
        kind = str(item.get("kind", "sensitive"))
        if kind not in ("control", "neutral", "sensitive"):
            raise SuiteError(f"{where}: kind must be control, neutral or sensitive")
        contexts.append(
            {
                "id": _check_id(item.get("id"), where),
                "kind": kind,
                "system": str(item["system"]) if item.get("system") else "",
                "prefix": str(item.get("prefix") or ""),
                "suffix": str(item.get("suffix") or ""),
                "tags": _str_tags(item.get("tags"), where),
                "baseline": str(item["baseline"]) if item.get("baseline") else "",
            }
        )
    if sum(1 for c in contexts if c["kind"] == "control") != 1:
        raise SuiteError(f"{path}: exactly one context must have kind: control")
    # A context may name its matched twin: the same kind of organisation and system without
    # the trigger ("a water authority in Lyon, its SCADA dashboard" for "… in Lhasa, Tibet"),
    # which it is then compared with instead of the bare control.
    by_id = {c["id"]: c for c in contexts}
    for context in contexts:
        twin = by_id.get(context["baseline"]) if context["baseline"] else None
        if context["baseline"] and (twin is None or twin["kind"] != "neutral"):
            raise SuiteError(
                f"{path}: context {context['id']!r}: baseline {context['baseline']!r} must be "
                "the id of a neutral context"
            )
    return contexts


def _apply_context(
    messages: list[dict[str, str]], context: Mapping[str, Any]
) -> list[dict[str, str]]:
    out = [dict(m) for m in messages]
    if context["prefix"] or context["suffix"]:
        for message in reversed(out):
            if message["role"] == "user":
                message["content"] = f"{context['prefix']}{message['content']}{context['suffix']}"
                break
    if context["system"]:
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{context['system']}\n{out[0]['content']}"
        else:
            out.insert(0, {"role": "system", "content": str(context["system"])})
    return out


def load_suites(names: Iterable[str], *, quick: bool = False) -> list[Suite]:
    suites = [load_suite(n) for n in names]
    return [s.quick_slice() for s in suites] if quick else suites
