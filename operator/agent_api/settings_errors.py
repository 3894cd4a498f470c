"""One wording for bad settings in every command line program.

A person sets a value through a flag or an environment variable, never through a pydantic
field name, so each problem names both (`--debounce-seconds / AGENT_SYNC_DEBOUNCE_SECONDS:
Input should be greater than 0`). A problem of the settings as a whole (a model
validator's message) is shown as it is. Every program prints
`PROGRAM: invalid settings: ...` and exits 2.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

EXIT_CODE = 2  # bad usage, in every program


def flag_for(field: str) -> str:
    """The flag that sets a field, by the projects' convention: `max_turns` -> `--max-turns`."""
    return "--" + field.replace("_", "-")


def setting_name(
    field: str,
    *,
    env_prefix: str,
    flags: Mapping[str, str | None] | None = None,
    env_names: Mapping[str, str] | None = None,
) -> str:
    """How a person names a setting: its flag and its environment variable.

    `flags` overrides the conventional flag of a field (None: the setting has no flag);
    `env_names` overrides `env_prefix + FIELD`.
    """
    flags = flags or {}
    flag = flags[field] if field in flags else flag_for(field)
    env = (env_names or {}).get(field) or f"{env_prefix}{field.upper()}"
    return f"{flag} / {env}" if flag else env


def describe(
    error: ValidationError,
    *,
    env_prefix: str,
    flags: Mapping[str, str | None] | None = None,
    env_names: Mapping[str, str] | None = None,
) -> str:
    """Every problem of `error` on one line, each naming the flag and the variable."""
    problems = []
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        location = [str(part) for part in item["loc"]]
        if not location:
            problems.append(message)
            continue
        name = setting_name(location[0], env_prefix=env_prefix, flags=flags, env_names=env_names)
        inner = f" (item {'.'.join(location[1:])})" if len(location) > 1 else ""
        problems.append(f"{name}{inner}: {message}")
    return "; ".join(problems)


def message(program: str, details: str) -> str:
    """The line a program prints before it exits with EXIT_CODE."""
    return f"{program}: invalid settings: {details}"


def port_in_use(program: str, *, port: int, host: str, setting: str) -> str:
    """One line for a server port another process holds, naming the flag and variable."""
    return (
        f"{program}: port {port} on {host} is already in use: stop what holds it, or choose "
        f"another port with {setting} (0 turns that server off)"
    )
