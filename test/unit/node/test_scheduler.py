"""The node's scheduler (sam2_ros/node/scheduler.py) without ROS: a fake clock, fake images and prompts."""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from pathlib import Path
from weakref import WeakKeyDictionary

import pytest

from sam2_ros.node.scheduler import Dropped, Job, Scheduler

WAIT = 0.5  # prompt_wait_s


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True)
class Req:
    """A prompt request: the scheduler only reads ``stamp_ns``."""

    name: str
    stamp_ns: int


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sched(clock: FakeClock) -> Scheduler:
    return Scheduler(["cam"], clock=clock)


# what each scheduler's streams' trackers hold as their newest frame, as reported by `finish` below
HELD: WeakKeyDictionary[Scheduler, dict[str, int | None]] = WeakKeyDictionary()


def finish(sched: Scheduler, stream: str, job: Job, newest: int | None) -> None:
    """Report ``job`` done as the node does: the stream's tracker now holds frames up to ``newest``."""
    HELD.setdefault(sched, {})[stream] = newest
    sched.finish(stream, job, newest)


def run(sched: Scheduler, stream: str = "cam") -> Job:
    """Take the stream's job and report it done as the node does: the tracker then holds the job's frame
    as its newest, nothing after a reset without a frame, else what it held before."""
    job = sched.take(stream, WAIT)
    assert job is not None
    if job.frame is not None:
        newest = job.frame.stamp_ns
    else:
        newest = None if job.reset else HELD.get(sched, {}).get(stream)
    finish(sched, stream, job, newest)
    return job


def assert_newest(sched: Scheduler, stream: str, stamp: int | None) -> None:
    """The scheduler takes ``stamp`` as the newest frame ``stream``'s tracker holds (None: none).

    Seen through its prompt rule, on a copy with nothing else waiting: a prompt stamped ``stamp``
    runs at once, one stamped after it waits for its image; with no frame held, every prompt waits.
    """

    def runs_at_once(prompt_stamp: int) -> bool:
        probe = copy.deepcopy(sched)
        probe.drop_waiting()
        probe.put_prompt(stream, Req("probe", prompt_stamp))
        return probe.has_work(WAIT)

    if stamp is None:
        assert not runs_at_once(-(1 << 62))
    else:
        assert runs_at_once(stamp) and not runs_at_once(stamp + 1)


def test_the_newest_image_wins_and_replaced_ones_count_as_dropped(sched, clock):
    assert not sched.has_work(WAIT) and sched.take("cam", WAIT) is None
    for stamp in (10, 11, 12):
        sched.put_image("cam", f"image {stamp}", stamp)
        clock.advance(0.01)
    assert sched.has_work(WAIT)
    job = sched.take("cam", WAIT)
    assert job == Job(reset=False, frame=job.frame, prompts_before=(), prompts_after=())
    assert (job.frame.message, job.frame.stamp_ns) == ("image 12", 12)
    assert job.frame.arrived == pytest.approx(100.02)  # arrival time of the image taken, by the injected clock
    assert sched.counts("cam") == (3, 2)
    assert not sched.has_work(WAIT) and sched.take("cam", WAIT) is None  # taken: nothing waits any more
    sched.put_image("cam", "image 13", 13)  # nothing waiting: nothing dropped
    assert sched.take("cam", WAIT).frame.stamp_ns == 13
    assert sched.counts("cam") == (4, 2)


def test_a_prompt_stamped_like_the_frame_goes_right_after_it(sched):
    sched.put_image("cam", "a", 10)
    run(sched)
    sched.put_image("cam", "b", 11)
    made_on_b = Req("on b", 11)
    sched.put_prompt("cam", made_on_b)
    job = sched.take("cam", WAIT)
    assert job.frame.stamp_ns == 11
    assert job.prompts_after == (made_on_b,) and job.prompts_before == ()


def test_a_prompt_for_an_already_processed_stamp_goes_before_the_next_frame(sched):
    sched.put_image("cam", "a", 10)
    run(sched)
    assert_newest(sched, "cam", 10)
    on_newest, on_older = Req("on the newest", 10), Req("on an older frame", 7)
    sched.put_prompt("cam", on_newest)
    sched.put_prompt("cam", on_older)
    assert sched.has_work(WAIT)  # no need to wait for an image
    sched.put_image("cam", "b", 11)
    job = sched.take("cam", WAIT)
    assert job.frame.stamp_ns == 11
    assert job.prompts_before == (on_newest, on_older)  # arrival order kept
    assert job.prompts_after == ()


def test_a_processed_stamp_prompt_runs_without_any_new_image(sched):
    sched.put_image("cam", "a", 10)
    run(sched)
    late = Req("late", 9)
    sched.put_prompt("cam", late)
    job = sched.take("cam", WAIT)
    assert job == Job(reset=False, frame=None, prompts_before=(late,), prompts_after=())


def test_jobs_name_the_prompt_stamps_no_received_image_had(sched, clock):
    sched.put_image("cam", "a", 10)
    sched.put_image("cam", "b", 11)  # replaces a: dropped, but its stamp was received
    sched.reject_image("cam")  # a rejected image's stamp is not remembered (it was never queued)
    on_a, never, ahead = Req("on a", 10), Req("never", 5), Req("ahead", 20)
    for req in (on_a, never, ahead):
        sched.put_prompt("cam", req)
    job = run(sched)
    assert job.prompts_before == (on_a, never) and job.unseen_stamps == frozenset({5})
    clock.advance(WAIT + 0.1)  # the prompt stamped ahead waited for an image that never came
    job = run(sched)
    assert job.prompts_before == (ahead,) and job.unseen_stamps == frozenset({20})


def test_a_prompt_ahead_of_the_images_waits_for_its_image(sched, clock):
    sched.put_image("cam", "a", 10)
    run(sched)
    ahead = Req("ahead", 12)
    sched.put_prompt("cam", ahead)
    assert not sched.has_work(WAIT) and sched.take("cam", WAIT) is None
    clock.advance(0.2)
    sched.put_image("cam", "b", 11)  # an image, but not the prompt's
    job = sched.take("cam", WAIT)
    assert job.frame.stamp_ns == 11 and job.prompts_before == () and job.prompts_after == ()
    finish(sched, "cam", job, 11)
    clock.advance(0.2)  # 0.4 s < prompt_wait_s: still waiting
    assert not sched.has_work(WAIT)
    sched.put_image("cam", "c", 12)
    job = sched.take("cam", WAIT)
    assert job.frame.stamp_ns == 12 and job.prompts_after == (ahead,) and job.prompts_before == ()


def prompt_ahead(sched: Scheduler, stamp: int) -> Req:
    """Image 10 tracked, then a prompt stamped ``stamp`` (ahead of it) queued."""
    sched.put_image("cam", "a", 10)
    run(sched)
    ahead = Req("ahead", stamp)
    sched.put_prompt("cam", ahead)
    return ahead


def test_a_waiting_prompt_goes_before_a_newer_image(sched, clock):
    """Its own image can no longer come once a newer one has: it does not wait past that image."""
    ahead = prompt_ahead(sched, 12)
    clock.advance(0.1)  # well within prompt_wait_s
    sched.put_image("cam", "d", 13)  # newer than the prompt: image 12 was lost on the way
    job = sched.take("cam", WAIT)
    assert job.frame.stamp_ns == 13 and job.prompts_before == (ahead,) and job.prompts_after == ()


def test_a_waiting_prompt_is_released_after_prompt_wait_s(sched, clock):
    ahead = prompt_ahead(sched, 20)
    clock.advance(WAIT - 0.01)
    assert not sched.has_work(WAIT) and sched.take("cam", WAIT) is None
    clock.advance(0.01)  # its image never came: applied to the newest image
    assert sched.has_work(WAIT)
    assert sched.take("cam", WAIT) == Job(reset=False, frame=None, prompts_before=(ahead,), prompts_after=())
    assert sched.take("cam", WAIT) is None  # taken once only


def test_prompt_wait_s_zero_applies_prompts_ahead_at_once(sched):
    sched.put_image("cam", "a", 10)
    run(sched)
    ahead = Req("ahead", 20)
    sched.put_prompt("cam", ahead)
    assert sched.take("cam", 0.0).prompts_before == (ahead,)


def test_before_any_image_every_prompt_waits(sched, clock):
    early = Req("before any image", 5)
    sched.put_prompt("cam", early)
    assert_newest(sched, "cam", None)
    assert not sched.has_work(WAIT)
    clock.advance(WAIT)
    assert sched.take("cam", WAIT).prompts_before == (early,)


def test_reset_comes_first_and_stays_pending_until_finished(sched):
    sched.put_image("cam", "a", 10)
    run(sched)
    sched.put_prompt("cam", old := Req("on a", 10))
    sched.put_image("cam", "b", 11)
    sched.put_prompt("cam", on_b := Req("on b", 11))
    assert not sched.reset_pending()
    sched.request_reset()
    assert sched.reset_pending() and sched.reset_pending("cam")
    job = sched.take("cam", WAIT)
    assert job.reset and job.frame.stamp_ns == 11
    assert job.prompts_before == (old,) and job.prompts_after == (on_b,)
    assert sched.reset_pending()  # taken, not finished
    finish(sched, "cam", job, None)  # say the frame failed to convert: the reset tracker holds nothing
    assert not sched.reset_pending()
    assert_newest(sched, "cam", None)
    assert sched.take("cam", WAIT) is None


def test_a_reset_requested_while_one_runs_is_not_lost(sched):
    sched.request_reset("cam")
    job = sched.take("cam", WAIT)
    assert job == Job(reset=True, frame=None, prompts_before=(), prompts_after=())
    sched.request_reset("cam")  # arrives while the worker runs the first
    finish(sched, "cam", job, None)
    assert sched.reset_pending("cam") and sched.has_work(WAIT)
    assert sched.take("cam", WAIT).reset


def test_a_reset_forgets_the_newest_frame(sched, clock):
    sched.put_image("cam", "a", 10)
    run(sched)
    sched.request_reset()
    run(sched)  # reset only: the tracker holds nothing
    assert_newest(sched, "cam", None)
    sched.put_prompt("cam", Req("on a, after the reset", 10))
    assert not sched.has_work(WAIT)  # stamp 10 is no longer a processed image: it waits like any other


def test_streams_are_independent(clock):
    sched = Scheduler(["left", "right"], clock=clock)
    assert sched.counts("left") == sched.counts("right") == (0, 0)  # these two streams, and no other
    with pytest.raises(KeyError):
        sched.counts("cam")
    sched.put_image("left", "l1", 1)
    sched.put_image("left", "l2", 2)
    sched.put_image("right", "r1", 1)
    assert sched.counts("left") == (2, 1) and sched.counts("right") == (1, 0)
    jobs = sched.take_all(WAIT)
    assert set(jobs) == {"left", "right"}
    assert jobs["left"].frame.message == "l2" and jobs["right"].frame.message == "r1"
    finish(sched, "left", jobs["left"], 2)
    finish(sched, "right", jobs["right"], 1)
    # stamp 2 is processed on the left only: the same prompt runs at once there, waits on the right
    sched.put_prompt("left", on_left := Req("left", 2))
    sched.put_prompt("right", on_right := Req("right", 2))
    assert sched.take_all(WAIT) == {"left": Job(False, None, (on_left,), ())}
    sched.request_reset("right")
    assert sched.reset_pending("right") and not sched.reset_pending("left")
    jobs = sched.take_all(WAIT)
    assert set(jobs) == {"right"} and jobs["right"].reset and jobs["right"].prompts_before == ()
    finish(sched, "right", jobs["right"], None)
    assert_newest(sched, "left", 2)
    assert_newest(sched, "right", None)
    clock.advance(WAIT)
    assert sched.take_all(WAIT) == {"right": Job(False, None, (on_right,), ())}


def test_a_rejected_image_is_counted_and_never_displaces_a_waiting_one(sched):
    sched.put_image("cam", "good", 10)
    sched.reject_image("cam")  # bad as it arrived: counted, not queued
    sched.reject_image("cam")
    assert sched.counts("cam") == (3, 0) and sched.rejected("cam") == 2
    assert sched.take("cam", WAIT).frame.message == "good"
    sched.reject_image("cam")
    assert not sched.has_work(WAIT) and sched.take("cam", WAIT) is None
    assert sched.counts("cam") == (4, 0) and sched.rejected("cam") == 3


def test_drop_waiting_forgets_images_prompts_and_resets_not_taken(sched):
    sched.put_image("cam", "a", 10)
    running = sched.take("cam", WAIT)  # handed to the worker: not affected
    sched.put_image("cam", "b", 11)
    sched.put_prompt("cam", Req("on b", 11))
    sched.put_prompt("cam", Req("ahead", 12))
    ticket = sched.request_reset()
    assert sched.drop_waiting() == Dropped(images=1, prompts=2, resets=1)
    assert sched.counts("cam") == (2, 1)  # the dropped image counts as dropped
    assert not sched.reset_pending() and not sched.reset_done(ticket)
    assert not sched.has_work(0.0) and sched.take("cam", 0.0) is None
    finish(sched, "cam", running, 10)  # the job in flight reports as usual
    assert_newest(sched, "cam", 10)
    assert sched.drop_waiting() == Dropped()  # nothing left


def test_reset_tickets_say_whether_a_request_ran(sched):
    first = sched.request_reset()
    job = sched.take("cam", WAIT)
    assert job.reset and not sched.reset_done(first)  # taken, not finished
    second = sched.request_reset()  # arrives while the first runs
    finish(sched, "cam", job, None)
    assert sched.reset_done(first) and not sched.reset_done(second)
    sched.drop_waiting()  # e.g. deactivation: the second never runs
    assert not sched.reset_pending() and not sched.reset_done(second)
    third = sched.request_reset()
    run(sched)
    assert sched.reset_done(third) and sched.reset_done(second)  # a later reset covers an earlier request


def test_reset_tickets_of_one_stream(clock):
    sched = Scheduler(["left", "right"], clock=clock)
    left = sched.request_reset("left")
    both = sched.request_reset()
    jobs = sched.take_all(WAIT)
    finish(sched, "left", jobs["left"], None)
    assert sched.reset_done(left, "left") and sched.reset_done(both, "left")
    assert not sched.reset_done(both)  # the right stream has not finished
    finish(sched, "right", jobs["right"], None)
    assert sched.reset_done(both)


def test_job_is_frozen(sched):
    sched.put_image("cam", "a", 10)
    job = sched.take("cam", WAIT)
    with pytest.raises(AttributeError):
        job.reset = True  # type: ignore[misc]


def test_scheduler_imports_nothing_from_ros():
    source = Path(__file__).resolve().parents[3] / "sam2_ros" / "node" / "scheduler.py"
    tree = ast.parse(source.read_text())
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert modules <= {"__future__", "time", "collections", "collections.abc", "dataclasses", "typing"}, modules
