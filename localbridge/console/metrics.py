"""Prometheus metrics of one localbridge process, on the console's ``GET /metrics``.

Counters and histograms are fed by the runtime's report listener (one call per
finished attempt); the gauges - dead letters, paused, next fire - are read
from the ledger and the schedules when Prometheus scrapes. The registry is
made here per process and passed around; nothing registers globally.

| name | type | labels | meaning |
|---|---|---|---|
| ``localbridge_invocations_total`` | counter | function, outcome, source | attempts finished |
| ``localbridge_lateness_seconds`` | histogram | function | start minus scheduled time |
| ``localbridge_duration_seconds`` | histogram | function | how long each attempt ran |
| ``localbridge_retries_total`` | counter | function | retries scheduled after a failure |
| ``localbridge_dead_letters`` | gauge | function | ticks now in the dead-letter queue |
| ``localbridge_paused`` | gauge | function | 1 while paused, else 0 |
| ``localbridge_next_fire_timestamp_seconds`` | gauge | function | next fire, epoch seconds |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from localbridge.console.sources import FunctionView
from localbridge.ledger.browse import LedgerReader
from localbridge.ticks import RunReport, TickState

# Lateness is milliseconds when all is well and minutes when a retry or an
# outage delays a run; durations run from a few ms to a function's timeout.
LATENESS_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 900)
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


class RunMetrics:
    """The counters and histograms, fed one finished attempt at a time."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.invocations = Counter(
            "localbridge_invocations",
            "Attempts finished, by function, outcome and source of the tick.",
            ["function", "outcome", "source"],
            registry=registry,
        )
        self.lateness = Histogram(
            "localbridge_lateness_seconds",
            "How late each attempt started after it was due (real seconds).",
            ["function"],
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.duration = Histogram(
            "localbridge_duration_seconds",
            "How long each attempt ran (real seconds).",
            ["function"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.retries = Counter(
            "localbridge_retries",
            "Retries scheduled after a failed attempt.",
            ["function"],
            registry=registry,
        )

    def observe(self, report: RunReport) -> None:
        """The runtime's report listener: one finished attempt."""
        tick, result = report.tick, report.result
        self.invocations.labels(tick.function, result.outcome.value, tick.source.value).inc()
        self.lateness.labels(tick.function).observe(report.lateness_ms / 1000.0)
        self.duration.labels(tick.function).observe(result.duration_ms / 1000.0)
        if report.decision.state is TickState.RETRYING:
            self.retries.labels(tick.function).inc()


class StateCollector(Collector):
    """The gauges, computed at scrape time from the ledger and the schedules."""

    def __init__(
        self,
        reader: LedgerReader,
        functions: Callable[[], Sequence[FunctionView]],
        paused: Callable[[], frozenset[str]],
    ) -> None:
        self._reader = reader
        self._functions = functions
        self._paused = paused

    def collect(self) -> Iterator[Metric]:
        functions = self._functions()
        dead_counts = self._reader.dead_counts()
        paused = self._paused()
        dead = GaugeMetricFamily(
            "localbridge_dead_letters",
            "Ticks in the dead-letter queue now.",
            labels=["function"],
        )
        pause = GaugeMetricFamily(
            "localbridge_paused", "1 while the function is paused, else 0.", labels=["function"]
        )
        next_fire = GaugeMetricFamily(
            "localbridge_next_fire_timestamp_seconds",
            "The function's next scheduled instant (clock time, Unix seconds).",
            labels=["function"],
        )
        for function in functions:
            dead.add_metric([function.name], dead_counts.get(function.name, 0))
            pause.add_metric([function.name], 1.0 if function.name in paused else 0.0)
            if function.next_fires:
                next_fire.add_metric([function.name], function.next_fires[0].timestamp())
        yield dead
        yield pause
        yield next_fire

    def describe(self) -> Iterator[Metric]:
        return iter(())


def make_registry(
    reader: LedgerReader,
    functions: Callable[[], Sequence[FunctionView]],
    paused: Callable[[], frozenset[str]],
) -> tuple[CollectorRegistry, RunMetrics]:
    """A fresh registry holding every localbridge metric, and the part runs feed."""
    registry = CollectorRegistry(auto_describe=False)
    metrics = RunMetrics(registry)
    registry.register(StateCollector(reader, functions, paused))
    return registry, metrics
