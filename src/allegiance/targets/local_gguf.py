"""GGUF models in-process, through llama.cpp's own server code (xllamacpp).

Why xllamacpp rather than llama-cpp-python: both run the same llama.cpp kernels at the
same speed here (55–64 tokens/s for the 0.5B model on 2 cores), but xllamacpp installs as
a 34 MB prebuilt wheel in seconds while llama-cpp-python compiles for about 4 minutes, and
xllamacpp applies the GGUF's chat template exactly as ``llama-server`` does. The runtime is
imported lazily, so nothing but a local target pays for it.

Requests run one at a time on a worker thread (``n_parallel=1``): on 2 cores parallel
slots added only ~9 % throughput, and one slot keeps greedy answers reproducible.
"""

from __future__ import annotations

import asyncio
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from allegiance.errors import ModelFileError, TargetError
from allegiance.targets.base import ChatRequest, ChatResponse, TargetCallError
from allegiance.targets.embedded import sha256_file

GGUF_MAGIC = b"GGUF"
# One generation at a time across *all* local models in this process: two models decoding
# at once on the same cores are each more than twice as slow (they fight for the caches).
_CPU = threading.Lock()


def runtime_version() -> str:
    try:
        return f"xllamacpp {metadata.version('xllamacpp')}"
    except metadata.PackageNotFoundError:
        return "xllamacpp (not installed)"


class LocalGGUFTarget:
    """A GGUF file run in this process."""

    def __init__(
        self,
        name: str,
        path: Path,
        *,
        sha256: str | None = None,
        catalogue_name: str | None = None,
        artifact_scan: str | None = None,
        n_ctx: int = 2048,
        threads: int | None = None,
    ):
        self.name = name
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFileError(f"model file not found: {self.path}")
        with self.path.open("rb") as handle:
            magic = handle.read(4)
        if magic != GGUF_MAGIC:
            raise ModelFileError(f"{self.path} is not a GGUF file (bad magic {magic!r})")
        self.sha256 = sha256 or sha256_file(self.path)
        self.catalogue_name = catalogue_name
        self.n_ctx = n_ctx
        self.threads = threads or min(4, max(1, _cpu_count()))
        self._server: Any = None
        self._load_lock = threading.Lock()
        # the artifact scan of the file as one line, for the run's report
        self.artifact_scan = artifact_scan
        # One request at a time: llama.cpp runs a single slot here (see module docstring).
        self.max_concurrency = 1

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {
            "kind": "local",
            "sha256": self.sha256,
            "size": self.path.stat().st_size,
            "runtime": runtime_version(),
            "n_ctx": self.n_ctx,
            "chat_template": "from GGUF metadata",
        }
        if self.catalogue_name:
            identity["embedded"] = self.catalogue_name
        return identity

    def _load(self) -> Any:
        with self._load_lock:
            if self._server is not None:
                return self._server
            try:
                import xllamacpp
            except ImportError as error:
                raise TargetError(
                    "local models need the llama.cpp runtime: pip install 'allegiance[local]'"
                ) from error
            params = xllamacpp.CommonParams()
            params.model.path = str(self.path)
            params.n_ctx = self.n_ctx
            params.n_parallel = 1
            params.cpuparams.n_threads = self.threads
            params.cpuparams_batch.n_threads = self.threads
            params.warmup = False
            params.verbosity = -1
            try:
                self._server = xllamacpp.Server(params)
            except Exception as error:  # the runtime raises plain RuntimeError/ValueError
                raise ModelFileError(f"llama.cpp could not load {self.path}: {error}") from error
            return self._server

    def _complete_sync(self, request: ChatRequest) -> ChatResponse:
        server = self._load()
        body = request.as_dict()
        try:
            with _CPU:
                data = server.handle_chat_completions(body)
        except Exception as error:
            raise TargetCallError(f"llama.cpp error: {error}", transient=False) from error
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            message = data.get("error", data) if isinstance(data, dict) else data
            raise TargetCallError(f"llama.cpp error: {str(message)[:300]}", transient=False)
        choice = choices[0]
        usage = data.get("usage") or {}
        data.pop("model", None)  # the runtime echoes the file path; identity() has the hash
        return ChatResponse(
            text=str((choice.get("message") or {}).get("content") or ""),
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            model_reported=self.catalogue_name or self.path.name,
            provider="local",
            system_fingerprint=data.get("system_fingerprint"),
            raw=data,
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await asyncio.to_thread(self._complete_sync, request)

    def warm(self) -> None:
        """Load the model now (so load errors surface before a run starts)."""
        self._load()

    async def aclose(self) -> None:
        self._server = None


def _cpu_count() -> int:
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
