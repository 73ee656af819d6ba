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
