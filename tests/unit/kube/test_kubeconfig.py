"""Which credentials the programs use, in the one documented order, and what a person
reads when they are missing or broken (no traceback, the file and what to do)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from agent_kube import kubeconfig


def write_kubeconfig(path: Path, server: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t0ken"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "flag": write_kubeconfig(tmp_path / "flag.yaml", "https://flag:6443"),
        "env": write_kubeconfig(tmp_path / "env.yaml", "https://env:6443"),
        "home": write_kubeconfig(tmp_path / "home" / ".kube" / "config", "https://home:6443"),
    }


def in_cluster_env(tmp_path: Path) -> dict[str, str]:
    return {"HOME": str(tmp_path / "home"), "KUBERNETES_SERVICE_HOST": "10.0.0.1",
            "KUBERNETES_SERVICE_PORT": "443"}


def test_the_flag_wins_over_everything(files: dict[str, Path], tmp_path: Path) -> None:
    environ = {**in_cluster_env(tmp_path), "KUBECONFIG": str(files["env"])}
    config = kubeconfig.load_configuration(str(files["flag"]), environ=environ)
    assert config.host == "https://flag:6443"
    assert "t0ken" in str(config.get_api_key_with_prefix("BearerToken") or config.api_key)


def test_kubeconfig_variable_wins_over_in_cluster(files: dict[str, Path], tmp_path: Path) -> None:
    environ = {**in_cluster_env(tmp_path), "KUBECONFIG": str(files["env"])}
    assert kubeconfig.load_configuration(environ=environ).host == "https://env:6443"


def test_the_variable_may_list_files(files: dict[str, Path], tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path), "KUBECONFIG": f"{tmp_path / 'missing'}:{files['env']}"}
    assert kubeconfig.load_configuration(environ=environ).host == "https://env:6443"


def test_in_cluster_comes_before_the_default_file(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(kubeconfig.KubeconfigError, match="service account"):
        kubeconfig.load_configuration(environ=in_cluster_env(tmp_path))  # no token mounted here


def test_the_default_file_comes_last(files: dict[str, Path], tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path / "home")}
    assert kubeconfig.load_configuration(environ=environ).host == "https://home:6443"


def test_nothing_at_all_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(kubeconfig.KubeconfigError) as caught:
        kubeconfig.load_configuration(environ={"HOME": str(tmp_path)})
    message = str(caught.value)
    assert "not in a pod" in message and str(tmp_path / ".kube" / "config") in message
    assert "--kubeconfig" in message and "\n" not in message


def test_a_missing_explicit_file_is_an_error_not_a_fallback(
    files: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(kubeconfig.KubeconfigError) as caught:
        kubeconfig.load_configuration(str(tmp_path / "nope"), environ={"HOME": str(tmp_path / "home")})
    assert str(caught.value).startswith(f"the kubeconfig {tmp_path / 'nope'} (from --kubeconfig)")
    environ = {"HOME": str(tmp_path / "home"), "KUBECONFIG": str(tmp_path / "nope")}
    with pytest.raises(kubeconfig.KubeconfigError, match=r"from \$KUBECONFIG"):
        kubeconfig.load_configuration(environ=environ)


@pytest.mark.parametrize("content", ["{not: yaml: at all", "- a list\n", "kind: Config\n"])
def test_a_broken_file_names_itself_and_what_to_do(tmp_path: Path, content: str) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(content)
    with pytest.raises(kubeconfig.KubeconfigError) as caught:
        kubeconfig.load_configuration(str(broken), environ={})
    message = str(caught.value)
    assert message.startswith(f"cannot use the kubeconfig {broken} (from --kubeconfig): ")
    assert "fix the file" in message and "\n" not in message


def test_api_client_uses_the_same_configuration(files: dict[str, Path]) -> None:
    client = kubeconfig.api_client(str(files["flag"]), environ={})
    assert client.configuration.host == "https://flag:6443"
