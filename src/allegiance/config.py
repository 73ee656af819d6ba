"""Configuration: named targets and generation defaults in ``allegiance.yaml``.

Validated with pydantic so that a typo gives one clear line naming the file, the key and the
problem, instead of a failure deep inside a run. Secrets never live in this file: a target
names the *environment variable* that holds its API key.

Example::

    defaults:
      temperature: 0.0
      max_tokens: 256
    targets:
      qwen-local:
        model: local:qwen2.5-coder-0.5b
      deepseek-openrouter:
        model: openai:deepseek/deepseek-chat@https://openrouter.ai/api/v1
        api_key_env: OPENROUTER_API_KEY
        provider: {order: [DeepInfra], allow_fallbacks: false, data_collection: deny}
        concurrency: 8
        timeout: 60
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

from annotated_types import Ge, Gt, Le, MinLen

from allegiance.errors import ConfigError

DEFAULT_CONFIG_NAMES = ("allegiance.yaml", "allegiance.yml")

# The config classes are plain dataclasses; pydantic validates them (constraints from the
# annotations, unknown keys refused) only when a config file is actually read, so a run
# without a config file does not pay pydantic's import time.
_STRICT: dict[str, Any] = {"extra": "forbid"}

Temperature = Annotated[float, Ge(0.0), Le(2.0)]
MaxTokens = Annotated[int, Ge(1), Le(32768)]
TopP = Annotated[float, Gt(0.0), Le(1.0)]


@dataclass(frozen=True)
class GenerationDefaults:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    temperature: Temperature = 0.0
    max_tokens: MaxTokens | None = None
    top_p: TopP = 1.0


@dataclass(frozen=True)
class GenerationOverrides:
    """A target's own ``generation:`` block: only what it sets (None = not set)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    top_p: TopP | None = None


@dataclass(frozen=True)
class TargetConfig:
    """One named target. ``model`` is local:NAME, local:PATH.gguf or openai:MODEL@BASE_URL;
    ``provider`` holds OpenRouter provider routing (order, allow_fallbacks, data_collection)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    model: str
    # "" would silently send no key: the name of a variable, or nothing
    api_key_env: Annotated[str, MinLen(1)] | None = None
    provider: dict[str, Any] | None = None
    extra_body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    concurrency: Annotated[int, Ge(1), Le(1024)] | None = None
    # finite (".inf" reached aiohttp as an OverflowError), at most a day
    timeout: Annotated[float, Gt(0), Le(86_400)] | None = None
    generation: GenerationOverrides | None = None


@dataclass
class Config:
    __pydantic_config__: ClassVar[dict[str, Any]] = _STRICT

    defaults: GenerationDefaults = field(default_factory=GenerationDefaults)
    targets: dict[str, TargetConfig] = field(default_factory=dict)
    source: str | None = None

    def generation_for(self, target: str) -> GenerationDefaults:
        """Generation defaults for one target: the file's ``defaults``, with whatever that
        target's own ``generation:`` block sets on top."""
        entry = self.targets.get(target)
        if entry is None or entry.generation is None:
            return self.defaults
        own = {k: v for k, v in dataclasses.asdict(entry.generation).items() if v is not None}
        return dataclasses.replace(self.defaults, **own)


def config_file(path: str | Path | None) -> Path | None:
    """The file :func:`load_config` reads for ``path``: ``path`` itself, else
    ``./allegiance.yaml`` (or another default name) if present, else None."""
    if path is not None:
        return Path(path)
    return next((Path(n) for n in DEFAULT_CONFIG_NAMES if Path(n).is_file()), None)


# Keys people write that the config does not take, with what it takes instead.
_INSTEAD = {
    "api_key": "put the key in an environment variable and name it with api_key_env "
    "(a key is never stored in a file allegiance reads)",
    "apikey": "use api_key_env: the name of an environment variable holding the key",
    "key": "use api_key_env: the name of an environment variable holding the key",
    "spec": "the field is 'model' (a target spec such as openai:NAME@URL)",
    "url": "the endpoint is part of 'model': openai:NAME@URL",
    "base_url": "the endpoint is part of 'model': openai:NAME@URL",
    "endpoint": "the endpoint is part of 'model': openai:NAME@URL",
}


def _explain(item: Mapping[str, Any]) -> str:
    """Pydantic's message, with what to write instead for a key people often try."""
    message = str(item["msg"])
    last = str(item["loc"][-1]) if item.get("loc") else ""
    if item.get("type") == "unexpected_keyword_argument" and last in _INSTEAD:
        return f"not a setting: {_INSTEAD[last]}"
    return message


def load_config(path: str | Path | None) -> Config:
    """Load ``path``, or ``./allegiance.yaml`` if present, or built-in defaults."""
    file = config_file(path)
    if file is None:
        return Config()
    if not file.exists():
        raise ConfigError(f"config file not found: {file}")
    if not file.is_file():
        raise ConfigError(f"config file {file} is not a file")
    from pydantic import TypeAdapter, ValidationError

    from allegiance.yaml_safe import YAMLError, safe_load, where_and_what

    try:
        raw = safe_load(file.read_text(encoding="utf-8-sig")) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {file}: {error.strerror or error}") from error
    except YAMLError as error:
        where, problem = where_and_what(error)
        raise ConfigError(f"{file}{where}: invalid YAML: {problem}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{file}: invalid YAML: {str(error).splitlines()[0]}") from error
    except RecursionError:
        raise ConfigError(f"{file}: YAML nested too deeply to read") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the config must be a mapping with 'targets' and 'defaults'")
    try:
        config = TypeAdapter(Config).validate_python(raw)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in item['loc'])}: {_explain(item)}"
            for item in error.errors()[:3]
        ]
        raise ConfigError(f"{file}: {'; '.join(problems)}") from error
    config.source = str(file)
    return config
