"""Model-file trust scan: pickles, PyTorch zips, safetensors, GGUF, Hugging Face folders.

Nothing scanned is ever deserialised, imported, rendered or executed: pickles are walked
opcode by opcode in a symbolic machine, templates are parsed into an AST, Python files are
parsed with :mod:`ast`. Use :func:`scan_paths`::

    from allegiance.artifacts import scan_paths
    report = scan_paths([Path("model.gguf")])
    if report.exit_code() != 0:
        print(report.summary())
"""

from allegiance.artifacts.findings import FileResult, Finding, ScanReport, Severity, Status
from allegiance.artifacts.limits import Limits
from allegiance.artifacts.scanner import scan_file, scan_paths

__all__ = [
    "FileResult",
    "Finding",
    "Limits",
    "ScanReport",
    "Severity",
    "Status",
    "scan_file",
    "scan_paths",
]
