"""What a fired alert does: a log record, an HTTP webhook (a JSON POST), a shell command (the alert's JSON on
stdin), or any Python callable (the retraining trigger, :class:`fti.monitoring.retraining.RetrainAction`, is one).

Example:
    >>> notify(fired, [LogAction(), WebhookAction("https://hooks.example.com/fti")])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fti.errors import BackendError, ValidationError

if TYPE_CHECKING:
    from fti.monitoring.alerts import Alert

__all__ = [
    "AlertAction",
    "CallableAction",
    "LogAction",
    "RetrainFactory",
    "ShellAction",
    "WebhookAction",
    "action_from_dict",
    "notify",
]

RetrainFactory = Callable[[Mapping[str, Any]], "AlertAction"]
"""Builds the retraining action of a ``{type: retrain, ...}`` entry (the monitoring service binds it)."""


class AlertAction(Protocol):
    """Something done with a fired alert."""

    def __call__(self, alert: Alert) -> None:
        """Act on the alert; raise a BackendError naming the target when it fails."""


@dataclass(frozen=True, slots=True)
class LogAction:
    """Write the alert to Python logging (the alert's dict rides along as ``extra={"alert": ...}``)."""

    logger: str = "fti.monitoring.alerts"  # the logger alerts have always gone to
    level: int = logging.WARNING

    def __call__(self, alert: Alert) -> None:
        """Log the alert's message."""
        logging.getLogger(self.logger).log(self.level, "%s", alert.message, extra={"alert": alert.to_dict()})


@dataclass(frozen=True, slots=True)
class WebhookAction:
    """POST the alert as JSON to ``url``."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise ValidationError(f"Alert webhook URL {self.url!r} must start with http:// or https://.")

    def __call__(self, alert: Alert) -> None:
        """Send the alert; any answer but 2xx is a failure."""
        body = json.dumps(alert.to_dict()).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json", **self.headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise BackendError(
                f"Alert webhook {self.url} answered HTTP {exc.code}: check the URL and its credentials."
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BackendError(
                f"Alert webhook {self.url} is unreachable ({reason}): check the URL and network."
            ) from exc


@dataclass(frozen=True, slots=True)
class ShellAction:
    """Run a command (no shell; wrap it in ``["sh", "-c", ...]`` for one) with the alert's JSON on stdin."""

    command: Sequence[str]
    timeout: float = 60.0

    def __call__(self, alert: Alert) -> None:
        """Run the command; a non-zero exit is a failure."""
        shown = " ".join(self.command)
        try:
            done = subprocess.run(
                list(self.command),
                input=json.dumps(alert.to_dict()),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"Alert command `{shown}` could not run: {exc}. Check the command.") from exc
        if done.returncode != 0:
            raise BackendError(f"Alert command `{shown}` exited with {done.returncode}: {done.stderr.strip()[-500:]}")


@dataclass(frozen=True, slots=True)
class CallableAction:
    """Call a Python function with the alert (a retraining trigger, a pager client)."""

    function: Callable[[Alert], Any]

    def __call__(self, alert: Alert) -> None:
        """Call the function."""
        self.function(alert)


def notify(alerts: Iterable[Alert], actions: Iterable[AlertAction]) -> None:
    """Run every action for every alert; one failing action does not stop the others.

    Raises:
        BackendError: after all ran, listing every action that failed.
    """
    chosen = list(actions)
    failures: list[str] = []
    first: Exception | None = None
    for alert in alerts:
        for action in chosen:
            try:
                action(alert)
            except Exception as exc:  # an action is user code or a remote service: run the rest, report them all
                failures.append(f"{type(action).__name__} on '{alert.rule}' ({alert.subject}): {exc}")
                first = first or exc
    if failures:
        raise BackendError(f"{len(failures)} alert action(s) failed: " + " | ".join(failures)) from first


def action_from_dict(item: Any, where: str, retrain: RetrainFactory | None = None) -> AlertAction:
    """Read an action written as plain data, e.g. ``{"type": "webhook", "url": ...}`` from YAML; ``where`` names it
    in messages, ``retrain`` builds a ``retrain`` action (without it, one is refused)."""
    if not isinstance(item, Mapping):
        raise ValidationError(f"{where} must be a mapping with a 'type', got {item!r}.")
    options = dict(item)
    kind = options.pop("type", None)
    try:
        if kind == "log":
            return LogAction(**options)
        if kind == "webhook":
            return WebhookAction(**options)
        if kind == "shell":
            command = options.pop("command", None)
            if isinstance(command, str):
                command = ["sh", "-c", command]
            if not isinstance(command, list) or not command:
                raise ValidationError(f"{where}: a shell action needs 'command' (a string or a list of arguments).")
            return ShellAction([str(part) for part in command], **options)
    except TypeError as exc:
        raise ValidationError(f"{where} has bad fields: {exc}.") from exc
    if kind == "retrain":
        if retrain is None:
            raise ValidationError(f"{where}: a retrain action needs a project (run it through fti monitor check).")
        if not isinstance(options.get("pipeline"), str):
            raise ValidationError(f"{where}: a retrain action needs 'pipeline': 'package.module:function'.")
        return retrain(options)
    raise ValidationError(f"{where} has type {kind!r}: use log, webhook, shell or retrain.")
