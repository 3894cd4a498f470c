"""The command line: exit codes, --json, deterministic render, clear usage errors."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import yaml
from agent_sync.cli import main

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "examples" / "plans" / "sample-plan.md"


def test_lint_clean_file_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(SAMPLE)]) == 0
    assert capsys.readouterr().out == ""


def test_lint_errors_exit_1_and_json_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.md"
    path.write_text("- [ ] T001.001 a\n- [ ] T001.001 b after T404.404\n")
    assert main(["lint", str(path), "--json"]) == 1
    problems = json.loads(capsys.readouterr().out)
    assert {(p["line"], p["code"], p["taskId"]) for p in problems} == {
        (2, "duplicate-id", "T001.001")
    }
    assert set(problems[0]) == {"line", "severity", "code", "taskId", "message"}


def test_lint_warnings_alone_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.md"
    path.write_text("- [ ] T001.001 a P1 P3\n")
    assert main(["lint", str(path)]) == 0
    assert "conflicting-priorities" in capsys.readouterr().out


def test_lint_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lint", str(tmp_path / "missing.md")])
    assert exit_.value.code == 2
    assert "cannot read" in capsys.readouterr().err


def test_bad_id_pattern_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["lint", str(SAMPLE), "--id-pattern", "T(\\d"])
    assert exit_.value.code == 2
    assert "not a valid regular expression" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("T(\\d", "missing ), unterminated subpattern at position 1 ('(\\\\d')"),
        ("PAY-\\d{3,1}", "min repeat greater than max repeat at position 7 ('3,1}')"),
        ("PAY-(?i)\\d+", "global flags not at the start of the expression at position 4 "
                         "('(?i)\\\\d+')"),
        ("[z-a]\\d+", "bad character range z-a at position 1 ('z-a]\\\\d+')"),
        ("a)(b", "unbalanced parenthesis at position 1 (')(b')"),
    ],
    ids=["unclosed-group", "bad-repeat", "flag-in-the-middle", "bad-range", "escapes-the-group"],
)
def test_an_id_pattern_error_gives_the_position_in_the_users_pattern(
    capsys: pytest.CaptureFixture[str], pattern: str, expected: str
) -> None:
    problem = (
        f"the task ID pattern {pattern!r} is not a valid regular expression: {expected}; "
        "the default is 'T\\\\d{3}\\\\.\\\\d{3}'"
    )
    with pytest.raises(SystemExit) as exit_:
        main(["lint", str(SAMPLE), "--id-pattern", pattern])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"agent-sync: {problem}\n"

    assert main(["run", "--plan", "p", "--file", str(SAMPLE), "--id-pattern", pattern]) == 2
    assert capsys.readouterr().err == (
        f"agent-sync: invalid settings: --id-pattern / AGENT_SYNC_ID_PATTERN: {problem}\n"
    )


def test_a_leading_flag_in_the_id_pattern_applies_to_the_whole_pattern(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "p.md"
    path.write_text("- [ ] pay-1 Lower case\n- [ ] PAY-2 Upper case after pay-1\n")
    assert main(["lint", str(path), "--id-pattern", "(?i)PAY-\\d+"]) == 0
    assert main(["render", str(path), "--plan", "p", "--id-pattern", "(?i)PAY-\\d+"]) == 0
    assert [d["spec"]["taskId"] for d in yaml.safe_load_all(capsys.readouterr().out)
            if d["kind"] == "AgentTask"] == ["pay-1", "PAY-2"]


def test_render_is_deterministic_multi_document_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(SAMPLE), "--plan", "payments", "--namespace", "team"]) == 0
    first = capsys.readouterr().out
    main(["render", str(SAMPLE), "--plan", "payments", "--namespace", "team"])
    assert capsys.readouterr().out == first
    documents = list(yaml.safe_load_all(first))
    assert documents[0]["kind"] == "AgentPlan"
    assert len(documents) == 28
    assert all(d["metadata"]["namespace"] == "team" for d in documents)


def test_run_without_a_source_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--plan", "p"]) == 2
    assert "--file" in capsys.readouterr().err


def test_run_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_sync.settings import Settings

    monkeypatch.setenv("AGENT_SYNC_PLAN", "payments")
    monkeypatch.setenv("AGENT_SYNC_FILE", "/plans/plan.md")
    monkeypatch.setenv("AGENT_SYNC_DEBOUNCE_SECONDS", "0.5")
    monkeypatch.setenv("GIT_TOKEN", "tok")
    settings = Settings()
    assert (settings.plan, str(settings.file), settings.debounce_seconds) == (
        "payments", "/plans/plan.md", 0.5)
    assert settings.git_token == "tok"
    assert settings.metrics_port == 8082


def test_the_charts_git_mode_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_sync.cli import build_parser, settings_from

    monkeypatch.setenv("GIT_TOKEN", "from-a-secret")
    args = build_parser().parse_args([
        "run", "--plan", "payments", "--git-url", "https://example.com/acme/plans.git",
        "--git-branch", "trunk", "--git-path", "plans/payments.md", "--metrics-port", "0",
    ])
    settings = settings_from(args)
    assert (settings.git_url, settings.git_branch, settings.git_path) == (
        "https://example.com/acme/plans.git", "trunk", "plans/payments.md")
    assert settings.git_token == "from-a-secret"
    assert settings.source_path() == "plans/payments.md"
    assert settings.metrics_port == 0


def test_git_mode_without_a_path_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--plan", "p", "--git-url", "file:///tmp/x.git"]) == 2
    assert "--git-path" in capsys.readouterr().err


def test_a_bad_setting_names_its_flag_and_variable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--plan", "p", "--file", "x.md", "--max-wait-seconds", "0"]) == 2
    assert capsys.readouterr().err.strip() == (
        "agent-sync: invalid settings: --max-wait-seconds / AGENT_SYNC_MAX_WAIT_SECONDS: "
        "Input should be greater than 0"
    )


def test_a_missing_kubeconfig_is_one_line_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("- [ ] T1 one\n")
    code = main(["run", "--plan", "p", "--file", str(plan), "--metrics-port", "0",
                 "--kubeconfig", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"agent-sync: the kubeconfig {tmp_path / 'nope'} (from --kubeconfig) does not" in err
    assert "Traceback" not in err


def test_a_busy_metrics_port_is_one_line_naming_the_flag_and_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("- [ ] T001.001 one\n")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = main(["run", "--plan", "p", "--file", str(plan), "--metrics-host", "127.0.0.1",
                     "--metrics-port", str(port), "--kubeconfig", str(tmp_path / "nope")])
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"agent-sync: port {port} on 127.0.0.1 is already in use: stop what holds it, or "
        "choose another port with --metrics-port / AGENT_SYNC_METRICS_PORT (0 turns that "
        "server off)"
    )


def test_the_default_ports_never_clash_with_the_operators() -> None:
    from agent_operator.settings import OperatorSettings
    from agent_sync.settings import Settings

    operator = OperatorSettings(namespaces=["a"])
    sidecar = Settings(plan="p", file=Path("x.md"))
    ports = [operator.metrics_port, operator.health_port, sidecar.metrics_port]
    assert len(set(ports)) == 3, ports


def test_an_unknown_flag_after_run_shows_runs_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--plan", "p", "--file", "x.md", "--debounse-seconds", "1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: agent-sync run ")
    assert err.strip().splitlines()[-1] == (
        "agent-sync run: error: unrecognized arguments: --debounse-seconds 1"
    )
    assert "Traceback" not in err


def test_render_prints_the_problem_codes_lint_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "plan.md"
    plan.write_text("- [~] T001.001 One\n")
    main(["lint", str(plan)])
    linted = capsys.readouterr().out.strip()
    main(["render", str(plan), "--plan", "p"])
    rendered = capsys.readouterr().err.strip()
    assert linted and linted == rendered, (linted, rendered)
