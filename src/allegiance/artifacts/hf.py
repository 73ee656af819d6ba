"""Hugging Face model folders: what ``trust_remote_code`` would run, and the chat template.

``config.json``'s ``auto_map`` names the Python modules that ``from_pretrained(...,
trust_remote_code=True)`` imports; those files are analysed by AST, never imported.
``tokenizer_config.json``'s ``chat_template`` (or ``chat_template.jinja``) goes through the
same template analysis as GGUF templates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from allegiance.artifacts.findings import FileResult, Severity
from allegiance.artifacts.limits import DEFAULT_LIMITS, Limits
from allegiance.artifacts.template import analyse_template, family_hint


def read_json(path: Path, result: FileResult, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Load a small JSON config, or record why not (None)."""
    size = path.stat().st_size
    if size > limits.json_file_max_bytes:
        result.fail(f"{path.name} is {size} bytes, over the {limits.json_file_max_bytes} limit")
        return None
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError) as error:  # also an integer of 5,000 digits
        result.fail(f"{path.name} is not valid JSON: {str(error)[:120]}")
        return None


def auto_map_modules(auto_map: Any) -> list[str]:
    """``{"AutoModel": "modeling_x.XModel", "AutoTokenizer": [slow, fast]}`` -> references."""
    refs: list[str] = []
    if not isinstance(auto_map, dict):
        return refs
    for value in auto_map.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and item:
                refs.append(item)
    return refs


def scan_auto_map(folder: Path, config: dict[str, Any], result: FileResult) -> set[Path]:
    """Record the remote code a config pulls in; return local files to analyse as such."""
    local: set[Path] = set()
    refs = auto_map_modules(config.get("auto_map"))
    for ref in refs:
        repo, sep, target = ref.rpartition("--")
        module = target.rsplit(".", 1)[0] if "." in target else target
        where = f"auto_map {ref[:120]}"
        if sep:
            result.add(
                Severity.HIGH,
                "hf.remote-code-other-repo",
                f"trust_remote_code would download and run {module}.py from another "
                f"repository ({repo[:80]}), which is not here to scan",
                where,
            )
            continue
        path = folder / (module.replace(".", "/") + ".py")
        if not _is_file(path):
            result.add(
                Severity.HIGH,
                "hf.remote-code-missing",
                f"auto_map refers to {path.name}, which is not in the folder: "
                "it would be fetched at load time and cannot be scanned",
                where,
            )
            continue
        local.add(path.resolve())
        result.add(
            Severity.INFO, "hf.remote-code", f"trust_remote_code would import {path.name}", where
        )
    return local


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name the system refuses: a 300-character module name
    in ``auto_map`` raised "File name too long" and ended the scan (session 13)."""
    try:
        return path.is_file()
    except OSError:
        return False


def family_from_config(config: Any) -> str | None:
    if not isinstance(config, dict):
        return None
    hints = " ".join(
        str(config.get(k, "")) for k in ("_name_or_path", "name_or_path", "model_type")
    )
    return family_hint(hints)


def scan_tokenizer_config(path: Path, result: FileResult, family: str | None) -> None:
    """Analyse the chat template(s) in ``tokenizer_config.json``."""
    data = read_json(path, result)
    if not isinstance(data, dict):
        return
    family = family or family_from_config(data)
    template = data.get("chat_template")
    if isinstance(template, str):
        analyse_template(template, result, "chat_template", family)
    elif isinstance(template, list):
        for entry in template:
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                name = str(entry.get("name", "?"))[:60]
                analyse_template(entry["template"], result, f"chat_template[{name}]", family)
    scan_auto_map(path.parent, data, result)
