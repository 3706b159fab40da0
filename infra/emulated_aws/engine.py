"""The engine: moto's deployed state in, localbridge's runtime firing it.

A watcher thread polls moto's backends (``moto_state``) every half second.
When what is deployed changes - new code, a new or removed function, a new
schedule, ``chalice delete`` - it unpacks any new code package (``packages``),
points each function at its package and hands the new set of functions to
``Runtime.reload``, so the change takes effect at once. The runtime fires the
rules at their exact instants, records every tick in its ledger, retries and
dead-letters as AWS does; runs go through ``LoggingInvoker`` so their output
reaches CloudWatch Logs.

With the real clock the runtime starts with the engine. A virtual clock
(``--clock-start``/``--speed``) waits until someone starts it (``make
deploy-local`` does, once its deploy is complete): at 4 virtual hours a
second, the seconds a deploy takes would otherwise skip the very ticks the
clock start was chosen for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from infra.emulated_aws.logs_sink import LoggingInvoker, MotoLogs
from infra.emulated_aws.moto_state import DeployedFunction, MotoState, deployed_functions
from infra.emulated_aws.packages import CodeCache, PackageError
from localbridge.abc import Clock
from localbridge.clock import SystemClock, VirtualClock
from localbridge.events import AwsIdentity
from localbridge.instants import display_instant
from localbridge.invokers.process import ProcessInvoker
from localbridge.lambda_api.backends import RuntimeBackend
from localbridge.lambda_api.operation import LambdaInvokeHandler
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec
from localbridge.runtime.assemble import make_runtime, warm
from localbridge.runtime.loop import Runtime
from localbridge.schedules import ScheduleError, parse_schedule

log = logging.getLogger("emulated_aws")

POLL_INTERVAL_S = 0.5
STOP_GRACE_S = 10.0


@dataclass(frozen=True)
class ClockSetting:
    start: datetime | None = None
    speed: float = 1.0

    @property
    def virtual(self) -> bool:
        return self.start is not None or self.speed != 1.0

    def make(self) -> Clock:
        if not self.virtual:
            return SystemClock()
        return VirtualClock(self.start or SystemClock().now(), self.speed)


class Engine:
    """See the module docstring. ``poll`` and ``start_clock`` are thread-safe."""

    def __init__(
        self, state_dir: Path, endpoint_url: str, identity: AwsIdentity, clock: ClockSetting
    ) -> None:
        self.state_dir = state_dir
        self.endpoint_url = endpoint_url
        self.identity = identity
        self.clock_setting = clock
        self.moto = MotoState(identity.account, identity.region)
        self.cache = CodeCache(state_dir / "code")
        self.cache.prune(set())  # a fresh moto has deployed nothing yet
        self.ledger = Ledger.open(fresh_ledger(state_dir))
        process = ProcessInvoker(state_dir, identity, task_root=self._task_root)
        self.invoker = LoggingInvoker(process, MotoLogs(identity.account, identity.region))
        self._sync = threading.RLock()
        self._code_dirs: dict[str, Path] = {}
        self._deployed: list[DeployedFunction] = []
        self._runtime: Runtime | None = None
        self._handler: LambdaInvokeHandler | None = None
        self._refused: set[tuple[str, str]] = set()
        self._polling = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="moto-watcher", daemon=True)

    # -- what runs where -----------------------------------------------------

    def _task_root(self, spec: FunctionSpec) -> Path:
        # No lock: the table is replaced whole, never changed in place, and
        # warming workers calls this from other threads while _sync is held.
        return self._code_dirs[spec.lambda_name]  # KeyError: deleted since

    def configured(self) -> list[FunctionSpec]:
        # Deployed functions carry no localbridge section: AWS's own defaults apply.
        return [d.spec for d in self._deployed]

    # -- following moto ------------------------------------------------------

    def poll(self) -> bool:
        """Bring the runtime up to date with moto; True when something changed."""
        # One poll at a time, read to apply: a watcher's poll that read moto
        # before a caller's must not apply its older state after it.
        with self._polling:
            return self._poll()

    def _poll(self) -> bool:
        try:
            deployed = deployed_functions(
                self.moto.functions(),
                self.moto.rules(),
                {"AWS_ENDPOINT_URL": self.endpoint_url},
            )
        except RuntimeError:
            return False  # moto changed a dict while it was read: the next poll sees it
        deployed = self._fireable(deployed)
        with self._sync:
            if deployed == self._deployed:
                return False
            dirs = self._unpack(deployed)
            if dirs is None:
                return False
            previous, self._deployed, self._code_dirs = self._deployed, deployed, dirs
            if self._runtime is not None:
                self._runtime.reload(self.configured())
        describe_change(previous, deployed)
        return True

    def _fireable(self, deployed: Sequence[DeployedFunction]) -> list[DeployedFunction]:
        """Those whose schedule parses; each one that does not is logged once and skipped.

        PutRule refuses a bad expression, but moto can be reached around the
        endpoint: one bad rule must not stop every other from firing.
        """
        fireable = []
        for function in deployed:
            spec = function.spec
            try:
                parse_schedule(spec.expression)
            except ScheduleError as error:
                if (spec.rule_name, spec.expression) not in self._refused:
                    self._refused.add((spec.rule_name, spec.expression))
                    log.error(f"rule {spec.rule_name} skipped: {error}")
                continue
            fireable.append(function)
        return fireable

    def _unpack(self, deployed: Sequence[DeployedFunction]) -> dict[str, Path] | None:
        dirs = {}
        for function in deployed:
            name = function.spec.lambda_name
            try:
                path = self.cache.ensure(function.code_key, partial(self.moto.code_bytes, name))
            except PackageError as exc:
                log.error(f"{name}: {exc}; it will not run until it is deployed again")
                continue
            if path is None:
                return None  # deleted while we looked: the next poll sees a settled state
            dirs[name] = path
        return dirs

    def _watch(self) -> None:
        while not self._stop.wait(POLL_INTERVAL_S):
            try:
                self.poll()
            except Exception:
                log.exception("could not follow the deployed state; trying again")

    # -- the clock -------------------------------------------------------------

    def start(self) -> None:
        """Follow moto from now on; with the real clock, start firing at once."""
        self.poll()
        self._watcher.start()
        if not self.clock_setting.virtual:
            self.start_clock()

    def start_clock(self) -> dict[str, Any]:
        """Start the runtime (idempotent): from now on rules fire and Invoke works."""
        # Catch up with moto first: a deploy that has just returned may not
        # have been polled yet, and its first ticks come right after the start.
        self.poll()
        with self._sync:
            if self._runtime is None:
                warm(self.invoker, [d.spec for d in self._deployed])
                runtime = make_runtime(self.configured(), self.ledger, self.invoker, self.clock())
                runtime.start()
                self._runtime = runtime
                self._handler = LambdaInvokeHandler(RuntimeBackend(runtime), self.identity)
                log.info(f"clock started at {display_instant(runtime.clock.now())}")
        return self.health()

    def clock(self) -> Clock:
        return self.clock_setting.make()

    def invoke_handler(self) -> LambdaInvokeHandler | None:
        return self._handler

    def health(self) -> dict[str, Any]:
        with self._sync:
            runtime, deployed = self._runtime, list(self._deployed)
        return {
            "status": "running",
            # Whose endpoint this is: `make deploy-local` deploys only to its own.
            "state_dir": str(self.state_dir),
            "clock": "waiting" if runtime is None else display_instant(runtime.clock.now()),
            "speed": self.clock_setting.speed,
            "functions": [
                {"name": d.spec.lambda_name, "expression": d.spec.expression} for d in deployed
            ],
        }

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        self._stop.set()
        if self._watcher.is_alive():
            self._watcher.join()
        if self._runtime is not None:
            self._runtime.stop(grace)
        self.invoker.close()
        self.ledger.close()


def fresh_ledger(state_dir: Path) -> Path:
    """The ledger path, the previous session's kept beside it.

    moto starts empty, and a virtual clock starts again where it started last
    time: ticks recorded by the last session would read as already done.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "ledger.db"
    for suffix in ("", "-wal", "-shm"):
        current = path.with_name(path.name + suffix)
        if current.exists():
            current.replace(state_dir / f"ledger.previous.db{suffix}")
    return path


def describe_change(before: Sequence[DeployedFunction], after: Sequence[DeployedFunction]) -> None:
    old = {d.spec.lambda_name: d for d in before}
    new = {d.spec.lambda_name: d for d in after}
    for name in sorted(set(new) - set(old)):
        log.info(f"deployed {name} {new[name].spec.expression} (code {new[name].code_key[:12]})")
    for name in sorted(set(old) & set(new)):
        if old[name] != new[name]:
            log.info(f"updated {name} {new[name].spec.expression} (code {new[name].code_key[:12]})")
    for name in sorted(set(old) - set(new)):
        log.info(f"removed {name}: it no longer fires")
