"""Benchmark of the node's own cost and of camera-image delivery, over real DDS.

``python -m sam2_ros.bench.node`` starts ``sam2_ros_node`` in its own process with the shipped
params file, and a camera (this benchmark's client, Fast DDS settings as the row says) publishes
rgb8 frames to it one at a time, each after the previous one's mask came back or timed out. For
each frame: delivered or not, and the *node overhead* = latency from image publish to mask
receipt minus the engine's own time for that frame (the ``inference_latency`` the node reports).
Also, for reference, one plain image hop between two Python processes with the same settings
(the transport's share), and the CPU of an idle node (active, no images).

Rows (``--configs``), each at 640x480 and 1280x720:

- ``shipped``: what a user gets: no ``FASTDDS_*`` variable anywhere, so the node applies its
  profile (config/fastdds_image_input.xml) and the camera has Fast DDS's defaults; best effort
  (the shipped ``input_reliability``); ``shipped-reliable``: the same with reliable input;
- ``default`` / ``default-reliable``: ``FASTDDS_BUILTIN_TRANSPORTS=DEFAULT`` in every process
  (Fast DDS's stock transports; the node keeps a user's setting);
- ``large_data`` / ``large_data-reliable``: ``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA`` everywhere.

Discovery is ``ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET`` (ROS's default) unless ``--discovery-range``
says otherwise: with ``LOCALHOST`` rmw_fastrtps replaces Fast DDS's builtin transports with its own,
so ``FASTDDS_BUILTIN_TRANSPORTS`` has no effect there. Results: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from sam2_ros.node.conversions import NS_PER_S, ns_to_stamp, stamp_to_ns
from sam2_ros.tools.node_process import start_node, stop_process

CONFIGS = {  # name: (FASTDDS_BUILTIN_TRANSPORTS or None, reliable input)
    "shipped": (None, False),
    "shipped-reliable": (None, True),
    "default": ("DEFAULT", False),
    "default-reliable": ("DEFAULT", True),
    "large_data": ("LARGE_DATA", False),
    "large_data-reliable": ("LARGE_DATA", True),
}
SIZES = ((640, 480), (1280, 720))
FAST_DDS_VARIABLES = ("FASTDDS_BUILTIN_TRANSPORTS", "FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def image_qos(reliable: bool) -> Any:
    """A camera's publisher QoS: depth 1, best effort (as camera drivers publish) or reliable."""
    from sam2_ros.node.qos import qos_profile

    return qos_profile(1, reliable=reliable)


def percentiles(values: list[float], digits: int = 2) -> tuple[float | None, float | None]:
    """p50 and p95 of ``values`` (None when empty)."""
    if not values:
        return None, None
    return round(float(np.percentile(values, 50)), digits), round(float(np.percentile(values, 95)), digits)


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process (so the environment's Fast DDS setting applies): one size, one row."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import Image

    from sam2_ros.clips.synthetic import generate_clip
    from sam2_ros.msg import Prompt, TrackedObjectArray

    namespace = f"/node_bench_{os.getpid()}"
    params = ["input_reliability:=reliable"] if args.reliable else []  # else the shipped best_effort
    node_proc = start_node(Path(args.model), namespace, dict(os.environ), Path(args.log), *params)
    rclpy.init()
    client = rclpy.create_node("node_bench_camera")
    masks: dict[int, float] = {}
    engine_s: dict[int, float] = {}
    lock = threading.Lock()

    def on_mask(msg: Any) -> None:
        now = time.monotonic()
        with lock:
            masks[stamp_to_ns(msg.header.stamp)] = now

    def on_objects(msg: Any) -> None:
        with lock:
            engine_s[stamp_to_ns(msg.header.stamp)] = stamp_to_ns(msg.inference_latency) / NS_PER_S

    client.create_subscription(Image, f"{namespace}/mask", on_mask, 10)
    client.create_subscription(TrackedObjectArray, f"{namespace}/tracked_objects", on_objects, 10)
    image_pub = client.create_publisher(Image, f"{namespace}/image", image_qos(args.reliable))
    prompt_pub = client.create_publisher(Prompt, f"{namespace}/prompt", 10)
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    result: dict[str, Any] = {"size": f"{args.width}x{args.height}", "config": args.config}
    try:
        deadline = time.monotonic() + 60
        while image_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.0)
        if args.idle_seconds:
            before = cpu_seconds(node_proc.pid)
            time.sleep(args.idle_seconds)
            result["idle_cpu_percent"] = round(100 * (cpu_seconds(node_proc.pid) - before) / args.idle_seconds, 2)
        clip = generate_clip(4, num_frames=8, height=args.height, width=args.width, num_objects=2)
        sent: dict[int, float] = {}
        for n in range(args.frames + 1):  # frame 0 carries the prompt and is not counted
            rgb = clip.frames[n % len(clip.frames)]
            msg = Image(height=args.height, width=args.width, encoding="rgb8", step=args.width * 3)
            key = (1_000 + n) * NS_PER_S
            msg.header.stamp = ns_to_stamp(key)
            msg.data = rgb.tobytes()
            sent[key] = time.monotonic()
            image_pub.publish(msg)
            if n == 0:
                prompt = Prompt(header=msg.header, object_id=1, has_box=True, box=[float(v) for v in clip.box(1)])
                prompt_pub.publish(prompt)
            wait_until = time.monotonic() + args.frame_timeout
            while time.monotonic() < wait_until:
                with lock:
                    if key in masks and key in engine_s:
                        break
                time.sleep(0.001)
            time.sleep(0.05)
        counted = sorted(sent)[1:]
        done = [k for k in counted if k in masks and k in engine_s]
        overheads = [(masks[k] - sent[k] - engine_s[k]) * 1000 for k in done]
        p50, p95 = percentiles(overheads)
        result.update(
            delivered=f"{len(done)}/{len(counted)}",
            overhead_ms_p50=p50,
            overhead_ms_p95=p95,
            engine_ms_p50=percentiles([engine_s[k] * 1000 for k in done], 1)[0],
        )
    finally:
        result["node_exit_code"] = stop_process(node_proc)
        executor.shutdown()
        spinner.join(timeout=5)
        client.destroy_node()
        rclpy.try_shutdown()
    return result


def hop_subscriber(seconds: float, topic: str, reliable: bool) -> dict[str, Any]:
    """Receive images for ``seconds`` with the node's transport choice; one-way latency from their stamps."""
    from sam2_ros.node.transport import apply_image_transport

    apply_image_transport()  # as sam2_ros_node does: the profile unless the environment chose
    import rclpy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("node_bench_hop_sub")
    latencies: list[float] = []

    def on_image(msg: Any) -> None:
        latencies.append((time.time_ns() - stamp_to_ns(msg.header.stamp)) / NS_PER_S * 1000)

    node.create_subscription(Image, topic, on_image, image_qos(reliable))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.try_shutdown()
    p50, p95 = percentiles(latencies)
    return {"received": len(latencies), "hop_ms_p50": p50, "hop_ms_p95": p95}


def measure_hop(width: int, height: int, frames: int, reliable: bool) -> dict[str, Any]:
    """One image hop from a camera (this process) to a plain subscriber process: the transport's share."""
    import rclpy
    from sensor_msgs.msg import Image

    topic = f"/node_bench_hop_{os.getpid()}"
    sub = subprocess.Popen(
        [sys.executable, "-m", "sam2_ros.bench.node", "--hop-subscriber", topic,
         "--hop-seconds", str(4 + frames * 0.2), *(["--reliable"] if reliable else [])],
        stdout=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    rclpy.init()
    node = rclpy.create_node("node_bench_hop_pub")
    pub = node.create_publisher(Image, topic, image_qos(reliable))
    data = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8).tobytes()
    time.sleep(2.0)
    for _ in range(frames):
        msg = Image(height=height, width=width, encoding="rgb8", step=width * 3)
        msg.data = data
        msg.header.stamp = ns_to_stamp(time.time_ns())
        pub.publish(msg)
        time.sleep(0.2)
    node.destroy_node()
    rclpy.try_shutdown()
    out, _ = sub.communicate(timeout=120)
    result = json.loads([line for line in out.splitlines() if line.startswith("{")][-1])
    result["hop_delivered"] = f"{result.pop('received')}/{frames}"
    return result


def row_environment(config: str, discovery_range: str, domain_id: str | None) -> dict[str, str]:
    """The environment every process of a row starts with."""
    env = {k: v for k, v in os.environ.items() if k not in FAST_DDS_VARIABLES}
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = discovery_range
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = domain_id
    transports = CONFIGS[config][0]
    if transports is not None:
        env["FASTDDS_BUILTIN_TRANSPORTS"] = transports
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench.node", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: a seeded random 256 px model)")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated rows of {list(CONFIGS)}")
    parser.add_argument("--discovery-range", default="SUBNET", choices=["SUBNET", "LOCALHOST"])
    parser.add_argument("--domain-id", help="ROS_DOMAIN_ID for every process (default: the environment's)")
    parser.add_argument("--frame-timeout", type=float, default=3.0, help="seconds to wait for a frame's mask")
    parser.add_argument("--workdir", type=Path, default=Path(".cache/node_bench"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hop-subscriber", help=argparse.SUPPRESS)
    parser.add_argument("--hop-seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--hop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--reliable", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=640, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, default=480, help=argparse.SUPPRESS)
    parser.add_argument("--config", default="shipped", help=argparse.SUPPRESS)
    parser.add_argument("--log", default="node.log", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hop_subscriber:
        print(json.dumps(hop_subscriber(args.hop_seconds, args.hop_subscriber, args.reliable)), flush=True)
        return 0
    if args.child and args.hop:
        result = {"size": f"{args.width}x{args.height}", "config": args.config}
        result.update(measure_hop(args.width, args.height, args.frames, args.reliable))
        print(json.dumps(result), flush=True)
        return 0
    if args.child:
        print(json.dumps(run_child(args)), flush=True)
        return 0
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        parser.error(f"unknown --configs {unknown}; choose from {list(CONFIGS)}")
    model = args.model
    if model is None:
        model = args.workdir / "random-sam2.1_hiera_t-256"
        if not (model / "model.yaml").exists():
            from sam2_ros.export.cli import main as export_main

            export_main(["--random-init", "0", "--config", "sam2.1_hiera_t", "--image-size", "256",
                         "--output", str(model), "--force", "-q"])  # fmt: skip
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for config in configs:
        reliable = CONFIGS[config][1]
        env = row_environment(config, args.discovery_range, args.domain_id)
        for width, height in SIZES:
            idle = args.idle_seconds if (width, height) == SIZES[0] and config == configs[0] else 0
            cmd = [sys.executable, "-m", "sam2_ros.bench.node", "--child", "--model", str(model),
                   "--frames", str(args.frames), "--idle-seconds", str(idle), "--width", str(width),
                   "--height", str(height), "--config", config, "--frame-timeout", str(args.frame_timeout),
                   "--log", str(args.workdir / f"node-{config}-{width}.log"),
                   *(["--reliable"] if reliable else [])]  # fmt: skip
            for extra in ([], ["--hop"]):
                done = subprocess.run(cmd + extra, capture_output=True, text=True, env=env, timeout=900)
                lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                if done.returncode != 0 or not lines:
                    print(done.stderr[-2000:], file=sys.stderr)
                    return 1
                result = json.loads(lines[-1])
                result["measure"] = "raw image hop" if extra else "node"
                result["reliability"] = "reliable" if reliable else "best_effort"
                results.append(result)
                print(json.dumps(result), flush=True)
    if args.json:
        meta = {"date": time.strftime("%Y-%m-%d"), "discovery_range": args.discovery_range, "cpus": os.cpu_count()}
        args.json.write_text(json.dumps({**meta, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
