"""What agents may be given: the operator's limits on credentials, URLs and profiles.

Pure functions of the operator's settings (`Policy`) and of what the gatherer read of a
Secret (`SecretMeta`: labels, annotations and key names, never a value). The readiness
checks call them; docs/security.md says why each rule exists.

- A Secret is an agent credential only when its owner opted it in with the label
  `orchestration.coditect.ai/agent-credential: "true"`; a git credential also names the
  hosts it may be sent to (annotation `orchestration.coditect.ai/allowed-hosts`).
  Whatever else is wrong with a reference (no such Secret, no label, the operator may not
  read it) gets one message, so the author of a task learns nothing about Secrets they
  could not see anyway.
- ANTHROPIC_BASE_URL and repository URLs must match an allowlist entry.
- A profile may set an image, service account, runtime class, priority class,
  tolerations, labels and annotations only within the operator's limits.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import urllib.parse
from collections.abc import Mapping, Sequence

from agent_api import forge, models

LABEL_AGENT_CREDENTIAL = f"{models.GROUP}/agent-credential"
ANNOTATION_ALLOWED_HOSTS = f"{models.GROUP}/allowed-hosts"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"
DEFAULT_API_URL = "https://api.anthropic.com"
ANY = "*"

DEFAULT_API_URLS: tuple[str, ...] = (DEFAULT_API_URL,)
DEFAULT_REPOSITORY_URLS: tuple[str, ...] = (
    "https://github.com",
    "https://gitlab.com",
    "https://bitbucket.org",
    "https://codeberg.org",
    "https://dev.azure.com",
)
DEFAULT_IMAGE_PREFIXES: tuple[str, ...] = ("ghcr.io/coditect-ai/",)
DEFAULT_FORGE_API_URLS: tuple[str, ...] = ("https://api.github.com", "https://gitlab.com/api/v4")


@dataclasses.dataclass(frozen=True)
class SecretMeta:
    """What the operator keeps of a Secret it read: never a value."""

    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    keys: frozenset[str]


@dataclasses.dataclass(frozen=True)
class SecretUse:
    """One Secret key a task's Jobs would reference, and what for."""

    namespace: str
    name: str
    key: str
    field: str  # where the reference is written, e.g. spec.repository.credentialsSecret
    url: str | None = None  # the repository of a git credential; None: the API key

    @property
    def secret(self) -> tuple[str, str]:
        return (self.namespace, self.name)


@dataclasses.dataclass(frozen=True)
class Policy:
    """The operator's limits (settings `allowed_*`); `*` in a list allows anything."""

    api_urls: tuple[str, ...] = DEFAULT_API_URLS
    repository_urls: tuple[str, ...] = DEFAULT_REPOSITORY_URLS
    forge_api_urls: tuple[str, ...] = DEFAULT_FORGE_API_URLS
    images: tuple[str, ...] = DEFAULT_IMAGE_PREFIXES
    service_accounts: tuple[str, ...] = ()
    runtime_classes: tuple[str, ...] = (ANY,)
    priority_classes: tuple[str, ...] = ()
    toleration_keys: tuple[str, ...] = ()
    tolerate_all: bool = False  # `operator: Exists` without a key (tolerates every taint)
    label_prefixes: tuple[str, ...] = ()
    annotation_prefixes: tuple[str, ...] = ()

    @classmethod
    def permissive(cls) -> Policy:
        """No limit at all (for tests of other concerns)."""
        return cls(
            api_urls=(ANY,),
            repository_urls=(ANY,),
            forge_api_urls=(ANY,),
            images=(ANY,),
            service_accounts=(ANY,),
            runtime_classes=(ANY,),
            priority_classes=(ANY,),
            toleration_keys=(ANY,),
            tolerate_all=True,
            label_prefixes=(ANY,),
            annotation_prefixes=(ANY,),
        )


# --------------------------------------------------------------------------- credentials


def credential_problem(
    use: SecretUse, meta: SecretMeta | None, api_url: str = DEFAULT_API_URL
) -> str | None:
    """None when the Secret may be used this way; else what to change, worded the same
    whether the Secret is absent, unreadable or not opted in. A git credential must name
    the hosts it may be sent to; an API key that names some must include the API's."""
    host = url_host(use.url if use.url is not None else api_url)
    if meta is None or meta.labels.get(LABEL_AGENT_CREDENTIAL) != "true":
        binding = (
            f" and annotation {ANNOTATION_ALLOWED_HOSTS}={host or '<git host>'}"
            if use.url is not None
            else ""
        )
        return (
            f"Secret {use.name!r} ({use.field}) is not an agent credential in namespace "
            f"{use.namespace!r}: a Secret is used only when it exists, has key {use.key!r}, "
            f'the label {LABEL_AGENT_CREDENTIAL}="true"{binding}; ask its owner to add them '
            f"(kubectl -n {use.namespace} label secret {use.name} "
            f"{LABEL_AGENT_CREDENTIAL}=true)"
        )
    if use.key not in meta.keys:
        return (
            f"Secret {use.name!r} ({use.field}) in namespace {use.namespace!r} has no key "
            f"{use.key!r}: add it or change the reference's key"
        )
    allowed = allowed_hosts(meta)
    if use.url is not None and not allowed:
        return (
            f"Secret {use.name!r} ({use.field}) names no host it may be sent to: add the "
            f"annotation {ANNOTATION_ALLOWED_HOSTS}={host or '<git host>'}"
        )
    if allowed and (host is None or not any(host_matches(host, a) for a in allowed)):
        return (
            f"Secret {use.name!r} ({use.field}) may be sent only to "
            f"{', '.join(sorted(allowed))} ({ANNOTATION_ALLOWED_HOSTS}), not to "
            f"{host or 'this URL'}: add the host to the annotation or change the URL"
        )
    return None


def allowed_hosts(meta: SecretMeta) -> set[str]:
    raw = meta.annotations.get(ANNOTATION_ALLOWED_HOSTS, "")
    return {h.strip().lower() for h in raw.split(",") if h.strip()}


def host_matches(host: str, pattern: str) -> bool:
    """`github.com` matches itself; `*.example.com` matches its subdomains."""
    return fnmatch.fnmatchcase(host.lower(), pattern.lower())


# --------------------------------------------------------------------------- URLs


def url_host(url: str) -> str | None:
    try:
        return urllib.parse.urlsplit(url).hostname
    except ValueError:
        return None


def url_allowed(url: str, allowlist: Sequence[str]) -> bool:
    """Whether `url` matches an entry `scheme://host[:port][/path]`: the same scheme,
    host (`*.` for subdomains) and port, and a path under the entry's path."""
    if ANY in allowlist:
        return True
    try:
        got = urllib.parse.urlsplit(url)
        got_port = got.port
    except ValueError:
        return False
    if not got.scheme or got.username or got.password:
        return False  # no credentials in URLs: they would bypass the Secret's binding
    for entry in allowlist:
        try:
            want = urllib.parse.urlsplit(entry)
            want_port = want.port
        except ValueError:
            continue
        if got.scheme.lower() != want.scheme.lower():
            continue
        if want.scheme.lower() == "file":
            if got.path.startswith(want.path):
                return True
            continue
        if not got.hostname or not want.hostname or not host_matches(got.hostname, want.hostname):
            continue
        if got_port != want_port:
            continue
        prefix = want.path.rstrip("/")
        if got.path == prefix or got.path.startswith(prefix + "/") or not prefix:
            return True
    return False


def base_url(profile: models.AgentProfileSpec) -> str | None:
    """The profile's ANTHROPIC_BASE_URL, if it sets one."""
    return next((v.value for v in profile.env if v.name == BASE_URL_ENV), None)


def url_problem(
    task: models.AgentTaskSpec, profile: models.AgentProfileSpec, policy: Policy
) -> str | None:
    """None when the task's repository and the profile's API URL are allowed."""
    api = base_url(profile)
    if api is not None and not url_allowed(api, policy.api_urls):
        return (
            f"the profile's {BASE_URL_ENV} {api!r} is not an allowed API URL (operator "
            f"setting allowed_api_urls: {', '.join(policy.api_urls) or 'none'}); "
            "remove it from the profile or ask the operator's administrator to allow it"
        )
    if task.repository is not None and not url_allowed(task.repository.url, policy.repository_urls):
        return (
            f"spec.repository.url {task.repository.url!r} is not an allowed repository URL "
            f"(operator setting allowed_repository_urls: "
            f"{', '.join(policy.repository_urls) or 'none'}); use an allowed host or ask the "
            "operator's administrator to allow it"
        )
    if task.repository is not None:
        return forge_problem(task.repository, policy)
    return None


def forge_problem(repository: models.Repository, policy: Policy) -> str | None:
    """None when the repository names no forge, or one whose API the task's token may be
    sent to: an allowlisted API URL, and a credential to open pull requests with."""
    api = forge.api_url(repository)
    if api is None:
        return None
    if not url_allowed(api, policy.forge_api_urls):
        return (
            f"the forge API {api!r} of spec.repository.forge is not an allowed forge API URL "
            f"(operator setting allowed_forge_api_urls: "
            f"{', '.join(policy.forge_api_urls) or 'none'}); set spec.repository.forge.apiUrl "
            "to an allowed one or ask the operator's administrator to allow it"
        )
    if repository.credentials_secret is None:
        return (
            "spec.repository.forge needs spec.repository.credentialsSecret: pull requests "
            "are opened with its token"
        )
    return None


# --------------------------------------------------------------------------- profiles


def _listed(value: str, allowed: Sequence[str]) -> bool:
    return ANY in allowed or value in allowed


def _prefixed(value: str, prefixes: Sequence[str]) -> bool:
    return ANY in prefixes or any(value.startswith(p) for p in prefixes)


def profile_images(profile: models.AgentProfileSpec) -> list[tuple[str, str]]:
    """(field, image) of every image the profile's pods would run."""
    images = [("spec.image", profile.image)]
    workspace = getattr(profile, "workspace_image", None)
    if isinstance(workspace, str) and workspace:
        images.append(("spec.workspaceImage", workspace))
    return images


def profile_problems(profile: models.AgentProfileSpec, policy: Policy) -> list[str]:
    """What the profile sets outside the operator's limits (empty: within them)."""
    problems = []
    for field, image in profile_images(profile):
        if not _prefixed(image, policy.images):
            problems.append(f"{field} {image!r} (allowed_images)")
    pod = profile.pod
    if pod.service_account_name and not _listed(pod.service_account_name, policy.service_accounts):
        problems.append(
            f"spec.pod.serviceAccountName {pod.service_account_name!r} (allowed_service_accounts)"
        )
    if pod.runtime_class_name and not _listed(pod.runtime_class_name, policy.runtime_classes):
        problems.append(
            f"spec.pod.runtimeClassName {pod.runtime_class_name!r} (allowed_runtime_classes)"
        )
    if pod.priority_class_name and not _listed(pod.priority_class_name, policy.priority_classes):
        problems.append(
            f"spec.pod.priorityClassName {pod.priority_class_name!r} (allowed_priority_classes)"
        )
    for toleration in pod.tolerations:
        if not toleration.key:
            if not policy.tolerate_all:
                problems.append(
                    "a toleration without a key (tolerates every taint; allow_tolerate_all)"
                )
        elif not _listed(toleration.key, policy.toleration_keys):
            problems.append(f"toleration key {toleration.key!r} (allowed_toleration_keys)")
    for key in pod.labels:
        if not _prefixed(key, policy.label_prefixes):
            problems.append(f"pod label {key!r} (allowed_label_prefixes)")
    for key in pod.annotations:
        if not _prefixed(key, policy.annotation_prefixes):
            problems.append(f"pod annotation {key!r} (allowed_annotation_prefixes)")
    return problems
