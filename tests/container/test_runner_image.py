"""The runner image running the pod the operator's Job builder makes for an attempt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from agent_api import attempt, models
from agent_api import report as contract
from agent_operator import jobs, results

from tests.container import kubelet
from tests.container.conftest import Images, Podman
from tests.container.gitserver import GitServer, git
from tests.unit.runner import fakes

pytestmark = pytest.mark.container

TASK_ID = "T001.001"
# A real test run: testsPassed comes from the test runner's own summary line ("Ran 1 test",
# "OK"), never from the command's name or an echo.
TOOL_COMMAND = (
    "printf 'def add(a, b):\\n    return a + b\\n' > calc.py"
    " && printf 'import unittest\\nimport calc\\n\\n\\nclass T(unittest.TestCase):\\n"
    "    def test_add(self):\\n        self.assertEqual(calc.add(2, 3), 5)\\n' > test_calc.py"
    " && PYTHONDONTWRITEBYTECODE=1 python3 -m unittest test_calc && echo tested"
)


def _job(
    images: Images,
    *,
    suffix: str,
    api_url: str,
    repository: dict[str, Any] | None = None,
    resources: dict[str, Any] | None = None,
    max_turns: int = 5,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The attempt Job and its ConfigMaps (none: the task input is in the Job) exactly as
    the operator builds them."""
    task = fakes.agent_task(TASK_ID, repository=repository)
    task["metadata"]["name"] = f"plan-t001-001-{suffix}"
    profile = models.AgentProfileSpec(
        model="claude-sonnet-4-6",
        max_tokens=1024,
        max_turns=max_turns,
        image=images.runner,
        env=[
            models.EnvVar(name="ANTHROPIC_BASE_URL", value=api_url),
            # The test's git host speaks plain HTTP on 127.0.0.1; https only otherwise.
            models.EnvVar(name="AGENT_GIT_PROTOCOLS", value="http"),
        ],
        resources=resources or {},
    )
    inputs = jobs.JobInputs(
            task=task,
            attempt=1,
            profile_name="general-purpose",
            profile=profile,
            api_key=models.SecretKeyRef(name=f"anthropic-api-key-{suffix}", key="ANTHROPIC_API_KEY"),
            plan_name="plan",
            context=attempt.AttemptContext(
                profile=attempt.ProfileContext(
                    name="general-purpose",
                    model=profile.model,
                    max_tokens=profile.max_tokens,
                    max_turns=profile.max_turns,
                ),
                attempt=1,
            ),
            ttl_seconds=300,
            created_by="container-test",
        )
    # The pod reads its task input from its own annotation; a ConfigMap only when large.
    context = jobs.build_context(inputs)
    return jobs.build(inputs), [context] if context is not None else []


def test_the_runner_does_a_tool_turn_commits_pushes_and_reports(
    podman: Podman, images: Images, tmp_path: Path, pod_name: str
) -> None:
    suffix = pod_name.rsplit("-", 1)[-1]
    remotes = GitServer(tmp_path / "remotes", fakes.GIT_TOKEN)
    bare = remotes.bare("app", {"README.md": "# app\n"})
    api = fakes.FakeMessagesAPI()
    api.reply(
        fakes.ok(
fakes.tool_use("bash", {"command": TOOL_COMMAND})
        ),
        fakes.report_call(
            "Added calc.add and checked it", tests_passed=True, test_command=TOOL_COMMAND
        ),
    )
    git_secret = f"git-token-{suffix}"
    job, config_maps = _job(
        images,
        suffix=suffix,
        api_url=api.url,
        repository={
            "url": f"{remotes.url}/app.git",
            "branch": "main",
            "credentialsSecret": {"name": git_secret, "key": "token"},
        },
    )
    host = tmp_path / "node"
    pod = kubelet.pod_from_job(job, name=pod_name, host_dir=host, config_maps=config_maps)
    container = jobs.CONTAINER
    remotes.start()
    api.start()
    try:
        with podman.play(
            pod,
            network="host",  # the fake servers listen on the host's 127.0.0.1
            secrets={
                f"anthropic-api-key-{suffix}": {"ANTHROPIC_API_KEY": fakes.API_KEY},
                git_secret: {"token": fakes.GIT_TOKEN},
            },
            workdir=tmp_path,
        ) as played:
            ended = played.wait(timeout=300)
    finally:
        api.stop()
        remotes.stop()

    assert ended[jobs.WORKSPACE_CONTAINER].exit_code == 0, ended[jobs.WORKSPACE_CONTAINER].logs
    logs = ended[container].logs
    assert ended[container].exit_code == 0, logs
    message = kubelet.termination_message(host, container)
    status = kubelet.pod_status({container: (ended[container].exit_code, message)})
    report = results.pod_report([status])
    assert report is not None and report.exit_code == 0
    result = contract.parse_report(report.message)
    branch = f"agent/{TASK_ID}"
    assert result.status == "succeeded", message
    assert result.branch == branch
    assert result.files_changed == ["calc.py", "test_calc.py"]
    assert result.tests_passed is True
    assert result.commit == git(bare, "rev-parse", branch)
    assert git(bare, "show", f"{branch}:calc.py").startswith("def add(a, b):")
    # The tool turn really ran in the container and its output went back to the model.
    turn = json.dumps(api.requests[1]["messages"][-1])
    assert "tested" in turn
    # The Secrets reached the runner, and only the runner: the key as the API header, the
    # token on every git request (none was refused), never in the clone's config.
    for sent in api.headers:
        key = sent.get("x-api-key") or sent.get("authorization", "").removeprefix("Bearer ")
        assert key == fakes.API_KEY
    assert remotes.requests and all(status != 401 for _, _, status in remotes.requests)
    assert any(path.endswith("/git-receive-pack") for _, path, _ in remotes.requests)
    clone = kubelet.volume(host, "workspace")
    assert fakes.GIT_TOKEN not in (clone / ".git" / "config").read_text()
    assert fakes.GIT_TOKEN not in logs and fakes.API_KEY not in logs


# (No leading newline: podman 4.3's kube play cannot read a string that starts with one.)
PROBE = r"""set -u
echo "uid=$(id -u) gid=$(id -g)"
echo "home=$HOME"
# Every directory this user may write, outside the kernel's file systems.
find / \( -path /proc -o -path /sys \) -prune -o -type d -writable -print 2>/dev/null \
  | sed 's#^#writable #'
touch /probe 2>/dev/null && echo "wrote /probe"
touch /opt/venv/probe 2>/dev/null && echo "wrote /opt/venv/probe"
cd /workspace
git init -q probe && cd probe && git config --global user.name probe \
  && git config --global user.email probe@example.com \
  && git commit -q --allow-empty -m probe && echo "git ok"
python3 -m venv /tmp/venv && /tmp/venv/bin/pip --version >/dev/null \
  && /tmp/venv/bin/pip config --user set global.timeout 60 >/dev/null && echo "pip ok"
if command -v npm >/dev/null; then
  npm config set fund false && test -f "$HOME/.npmrc" && echo "npm ok"
fi
command -v make gcc git curl >/dev/null && echo "tools ok"
"""


def test_only_the_job_volumes_are_writable_and_tools_work_there(
    podman: Podman, images: Images, tmp_path: Path, pod_name: str
) -> None:
    suffix = pod_name.rsplit("-", 1)[-1]
    job, config_maps = _job(images, suffix=suffix, api_url="http://127.0.0.1:9")
    pod = kubelet.pod_from_job(
        job, name=pod_name, host_dir=tmp_path / "node", config_maps=config_maps
    )
    # The probe runs where the agent's commands run; the runner just stops the executor.
    container = next(
        c for c in pod["spec"]["containers"] if c["name"] == jobs.WORKSPACE_CONTAINER
    )
    container["command"] = ["sh", "-c", PROBE]
    runner = next(c for c in pod["spec"]["containers"] if c["name"] == jobs.CONTAINER)
    runner["command"] = ["true"]
    run_as = pod["spec"]["securityContext"]["runAsUser"]
    with podman.play(
        pod,
        network="none",
        secrets={f"anthropic-api-key-{suffix}": {"ANTHROPIC_API_KEY": fakes.API_KEY}},
        workdir=tmp_path,
    ) as played:
        ended = played.wait(jobs.WORKSPACE_CONTAINER, timeout=180)[jobs.WORKSPACE_CONTAINER]
    lines = ended.logs.splitlines()
    assert ended.exit_code == 0, ended.logs
    assert f"uid={run_as} gid={pod['spec']['securityContext']['runAsGroup']}" in lines
    assert "home=/tmp" in lines
    writable = {line.split(" ", 1)[1] for line in lines if line.startswith("writable ")}
    allowed = ("/workspace", "/tmp", "/run/agent-executor", "/dev/shm", "/dev/mqueue")
    assert writable and all(
        any(path == root or path.startswith(root + "/") for root in allowed) for path in writable
    ), sorted(writable)
    assert "wrote /probe" not in lines and "wrote /opt/venv/probe" not in lines
    for tool in ("git ok", "pip ok", "npm ok", "tools ok"):
        assert tool in lines, ended.logs


def test_the_image_runs_as_uid_10001_with_oci_labels(podman: Podman, images: Images) -> None:
    config = json.loads(podman("image", "inspect", images.runner).stdout)[0]
    assert config["Config"]["User"] == "10001:10001"
    labels = config["Config"]["Labels"]
    for key in ("source", "version", "revision"):
        assert labels.get(f"org.opencontainers.image.{key}"), key


# The agent's attack, run as its commands in the workspace container. The key and the token
# travel base64-encoded in the command and are decoded into unexported shell variables, and
# grep takes them from a pipe: otherwise they would be in the probe's own command line.
LEAK_PROBE = r"""K=$(echo {key} | base64 -d); T=$(echo {token} | base64 -d)
for pid in /proc/[0-9]*; do tr '\0' '\n' < $pid/environ; tr '\0' ' ' < $pid/cmdline; echo; \
  done > /tmp/everything 2>/dev/null
grep -rIlsF --exclude-dir=proc --exclude-dir=sys -f <(printf '%s\n%s\n' "$K" "$T") / \
  > /tmp/found 2>/dev/null
grep -qF -f <(printf '%s\n%s\n' "$K" "$T") /tmp/everything && echo "LEAK in a process"
[ -s /tmp/found ] && sed 's/^/LEAK in /' /tmp/found
echo "processes: $(ls -d /proc/[0-9]* | wc -l); probe done"
"""
PLANT = r"""mark='tr "\0" " " < /proc/1/cmdline >> /workspace/.ran; echo >> /workspace/.ran'
for hook in pre-push pre-commit post-commit reference-transaction; do
  printf '#!/bin/sh\n%s\n' "$mark" > .git/hooks/$hook; chmod +x .git/hooks/$hook; done
printf '#!/bin/sh\n%s\n' "$mark" > /workspace/monitor.sh; chmod +x /workspace/monitor.sh
git config core.fsmonitor /workspace/monitor.sh
git config core.hooksPath .git/hooks
echo 'print("work")' > work.py && echo planted
"""


def test_the_agent_finds_no_credential_and_cannot_take_over_the_runner(
    podman: Podman, images: Images, tmp_path: Path, pod_name: str
) -> None:
    import base64

    suffix = pod_name.rsplit("-", 1)[-1]
    remotes = GitServer(tmp_path / "remotes", fakes.GIT_TOKEN)
    bare = remotes.bare("app", {"README.md": "# app\n"})
    encoded = {
        "key": base64.b64encode(fakes.API_KEY.encode()).decode(),
        "token": base64.b64encode(fakes.GIT_TOKEN.encode()).decode(),
    }
    api = fakes.FakeMessagesAPI()
    api.reply(
        fakes.ok(fakes.tool_use("bash", {"command": LEAK_PROBE.format(**encoded)})),
        fakes.ok(fakes.tool_use("bash", {"command": PLANT})),
        fakes.ok(fakes.tool_use("bash", {"command": "head -c 2G /dev/urandom; echo survived"})),
        fakes.ok(fakes.tool_use("bash", {"command": "(sleep 900 &) ; sleep 900 & echo forked"})),
        fakes.ok(fakes.tool_use("bash", {"command": "echo still here"})),
        fakes.report_call("Probed, planted, flooded and forked"),
    )
    git_secret = f"git-token-{suffix}"
    job, config_maps = _job(
        images,
        suffix=suffix,
        api_url=api.url,
        repository={
            "url": f"{remotes.url}/app.git",
            "branch": "main",
            "credentialsSecret": {"name": git_secret, "key": "token"},
        },
        resources={"limits": {"memory": "512Mi"}},
        max_turns=10,
    )
    job["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "AGENT_COMMAND_TIMEOUT_SECONDS", "value": "120"}
    )
    host = tmp_path / "node"
    pod = kubelet.pod_from_job(job, name=pod_name, host_dir=host, config_maps=config_maps)
    remotes.start()
    api.start()
    try:
        with podman.play(
            pod,
            network="host",
            secrets={
                f"anthropic-api-key-{suffix}": {"ANTHROPIC_API_KEY": fakes.API_KEY},
                git_secret: {"token": fakes.GIT_TOKEN},
            },
            workdir=tmp_path,
        ) as played:
            ended = played.wait(timeout=600)
    finally:
        api.stop()
        remotes.stop()

    runner = ended[jobs.CONTAINER]
    assert runner.exit_code == 0, runner.logs
    assert ended[jobs.WORKSPACE_CONTAINER].exit_code == 0, ended[jobs.WORKSPACE_CONTAINER].logs
    results_seen = [json.dumps(request["messages"][-1]) for request in api.requests[1:]]
    assert len(results_seen) == 5, results_seen  # one per command; the report ends it
    probe, planted, flood, forked, after = results_seen
    assert "probe done" in probe and "LEAK" not in probe, probe
    assert "planted" in planted
    assert "survived" in flood and ("bytes cut" in flood or "characters cut" in flood)
    assert "forked" in forked and "still here" in after
    # Committed and reported, and nothing the agent planted ran in the runner's container.
    message = kubelet.termination_message(host, jobs.CONTAINER)
    result = contract.parse_report(message)
    assert result.status == "succeeded", message
    branch = f"agent/{TASK_ID}"
    assert result.commit == git(bare, "rev-parse", branch)
    assert "work.py" in result.files_changed
    ran = kubelet.volume(host, "workspace") / ".ran"
    assert not ran.exists() or "agent-runner" not in ran.read_text(), ran.read_text()
