"""The YAML loader: libyaml and the pure-Python parser read every bundled file alike, and
neither builds objects from tags."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import yaml

from allegiance import yaml_safe

SRC = Path(str(resources.files("allegiance")))
BUNDLED = sorted(SRC.rglob("*.yaml"))


def test_every_bundled_file_is_found() -> None:
    names = {p.name for p in BUNDLED}
    assert {"censorship.yaml", "en.yaml", "python.yaml", "pickle_globals.yaml"} <= names


@pytest.mark.skipif(not yaml_safe.uses_libyaml(), reason="this PyYAML has no libyaml")
@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(SRC)))
def test_libyaml_reads_bundled_data_as_the_python_parser_does(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert yaml_safe.safe_load(text) == yaml.safe_load(text)


@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_tags_that_build_objects_are_refused(
    loader: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if loader == "libyaml" and not yaml_safe.uses_libyaml():
        pytest.skip("this PyYAML has no libyaml")
    if loader == "python":
        monkeypatch.setattr(yaml_safe, "_LOADER", yaml.SafeLoader)
    marker = tmp_path / "pwned"
    text = f"!!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(yaml_safe.YAMLError, match="could not determine a constructor"):
        yaml_safe.safe_load(text)
    assert not marker.exists()
    assert yaml_safe.safe_load("") is None
    assert yaml_safe.safe_load("a: [1, 2.5, x]") == {"a": [1, 2.5, "x"]}


LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize("loader", ["libyaml", "python"])
def test_aliases_that_expand_without_limit_or_loop_are_refused(
    loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adversarial review (session 13): a 1 KB suite of aliases nine deep loaded in a
    blink, then took 9 GB and crashed the run that stored it; one that contains itself
    crashed `suites` with a traceback."""
    if loader == "libyaml" and not yaml_safe.uses_libyaml():
        pytest.skip("this PyYAML has no libyaml")
    if loader == "python":
        monkeypatch.setattr(yaml_safe, "_LOADER", yaml.SafeLoader)
    with pytest.raises(yaml_safe.YAMLError, match="expands to more than 20,000,000 values"):
        yaml_safe.safe_load(LAUGHS)
    with pytest.raises(yaml_safe.YAMLError, match="contains itself"):
        yaml_safe.safe_load("a: &a [1, *a]\n")
    # !!pairs and !!omap build tuples, which aliases repeat too (a code review, session 13)
    pairs = "a: &a !!pairs [k: [lol, lol, lol, lol, lol, lol, lol, lol, lol]]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} !!pairs [{', '.join(['k: *' + chr(97 + i)] * 9)}]\n"
        for i in range(8)
    )
    with pytest.raises(yaml_safe.YAMLError, match="expands to more than"):
        yaml_safe.safe_load(pairs)
    with pytest.raises(yaml_safe.YAMLError, match="contains itself"):
        yaml_safe.safe_load("x: &a !!pairs [k: *a]\n")
    # anchors used as they are meant to be used are read
    shared = yaml_safe.safe_load("base: &b {x: 1}\none: *b\ntwo: *b\n")
    assert shared == {"base": {"x": 1}, "one": {"x": 1}, "two": {"x": 1}}


def test_a_suite_or_config_bomb_is_one_error_line(tmp_path: Path) -> None:
    from tests.conftest import cli

    (tmp_path / "bomb.yaml").write_text("name: b\nprobes:\n- id: p\n  prompt: hi\n  tags:\n"
                                        + "".join("    " + line + "\n" for line in LAUGHS.splitlines()))  # fmt: skip
    result = cli("suites", "bomb.yaml", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().endswith(
        "through its aliases (anchors repeated inside anchors): refused"
    )
    (tmp_path / "allegiance.yaml").write_text("targets: &t\n  a: {model: m, extra_body: *t}\n")
    result = cli("models", cwd=tmp_path)
    assert result.returncode == 2 and "contains itself" in result.stderr
