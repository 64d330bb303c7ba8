"""The host's task tree (replay/tasks.py): when a WhenAll/WhenAny is done, and whom it tells."""

from __future__ import annotations

from durable_host.engine.replay.tasks import Compound, HostTask, Leaf, Wait
from durable_host.taskhub.events import TaskScheduled


class Recorder(HostTask):
    def __init__(self) -> None:
        self.told: list[HostTask] = []

    def on_child_done(self, child: HostTask) -> None:
        self.told.append(child)


def leaves(compound: Compound, count: int) -> list[Leaf]:
    children = [Leaf(kind=TaskScheduled, name="work", seq=i, parent=compound) for i in range(count)]
    compound.children.extend(children)
    compound.settle()
    return children


def test_when_all_is_done_after_its_last_child_and_tells_its_parent_once() -> None:
    parent = Recorder()
    all_of = Compound(any_of=False, parent=parent)
    first, second, third = leaves(all_of, 3)
    first.finish(failed=False)
    third.finish(failed=False)
    assert not all_of.done
    second.finish(failed=False)
    second.finish(failed=False)  # a repeated completion is not counted twice
    assert all_of.done and not all_of.failed_child
    assert parent.told == [all_of]


def test_when_all_ends_at_its_first_failed_child() -> None:
    all_of = Compound(any_of=False)
    first, _ = leaves(all_of, 2)
    first.finish(failed=True)
    assert all_of.done and all_of.failed_child


def test_a_leaf_finished_twice_tells_its_parent_once() -> None:
    parent = Recorder()
    leaf = Leaf(kind=TaskScheduled, name="work", seq=0, parent=parent)
    leaf.finish(failed=True)
    leaf.finish(failed=False)  # a duplicate completion message
    assert parent.told == [leaf] and leaf.failed


def test_when_any_is_done_at_its_first_child() -> None:
    parent = Recorder()
    any_of = Compound(any_of=True, parent=parent)
    _, second = leaves(any_of, 2)
    assert not any_of.done
    second.finish(failed=False)
    assert any_of.done and parent.told == [any_of]


def test_children_done_before_settle_count() -> None:
    all_of = Compound(any_of=False)
    child = Leaf(kind=TaskScheduled, name="w", seq=0, parent=all_of)
    child.done = True
    all_of.children.append(child)
    all_of.settle()
    assert all_of.done


def test_an_empty_when_all_is_done_at_once() -> None:
    empty = Compound(any_of=False)
    empty.settle()
    assert empty.done


def test_a_wait_tells_its_parent() -> None:
    parent = Recorder()
    wait = Wait(name="Approval", parent=parent)
    wait.finish()
    assert wait.done and parent.told == [wait]
