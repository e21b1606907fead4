"""Benchmark of the node's own cost: everything around the engine, over real DDS.

``python -m sam2_ros.bench.node`` starts ``sam2_ros_node`` in its own process, publishes
frames slowly enough that none is dropped, and for each frame measures the end-to-end latency
from image publish to mask receipt minus the engine's own time for that frame (the
``inference_latency`` the node reports), at 640x480 and 1280x720, with Fast DDS's default
transports and with ``FASTDDS_BUILTIN_TRANSPORTS=LARGE_DATA``; and, for reference, one plain
image hop between two Python processes (the transport's share of that overhead). It also
measures the CPU used by an idle node (active, no images). Results: docs/PERFORMANCE.md.
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

from sam2_ros.node.stamps import NS_PER_S, ns_to_stamp, stamp_to_ns
from sam2_ros.tools.node_process import start_node, stop_process


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    """In a fresh process (so the DDS transport setting applies): one size, one transport."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from sam2_ros.evaluation.synthetic import generate_clip
    from sam2_ros.msg import Prompt, TrackedObjectArray

    namespace = f"/node_bench_{os.getpid()}"
    node_proc = start_node(Path(args.model), namespace, dict(os.environ), Path(args.log), "input_reliability:=reliable")
    rclpy.init()
    client = rclpy.create_node("node_bench_client")
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
    image_pub = client.create_publisher(
        Image, f"{namespace}/image", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    )
    prompt_pub = client.create_publisher(Prompt, f"{namespace}/prompt", 10)
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    result: dict[str, Any] = {"size": f"{args.width}x{args.height}", "transport": args.transport_name}
    try:
        deadline = time.monotonic() + 60
        while image_pub.get_subscription_count() == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.0)
        if args.idle_seconds:
            before = cpu_seconds(node_proc.pid)
            time.sleep(args.idle_seconds)
            result["idle_cpu_percent"] = 100 * (cpu_seconds(node_proc.pid) - before) / args.idle_seconds
        clip = generate_clip(4, num_frames=8, height=args.height, width=args.width, num_objects=2)
        sent: dict[int, float] = {}
        for n in range(args.frames + 1):
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
            wait_until = time.monotonic() + 30
            while time.monotonic() < wait_until:
                with lock:
                    if key in masks and key in engine_s:
                        break
                time.sleep(0.001)
            time.sleep(0.05)
        overheads = [
            (masks[k] - sent[k] - engine_s[k]) * 1000 for k in sorted(sent)[1:] if k in masks and k in engine_s
        ]
        result.update(
            frames=len(overheads),
            overhead_ms_p50=round(float(np.percentile(overheads, 50)), 2),
            overhead_ms_p95=round(float(np.percentile(overheads, 95)), 2),
            engine_ms_p50=round(float(np.percentile([engine_s[k] * 1000 for k in engine_s], 50)), 1),
        )
    finally:
        stop_process(node_proc)
        executor.shutdown()
        spinner.join(timeout=5)
        client.destroy_node()
        rclpy.try_shutdown()
    return result


def hop_subscriber(seconds: float, topic: str) -> dict[str, Any]:
    """Receive images for ``seconds``; one-way latency from their stamps (same host clock)."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node("node_bench_hop_sub")
    latencies: list[float] = []

    def on_image(msg: Any) -> None:
        latencies.append((time.time_ns() - stamp_to_ns(msg.header.stamp)) / NS_PER_S)

    node.create_subscription(Image, topic, on_image, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.1)
    node.destroy_node()
    rclpy.try_shutdown()
    return {
        "frames": len(latencies),
        "hop_ms_p50": round(float(np.percentile(latencies, 50)) * 1000, 2) if latencies else None,
        "hop_ms_p95": round(float(np.percentile(latencies, 95)) * 1000, 2) if latencies else None,
    }


def measure_hop(width: int, height: int, frames: int, env: dict[str, str]) -> dict[str, Any]:
    """One image hop between two Python processes, no sam2_ros in between: the transport's share."""
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    topic = f"/node_bench_hop_{os.getpid()}"
    sub = subprocess.Popen(
        [sys.executable, "-m", "sam2_ros.bench.node", "--hop-subscriber", topic,
         "--hop-seconds", str(4 + frames * 0.2)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    rclpy.init()
    node = rclpy.create_node("node_bench_hop_pub")
    pub = node.create_publisher(Image, topic, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
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
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sam2_ros.bench.node", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: a seeded random 256 px model)")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--workdir", type=Path, default=Path(".cache/node_bench"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hop-subscriber", help=argparse.SUPPRESS)
    parser.add_argument("--hop-seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("--hop", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=640, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, default=480, help=argparse.SUPPRESS)
    parser.add_argument("--transport-name", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--log", default="node.log", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hop_subscriber:
        print(json.dumps(hop_subscriber(args.hop_seconds, args.hop_subscriber)), flush=True)
        return 0
    if args.child and args.hop:
        result = {"size": f"{args.width}x{args.height}", "transport": args.transport_name}
        result.update(measure_hop(args.width, args.height, args.frames, dict(os.environ)))
        print(json.dumps(result), flush=True)
        return 0
    if args.child:
        print(json.dumps(run_child(args)), flush=True)
        return 0
    model = args.model
    if model is None:
        model = args.workdir / "random-sam2.1_hiera_t-256"
        if not (model / "model.yaml").exists():
            from sam2_ros.export.cli import main as export_main

            export_main(["--random-init", "0", "--config", "sam2.1_hiera_t", "--image-size", "256",
                         "--output", str(model), "--force", "-q"])  # fmt: skip
    args.workdir.mkdir(parents=True, exist_ok=True)
    results = []
    for transport in ("default", "LARGE_DATA"):
        for width, height in ((640, 480), (1280, 720)):
            env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
            env.pop("FASTDDS_BUILTIN_TRANSPORTS", None)
            if transport != "default":
                env["FASTDDS_BUILTIN_TRANSPORTS"] = transport
            idle = args.idle_seconds if (width, height) == (640, 480) and transport == "default" else 0
            cmd = [sys.executable, "-m", "sam2_ros.bench.node", "--child", "--model", str(model),
                   "--frames", str(args.frames), "--idle-seconds", str(idle), "--width", str(width),
                   "--height", str(height), "--transport-name", transport,
                   "--log", str(args.workdir / f"node-{transport}-{width}.log")]  # fmt: skip
            for extra in ([], ["--hop"]):
                done = subprocess.run(cmd + extra, capture_output=True, text=True, env=env, timeout=900)
                lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
                if done.returncode != 0 or not lines:
                    print(done.stderr[-2000:], file=sys.stderr)
                    return 1
                result = json.loads(lines[-1])
                result["measure"] = "raw image hop" if extra else "node overhead"
                results.append(result)
                print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
