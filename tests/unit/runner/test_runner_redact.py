"""Secrets never leave the process."""

from __future__ import annotations

import base64

from agent_runner.redact import MASK, Redactor


def test_known_values_from_the_environment_are_masked() -> None:
    redact = Redactor.from_env(
        {"ANTHROPIC_API_KEY": "plainkey-1234567", "GIT_TOKEN": "tok-abcdefgh",
         "MY_SERVICE_PASSWORD": "hunter2hunter2", "PATH": "/usr/bin:/bin"}
    )

    text = redact("a plainkey-1234567 b tok-abcdefgh c hunter2hunter2 /usr/bin:/bin")

    assert text == f"a {MASK} b {MASK} c {MASK} /usr/bin:/bin"


def test_the_basic_auth_form_of_a_token_is_masked() -> None:
    redact = Redactor(["tok-abcdefgh"])
    header = base64.b64encode(b"x-access-token:tok-abcdefgh").decode()

    assert header not in redact(f"extraheader = Authorization: Basic {header}")


def test_token_shapes_are_masked_without_knowing_them() -> None:
    redact = Redactor()
    samples = [
        "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        "ghp_" + "a" * 36,
        "github_pat_" + "B" * 40,
        "glpat-" + "c" * 20,
    ]
    for sample in samples:
        assert sample not in redact(f"x {sample} y")
    assert redact("https://user:s3cretpass@github.com/org/repo.git") == (
        f"https://user:{MASK}@github.com/org/repo.git"
    )
    assert redact("Authorization: Bearer abc.def") == f"Authorization: Bearer {MASK}"


def test_short_values_are_not_treated_as_secrets() -> None:
    redact = Redactor.from_env({"GIT_TOKEN": "abc"})
    assert redact("abc") == "abc"


def test_ordinary_text_is_left_alone() -> None:
    text = "Fixed calc.add; 12 passed in 0.3s. See https://example.com/docs"
    assert Redactor(["secret-value-123"])(text) == text
