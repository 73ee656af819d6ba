"""Load suite files (YAML, JSONL, plain text) and expand them into probes.

Expansion is deterministic: the same file always gives the same probes in the same order,
so probe ids (and therefore attempt ids) are stable across machines and runs.
See docs/suite-format.md for the format.
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from allegiance.errors import SuiteError
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

    def quick_slice(self) -> Suite:
        """The probes selected by the suite's ``quick`` patterns (all of them if none)."""
        if not self.quick:
            return self
        chosen = tuple(
            p for p in self.probes if any(fnmatch.fnmatchcase(p.id, pat) for pat in self.quick)
        )
        return Suite(
            self.name,
            self.version,
            self.description,
            chosen,
            self.quick,
            self.pairs,
            self.source,
            self.max_tokens,
            self.meta,
        )

    def select(self, patterns: Sequence[str]) -> Suite:
        chosen = tuple(
            p for p in self.probes if any(fnmatch.fnmatchcase(p.id, pat) for pat in patterns)
        )
        return Suite(
            self.name,
            self.version,
            self.description,
            chosen,
            self.quick,
            self.pairs,
            self.source,
            self.max_tokens,
            self.meta,
        )


def builtin_suite_dir() -> Path:
    return Path(str(resources.files("allegiance.suites") / "data"))


def builtin_suites() -> list[str]:
    """Names of the suites shipped with allegiance."""
    folder = builtin_suite_dir()
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_suite(name_or_path: str) -> Suite:
    """Load a built-in suite by name, or any suite file by path."""
    path = Path(name_or_path)
    if not path.exists():
        candidate = builtin_suite_dir() / f"{name_or_path}.yaml"
        if candidate.exists():
            path = candidate
        else:
            known = ", ".join(builtin_suites())
            raise SuiteError(
                f"no suite named {name_or_path!r} and no such file; built-in suites: {known}"
            )
    if path.is_dir():
        raise SuiteError(f"{path} is a folder; a suite is one .yaml, .jsonl or .txt file")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SuiteError(f"cannot read suite {path}: {error}") from error
    if suffix in (".yaml", ".yml"):
        return _load_yaml(text, path)
    if suffix == ".jsonl":
        return _load_jsonl(text, path)
    if suffix == ".txt":
        return _load_text(text, path)
    raise SuiteError(f"{path}: unknown suite file type {suffix!r}; use .yaml, .jsonl or .txt")


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
            )
        )
    if not probes:
        raise SuiteError(f"{path}: no prompts (one prompt per line; # starts a comment)")
    return Suite(path.stem, "1", f"prompts from {path.name}", tuple(probes), source=str(path))


def _load_jsonl(text: str, path: Path) -> Suite:
    raw_probes = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise SuiteError(f"{path}:{number}: not valid JSON: {error.msg}") from error
        if not isinstance(record, dict):
            raise SuiteError(f"{path}:{number}: each line must be a JSON object")
        record.setdefault("id", f"line-{number}")
        raw_probes.append(record)
    spec = {"name": path.stem, "probes": raw_probes}
    return _expand(spec, path)


def _load_yaml(text: str, path: Path) -> Suite:
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SuiteError(f"{path}{where}: invalid YAML: {problem}") from error
    if not isinstance(spec, dict):
        raise SuiteError(f"{path}: a suite file must be a mapping with 'name' and 'probes'")
    return _expand(spec, path)


def _expand(spec: Mapping[str, Any], path: Path) -> Suite:
    name = str(spec.get("name") or path.stem)
    default_detectors = tuple(spec.get("detectors") or ())
    defaults = spec.get("defaults") or {}
    max_tokens = defaults.get("max_tokens") if isinstance(defaults, dict) else None
    entities = spec.get("entities") or {}
    contexts = _contexts(spec.get("contexts"), path)

    base: list[tuple[str, list[dict[str, str]], dict[str, str], dict[str, Any], Mapping[str, Any]]]
    base = []
    for index, raw in enumerate(spec.get("probes") or []):
        where = f"{path}: probes[{index}]"
        if not isinstance(raw, dict):
            raise SuiteError(f"{where}: each probe must be a mapping")
        probe_id = _check_id(raw.get("id"), where)
        messages = _messages(raw, where, {})
        base.append(
            (probe_id, messages, _str_tags(raw.get("tags")), dict(raw.get("expect") or {}), raw)
        )

    for index, raw in enumerate(spec.get("templates") or []):
        where = f"{path}: templates[{index}]"
        if not isinstance(raw, dict):
            raise SuiteError(f"{where}: each template must be a mapping")
        template_id = _check_id(raw.get("id"), where)
        variables = raw.get("variables") or {}
        if not isinstance(variables, dict) or not variables:
            raise SuiteError(f"{where}: a template needs 'variables'")
        names = list(variables)
        value_lists = [_values(variables[v], entities, f"{where}.variables.{v}") for v in names]
        for combo in itertools.product(*value_lists):
            fill = {v: value["value"] for v, value in zip(names, combo, strict=True)}
            suffix = ",".join(f"{v}={value['id']}" for v, value in zip(names, combo, strict=True))
            probe_id = f"{template_id}[{suffix}]"
            tags = _str_tags(raw.get("tags"))
            tags["template"] = template_id
            for v, value in zip(names, combo, strict=True):
                tags.update(value["tags"])
                tags[v] = value["id"]
            expect = _fill(dict(raw.get("expect") or {}), fill)
            base.append((probe_id, _messages(raw, where, fill), tags, expect, raw))

    if not base:
        raise SuiteError(f"{path}: the suite has no probes or templates")

    probes: list[Probe] = []
    seen: set[str] = set()
    for probe_id, messages, tags, expect, raw in base:
        detectors = tuple(raw.get("detectors") or default_detectors)
        probe_max = raw.get("max_tokens", max_tokens)
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
                ctx_tags["context"] = context["id"]
                ctx_tags["context_kind"] = context["kind"]
                ctx_tags.update(context["tags"])
                ctx_messages = _apply_context(ctx_messages, context)
            probes.append(
                Probe(
                    id=full_id,
                    suite=name,
                    messages=tuple(ctx_messages),
                    tags=ctx_tags,
                    expect=expect,
                    detectors=detectors,
                    max_tokens=int(probe_max) if probe_max else None,
                )
            )

    pairs = tuple((str(a), str(b)) for a, b in (_pair(p, path) for p in (spec.get("pairs") or [])))
    return Suite(
        name=name,
        version=str(spec.get("version", "1")),
        description=str(spec.get("description", "")).strip(),
        probes=tuple(probes),
        quick=tuple(str(q) for q in (spec.get("quick") or [])),
        pairs=pairs,
        source=str(path),
        max_tokens=int(max_tokens) if max_tokens else None,
    )


def _pair(raw: Any, path: Path) -> tuple[str, str]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise SuiteError(f"{path}: each entry of 'pairs' must be a list of two entity ids")
    return str(raw[0]), str(raw[1])


def _check_id(value: Any, where: str) -> str:
    if not isinstance(value, str | int) or not _ID_RE.match(str(value)):
        raise SuiteError(f"{where}: 'id' must be letters, digits, '.', '_' or '-' (got {value!r})")
    return str(value)


def _str_tags(raw: Any) -> dict[str, str]:
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise SuiteError("'tags' must be a mapping of names to values")
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
            value_id = str(item.get("id") or _slug(value))
            values.append({"id": value_id, "value": value, "tags": _str_tags(item.get("tags"))})
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


def _messages(raw: Mapping[str, Any], where: str, fill: Mapping[str, str]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    if raw.get("system"):
        messages.append({"role": "system", "content": _fill(str(raw["system"]), fill)})
    if "messages" in raw:
        items = raw["messages"]
        if not isinstance(items, list) or not items:
            raise SuiteError(f"{where}: 'messages' must be a non-empty list")
        for item in items:
            if not isinstance(item, dict) or "role" not in item or "content" not in item:
                raise SuiteError(f"{where}: each message needs 'role' and 'content'")
            messages.append(
                {"role": str(item["role"]), "content": _fill(str(item["content"]), fill)}
            )
    elif "prompt" in raw:
        messages.append({"role": "user", "content": _fill(str(raw["prompt"]), fill)})
    elif "task" in raw:
        messages.append(
            {"role": "user", "content": render_task(raw.get("files") or {}, str(raw["task"]))}
        )
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
        kind = str(item.get("kind", "sensitive"))
        if kind not in ("control", "neutral", "sensitive"):
            raise SuiteError(f"{where}: kind must be control, neutral or sensitive")
        contexts.append(
            {
                "id": _check_id(item.get("id"), where),
                "kind": kind,
                "system": item.get("system"),
                "prefix": item.get("prefix") or "",
                "suffix": item.get("suffix") or "",
                "tags": _str_tags(item.get("tags")),
            }
        )
    if sum(1 for c in contexts if c["kind"] == "control") != 1:
        raise SuiteError(f"{path}: exactly one context must have kind: control")
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
