"""What agents may be given: opted-in credentials bound to hosts, allowlisted URLs,
profiles within the operator's limits, and the egress NetworkPolicy kept before a Job."""

from __future__ import annotations

import dataclasses

import pytest
from agent_api import models
from agent_operator import conditions, egress, jobs, kube, settings
from agent_operator.scheduling import policy
from operator_world import World, plan, profile, task

LIMITED = policy.Policy()  # the operator's defaults


def ready(world: World, name: str) -> models.Condition:
    found = conditions.find(world.status(name).conditions, conditions.READY)
    assert found is not None
    return found


def opted_in(hosts: str | None = None, *keys: str) -> policy.SecretMeta:
    return policy.SecretMeta(
        labels={policy.LABEL_AGENT_CREDENTIAL: "true"},
        annotations={policy.ANNOTATION_ALLOWED_HOSTS: hosts} if hosts else {},
        keys=frozenset(keys or ("token", models.DEFAULT_API_KEY_KEY)),
    )


def git_task(name: str = "t", url: str = "https://github.com/acme/app.git") -> dict[str, object]:
    return task(name, repository={"url": url, "credentialsSecret": {"name": "git"}})


# --------------------------------------------------------------------------- credentials


def test_an_unlabelled_secret_gets_no_job_and_the_same_words_as_an_absent_one() -> None:
    world = World(git_task("a"), policy=LIMITED)
    world.secrets[("ns", "git")] = policy.SecretMeta(
        labels={}, annotations={}, keys=frozenset({"token"})
    )
    world.step()
    unlabelled = ready(world, "a")
    assert world.created_jobs == []
    assert unlabelled.reason == "CredentialNotAllowed"
    assert "'git'" in unlabelled.message and policy.LABEL_AGENT_CREDENTIAL in unlabelled.message
    assert policy.ANNOTATION_ALLOWED_HOSTS + "=github.com" in unlabelled.message

    absent = World(git_task("a"), policy=LIMITED)
    absent.cluster.secrets_default = None  # no Secret at all
    absent.secrets[("ns", models.DEFAULT_API_KEY_SECRET)] = opted_in()
    absent.step()
    assert ready(absent, "a").message == unlabelled.message  # no existence oracle
    assert absent.created_jobs == []


def test_the_api_key_secret_must_be_opted_in_too() -> None:
    world = World(plan("p"), task("t", plan="p"), policy=LIMITED)
    world.secrets[("ns", models.DEFAULT_API_KEY_SECRET)] = policy.SecretMeta(
        labels={}, annotations={}, keys=frozenset({models.DEFAULT_API_KEY_KEY})
    )
    world.step()
    assert ready(world, "t").reason == "CredentialNotAllowed"
    assert "spec.apiKeySecret of AgentPlan 'p'" in world.status("t").message  # type: ignore[operator]
    world.secrets.clear()
    world.advance(11)
    world.step()
    assert world.phase("t") == "Running"


@pytest.mark.parametrize(
    ("hosts", "reason_words"),
    [(None, "names no host"), ("gitlab.com", "may be sent only to gitlab.com")],
)
def test_a_git_credential_goes_only_to_the_hosts_it_names(
    hosts: str | None, reason_words: str
) -> None:
    world = World(git_task(), policy=LIMITED)
    world.secrets[("ns", "git")] = opted_in(hosts)
    world.step()
    assert world.created_jobs == []
    assert ready(world, "t").reason == "CredentialNotAllowed"
    assert reason_words in ready(world, "t").message
    world.secrets[("ns", "git")] = opted_in("gitlab.com, *.github.com,github.com")
    world.advance(11)
    world.step()
    assert world.phase("t") == "Running"


# --------------------------------------------------------------------------- URLs


def test_a_repository_url_off_the_allowlist_gets_no_job() -> None:
    world = World(task("t", repository={"url": "https://evil.example/x.git"}), policy=LIMITED)
    world.step()
    assert world.created_jobs == []
    assert ready(world, "t").reason == "URLNotAllowed"
    assert "https://evil.example/x.git" in ready(world, "t").message


def test_a_base_url_off_the_allowlist_gets_no_job() -> None:
    world = World(
        profile("p", env=[{"name": "ANTHROPIC_BASE_URL", "value": "https://proxy.evil"}]),
        task("t", agentProfile="p"),
        policy=LIMITED,
    )
    world.step()
    assert world.created_jobs == []
    assert ready(world, "t").reason == "URLNotAllowed"
    assert "ANTHROPIC_BASE_URL" in ready(world, "t").message


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://github.com/acme/app.git", True),
        ("https://github.com", True),
        ("https://github.com.evil.example/x", False),
        ("https://user:pw@github.com/x", False),
        ("http://github.com/x", False),
        ("https://github.com:8443/x", False),
        ("ssh://git@github.com/x", False),
        ("https://git.corp.example/team/x", True),
        ("https://git.corp.example/other/x", False),
        ("https://a.b.corp.example/x", True),
        ("https://b.corp.example/x", False),
        ("file:///srv/git/x", True),
        ("file:///etc/x", False),
        ("not a url", False),
    ],
)
def test_url_allowlist_entries(url: str, allowed: bool) -> None:
    entries = (
        "https://github.com",
        "https://git.corp.example/team",
        "https://*.b.corp.example",
        "file:///srv/git/",
    )
    assert policy.url_allowed(url, entries) is allowed
    if url == "https://a.b.corp.example/x":
        assert not policy.url_allowed(url, entries[:2])


# --------------------------------------------------------------------------- profiles


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ({"image": "docker.io/evil/runner:1"}, "spec.image"),
        ({"pod": {"serviceAccountName": "cloud-admin"}}, "serviceAccountName"),
        ({"pod": {"priorityClassName": "system-node-critical"}}, "priorityClassName"),
        ({"pod": {"tolerations": [{"operator": "Exists"}]}}, "every taint"),
        ({"pod": {"tolerations": [{"key": "gpu", "operator": "Exists"}]}}, "'gpu'"),
        ({"pod": {"labels": {"azure.workload.identity/use": "true"}}}, "pod label"),
        ({"pod": {"annotations": {"iam.amazonaws.com/role": "admin"}}}, "pod annotation"),
    ],
)
def test_a_profile_outside_the_limits_gets_no_job(spec: dict[str, object], named: str) -> None:
    world = World(profile("p", **spec), task("t", agentProfile="p"), policy=LIMITED)
    world.step()
    assert world.created_jobs == []
    condition = ready(world, "t")
    assert condition.reason == "ProfileNotAllowed"
    assert "'p'" in condition.message and named in condition.message


def test_widened_limits_let_the_profile_run() -> None:
    limits = dataclasses.replace(
        LIMITED,
        images=("docker.io/team/",),
        service_accounts=("builder",),
        toleration_keys=("gpu",),
        label_prefixes=("team.example/",),
        annotation_prefixes=("team.example/",),
        runtime_classes=("gvisor",),
    )
    spec = {
        "image": "docker.io/team/runner:1",
        "pod": {
            "serviceAccountName": "builder",
            "runtimeClassName": "gvisor",
            "tolerations": [{"key": "gpu", "operator": "Exists"}],
            "labels": {"team.example/cost": "x"},
            "annotations": {"team.example/owner": "y"},
        },
    }
    world = World(profile("p", **spec), task("t", agentProfile="p"), policy=limits)
    world.step()
    assert world.phase("t") == "Running"
    assert policy.profile_problems(
        models.AgentProfileSpec.model_validate(
            {"image": "docker.io/team/r:2", "pod": {"runtimeClassName": "kata"}}
        ),
        limits,
    ) == ["spec.pod.runtimeClassName 'kata' (allowed_runtime_classes)"]


# --------------------------------------------------------------------------- egress


def test_the_egress_policy_is_written_before_the_first_job_of_a_namespace() -> None:
    world = World(task("a"), task("b"))
    world.step()
    assert world.phase("a") == "Running" and world.phase("b") == "Running"
    kept = world.cluster.network_policies[("ns", egress.POLICY_NAME)]
    spec = kept["spec"]
    assert spec["podSelector"] == {"matchLabels": {models.LABEL_MANAGED_BY: jobs.MANAGED_BY}}
    dns, https = spec["egress"]
    assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert https["ports"] == [{"protocol": "TCP", "port": 443}]
    assert {"cidr": "0.0.0.0/0", "except": ["127.0.0.0/8", "169.254.0.0/16"]} in [
        b["ipBlock"] for b in https["to"]
    ]


def test_a_namespace_whose_policy_cannot_be_written_gets_no_job() -> None:
    world = World(task("a"))
    world.cluster.refuse_network_policies = kube.ApiError(403, "Forbidden", "no networkpolicies")
    world.step()
    assert world.created_jobs == []
    assert world.phase("a") == "Queued"
    assert "egress NetworkPolicy" in (world.status("a").message or "")
    world.cluster.refuse_network_policies = None
    world.advance(6)
    world.step()
    assert world.phase("a") == "Running"


def test_egress_to_listed_destinations_and_cluster_ranges() -> None:
    listed = egress.manifest("x", egress.EgressConfig(cidrs=("203.0.113.0/24",)))
    assert listed["spec"]["egress"][1]["to"] == [{"ipBlock": {"cidr": "203.0.113.0/24"}}]
    wide = egress.manifest("x", egress.EgressConfig(cluster_cidrs=("10.96.0.0/12", "fd00::/8")))
    v4, v6 = (b["ipBlock"] for b in wide["spec"]["egress"][1]["to"])
    assert "10.96.0.0/12" in v4["except"] and v6 == {
        "cidr": "::/0",
        "except": ["::1/128", "fd00::/8", "fe80::/10"],
    }


# --------------------------------------------------------------------------- settings, pods


def test_the_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_OPERATOR_NAMESPACES", "a")
    monkeypatch.setenv("AGENT_OPERATOR_ALLOWED_IMAGES", "registry.example/, ghcr.io/x/")
    monkeypatch.setenv("AGENT_OPERATOR_ALLOW_TOLERATE_ALL", "true")
    monkeypatch.setenv("AGENT_OPERATOR_CLUSTER_CIDRS", "10.0.0.0/8")
    config = settings.OperatorSettings()
    assert config.policy().images == ("registry.example/", "ghcr.io/x/")
    assert config.policy().tolerate_all
    assert config.policy().repository_urls == policy.DEFAULT_REPOSITORY_URLS
    assert config.egress_policy and config.cluster_cidrs == ["10.0.0.0/8"]
    monkeypatch.setenv("AGENT_OPERATOR_CLUSTER_CIDRS", "10.0.0/99")
    with pytest.raises(ValueError, match=r"10\.0\.0/99"):
        settings.OperatorSettings()


def test_agent_pods_have_capped_disks() -> None:
    world = World(task("t"))
    world.step()
    pod = world.get("Job", "t-1")["spec"]["template"]["spec"]
    empty_dirs = {v["name"]: v["emptyDir"] for v in pod["volumes"] if "emptyDir" in v}
    assert {name: d.get("sizeLimit") for name, d in empty_dirs.items()} == {
        "workspace": jobs.WORKSPACE_SIZE_LIMIT,
        "tmp": jobs.TMP_SIZE_LIMIT,
        "workspace-tmp": jobs.TMP_SIZE_LIMIT,
        "executor": "64Mi",
    }
    workspace = next(c for c in pod["containers"] if c["name"] == "workspace")
    resources = workspace["resources"]  # where the agent's builds write
    assert resources["requests"]["ephemeral-storage"] == jobs.EPHEMERAL_STORAGE_REQUEST
    assert resources["limits"]["ephemeral-storage"] == jobs.EPHEMERAL_STORAGE_LIMIT
