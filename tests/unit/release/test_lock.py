"""The lock files: every install reads them, so they must be complete, hashed and agree."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
LOCKS = REPO / "requirements"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", re.M)


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~\[;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(file: str) -> dict[str, str]:
    text = (LOCKS / file).read_text()
    return {m.group(1).lower().replace("_", "-"): m.group(3) for m in PIN.finditer(text)}


def _project() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]  # type: ignore[no-any-return]


def test_every_pin_carries_hashes() -> None:
    for file in ("dev.txt", "build.txt", "operator.txt", "runner.txt", "console.txt"):
        text = (LOCKS / file).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        for entry in entries:
            if PIN.match(entry):
                assert "--hash=sha256:" in entry, (file, entry.splitlines()[0])


def test_each_image_lock_holds_its_extra_and_the_base_dependencies() -> None:
    project = _project()
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    base = [_name(r) for r in project["dependencies"]]  # type: ignore[attr-defined]
    for extra in ("operator", "runner", "console"):
        pins = _pins(f"{extra}.txt")
        own = [_name(r) for r in extras[extra] if not r.startswith("agent-orchestrator")]
        for name in base + own:
            assert name in pins, f"{name} is missing from requirements/{extra}.txt: run make lock"
    assert "anthropic" not in _pins("operator.txt")
    assert "kubernetes" not in _pins("runner.txt")
    assert "anthropic" not in _pins("console.txt")
    assert "kopf" in _pins("console.txt")  # the console extra includes the operator's


def test_dev_holds_everything_and_one_version_of_each_package() -> None:
    project = _project()
    dev = _pins("dev.txt")
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    wanted = [_name(r) for r in project["dependencies"]]  # type: ignore[attr-defined]
    for requirements in extras.values():
        wanted += [_name(r) for r in requirements if not r.startswith("agent-orchestrator")]
    for name in [*wanted, "setuptools", "wheel"]:
        assert name in dev, f"{name} is missing from requirements/dev.txt: run make lock"
    for file in ("build.txt", "operator.txt", "runner.txt", "console.txt"):
        for name, version in _pins(file).items():
            assert dev.get(name) == version, f"{file} pins {name}=={version}, dev.txt {dev.get(name)}"


def test_the_images_and_make_install_read_the_lock() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "--require-hashes -r requirements/dev.txt" in makefile
    for image, lock in (
        ("operator", "operator.txt"), ("runner", "runner.txt"), ("console", "console.txt")
    ):
        dockerfile = (REPO / image / "Dockerfile").read_text()
        assert f"--require-hashes -r requirements/{lock}" in dockerfile
        assert "--require-hashes -r requirements/build.txt" in dockerfile
        assert "ARG BASE_IMAGE=python:3.12-slim" in dockerfile
