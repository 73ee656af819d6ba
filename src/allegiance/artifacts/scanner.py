"""Entry point: walk paths, recognise each file by its content, dispatch, hash.

Formats are recognised by their bytes, never trusted from the extension: a ``.bin`` may be
a zip or a pickle, and a ``.safetensors`` that is really a pickle is exactly the confusion
an attacker wants. Each file is hashed with a streaming sha256 so a report pins what was
scanned. No scanner is allowed to raise: every fault becomes a "could not scan" status.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from allegiance.artifacts.bytesource import CHUNK, ByteSource
from allegiance.artifacts.findings import FileResult, ScanReport, Severity, Status
from allegiance.artifacts.gguf import MAGIC as GGUF_MAGIC
from allegiance.artifacts.gguf import scan_gguf
from allegiance.artifacts.hf import (
    family_from_config,
    read_json,
    scan_auto_map,
    scan_tokenizer_config,
)
from allegiance.artifacts.limits import DEFAULT_LIMITS, Limits, ScanAbort
from allegiance.artifacts.npy import MAGIC as NPY_MAGIC
from allegiance.artifacts.npy import scan_npy_stream
from allegiance.artifacts.pickle_scan import scan_pickle_stream
from allegiance.artifacts.pycode import analyse_python
from allegiance.artifacts.safetensors import looks_like_safetensors, scan_safetensors
from allegiance.artifacts.streams import Inflate
from allegiance.artifacts.template import analyse_template
from allegiance.artifacts.zipscan import scan_zip

PICKLE_EXTS = {
    ".pkl",
    ".pickle",
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".joblib",
    ".dill",
    ".sav",
    ".p",
    ".pck",
    ".pkl3",
    ".mar",
    ".data",
    ".gz",
    ".z",
    ".bz2",
    ".xz",
    ".lzma",
}
# extensions that promise a format which cannot run code
INERT_EXTS = {
    ".safetensors": "safetensors",
    ".gguf": "gguf",
    ".json": "json",
    ".txt": "text",
    ".jinja": "text",
    ".md": "text",
    ".model": "sentencepiece",
    ".npy": "npy",
    ".npz": "zip",
    ".onnx": "onnx",
    ".h5": "hdf5",
    ".msgpack": "msgpack",
}
COMPRESSED = {"gzip": b"\x1f\x8b", "bz2": b"BZh", "xz": b"\xfd7zXZ\x00"}
# model formats this scanner does not read, and why that matters: such a file gets a "could
# not scan" row (exit 2), never silence, so a folder holding one is not called clean
UNANALYSED = {
    ".h5": "Keras/HDF5: a saved model's Lambda layers can run code when it is loaded",
    ".hdf5": "Keras/HDF5: a saved model's Lambda layers can run code when it is loaded",
    ".keras": "Keras: a saved model's Lambda layers can run code when it is loaded",
    ".onnx": "ONNX: custom operators and external-data paths are not checked",
    ".pb": "TensorFlow SavedModel: its graph can call file and network operations",
    ".tflite": "TensorFlow Lite: custom operators are not checked",
    ".mlmodel": "Core ML: not checked",
    ".msgpack": "Flax msgpack: not checked",
}
# formats that hold weights (an HF folder with none of these had only its configuration read)
WEIGHT_FORMATS = {"gguf", "safetensors", "zip", "npy", "pytorch-zip", "pytorch-legacy", "joblib"}


@dataclass
class FolderContext:
    """What the HF folder a file sits in tells us: model family and remote-code files."""

    family: str | None = None
    remote_code: set[Path] = field(default_factory=set)
    has_model_config: bool = False  # config.json, not only tokenizer_config.json
    is_hf: bool = False


def sniff(head: bytes, size: int) -> str:
    """Format from the first bytes: gguf, safetensors, zip, npy, pickle, compressed, or ''."""
    if head.startswith(GGUF_MAGIC):
        return "gguf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(NPY_MAGIC):
        return "npy"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pickle"
    for kind, magic in COMPRESSED.items():
        if head.startswith(magic):
            return kind
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    if looks_like_safetensors(head, size):
        return "safetensors"
    if head[:1] in (b"c", b"(", b"}", b"]", b"\x80", b"N", b"I"):
        return "pickle?"
    return ""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb", buffering=0) as f:
        buf = bytearray(CHUNK * 4)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                return digest.hexdigest()
            digest.update(view[:n])


def scan_file(
    path: Path,
    limits: Limits = DEFAULT_LIMITS,
    context: FolderContext | None = None,
    explicit: bool = True,
) -> FileResult | None:
    """Scan one file. Returns None for a non-artifact found while walking a folder."""
    result = FileResult(str(path))
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            # opening a named pipe would wait forever for a writer; a device never ends
            result.status = Status.SKIPPED
            result.reason = "not a regular file (pipe, socket or device): not read"
            return result
        size = info.st_size
        result.size = size
        with path.open("rb", buffering=CHUNK) as f:
            head = f.read(64)
            f.seek(0)
            handled = _dispatch(path, f, head, size, result, limits, context or FolderContext())
    except ScanAbort as error:
        result.fail(str(error))
        handled = True
    except OSError as error:
        result.fail(f"unreadable: {error.strerror or error}")
        return result
    except Exception as error:  # a scanner bug must not hide the other files' results
        result.fail(f"internal error ({type(error).__name__}: {str(error)[:120]})")
        handled = True
    if not handled:
        if not explicit:
            return None
        result.status = Status.SKIPPED
        result.reason = "not a recognised model artifact"
        return result
    try:
        result.sha256 = sha256_file(path)
    except OSError as error:
        result.fail(f"unreadable while hashing: {error.strerror or error}")
    return result


def _extension_check(path: Path, found: str, result: FileResult) -> None:
    claimed = INERT_EXTS.get(path.suffix.lower())
    if claimed and found in ("pickle", "zip", "pytorch-zip") and claimed != found:
        result.add(
            Severity.HIGH,
            "format.extension-mismatch",
            f"named {path.suffix} ({claimed}) but the content is a {found}: loaders that "
            "look at the content (torch.load, pickle) will execute it",
            "file",
        )
    elif path.suffix.lower() in {".bin", ".pt", ".pth", ".ckpt"} and found in ("pickle", "zip"):
        result.notes["detected_by_content"] = found


def _dispatch(
    path: Path,
    f: BinaryIO,
    head: bytes,
    size: int,
    result: FileResult,
    limits: Limits,
    context: FolderContext,
) -> bool:
    kind = sniff(head, size)
    name = path.name.lower()
    suffix = path.suffix.lower()
    if kind == "gguf":
        scan_gguf(f, size, result, limits)
        return True
    if kind == "safetensors":
        scan_safetensors(f, size, result, limits)
        return True
    if kind == "zip":
        result.format = "zip"
        scan_zip(f, result, limits)
        _extension_check(path, result.format, result)
        if suffix in UNANALYSED:  # a .keras file is a zip whose config can hold a Lambda
            result.fail(f"format not analysed by this scanner ({UNANALYSED[suffix]})")
        return True
    if kind == "npy":
        result.format = "npy"
        scan_npy_stream(ByteSource(f, size=size), result, "", limits)
        return True
    if kind == "pickle" or (kind == "pickle?" and suffix in PICKLE_EXTS):
        _scan_pickle_file(f, size, result, limits)
        _extension_check(path, "pickle", result)
        return True
    if kind in ("gzip", "bz2", "xz", "zlib") and (
        suffix in PICKLE_EXTS or ".pkl" in name or ".joblib" in name
    ):
        return _scan_compressed(f, kind, size, result, limits)
    if name == "config.json" or name == "tokenizer_config.json":
        return _scan_config(path, result, context)
    if suffix == ".jinja":
        result.format = "chat-template"
        if size > limits.template_max_chars * 4:
            result.fail(f"template file of {size} bytes is over the limit")
            return True
        analyse_template(
            path.read_bytes().decode("utf-8", "replace"), result, "template", context.family
        )
        return True
    if suffix == ".py" and (context.is_hf or path.resolve() in context.remote_code):
        result.format = "python"
        if size > limits.python_max_bytes:
            result.fail(f"Python file of {size} bytes is over the limit")
            return True
        if path.resolve() in context.remote_code:
            result.notes["remote_code"] = "imported by trust_remote_code via auto_map"
        analyse_python(path.read_bytes().decode("utf-8", "replace"), result, path.name)
        return True
    if suffix == ".py":
        return False
    if suffix == ".safetensors" and kind in ("", "pickle?"):
        scan_safetensors(f, size, result, limits)  # gives the precise reason it is invalid
        return True
    if kind == "pickle?" and _try_unnamed_pickle(f, size, result, limits):
        return True
    if suffix in PICKLE_EXTS or suffix in (".gguf", ".npy"):
        result.format = suffix.lstrip(".")
        result.fail(f"content is not a recognised {suffix} file (first bytes {head[:8]!r})")
        return True
    if suffix in UNANALYSED:
        result.format = suffix.lstrip(".")
        result.fail(f"format not analysed by this scanner ({UNANALYSED[suffix]})")
        return True
    return False


def _scan_pickle_file(f: BinaryIO, size: int, result: FileResult, limits: Limits) -> None:
    result.format = "pickle"
    scan_pickle_stream(ByteSource(f, size=size), result, "", limits)
    notes = result.notes.get("pickle", {})
    if notes.get("legacy_torch"):
        result.format = "pytorch-legacy"
    elif "joblib.numpy_pickle.NumpyArrayWrapper" in notes.get("globals", []):
        result.format = "joblib"


def _try_unnamed_pickle(f: BinaryIO, size: int, result: FileResult, limits: Limits) -> bool:
    """A file with no telling name that starts like a protocol-0/1 pickle."""
    probe = FileResult(result.path)
    scan_pickle_stream(ByteSource(f, size=size), probe, "", limits)
    if probe.status == Status.SCANNED or any(x.severity >= Severity.HIGH for x in probe.findings):
        result.format = "pickle"
        result.status, result.reason = probe.status, probe.reason
        result.findings, result.notes = probe.findings, probe.notes
        return True
    return False


def _scan_compressed(f: BinaryIO, kind: str, size: int, result: FileResult, limits: Limits) -> bool:
    """joblib's compressed files: inflate as a stream (capped) and scan the pickle inside."""
    result.format = f"{kind}-compressed"
    cap = max(64 * CHUNK, size * limits.zip_max_ratio)
    stream = io.BufferedReader(Inflate(f, kind, cap), CHUNK)  # type: ignore[arg-type]
    head = stream.peek(2)[:2]
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        result.format = f"pickle ({kind})"
        scan_pickle_stream(ByteSource(stream), result, f"{kind}: ", limits, expect_eof=False)
        return True
    result.fail(f"{kind} stream does not hold a pickle (starts {head!r})")
    return True


def _scan_config(path: Path, result: FileResult, context: FolderContext) -> bool:
    result.format = "hf-config"
    if path.name.lower() == "tokenizer_config.json":
        scan_tokenizer_config(path, result, context.family)
        return True
    data = read_json(path, result)
    if isinstance(data, dict):
        scan_auto_map(path.parent, data, result)
    return True


def folder_context(folder: Path) -> FolderContext:
    """Read ``config.json`` (if any) for the family, and it and ``tokenizer_config.json``
    for the local files their auto_map would import: a tokenizer-only folder's
    ``AutoTokenizer`` entry runs its ``tokenization_*.py`` under trust_remote_code too."""
    context = FolderContext()
    for name in ("config.json", "tokenizer_config.json"):
        config = folder / name
        if not config.is_file():
            continue
        context.is_hf = True
        context.has_model_config |= name == "config.json"
        data = read_json(config, FileResult(str(config)))
        if not isinstance(data, dict):
            continue
        if name == "config.json":
            context.family = family_from_config(data)
        context.remote_code |= scan_auto_map(folder, data, FileResult(str(config)))
    return context


def scan_paths(paths: Iterable[Path | str], limits: Limits = DEFAULT_LIMITS) -> ScanReport:
    """Scan files and folders (recursively) and return one report.

    Files named on the command line are always reported; files met while walking a folder
    are reported only if they are model artifacts (weights, pickles, templates, configs,
    and Python files of Hugging Face folders).
    """
    report = ScanReport()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            before = len(report.files)
            _scan_folder(path, report, limits)
            if len(report.files) == before:  # else the folder leaves no row: it looks passed
                report.files.append(
                    FileResult(
                        str(path),
                        format="folder",
                        status=Status.SKIPPED,
                        reason="folder with no model file",
                    )
                )
        elif path.exists() or path.is_symlink():
            parent = folder_context(path.parent)
            result = scan_file(path, limits, parent, explicit=True)
            if result is not None:
                report.files.append(result)
        else:
            report.files.append(
                FileResult(str(path), status=Status.ERROR, reason="no such file or directory")
            )
    return report


def _scan_folder(root: Path, report: ScanReport, limits: Limits) -> None:
    hf_folders: list[Path] = []
    results: list[FileResult] = []
    real_root = root.resolve()
    for here, dirs, files in _walk(root, results):
        context = folder_context(here)
        if context.has_model_config:  # a tokenizer/ subfolder holds no weights by design
            hf_folders.append(here)
        for name in dirs:
            link = here / name
            # os.walk does not descend into a linked folder: one inside is walked where it
            # is; for one outside, say so rather than leave its files out without a word
            if link.is_symlink() and not _inside(_resolved(link), real_root):
                results.append(_linked_away(link, "folder"))
        for name in sorted(files):
            path = here / name
            if path.is_symlink() and not path.exists():
                continue
            if path.is_symlink() and not _inside(_resolved(path), real_root):
                results.append(_linked_away(path, "file"))
                continue
            result = scan_file(path, limits, context, explicit=False)
            if result is not None:
                results.append(result)
    report.files.extend(results)
    weights = [Path(r.path) for r in results if _holds_weights(r)]
    for hf_folder in hf_folders:
        if not any(hf_folder in path.parents for path in weights):
            # its config and code were read, but "clean" must not suggest its weights were
            report.files.append(
                FileResult(
                    str(hf_folder),
                    format="folder",
                    status=Status.SKIPPED,
                    reason="Hugging Face folder with no weight file: only its configuration "
                    "and code were scanned",
                )
            )


_HUB_REPO = re.compile(r"^(models|datasets|spaces)--")


def _inside(target: Path, real_root: Path) -> bool:
    """Whether a link's target is part of what was asked to be scanned: inside the folder,
    or the blob store of the Hugging Face cache repository the folder is a snapshot of
    (``models--X/snapshots/REV/config.json -> ../../blobs/SHA``)."""
    if target.is_relative_to(real_root):
        return True
    return any(
        _HUB_REPO.match(folder.name) and target.is_relative_to(folder / "blobs")
        for folder in (real_root, *real_root.parents)
    )


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # a loop
        return Path("/nonexistent-link-loop")


def _walk(root: Path, results: list[FileResult]) -> Iterator[tuple[Path, list[str], list[str]]]:
    """``os.walk(root)`` top-down with sorted names, not into linked folders (they are in
    ``dirs``, as os.walk gives them), and without recursion: Python 3.11's os.walk recurses
    once per level, and 1,500 nested folders ended the scan with a RecursionError (an
    adversarial review, session 13). A folder that cannot be listed is a row that could not
    be scanned, not left out without a word."""
    stack = [root]
    while stack:
        here = stack.pop()
        try:
            with os.scandir(here) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
            folders = [e for e in entries if _is_dir(e)]
        except OSError as error:
            unread = FileResult(str(here), format="folder")
            unread.fail(f"could not list this folder: {error.strerror or error}")
            results.append(unread)
            continue
        names = {e.name for e in folders}
        yield here, [e.name for e in folders], [e.name for e in entries if e.name not in names]
        stack.extend(Path(e.path) for e in reversed(folders) if not e.is_symlink())


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # a link to a folder counts, as in os.walk
    except OSError:
        return False


def _linked_away(path: Path, what: str) -> FileResult:
    """A link out of the scanned folder is neither followed nor read: a cloned repository
    can point ``chat_template.jinja`` at ``~/.git-credentials``, and a finding quoting the
    "template" would print the token. It is a row that could not be scanned (exit 2), naming
    where it points, so the person can scan that place by name if it is meant."""
    result = FileResult(str(path), format=f"link to {what}")
    result.fail(
        f"a link to a {what} outside the scanned folder ({_resolved(path)}): not followed; "
        "scan that path by name if it is meant to be part of the model"
    )
    return result


def _holds_weights(result: FileResult) -> bool:
    """A weight file, scanned or not (one that could not be read has its own row)."""
    fmt = result.format or ""
    suffix = f".{fmt}"
    return (
        fmt in WEIGHT_FORMATS
        or fmt.startswith("pickle")
        or suffix in UNANALYSED
        or suffix in PICKLE_EXTS
    )
