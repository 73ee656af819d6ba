"""Pickle scanning: every published bypass in the corpus is caught, benign files are clean,
and nothing is ever unpickled."""

from __future__ import annotations

import pickle
import pickletools
import struct

import pytest
from scan_helpers import messages, rules, worst

from allegiance.artifacts import Severity, Status, scan_paths
from allegiance.artifacts import testcorpus as tc

MALICIOUS = tc.malicious_pickle_samples()
BENIGN = tc.benign_pickle_samples()


@pytest.mark.parametrize("sample", MALICIOUS, ids=lambda s: s.name)
def test_every_malicious_sample_is_flagged_high(sample, scan_bytes):
    result = scan_bytes(sample.data, sample.name)
    assert worst(result) is not None and worst(result) >= Severity.HIGH, messages(result)


@pytest.mark.parametrize("sample", BENIGN, ids=lambda s: s.name)
def test_benign_samples_have_no_findings(sample, scan_bytes):
    result = scan_bytes(sample.data, sample.name)
    assert result.status == Status.SCANNED, result.reason
    assert not [f for f in result.findings if f.severity > Severity.INFO], messages(result)
    assert result.sha256 and len(result.sha256) == 64


@pytest.mark.parametrize(
    "sample",
    [s for s in MALICIOUS if s.name.endswith(".pkl") and s.name != "payload_then_garbage.pkl"],
    ids=lambda s: s.name,
)
def test_builders_make_valid_pickles(sample):
    """pickletools (which only decodes) accepts every raw sample: they are real pickles."""
    ops = list(pickletools.genops(sample.data))
    assert ops[-1][0].name == "STOP"


def test_scanner_never_unpickles(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("the scanner must not unpickle")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    monkeypatch.setattr(pickle, "_Unpickler", refuse)
    mal, ben = tc.write_corpus(tmp_path)
    report = scan_paths([tmp_path])
    assert len(report.files) == len(mal) + len(ben)


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        (tc.memo_stack_global, "STACK_GLOBAL imports os.system"),
        (tc.memo_long_put_get, "STACK_GLOBAL imports subprocess.check_output"),
        (tc.getattr_import_chain, "REDUCE calls os.system, resolved at load time"),
        (tc.importlib_chain, "getattr reaches subprocess.getoutput"),
        (tc.operator_attrgetter, "operator.attrgetter reaches os.system"),
        (tc.operator_methodcaller, "operator.methodcaller reaches os.system"),
        (tc.functools_reduce_getattr, "functools.reduce(getattr) reaches os.system"),
        (tc.numpy_reexport_os_system, "reached through numpy.testing._private.utils"),
        (tc.torch_serialization_reexport, "torch.serialization.os.system"),
        (tc.builtin_exec_py2_name, "builtins.exec"),
        (tc.posix_system, "imports os.system"),
        (tc.inst_opcode, "INST imports os.system"),
        (tc.newobj_ex_popen, "subprocess.Popen"),
        (tc.build_on_global, "BUILD on imported collections.OrderedDict"),
        (tc.ext_opcode, "EXT1 7"),
        (tc.dynamic_stack_global, "cannot be resolved statically"),
    ],
    ids=lambda v: getattr(v, "__name__", "")[:30],
)
def test_bypass_is_resolved_to_the_real_target(builder, expected, scan_bytes):
    result = scan_bytes(builder(), "x.pkl")
    assert expected in messages(result)


def test_nested_pickle_payload_is_scanned_inside(scan_bytes):
    for builder in (tc.nested_pickle_loads, tc.nested_via_codecs):
        result = scan_bytes(builder(), "nested.pkl")
        inner = [f for f in result.findings if "nested pickle" in f.location]
        assert any("os.system" in f.message and f.severity == Severity.CRITICAL for f in inner), (
            messages(result)
        )


def test_unknown_global_is_at_least_medium_and_review_is_low(scan_bytes):
    unknown = scan_bytes(tc.wrap(tc.call(tc.glob("mylib.models", "Thing"), b"")), "u.pkl")
    assert [(f.rule, f.severity) for f in unknown.findings] == [
        ("pickle.unknown-global", Severity.MEDIUM)
    ]
    review = scan_bytes(
        tc.wrap(tc.glob("torch.nn.modules.linear", "Linear") + tc.P.EMPTY_TUPLE + tc.P.NEWOBJ),
        "r.pkl",
    )
    assert [(f.rule, f.severity) for f in review.findings] == [
        ("pickle.review-global", Severity.LOW)
    ]


def test_dangerous_name_in_unknown_module_is_critical(scan_bytes):
    result = scan_bytes(tc.wrap(tc.call(tc.sglob("someutils", "system"), tc.ustr("id")), 4))
    assert worst(result) == Severity.CRITICAL


def test_payload_before_garbage_is_reported_and_marked_could_not_scan(scan_bytes):
    result = scan_bytes(tc.payload_then_garbage(), "g.pkl")
    assert result.status == Status.ERROR and "invalid opcode" in result.reason
    assert worst(result) == Severity.CRITICAL


def test_joblib_array_bytes_are_skipped_not_parsed(scan_bytes):
    # the inline array bytes spell "cos\nsystem\n": they must not be read as opcodes
    clean = scan_bytes(tc.joblib_like(), "m.joblib")
    assert clean.format == "joblib" and not clean.findings, messages(clean)
    evil = scan_bytes(
        tc.joblib_like(
            payload_after=tc.bstr("x") + tc.call(tc.glob("os", "system"), tc.bstr("id"))
        ),
        "e.joblib",
    )
    assert "GLOBAL imports os.system" in messages(evil)


def test_legacy_torch_stops_before_raw_storage(scan_bytes):
    result = scan_bytes(tc.torch_legacy(tc.benign_state_dict_pickle()), "legacy.bin")
    assert result.format == "pytorch-legacy" and result.status == Status.SCANNED
    assert not result.findings, messages(result)
    assert result.notes["pickle"]["streams"] == 5


def test_second_stream_and_trailing_bytes(scan_bytes):
    result = scan_bytes(tc.second_stream_payload(), "two.pkl")
    assert {"pickle.multiple-streams", "pickle.dangerous-global"} <= rules(result)
    trailing = scan_bytes(tc.benign_state_dict_pickle() + b"\x00" * 10, "t.pkl")
    assert rules(trailing) == {"pickle.trailing-data"}


def test_huge_declared_lengths_fail_fast(scan_bytes):
    data = tc.proto(4) + tc.P.BINUNICODE8 + struct.pack("<Q", 2**62) + b"abc"
    result = scan_bytes(data, "huge.pkl")
    assert result.status == Status.ERROR and "truncated" in result.reason


def test_npy_object_array_and_numeric(scan_bytes):
    evil = scan_bytes(tc.npy_object_array(tc.posix_system()), "o.npy")
    assert "npy.object-array" in rules(evil) and worst(evil) == Severity.CRITICAL
    clean = scan_bytes(tc.npy_float(), "f.npy")
    assert clean.status == Status.SCANNED and not clean.findings
    short = scan_bytes(tc.npy_float()[:-4], "s.npy")
    assert rules(short) == {"npy.size-mismatch"}


def test_real_numpy_object_array_file_is_clean(tmp_path):
    np = pytest.importorskip("numpy")
    path = tmp_path / "strings.npy"
    np.save(path, np.array(["a", {"b": 1}, None], dtype=object), allow_pickle=True)
    result = scan_paths([path]).files[0]
    assert result.status == Status.SCANNED
    assert [f.rule for f in result.findings] == ["npy.object-array"]


# --- bypasses found by a review on 2026-11-28 ---------------------------------------------


@pytest.mark.parametrize("descr", ["object", "object_", "|O", "<O8"])
def test_npy_object_dtype_in_any_spelling(scan_bytes, descr):
    """numpy reads 'object' as an object dtype too; only 'O…' was recognised."""
    evil = scan_bytes(tc.npy_object_array(tc.posix_system(), descr=descr), "o.npy")
    assert worst(evil) == Severity.CRITICAL, messages(evil)


@pytest.mark.parametrize("code", ["O8", "object", "O"])
def test_joblib_object_array_in_any_spelling(scan_bytes, code):
    evil = scan_bytes(
        tc.joblib_like(object_array_pickle=tc.posix_system(), object_code=code), "e.joblib"
    )
    assert worst(evil) == Severity.CRITICAL, messages(evil)


@pytest.mark.parametrize(
    ("name", "severity"),
    [("bltns.open", Severity.HIGH), ("bltns.delattr", Severity.CRITICAL),
     ("reduce", Severity.CRITICAL), ("bltns.dict.get", Severity.HIGH)],
)  # fmt: skip
def test_builtins_reached_through_enum_are_not_a_known_library_class(scan_bytes, name, severity):
    """`enum` imports builtins as `bltns` (and functools.reduce): "enum.*" once made
    "enum.bltns.open" a LOW "known ML library class"."""
    evil = scan_bytes(tc.wrap(tc.call(tc.sglob("enum", name), tc.bstr("/tmp/x")), 4), "e.pkl")
    assert worst(evil) is not None and worst(evil) >= severity, messages(evil)


def test_a_protocol_0_pickle_after_the_first_is_scanned(scan_bytes):
    """A second stream was looked for only when it began with a protocol header (0x80)."""
    evil = scan_bytes(tc.wrap(tc.binint(1)) + tc.os_system_protocol0(), "two.pkl")
    assert worst(evil) == Severity.CRITICAL and "pickle.multiple-streams" in rules(evil)


@pytest.mark.parametrize(
    ("module", "name", "severity"),
    [
        ("pandas.core.frame", "import_optional_dependency", Severity.CRITICAL),
        ("sklearn.utils._testing", "assert_run_python_script_without_output", Severity.CRITICAL),
        ("pandas.core.frame", "some_helper", Severity.MEDIUM),  # any function: not a class
        ("sklearn.utils._testing", "TempMemmap", Severity.MEDIUM),  # a test helper's class
    ],
)
def test_functions_under_a_reviewed_library_are_not_known_classes(
    scan_bytes, module, name, severity
):
    """Found by a review on 2026-11-28: "pandas.core.*" and "sklearn.*" made these LOW
    "known ML library class" findings, so a pickle calling pandas' import_module scanned
    clean."""
    evil = scan_bytes(tc.wrap(tc.call(tc.glob(module, name), tc.bstr("subprocess"))), "p.pkl")
    assert worst(evil) == severity, messages(evil)
    assert "pickle.review-global" not in rules(evil)


def test_library_classes_stay_low(scan_bytes):
    ok = scan_bytes(tc.wrap(tc.call(tc.glob("torch.nn.modules.linear", "Linear"), b"")), "l.pkl")
    assert worst(ok) == Severity.LOW and "pickle.review-global" in rules(ok)


SYSTEM = b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x04echo\x85R."


@pytest.mark.parametrize("suffix", ["gz", "bz2", "xz"])
def test_a_second_pickle_inside_a_compressed_file_is_read(tmp_path, suffix):
    """An adversarial review (session 13): the same bytes were CRITICAL raw and "clean" as
    .pkl.gz, since a decompressed stream cannot seek and the scan stopped at the first
    pickle; and a pickle split over two gzip members (gzip.open reads both) was "truncated"."""
    import bz2
    import gzip
    import lzma

    compress = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress}[suffix]
    one, two = tmp_path / f"one.pkl.{suffix}", tmp_path / f"two.pkl.{suffix}"
    split = tmp_path / f"split.pkl.{suffix}"
    one.write_bytes(compress(b"\x80\x04N." + SYSTEM))  # two pickles in one stream
    two.write_bytes(compress(b"\x80\x04N.") + compress(SYSTEM))  # two streams, as loaders read
    padding = b"\0" * (4 if suffix == "xz" else 3)
    split.write_bytes(compress(SYSTEM[:4]) + padding + compress(SYSTEM[4:]))
    report = scan_paths([one, two, split])
    for result in report.files:
        assert result.status == Status.SCANNED, result.reason
        assert worst(result) == Severity.CRITICAL and "pickle.dangerous-global" in rules(result)
    assert all("pickle.multiple-streams" in rules(r) for r in report.files[:2])
    # a clean pickle then junk that is no pickle: still clean, not a finding
    junk_file = tmp_path / f"junk.pkl.{suffix}"
    junk_file.write_bytes(compress(b"\x80\x04N." + b"\x80\xffjunk") + b"not a stream")
    (junk,) = scan_paths([junk_file]).files
    assert worst(junk) is None or worst(junk) < Severity.HIGH
