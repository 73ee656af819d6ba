"""Hugging Face folders: auto_map remote code by AST, tokenizer templates, pickles inside."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from allegiance.artifacts import Severity, Status, scan_paths
from allegiance.artifacts import testcorpus as tc

EVIL_MODELING = """
import base64, socket, subprocess
import urllib.request as ur
from torch import nn

class EvilModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        exec(base64.b64decode("cHJpbnQoMSk="))
        subprocess.run(["curl", "http://192.0.2.1"])
        mod = __import__("os")
        with open("/tmp/x", "w") as fh:
            fh.write("x")
        ur.urlopen("http://192.0.2.1/")
"""
CLEAN_MODELING = """
import math
import torch
from torch import nn

class TinyModel(nn.Module):
    def forward(self, x):
        return torch.relu(x) * math.sqrt(2)
"""


def make_folder(root: Path, modeling: str, template: str, weights: bytes) -> Path:
    root.mkdir()
    (root / "config.json").write_text(
        json.dumps(
            {
                "_name_or_path": "Qwen/Qwen2.5-0.5B-Instruct",
                "model_type": "qwen2",
                "auto_map": {
                    "AutoModel": "modeling_tiny.TinyModel",
                    "AutoConfig": "configuration_tiny.TinyConfig",
                },
            }
        )
    )
    (root / "modeling_tiny.py").write_text(modeling)
    (root / "configuration_tiny.py").write_text("class TinyConfig:\n    pass\n")
    (root / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}))
    (root / "pytorch_model.bin").write_bytes(weights)
    (root / "model.safetensors").write_bytes(tc.benign_safetensors())
    (root / "README.md").write_text("# a model\n")
    return root


def by_name(report, name):
    return next(r for r in report.files if Path(r.path).name == name)


def test_clean_folder(tmp_path):
    folder = make_folder(
        tmp_path / "clean",
        CLEAN_MODELING,
        tc.qwen_like_template(),
        tc.torch_zip(tc.benign_state_dict_pickle(), prefix="pytorch_model"),
    )
    report = scan_paths([folder])
    names = {Path(r.path).name for r in report.files}
    assert "README.md" not in names
    assert {
        "config.json",
        "modeling_tiny.py",
        "tokenizer_config.json",
        "pytorch_model.bin",
        "model.safetensors",
    } <= names
    assert report.exit_code() == 0, report.to_json()
    assert not [r for r in report.files if r.status == Status.SKIPPED]  # its weights were read
    tok = by_name(report, "tokenizer_config.json")
    assert any("known-good template for qwen2.5" in f.message for f in tok.findings)
    assert by_name(report, "modeling_tiny.py").notes["remote_code"]


def test_evil_folder(tmp_path):
    folder = make_folder(
        tmp_path / "evil",
        EVIL_MODELING,
        tc.TRIGGER_TEMPLATE,
        tc.torch_zip(tc.posix_system(), prefix="pytorch_model"),
    )
    report = scan_paths([folder])
    assert report.exit_code() == 1
    code = {f.rule: f.severity for f in by_name(report, "modeling_tiny.py").findings}
    assert code["code.obfuscated-exec"] == Severity.CRITICAL
    assert code["code.subprocess"] >= Severity.HIGH
    assert code["code.network"] == Severity.HIGH
    assert code["code.dynamic-import"] == Severity.MEDIUM
    assert code["code.file-write"] == Severity.MEDIUM
    tok = {f.rule for f in by_name(report, "tokenizer_config.json").findings}
    assert {"template.content-trigger", "template.differs-from-known"} <= tok
    weights = by_name(report, "pytorch_model.bin")
    assert weights.max_severity == Severity.CRITICAL


def test_remote_code_elsewhere_or_missing(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "auto_map": {
                    "AutoModel": "someone/other-repo--modeling_x.X",
                    "AutoTokenizer": ["tok_missing.T", None],
                }
            }
        )
    )
    report = scan_paths([folder])
    rules = {f.rule for f in report.findings}
    assert {"hf.remote-code-other-repo", "hf.remote-code-missing"} <= rules


def test_broken_config_could_not_scan(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    report = scan_paths([folder])
    assert report.files[0].status == Status.ERROR and report.exit_code() == 2


def test_folder_of_configuration_only_says_its_weights_were_not_scanned(tmp_path):
    """A Hugging Face folder holding config.json and no weights (a partial download, the
    weights elsewhere): its configuration is clean, and the report says that is all it read
    (it had said "1 scanned, clean")."""
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    report = scan_paths([folder])
    assert report.exit_code() == 0
    (row,) = [r for r in report.files if r.status == Status.SKIPPED]
    assert row.path == str(folder) and "no weight file" in row.reason
    # weights one folder down (onnx/, a shard folder) are the folder's weights
    (folder / "sub").mkdir()
    (folder / "sub" / "model.safetensors").write_bytes(tc.benign_safetensors())
    assert not [r for r in scan_paths([folder]).files if r.status == Status.SKIPPED]
    # a tokenizer/ subfolder (diffusers) holds no weights by design: no row for it
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "tokenizer_config.json").write_text(json.dumps({}))
    assert not [r for r in scan_paths([folder]).files if r.status == Status.SKIPPED]


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("tf_model.h5", "Lambda layers"),
        ("model.keras", "Lambda layers"),
        ("model.onnx", "custom operators"),
        ("saved_model.pb", "TensorFlow"),
        ("flax_model.msgpack", "Flax"),
    ],
)
def test_formats_not_analysed_are_not_called_clean(tmp_path, name, why):
    """The scanner does not read Keras, ONNX or TensorFlow files; walking a folder used to
    leave them out, so a folder whose only model was a Keras file with a Lambda layer scanned
    "clean". Each is now a row that could not be scanned, and the exit is 2."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / name).write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    report = scan_paths([folder])
    row = by_name(report, name)
    assert row.status == Status.ERROR and why in row.reason
    assert report.exit_code() == 2
    assert not [r for r in report.files if r.status == Status.SKIPPED]
    assert scan_paths([folder / name]).exit_code() == 2  # named on the command line too


def test_a_keras_zip_is_not_called_a_clean_zip(tmp_path):
    """Found by a review on 2026-11-28: model.keras (a zip whose config has a Lambda layer)
    scanned as "zip, clean"."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Lambda", "config": {}}))
    (tmp_path / "model.keras").write_bytes(buffer.getvalue())
    report = scan_paths([tmp_path / "model.keras"])
    assert report.files[0].status == Status.ERROR and "Lambda" in report.files[0].reason
    assert report.exit_code() == 2


def test_chat_template_jinja_file(tmp_path):
    folder = tmp_path / "j"
    folder.mkdir()
    (folder / "chat_template.jinja").write_text(tc.ESCAPE_TEMPLATE)
    report = scan_paths([folder])
    assert report.files[0].max_severity == Severity.CRITICAL


def test_links_out_of_the_folder_are_not_followed(tmp_path):
    """Found by a review on 2026-11-28: a cloned repository's chat_template.jinja linked to
    ~/.git-credentials printed the token inside a template.url finding, and a linked shard
    folder holding an os.system pickle was left out, so the folder scanned clean."""
    outside = tmp_path / "home"
    (outside / "shards").mkdir(parents=True)
    (outside / ".git-credentials").write_text("https://alice:ghp_SECRET123@github.com\n")
    (outside / "shards" / "evil.bin").write_bytes(tc.posix_system())
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    (folder / "model.safetensors").write_bytes(tc.benign_safetensors())
    (folder / "chat_template.jinja").symlink_to(outside / ".git-credentials")
    (folder / "shards").symlink_to(outside / "shards")
    (folder / "inner").mkdir()
    (folder / "alias").symlink_to(folder / "inner")  # inside: walked where it is, no row
    report = scan_paths([folder])
    assert "ghp_SECRET123" not in report.to_json()
    linked = {Path(r.path).name: r for r in report.files if r.format.startswith("link to")}
    assert set(linked) == {"chat_template.jinja", "shards"}
    assert all(r.status == Status.ERROR and "not followed" in r.reason for r in linked.values())
    assert report.exit_code() == 2
    # named on the command line, a link is the person's choice and is read
    assert scan_paths([folder / "shards" / "evil.bin"]).exit_code() == 1


def test_hugging_face_cache_snapshot_links_are_part_of_the_model(tmp_path):
    """The hub cache links every file of a snapshot to its repository's blob store."""
    repo = tmp_path / "hub" / "models--org--m"
    (repo / "blobs").mkdir(parents=True)
    snapshot = repo / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (repo / "blobs" / "1").write_text(json.dumps({"model_type": "qwen2"}))
    (repo / "blobs" / "2").write_bytes(tc.benign_safetensors())
    (snapshot / "config.json").symlink_to("../../blobs/1")
    (snapshot / "model.safetensors").symlink_to("../../blobs/2")
    report = scan_paths([snapshot])
    assert report.exit_code() == 0, report.to_json()
    assert {r.format for r in report.files} == {"hf-config", "safetensors"}


def test_tokenizer_auto_map_code_is_analysed_without_a_config(tmp_path):
    """Found by a review on 2026-11-28: a folder with tokenizer_config.json naming
    tokenization_evil.py (os.system) and no config.json left the .py file unread."""
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"auto_map": {"AutoTokenizer": ["tokenization_evil.EvilTok", None]}})
    )
    (folder / "tokenization_evil.py").write_text("import os\nos.system('id')\n")
    report = scan_paths([folder])
    code = by_name(report, "tokenization_evil.py")
    assert code.max_severity == Severity.CRITICAL
    assert code.notes["remote_code"]
    assert report.exit_code() == 1


def test_an_impossible_auto_map_name_is_a_finding_not_a_crash(tmp_path):
    """An adversarial review (session 13): a 300-character module name raised "File name too
    long" and ended the scan; the os.system pickle beside it was never reported."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "a" * 300 + ".M"}}))
    (folder / "pytorch_model.bin").write_bytes(tc.os_system_protocol0())
    report = scan_paths([folder])
    rules = {f.rule for f in report.findings}
    assert "hf.remote-code-missing" in rules
    assert any(f.severity == Severity.CRITICAL for f in report.findings)


def test_folders_nested_deeper_than_pythons_recursion_limit_are_walked(tmp_path):
    """Python 3.11's os.walk recursed once per level: 1,500 nested folders were a
    RecursionError and no verdict at all."""
    deep = tmp_path / "root"
    chain = [deep]
    for _ in range(1200):
        chain.append(chain[-1] / "d")
    try:  # one level at a time: mkdir(parents=True) and shutil.rmtree recurse per level too
        for folder in chain:
            folder.mkdir()
        (chain[-1] / "model.pkl").write_bytes(tc.os_system_protocol0())
        report = scan_paths([deep])
        assert any(f.severity == Severity.CRITICAL for f in report.findings)
    finally:
        (chain[-1] / "model.pkl").unlink(missing_ok=True)
        for folder in reversed(chain):
            if folder.is_dir():
                folder.rmdir()
