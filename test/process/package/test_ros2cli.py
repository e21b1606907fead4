"""The package run the way users run it: the real ``ros2 launch`` and ``ros2`` command line
(upstream launch, launch_ros and ros2cli from ``../shared/ros2-cli``, which scripts/run_tests.sh
installs into the venv where that folder exists), as separate processes, over real DDS.

Every command gets ``AMENT_PREFIX_PATH`` with the venv (where the pip-only set-up installs the
package: its executables in ``lib/sam2_ros``, its resources in ``share/sam2_ros``), a private
``ROS_DOMAIN_ID`` and localhost discovery (ros_harness.ros_environment()). In front of the venv
goes a small prefix whose ``share/sam2_ros`` links ``launch/``, ``config/`` and ``rviz/`` to this
checkout (what ``colcon build --symlink-install`` gives): scripts/setup_env.sh copies them into
the venv when it builds it, and the checkout's launch file is the one under test.

One launched node (the shipped model, a user params file, a namespace, ``image_topics``) serves
the CLI checks and is stopped last with Ctrl-C; the launch without a model and ``rviz:=true``
without rviz2 get their own. Each process is started in its own session and its whole process
group is killed at the end, whatever the outcome. ``ros2`` verbs use the ros2 daemon of the test's
domain (``--no-daemon`` costs each call two discovery waits, and the default 0.5 s wait misses the
node now and then) and are retried while it has not seen the node yet ("Node not found"); the
daemon is stopped at the end.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from ros_harness import ros_environment, wait_until

from sam2_ros.node.params import SPECS

REPO = Path(__file__).resolve().parents[3]
VENV = Path(sys.prefix)
ROS2_CLI_DIR = REPO.parent / "shared" / "ros2-cli"
ROS2 = VENV / "bin" / "ros2"
PLAYER = VENV / "bin" / "sam2-ros-player"
START_TIMEOUT = 90.0  # a loaded 2-core machine: launch, rclpy and the model take a while
RATE = 5.0  # the player's frame rate in the streaming checks


def _missing() -> str | None:
    """Why these tests cannot run here, or None."""
    if not ROS2_CLI_DIR.is_dir():
        return f"{ROS2_CLI_DIR} is absent: the upstream ROS 2 launch system and ros2 command line are not available"
    if not ROS2.is_file() or importlib.util.find_spec("launch_ros") is None:
        return (
            f"ros2 / launch_ros are not installed in {VENV}: run {ROS2_CLI_DIR}/install.sh {VENV} "
            "(scripts/run_tests.sh does)"
        )
    if not (VENV / "lib" / "sam2_ros" / "sam2_ros_node").is_file():
        return f"sam2_ros is not installed in {VENV} (no lib/sam2_ros/sam2_ros_node): run scripts/setup_env.sh"
    return None


pytestmark = [pytest.mark.slow, pytest.mark.skipif(_missing() is not None, reason=str(_missing()))]

# `ros2 launch` with SIGINT at its default, as a terminal starts it: a process started from a
# script or CI inherits SIGINT ignored, and launch would then not react to Ctrl-C (ros2-cli README).
_SIGINT_DEFAULT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])"
)


# ---------------------------------------------------------------- environment and processes


def _checkout_prefix(root: Path) -> Path:
    """An ament prefix for sam2_ros: the venv's install, with launch/config/rviz of this checkout."""
    prefix = root / "prefix"
    marker = prefix / "share" / "ament_index" / "resource_index" / "packages" / "sam2_ros"
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    (prefix / "lib").mkdir()
    (prefix / "lib" / "sam2_ros").symlink_to(VENV / "lib" / "sam2_ros")
    share = prefix / "share" / "sam2_ros"
    share.mkdir()
    for entry in (VENV / "share" / "sam2_ros").iterdir():
        if entry.name not in ("launch", "config", "rviz"):
            (share / entry.name).symlink_to(entry)
    for name in ("launch", "config", "rviz"):  # folders of links: ros2 launch's file search follows no folder link
        for source in (REPO / name).rglob("*"):
            target = share / name / source.relative_to(REPO / name)
            if source.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            elif "__pycache__" not in source.parts:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(source)
    return prefix


def _daemons(domain: str) -> set[int]:
    """Pids of ros2 daemons on ``domain``."""
    found = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                if b"--name" in cmdline and b"ros2-daemon" in cmdline and f"{domain}".encode() in cmdline:
                    found.add(int(proc.name))
    return found


def processes_with(text: str) -> list[tuple[int, str]]:
    """(pid, command line) of every live process whose command line contains ``text``."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            with contextlib.suppress(OSError):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                status = (proc / "status").read_text()
                if text in cmdline and "\nState:\tZ" not in status:
                    found.append((int(proc.name), cmdline.strip()))
    return found


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` is left."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Started:
    """A process in its own session (its process group), output to a log file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, sigint_default: bool = False):
        self.log_path = log
        self._log = open(log, "w")  # noqa: SIM115 - closed in kill()
        if sigint_default:
            argv = [sys.executable, "-S", "-c", _SIGINT_DEFAULT, *argv]
        self.proc = subprocess.Popen(argv, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pgid = self.proc.pid

    def output(self) -> str:
        """Everything the process (group) printed so far."""
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to whatever is left of the process group; reap the process."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._log.close()


class Session:
    """The environment of every command, the processes started, and the cleanup."""

    def __init__(self, root: Path):
        self.root = root
        env = ros_environment()
        prefixes = [str(_checkout_prefix(root)), str(VENV)]
        prefixes += [p for p in env.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p and p not in prefixes]
        env["AMENT_PREFIX_PATH"] = os.pathsep.join(prefixes)
        env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["ROS_LOG_DIR"] = str(root / "ros_log")
        env["PYTHONUNBUFFERED"] = "1"  # `ros2 topic hz` prints to a file as it measures
        self.env = env
        self.domain = env["ROS_DOMAIN_ID"]
        self.daemons_before = _daemons(self.domain)
        self.started: list[Started] = []
        self._count = 0

    def start(self, argv: list[str], name: str, sigint_default: bool = False) -> Started:
        self._count += 1
        started = Started(argv, self.env, self.root / f"{self._count:02d}_{name}.log", sigint_default)
        self.started.append(started)
        return started

    def launch(self, *arguments: str, name: str = "launch") -> Started:
        """``ros2 launch sam2_ros sam2_ros.launch.py ARGUMENTS``, as from a terminal."""
        return self.start([str(ROS2), "launch", "sam2_ros", "sam2_ros.launch.py", *arguments], name, True)

    def ros2(self, *args: str, timeout: float = 60.0, attempts: int = 4) -> subprocess.CompletedProcess[str]:
        """``ros2 ARGS``; again (up to ``attempts``) while discovery has not found the node yet."""
        for attempt in range(attempts):
            argv = [str(ROS2), *args]
            result = subprocess.run(
                argv, env=self.env, capture_output=True, text=True, timeout=timeout, start_new_session=True
            )
            if "Node not found" not in result.stdout + result.stderr or attempt == attempts - 1:
                return result
            time.sleep(1.0)
        raise AssertionError("unreachable")

    def close(self) -> None:
        for started in self.started:
            started.kill()
        ours = _daemons(self.domain) - self.daemons_before
        if ours:
            with contextlib.suppress(subprocess.SubprocessError):
                subprocess.run([str(ROS2), "daemon", "stop"], env=self.env, capture_output=True, timeout=30)
        for pid in ours & _daemons(self.domain):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _text(result: subprocess.CompletedProcess[str]) -> str:
    """A command's exit status and output, for an assertion message."""
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}"


def _out(result: subprocess.CompletedProcess[str]) -> str:
    """A command's stdout and stderr together, stripped."""
    return (result.stdout + result.stderr).strip()


def wait_for_log(started: Started, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
    """The first match of ``pattern`` in the process's output (fails if it exits first)."""

    def found() -> re.Match[str] | None:
        match = re.search(pattern, started.output(), re.MULTILINE)
        if match is None and not started.alive():
            raise AssertionError(f"exited ({started.proc.returncode}) before {pattern!r}:\n{started.output()[-3000:]}")
        return match

    try:
        return wait_until(found, timeout, repr(pattern))
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{started.output()[-3000:]}") from None


def stop_with_sigint(started: Started, whole_group: bool, timeout: float = 30.0) -> int:
    """Ctrl-C (SIGINT to the process group, ``whole_group``) or SIGINT to the launch process alone."""
    if whole_group:
        os.killpg(started.pgid, signal.SIGINT)
    else:
        started.proc.send_signal(signal.SIGINT)
    try:
        return started.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {timeout:.0f} s after SIGINT:\n{started.output()[-3000:]}") from None


def assert_clean_exit(started: Started, code: int, marker: str) -> None:
    """Exit 0, no traceback, and nothing of the launch left running."""
    time.sleep(0.5)
    output = started.output()
    assert code == 0, output[-3000:]
    for bad in ("Traceback", "RCLError", "Failed to publish", "exception", "process has died"):
        assert bad not in output, output[-3000:]
    assert "process has finished cleanly" in output, output[-3000:]
    assert not group_alive(started.pgid), processes_with(marker)
    assert processes_with(marker) == []


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    session = Session(tmp_path_factory.mktemp("ros2cli"))
    try:
        yield session
    finally:
        session.close()


def namespace(kind: str) -> str:
    """A namespace of this test process; no other's contains it (process listings search for it)."""
    return f"sam2cli_{os.getpid()}_{kind}"


NAMESPACE = namespace("launch")  # the launched node is /<NAMESPACE>/sam2_ros
NODE = f"/{NAMESPACE}/sam2_ros"
IMAGE_TOPIC = "camera/image_raw"  # relative: /<NAMESPACE>/camera/image_raw
USER_PARAMETERS = {"max_objects": 7, "input_reliability": "reliable", "image_topics": ["not/this/image"]}


class Launched:
    """The launch of the module: the shipped model, a user params file, a namespace, image_topics."""

    def __init__(self, started: Started, model_dir: Path):
        self.started = started
        self.model_dir = model_dir


@pytest.fixture(scope="module")
def launched(session: Session, shipped_dir: Path) -> Launched:
    params = session.root / "my_params.yaml"
    # the user's file: any namespace; reliable input (this is about the CLI, not about transport)
    params.write_text(yaml.safe_dump({"/**": {"ros__parameters": USER_PARAMETERS}}))
    started = session.launch(
        f"model_dir:={shipped_dir}",
        f"params_file:={params}",
        f"namespace:={NAMESPACE}",
        f"image_topics:=['{IMAGE_TOPIC}']",
        name="launch_model",
    )
    wait_for_log(started, rf"\[{NAMESPACE}\.sam2_ros\]: active$")
    return Launched(started, Path(shipped_dir))


def _require_running(launched: Launched) -> None:
    assert launched.started.alive(), f"the launch has ended:\n{launched.started.output()[-3000:]}"


# ---------------------------------------------------------------- launches of their own


def test_launch_without_a_model_logs_why_and_stays_up_unconfigured(session):
    """No model_dir anywhere (the package's params file): one clear configure error, the node stays
    up unconfigured (model_dir is read-only, so it cannot be set there), and SIGINT to the launch
    process alone ends it cleanly."""
    ns = namespace("nomodel")
    node = f"/{ns}/sam2_ros"
    started = session.launch(f"namespace:={ns}", name="launch_no_model")
    wait_for_log(started, r"\]: configure failed: .*$")
    output = started.output()
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert len(errors) == 1, output
    why = "configure failed: parameter model_dir is empty: set it to a directory written by sam2-ros-export"
    assert why in errors[0], output
    state = session.ros2("lifecycle", "get", node)
    assert state.stdout.strip() == "unconfigured [1]", _text(state)
    refused = session.ros2("param", "set", node, "model_dir", str(REPO))
    # (ros2 param set reports a refusal on stderr, with exit status 0)
    assert _out(refused) == "Setting parameter failed: Trying to set a read-only parameter: model_dir.", _text(refused)
    assert started.alive(), started.output()[-3000:]
    code = stop_with_sigint(started, whole_group=False)
    assert_clean_exit(started, code, ns)


def test_rviz_without_rviz2_starts_nothing_and_says_why_in_one_line(session, shipped_dir, monkeypatch):
    """Issue 22, defect 5: the node was started, then launch failed on RViz and left it running."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    monkeypatch.setenv("AMENT_PREFIX_PATH", session.env["AMENT_PREFIX_PATH"])
    with contextlib.suppress(PackageNotFoundError):
        get_package_prefix("rviz2")
        pytest.skip("rviz2 is installed here: the launch would start it")
    ns = namespace("rviz")
    started = session.launch(f"model_dir:={shipped_dir}", f"namespace:={ns}", "rviz:=true", name="launch_rviz")
    try:
        code = started.proc.wait(timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        code = None
    time.sleep(2.0)  # an orphaned node would still be starting
    left = processes_with(ns)
    output = started.output()
    assert code == 1, output
    assert left == [] and not group_alive(started.pgid), f"left running: {left}\n{output}"
    assert "process started" not in output, output
    errors = [line for line in output.splitlines() if "ERROR" in line]
    assert len(errors) == 1, output
    assert "rviz:=true needs rviz2" in errors[0] and "nothing was started" in errors[0], output


# ---------------------------------------------------------------- the shared launch: CLI checks


def test_launch_with_model_params_file_namespace_and_image_topics(session, launched):
    _require_running(launched)
    output = launched.started.output()
    # the node configured itself from the arguments: one stream (named after the given image topic), the model
    assert f"configured: 1 stream(s) ['camera'], model {launched.model_dir}" in output, output
    state = session.ros2("lifecycle", "get", NODE)
    assert state.stdout.strip() == "active [3]", _text(state)
    nodes = session.ros2("node", "list")
    assert NODE in nodes.stdout.split(), _text(nodes)
    # the user's file decides what no argument names; image_topics and model_dir come from the arguments
    got = session.ros2("param", "get", NODE, "max_objects")
    assert got.stdout.strip() == "Integer value is: 7", _text(got)
    got = session.ros2("param", "get", NODE, "image_topics")
    assert got.stdout.strip() == f"String values are: ['{IMAGE_TOPIC}']", _text(got)
    got = session.ros2("param", "get", NODE, "model_dir")
    assert got.stdout.strip() == f"String value is: {launched.model_dir}", _text(got)


def test_ros2_param_set_changes_a_run_time_parameter_and_refuses_bad_values(session, launched):
    _require_running(launched)
    done = session.ros2("param", "set", NODE, "mask_threshold", "0.25")
    assert done.stdout.strip() == "Set parameter successful", _text(done)
    got = session.ros2("param", "get", NODE, "mask_threshold")
    assert got.stdout.strip() == "Double value is: 0.25", _text(got)
    refused = session.ros2("param", "set", NODE, "max_objects", "0")  # range 1..255
    assert _out(refused).startswith("Setting parameter failed"), _text(refused)
    got = session.ros2("param", "get", NODE, "max_objects")
    assert got.stdout.strip() == "Integer value is: 7", _text(got)
    restored = session.ros2("param", "set", NODE, "mask_threshold", "0.0")
    assert restored.stdout.strip() == "Set parameter successful", _text(restored)


def test_ros2_param_dump_lists_every_parameter(session, launched):
    """Issue 22, defect 4: the dump was ``ros__parameters: {}`` while an empty-list parameter was
    declared without a value."""
    _require_running(launched)
    dumped = session.ros2("param", "dump", NODE)
    assert dumped.returncode == 0, _text(dumped)
    params = yaml.safe_load(dumped.stdout)[NODE]["ros__parameters"]
    assert set(SPECS) <= set(params), f"missing: {sorted(set(SPECS) - set(params))}\n{dumped.stdout}"
    assert params["depth_topics"] == [] and params["detection_classes"] == [], dumped.stdout
    assert params["max_objects"] == 7 and params["image_topics"] == [IMAGE_TOPIC]
    got = session.ros2("param", "get", NODE, "depth_topics")
    assert got.stdout.strip() == "String values are: []", _text(got)


def test_ros2_service_call_resets_the_node(session, launched):
    _require_running(launched)
    called = session.ros2("service", "call", f"{NODE}/reset", "std_srvs/srv/Trigger")
    assert called.returncode == 0, _text(called)
    assert "success=True" in called.stdout and "message='reset 1 stream(s)'" in called.stdout, _text(called)


def test_ros2_lifecycle_set_deactivates_and_activates(session, launched):
    _require_running(launched)
    for transition, state in (("deactivate", "inactive [2]"), ("activate", "active [3]")):
        done = session.ros2("lifecycle", "set", NODE, transition)
        assert done.stdout.strip() == "Transitioning successful", _text(done)
        got = session.ros2("lifecycle", "get", NODE)
        assert got.stdout.strip() == state, _text(got)
    # a transition the current state does not have is refused, and the node stays active
    refused = session.ros2("lifecycle", "set", NODE, "configure")
    assert refused.returncode != 0 and _out(refused).startswith("Unknown transition requested"), _text(refused)
    assert session.ros2("lifecycle", "get", NODE).stdout.strip() == "active [3]"


def _stream(session: Session, frames: int, name: str) -> tuple[Started, Started]:
    """The player streaming the demo clip with its prompts at RATE, and ``ros2 topic hz`` on the mask."""
    player = session.start(
        [str(PLAYER), "--synthetic", "11", "--max-frames", str(frames), "--rate", str(RATE),
         "--topic", f"/{NAMESPACE}/{IMAGE_TOPIC}", "--prompt-topic", f"/{NAMESPACE}/prompt",
         "--prompts", str(REPO / "config" / "demo_prompts.yaml")],
        f"player_{name}",
    )  # fmt: skip
    hz = session.start([str(ROS2), "topic", "hz", f"/{NAMESPACE}/mask", "--window", "10"], f"hz_{name}")
    return player, hz


def _rates(hz: Started) -> list[float]:
    return [float(r) for r in re.findall(r"average rate: ([0-9.]+)", hz.output())]


def test_ros2_topic_hz_sees_a_mask_per_frame_while_the_player_streams(session, launched):
    _require_running(launched)
    player, hz = _stream(session, frames=int(RATE * 20), name="hz")
    try:
        # the first rates include the start; the window of 10 frames then holds only steady ones
        wait_until(lambda: len(_rates(hz)) >= 6, 60, f"six rates from ros2 topic hz:\n{hz.output()}")
    finally:
        hz.kill()
        player.kill()
    rates = _rates(hz)
    # one mask per frame: the player's rate (a busy machine may make the node drop a frame now and then)
    assert 0.6 * RATE <= rates[-1] <= 1.2 * RATE, hz.output()


def test_ctrl_c_while_streaming_ends_everything_cleanly(session, launched):
    """Ctrl-C in the launch's terminal (SIGINT to its process group: launch and node both get it)
    while frames are being tracked. Runs last: it ends the module's launch."""
    _require_running(launched)
    player, hz = _stream(session, frames=int(RATE * 20), name="sigint")
    try:
        wait_until(lambda: _rates(hz), 60, f"masks flowing:\n{hz.output()}")
        code = stop_with_sigint(launched.started, whole_group=True)
    finally:
        hz.kill()
        player.kill()
    assert_clean_exit(launched.started, code, NAMESPACE)
