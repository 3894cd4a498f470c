"""Leader election in the operator: the Lease settings and flags, and the elector
`__main__` builds for the dispatcher (the dispatcher's leadership gate is tested in
test_dispatcher.py; the election itself in tests/unit/kube)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import pytest
import yaml
from agent_kube import election
from agent_operator import __main__ as cli
from agent_operator import leadership, settings

sys.path.insert(0, str(Path(__file__).parents[1] / "kube"))
from fakes import FakeLeaseApi, typed


def config(**values: object) -> settings.OperatorSettings:
    return settings.OperatorSettings(**{"namespaces": ["team-a", "team-b"], **values})


def test_the_lease_namespace_is_the_setting_the_pod_the_first_watched_or_default() -> None:
    assert config(lease_namespace="ops").resolved_lease_namespace({"POD_NAMESPACE": "x"}) == "ops"
    assert config().resolved_lease_namespace({"POD_NAMESPACE": "agents"}) == "agents"
    assert config().resolved_lease_namespace({}) == "team-a"
    assert config(namespaces=[], all_namespaces=True).resolved_lease_namespace({}) == "default"


def test_lease_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    args = cli.parse_args(["-n", "a", "--no-leader-election", "--lease-name", "x",
                           "--lease-namespace", "ops", "--lease-seconds", "30",
                           "--kubeconfig", "/k"])
    assert args == {"namespaces": ["a"], "leader_election": False, "lease_name": "x",
                    "lease_namespace": "ops", "lease_seconds": 30.0, "kubeconfig": "/k"}
    assert cli.parse_args(["-n", "a", "--leader-election"])["leader_election"] is True
    assert "leader_election" not in cli.parse_args(["-n", "a"])
    monkeypatch.setenv("AGENT_OPERATOR_LEADER_ELECTION", "false")
    assert settings.OperatorSettings(namespaces=["a"]).leader_election is False


def test_bad_lease_settings_name_the_flag_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-n", "a", "--lease-seconds", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "agent-operator: invalid settings: --lease-seconds / AGENT_OPERATOR_LEASE_SECONDS: "
        "Input should be greater than or equal to 1"
    )


def test_a_missing_kubeconfig_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["-n", "a", "--kubeconfig", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"agent-operator: the kubeconfig {tmp_path / 'nope'} (from --kubeconfig)")
    assert "Traceback" not in err


def test_make_elector(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": "https://k:6443"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }))
    assert cli.make_elector(config(leader_election=False), "me") is None
    elector = cli.make_elector(
        config(kubeconfig=str(kubeconfig), lease_seconds=20), "me",
        environ={"POD_NAMESPACE": "agents"},
    )
    assert elector is not None
    assert (elector.namespace, elector.name, elector.identity, elector.duration_seconds) == (
        "agents", "agent-operator", "me", 20)


def test_the_dispatchers_gate_renews_every_third_of_the_lease() -> None:
    """A short lease is renewed often enough to be kept (the gate's interval is the
    elector's, not a fixed one)."""
    async def scenario() -> None:
        api = FakeLeaseApi()
        elector = election.LeaderElector(
            typed(api), namespace="ns", name="lease", identity="a", duration_seconds=0.6
        )
        gate = leadership.LeadershipGate(elector, grace_seconds=0.0)
        running = asyncio.create_task(gate.run())
        await asyncio.sleep(1.0)
        assert api.writes >= 4 and gate.leading()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        assert api.holder() == ""  # released on the way out

    asyncio.run(scenario())
