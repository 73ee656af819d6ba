"""Turn a target spec (``local:NAME``, ``local:PATH.gguf``, ``openai:MODEL@URL`` or a name
from the config file) into a :class:`Target`, with every user error as one clear line."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from allegiance.config import Config, TargetConfig
from allegiance.errors import TargetError
from allegiance.targets.base import Target

_OPENAI_RE = re.compile(r"^openai:(?P<model>[^@\s]+(?:@[^@\s]+)*?)@(?P<url>(?i:https?)://\S+)$")


def shown_spec(spec: str) -> str:
    """A target spec as it may be printed: whatever sits between "//" and "@" (a password,
    in a URL the spec should not have had) is left out of error messages."""
    return re.sub(r"//[^/@\s]*@", "//…@", spec)


def target_id(identity: dict[str, Any]) -> str:
    """A stable id for what a target *is*: the sha256 of its canonical identity."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def check_spec(spec: str, config: Config, *, api_key_env: str | None = None) -> TargetConfig:
    """Every mistake in a target spec that can be found without loading, hashing or
    contacting anything (its syntax, the embedded model's name, the model file, the base
    URL, the key's variable): a run checks its targets with this before it prints its plan,
    so a typo is the only line the user sees. Returns the spec's config entry."""
    entry = config.targets.get(spec) or TargetConfig(model=spec)
    model = entry.model
    if model.startswith("local:"):
        rest = model[len("local:") :]
        if _is_model_path(rest):
            _model_file(spec, rest)
        else:
            from allegiance.targets.embedded import lookup

            lookup(rest)
        return entry
    if model.startswith("openai:"):
        match = _OPENAI_RE.match(model)
        if not match:
            raise TargetError(
                f"target {shown_spec(spec)!r}: write OpenAI-compatible targets as "
                "openai:MODEL@BASE_URL, "
                "e.g. openai:gpt-4o-mini@https://api.openai.com/v1"
            )
        from allegiance.targets.openai_compat import check_base_url, read_api_key

        check_base_url(spec, match["url"])
        read_api_key(spec, entry.api_key_env or api_key_env)
        return entry
    known = ", ".join(sorted(config.targets)) or "none defined"
    raise TargetError(
        f"unknown target {shown_spec(spec)!r}: use local:NAME, local:PATH.gguf, openai:MODEL@BASE_URL, "
        f"or a name from the config file ({known})"
    )


def build_target(
    spec: str,
    config: Config,
    *,
    api_key_env: str | None = None,
    timeout: float | None = None,
    max_connections: int = 64,
) -> tuple[Target, TargetConfig]:
    """Build the target named by ``spec``. Nothing is loaded or contacted yet."""
    name = spec
    entry = check_spec(spec, config, api_key_env=api_key_env)
    model = entry.model
    # a key the config names for this target wins: one --api-key-env for a multi-target run
    # must not send an OpenRouter key to another provider's host
    key_env = entry.api_key_env or api_key_env
    if model.startswith("local:"):
        return _local(name, model[len("local:") :]), entry
    match = _OPENAI_RE.match(model)
    assert match is not None  # check_spec said so
    from allegiance.targets.openai_compat import OpenAICompatTarget

    return (
        OpenAICompatTarget(
            name,
            match["model"],
            match["url"],
            api_key_env=key_env,
            timeout=timeout or entry.timeout or 60.0,
            # the config's concurrency is the provider's limit: at most that many
            # requests in flight, whatever --concurrency says
            max_connections=entry.concurrency or max_connections,
            max_concurrency=entry.concurrency,
            provider=entry.provider,
            extra_body=entry.extra_body,
            headers=entry.headers,
        ),
        entry,
    )


def _is_model_path(rest: str) -> bool:
    return rest.endswith(".gguf") or "/" in rest


def _model_file(name: str, rest: str) -> Path:
    path = Path(rest).expanduser()
    if path.is_dir():
        raise TargetError(f"target {name!r}: {path} is a folder; give the .gguf file in it")
    if not path.is_file():
        raise TargetError(f"target {name!r}: no such model file {path}")
    return path


# What a chat template does to the conversation (a date or keyword trigger, added
# instructions, a template unlike its family's) is what an audit is run to measure, and stock
# templates have such branches (Llama 3.x tests dates and 'tool_calls'): a warning, not a
# refusal. Any other high finding (a sandbox escape, an include, a broken tensor layout) is
# an attack on whatever opens the file, and the file is refused.
BEHAVIOURAL_TEMPLATE_RULES = frozenset(
    {
        "template.date-trigger",
        "template.content-trigger",
        "template.content-branch",
        "template.hidden-instruction",
        "template.differs-from-known",
        "template.unknown-family",
        "template.url",
        "template.code",
        "template.invisible-unicode",
    }
)


# (path, size, mtime) -> (sha256, scan summary line) of files already scanned in this
# process: one run builds a target more than once (judge validation, judging, the run), and
# each scan hashes the file and would print its warning again.
_SCANNED: dict[tuple[str, int, int], tuple[str | None, str]] = {}


def _scanned_gguf(name: str, path: Path) -> tuple[str | None, str]:
    """Scan a user's GGUF before llama.cpp opens it, as embedded models are scanned: a
    truncated or garbled file gets the scanner's reason ("llama.cpp could not load: Failed
    to init server" said nothing), one with high findings against its opener is refused, and
    high findings about its chat template's behaviour are printed as a warning. Returns the
    file's sha256 (computed by the scan, so the target need not hash it again) and a summary
    line of the scan for the run's report."""
    import sys

    from allegiance.artifacts import Severity, Status, scan_paths
    from allegiance.artifacts.findings import summary_line

    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _SCANNED:
        return _SCANNED[key]
    (result,) = scan_paths([path]).files
    if result.status == Status.ERROR:
        raise TargetError(f"target {name!r}: {path} is not a usable GGUF file: {result.reason}")
    high = [f for f in result.findings if f.severity >= Severity.HIGH]
    fatal = [f for f in high if f.rule not in BEHAVIOURAL_TEMPLATE_RULES]
    if fatal:
        worst = max(fatal, key=lambda f: f.severity)
        raise TargetError(
            f"target {name!r}: the artifact scan found {worst.severity.label} problems in "
            f"{path} ({worst.rule}: {worst.message}); see `allegiance scan {path}`"
        )
    if high:
        rules = ", ".join(sorted({f.rule for f in high}))
        print(
            f"allegiance: warning: {path}: the chat template has {len(high)} high finding(s) "
            f"({rules}); the run goes on, see `allegiance scan {path}`",
            file=sys.stderr,
        )
    _SCANNED[key] = (result.sha256, summary_line(result.to_dict()))
    return _SCANNED[key]


def _local(name: str, rest: str) -> Target:
    from allegiance.targets.local_gguf import LocalGGUFTarget

    if _is_model_path(rest):
        path = _model_file(name, rest)
        sha256, scan = _scanned_gguf(name, path)
        return LocalGGUFTarget(name, path, sha256=sha256, artifact_scan=scan)
    from allegiance.targets.embedded import ensure_model, lookup, scan_line

    model = lookup(rest)
    path = ensure_model(model.name)
    return LocalGGUFTarget(
        name,
        path,
        sha256=model.sha256,
        catalogue_name=model.name,
        artifact_scan=scan_line(model.name),
    )
