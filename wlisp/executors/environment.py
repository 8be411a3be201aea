"""Secrets stay where they belong (docs/security.md).

Agent processes and tool commands get the environment of `wlisp` minus the
secrets that are not theirs: the `api_key_env` variables of the other profiles,
and every variable named like a secret (`*_API_KEY`, `*_TOKEN`, `*_SECRET`,
`*_PASSWORD`) that the profile does not set in `env` or list in `pass_env`.
And the values of every configured secret are replaced by `***` in what a step
returns, before the runtime journals, logs or prints it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from ..contract import StepOutcome

# the keys each agent CLI type needs, passed to it without listing them in `pass_env`
CLI_KEYS = {
    "claude-code": ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"),
    "codex": ("OPENAI_API_KEY", "CODEX_API_KEY"),
    "llm": ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "LLM_OPENAI_API_KEY"),
    "gemini-cli": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}
SECRET_NAME = re.compile(r".*(_API_KEY|_TOKEN|_SECRET|_PASSWORD|_ACCESS_KEY)", re.IGNORECASE)
MASK = "***"
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


def key_variables(profiles: Mapping[str, dict]) -> dict[str, str]:
    """Profile name -> the variable holding its API key (openai profiles default to
    OPENAI_API_KEY, as the executor does)."""
    out = {}
    for name, prof in profiles.items():
        var = prof.get("api_key_env", "OPENAI_API_KEY" if prof.get("type") == "openai" else None)
        if var:
            out[name] = var
    return out


def agent_environment(own: Mapping[str, str], pass_env: Iterable[str],
                      foreign: Iterable[str], environ: Mapping[str, str] | None = None
                      ) -> dict[str, str]:
    """The environment a profile's processes get: `environ` (default: ours) without
    `foreign` variables or secret-looking names the profile did not ask for, plus its
    own `env` table."""
    environ = os.environ if environ is None else environ
    wanted = set(pass_env) | set(own)
    foreign = set(foreign) - wanted
    out = {k: v for k, v in environ.items()
           if k in wanted or (k not in foreign and not SECRET_NAME.fullmatch(k))}
    out.update(own)
    return out


def secret_values(profiles: Mapping[str, dict],
                  environ: Mapping[str, str] | None = None) -> list[str]:
    """The values to mask: every profile's key variable, the secret-looking variables
    its `pass_env` lets through and the secret-looking entries of its `env` table."""
    environ = os.environ if environ is None else environ
    names = set(key_variables(profiles).values())
    values = set()
    for prof in profiles.values():
        passed = (*CLI_KEYS.get(prof.get("type"), ()), *prof.get("pass_env", ()))
        names.update(n for n in passed if SECRET_NAME.fullmatch(n))
        values.update(_expanded(v, environ) for k, v in (prof.get("env") or {}).items()
                      if SECRET_NAME.fullmatch(k) and isinstance(v, str))
    values.update(environ[n] for n in names if n in environ)
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def _expanded(value: str, environ: Mapping[str, str]) -> str:
    """An `env` value as the agent gets it (`${VAR}` expanded), to mask that."""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                  lambda m: environ.get(m[1], m[0]), value)


class Redactor:
    """Replaces known secret values in the text of outcomes."""

    def __init__(self, secrets: Iterable[str]):
        secrets = sorted(set(secrets), key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, secrets))) if secrets else None

    def text(self, value):
        if self.pattern is None or not isinstance(value, str):
            return value
        return self.pattern.sub(MASK, value)

    def json(self, value):
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k): self.json(v) for k, v in value.items()}
        return value

    def outcome(self, out: StepOutcome) -> StepOutcome:
        if self.pattern is None or not isinstance(out, StepOutcome):
            return out
        texts = (out.output, out.error, out.session_id, out.finish_reason)
        if not any(isinstance(t, str) and self.pattern.search(t) for t in texts) and \
                (out.structured is None or not self.pattern.search(repr(out.structured))):
            return out
        return StepOutcome(
            task_id=out.task_id, session_id=self.text(out.session_id), agent=out.agent,
            output=self.text(out.output), success=out.success,
            structured=self.json(out.structured), usage=out.usage, error=self.text(out.error),
            finish_reason=self.text(out.finish_reason))


class RedactingExecutor:
    """Any executor, with the configured secrets masked in what it returns or raises
    (a server that echoes the Authorization header in a 401 body, an agent CLI that
    prints its key)."""

    def __init__(self, inner, secrets: Iterable[str]):
        self.inner, self.redactor = inner, Redactor(secrets)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def execute_step(self, spec, events=None) -> StepOutcome:
        if events is not None and self.redactor.pattern is not None:
            events = _RedactedEvents(events, self.redactor)
        try:
            out = await self.inner.execute_step(spec, events)
        except Exception as exc:  # noqa: BLE001 - its message may quote a secret
            masked = self.redactor.text(str(exc))
            if masked == str(exc):
                raise
            raise type(exc)(masked) if _rebuildable(exc) else RuntimeError(masked) from None
        return self.redactor.outcome(out)


class _RedactedEvents:
    """An event sink that masks secrets in what an agent printed (the live view,
    `run -v`, the step's files) before passing the event on."""

    def __init__(self, sink, redactor: Redactor):
        self.sink, self.redactor = sink, redactor

    def emit(self, event) -> None:
        if isinstance(event.message, str):
            event.message = self.redactor.text(event.message)
        self.sink.emit(event)


def _rebuildable(exc: Exception) -> bool:
    try:
        type(exc)("x")
    except Exception:  # noqa: BLE001
        return False
    return True
