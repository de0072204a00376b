"""DagFrontier: the pure model of where a run of a workflow's DAG stands.

Random DAGs run under random finishing orders and failures: every step starts only after
its dependencies completed, each at most once, restored steps never, nothing starts after
a failure, and the run always ends, completed exactly when every step did.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockgate.models.run import RunStatus
from lockgate.models.workflow import DagFrontier
from lockgate.use_cases.workflows.builder import AsyncWorkflowBuilder


@dataclass(frozen=True)
class Graph:
    dependencies: dict[str, frozenset[str]]
    restored: frozenset[str]


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """A DAG of up to 12 steps (each depends on some earlier ones, listed in a topological
    order) and a set of restored steps closed under dependencies, as a crashed run leaves."""
    size = draw(st.integers(min_value=0, max_value=12))
    names = [f"s{i}" for i in range(size)]
    dependencies: dict[str, frozenset[str]] = {}
    for i, name in enumerate(names):
        dependencies[name] = frozenset(draw(st.sets(st.sampled_from(names[:i]))) if i else ())
    restored: set[str] = set()
    for name in names:
        if dependencies[name] <= restored and draw(st.booleans()):
            restored.add(name)
    return Graph(dependencies, frozenset(restored))


@given(graphs(), st.data())
def test_a_random_run_respects_the_dag_and_ends(graph: Graph, data: st.DataObject) -> None:
    dag = DagFrontier(graph.dependencies, graph.restored)
    completed = set(graph.restored)
    started: list[str] = []
    running: list[str] = []
    failed: list[str] = []
    for _ in range(2 * len(graph.dependencies) + 1):  # each step starts and ends once
        if dag.finished:
            break
        ready = dag.start_ready()
        if failed:
            assert ready == ()
        for name in ready:
            assert name not in started
            assert name not in graph.restored
            assert graph.dependencies[name] <= completed
        started.extend(ready)
        running.extend(ready)
        assert dag.running == frozenset(running)
        assert running, "not finished, yet nothing runs and nothing is ready"
        name = running.pop(data.draw(st.integers(0, len(running) - 1)))
        if data.draw(st.booleans() if len(graph.dependencies) else st.just(True)):
            dag.completed(name)
            completed.add(name)
        else:
            dag.failed(name)
            failed.append(name)
    assert dag.finished
    assert dag.running == frozenset()
    assert dag.failures == tuple(failed)
    if failed:
        assert dag.outcome is RunStatus.FAILED
        never = set(graph.dependencies) - set(started) - graph.restored
        assert dag.blocked == never
    else:
        assert dag.outcome is RunStatus.COMPLETED
        assert completed == set(graph.dependencies)
        assert dag.blocked == frozenset()


@given(graphs())
def test_without_failures_steps_start_in_a_topological_order(graph: Graph) -> None:
    dag = DagFrontier(graph.dependencies, graph.restored)
    order: list[str] = []
    remaining = set(graph.dependencies) - graph.restored
    while not dag.finished:
        ready = dag.start_ready()
        order.extend(ready)
        for name in ready:
            assert dag.is_last(name) == (remaining == {name})
            dag.completed(name)
            remaining.remove(name)
    assert sorted(order) == sorted(set(graph.dependencies) - graph.restored)
    for position, name in enumerate(order):
        assert not graph.dependencies[name] & set(order[position:])


def test_ready_steps_come_in_the_order_they_became_ready() -> None:
    dag = DagFrontier({"a": set(), "b": set(), "c": {"a"}, "d": {"b"}, "e": {"a"}, "f": {"c", "d"}})
    assert dag.start_ready() == ("a", "b")
    dag.completed("b")
    dag.completed("a")
    assert dag.start_ready() == ("d", "c", "e")
    dag.completed("c")
    assert not dag.is_last("c")
    assert dag.start_ready() == ()
    dag.completed("e")
    dag.completed("d")
    assert dag.start_ready() == ("f",)
    assert dag.is_last("f")
    assert (dag.finished, dag.outcome) == (False, None)
    dag.completed("f")
    assert dag.outcome is RunStatus.COMPLETED


def test_restored_steps_count_as_completed_and_never_start() -> None:
    dag = DagFrontier({"a": set(), "b": {"a"}, "c": {"b"}}, restored={"a", "b", "gone"})
    assert dag.start_ready() == ("c",)
    assert dag.is_last("c")


def test_a_run_whose_steps_were_all_restored_is_already_complete() -> None:
    dag = DagFrontier({"a": set(), "b": {"a"}}, restored={"a", "b"})
    assert dag.finished
    assert dag.outcome is RunStatus.COMPLETED
    assert dag.start_ready() == ()


def test_after_a_failure_running_steps_finish_and_the_rest_is_blocked() -> None:
    dag = DagFrontier({"a": set(), "b": set(), "c": {"a"}, "d": set()})
    assert dag.start_ready() == ("a", "b", "d")
    dag.failed("b")
    assert (dag.finished, dag.outcome) == (False, None)  # a and d still run
    dag.completed("a")
    assert dag.start_ready() == ()  # c is ready, but the run fails fast
    assert dag.blocked == {"c"}
    dag.completed("d")
    assert dag.finished
    assert dag.outcome is RunStatus.FAILED
    assert dag.failures == ("b",)


def test_a_step_finishing_twice_or_unstarted_is_refused() -> None:
    dag = DagFrontier({"a": set(), "b": {"a"}})
    with pytest.raises(KeyError):
        dag.completed("a")  # not started
    dag.start_ready()
    dag.completed("a")
    with pytest.raises(KeyError):
        dag.failed("a")


def test_a_graph_that_could_never_end_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'b' depends on unknown step\(s\) \['x'\]"):
        DagFrontier({"a": set(), "b": {"a", "x"}})
    with pytest.raises(graphlib.CycleError):
        DagFrontier({"a": {"b"}, "b": {"a"}})


def test_of_a_workflow_follows_its_connections() -> None:
    builder = AsyncWorkflowBuilder("shape")
    builder.add_async_code("load", "result = 1")
    builder.add_async_code("left", "result = 2")
    builder.add_async_code("join", "result = 3")
    builder.add_connection("load", "result", "join", "x")
    builder.add_connection("left", "result", "join", "y")
    dag = DagFrontier.of(builder.build(), restored={"load"})
    assert dag.start_ready() == ("left",)
    dag.completed("left")
    assert dag.start_ready() == ("join",)
