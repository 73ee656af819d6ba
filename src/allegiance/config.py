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

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from allegiance.errors import ConfigError

DEFAULT_CONFIG_NAMES = ("allegiance.yaml", "allegiance.yml")


class GenerationDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, ge=1, le=32768)
    top_p: float = Field(1.0, gt=0.0, le=1.0)


class TargetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="local:NAME, local:PATH.gguf or openai:MODEL@BASE_URL")
    api_key_env: str | None = None
    provider: dict[str, Any] | None = Field(
        None, description="OpenRouter provider routing: order, allow_fallbacks, data_collection"
    )
    extra_body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    concurrency: int | None = Field(None, ge=1, le=1024)
    timeout: float | None = Field(None, gt=0)
    generation: GenerationDefaults | None = None


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: GenerationDefaults = GenerationDefaults()
    targets: dict[str, TargetConfig] = {}
    source: str | None = None

    def generation_for(self, target: str) -> GenerationDefaults:
        """Generation defaults for one target: the file's ``defaults``, with whatever that
        target's own ``generation:`` block sets on top."""
        entry = self.targets.get(target)
        if entry is None or entry.generation is None:
            return self.defaults
        own = entry.generation
        return self.defaults.model_copy(
            update={name: getattr(own, name) for name in own.model_fields_set}
        )


def load_config(path: str | Path | None) -> Config:
    """Load ``path``, or ``./allegiance.yaml`` if present, or built-in defaults."""
    if path is None:
        for name in DEFAULT_CONFIG_NAMES:
            if Path(name).is_file():
                path = name
                break
        else:
            return Config()
    file = Path(path)
    if not file.exists():
        raise ConfigError(f"config file not found: {file}")
    if not file.is_file():
        raise ConfigError(f"config file {file} is not a file")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8-sig")) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config file {file}: {error.strerror or error}") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: invalid YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: the config must be a mapping with 'targets' and 'defaults'")
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()[:3]
        ]
        raise ConfigError(f"{file}: {'; '.join(problems)}") from error
    config.source = str(file)
    return config
