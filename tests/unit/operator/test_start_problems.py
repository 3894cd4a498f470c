"""agent-operator at start: a busy port or an API server that does not answer is one line."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from agent_operator import __main__ as entry

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


@pytest.mark.parametrize(
    ("flag", "setting"),
    [
        ("--metrics-port", "--metrics-port / AGENT_OPERATOR_METRICS_PORT"),
        ("--health-port", "--health-port / AGENT_OPERATOR_HEALTH_PORT"),
    ],
)
def test_a_busy_port_names_its_flag_and_variable(
    flag: str, setting: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    other = "--health-port" if flag == "--metrics-port" else "--metrics-port"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = entry.main([
            "--namespace", "a", "--kubeconfig", str(kubeconfig), "--listen-address",
            "127.0.0.1", flag, str(port), other, "0", "--no-leader-election",
        ])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"agent-operator: port {port} on 127.0.0.1 is already in use: stop what holds it, "
        f"or choose another port with {setting} (0 turns that server off)"
    )


def test_an_api_server_that_does_not_answer_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)  # https://127.0.0.1:1: nothing listens there
    code = entry.main([
        "--namespace", "a", "--kubeconfig", str(kubeconfig), "--metrics-port", "0",
        "--health-port", "0", "--no-leader-election",
    ])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    last = err.splitlines()[-1]
    assert last.startswith(
        "agent-operator: cannot reach the API server at 127.0.0.1:1 ([Errno 111] Connection refused)"
    )
    assert last.endswith("check the kubeconfig's server address and that the cluster is up")
