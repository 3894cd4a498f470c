"""Where the API server is and how to authenticate, with one precedence for every program.

| Order | Source | When |
|---|---|---|
| 1 | the file given by `--kubeconfig` | the flag is set |
| 2 | `$KUBECONFIG` (a list of files, separated by `:`) | the variable is set and not empty |
| 3 | the pod's service account (in-cluster) | `KUBERNETES_SERVICE_HOST` is set |
| 4 | `~/.kube/config` | otherwise |

An explicit choice (1, 2) is never second-guessed: a wrong file is an error, not a reason
to try the next source. Every failure is a `KubeconfigError` whose message says which
source was used, what is wrong and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import kubernetes
import yaml
from kubernetes.config import incluster_config

_LOAD_FAILURES = (
    kubernetes.config.ConfigException,
    OSError,
    yaml.YAMLError,
    ValueError,
    KeyError,
    TypeError,
    AttributeError,
)


class KubeconfigError(Exception):
    """No usable credentials; the message is one line a person can act on."""


def load_configuration(
    kubeconfig: str | None = None, *, environ: Mapping[str, str] | None = None
) -> kubernetes.client.Configuration:
    """A client configuration from the first source of the precedence in the module doc."""
    environ = os.environ if environ is None else environ
    if kubeconfig:
        return _from_files(kubeconfig, "--kubeconfig")
    if environ.get("KUBECONFIG"):
        return _from_files(environ["KUBECONFIG"], "$KUBECONFIG")
    if environ.get("KUBERNETES_SERVICE_HOST"):
        return _in_cluster(environ)
    default = Path(environ.get("HOME") or Path.home()) / ".kube" / "config"
    if not default.exists():
        raise KubeconfigError(
            f"no Kubernetes credentials: not in a pod (KUBERNETES_SERVICE_HOST is unset) and "
            f"{default} does not exist; pass --kubeconfig PATH or set KUBECONFIG"
        )
    return _from_files(str(default), "the default location")


def api_client(
    kubeconfig: str | None = None, *, environ: Mapping[str, str] | None = None
) -> kubernetes.client.ApiClient:
    """A synchronous client configured by `load_configuration`."""
    return kubernetes.client.ApiClient(load_configuration(kubeconfig, environ=environ))


def _from_files(paths: str, source: str) -> kubernetes.client.Configuration:
    files = [p for p in paths.split(os.pathsep) if p]
    if not any(Path(p).expanduser().is_file() for p in files):
        raise KubeconfigError(
            f"the kubeconfig {paths} (from {source}) does not exist or is not a file: "
            "fix the path, or unset it to use the in-cluster service account"
        )
    config = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=paths, client_configuration=config
        )
    except _LOAD_FAILURES as error:
        detail = " ".join(str(error).split()) or type(error).__name__
        raise KubeconfigError(
            f"cannot use the kubeconfig {paths} (from {source}): {detail}; fix the file "
            "(kubectl --kubeconfig PATH config view shows what it holds) or choose another"
        ) from None
    return config


def _in_cluster(environ: Mapping[str, str]) -> kubernetes.client.Configuration:
    config = kubernetes.client.Configuration()
    loader = incluster_config.InClusterConfigLoader(  # type: ignore[no-untyped-call]
        token_filename=incluster_config.SERVICE_TOKEN_FILENAME,
        cert_filename=incluster_config.SERVICE_CERT_FILENAME,
        try_refresh_token=True,
        environ=environ,
    )
    try:
        loader.load_and_set(client_configuration=config)  # type: ignore[no-untyped-call]
    except _LOAD_FAILURES as error:
        raise KubeconfigError(
            f"cannot use the pod's service account ({error}): mount its token "
            "(automountServiceAccountToken: true), or pass --kubeconfig PATH"
        ) from None
    return config
