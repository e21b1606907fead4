"""The main job: a clip, played as a camera, through the real node, recorded to a folder.

``sam2-ros-demo`` starts ``sam2_ros_node`` (its own process, the launch file's
parameters), starts the player (another process) publishing the clip at its frame rate with
scripted prompts, records what the node publishes, and writes to ``--output``:
``overlay.mp4``, ``contact_sheet.png``, ``tracked_objects.jsonl``, ``summary.json``
(frames in and out, dropped, end-to-end latency p50/p95, output rate and, on the built-in
clip, the quality of the published masks against the generator's ground truth) and
``demo.mcap``: the run as a rosbag2 recording in one MCAP file, its inputs (``image``, ``prompt``,
``detections``) and every output topic of the node (``mask``, ``tracked_objects``, ``overlay``,
``tracked_detections``, ``label_info``, ...) plus ``/diagnostics``, the CDR bytes as received at
their receive times, with each topic's QoS and the message definitions embedded: Foxglove opens
it, ``ros2 bag play output/demo/demo.mcap`` replays it (see :mod:`sam2_ros.tools.bags.writer`).

Defaults: the built-in synthetic clip (moving, occluding shapes) with
``config/demo_prompts.yaml``, and the shipped model ``models/synthetic-128`` (a small SAM 2
trained on such clips; see its MODEL_CARD.md). A model with random weights is announced.

``--prompts detector`` (built-in clip only) replaces the prompt file with a scripted detector
(:mod:`sam2_ros.tools.demo.scripted_detector`: the clip's ground-truth boxes plus noise, labelled by
shape) whose ``vision_msgs/Detection2DArray`` the player publishes on the node's ``detections``
topic with each frame; the node picks the object ids, and the quality figures match each node
object to the ground-truth object its mask overlaps best on the first frame it appears.
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

from sam2_ros.node.conversions import stamp_to_ns
from sam2_ros.resources import demo_prompts
from sam2_ros.tools.bags.record import DIAGNOSTICS, OUTPUT_KINDS
from sam2_ros.tools.bags.writer import BagRecorder, BagWriter, output_selector
from sam2_ros.tools.demo.media import contact_sheet
from sam2_ros.tools.demo.player import IMAGE_DEPTH
from sam2_ros.tools.node_process import start_node, stop_process
from sam2_ros.tools.shipped import find_model

# the clip config/demo_prompts.yaml is written for (its motion depends on its length: shorter
# runs play the start of this clip)
DEMO_CLIP = {"seed": 11, "height": 480, "width": 640, "frames": 32}
DETECTOR = "detector"  # the --prompts value that asks for the scripted detector
COUNTS = ("frames_received", "frames_processed", "frames_dropped", "messages_rejected")  # node diagnostics
BAG_NAME = "demo.mcap"
BAG_INPUTS = ("image", "prompt", "detections", "depth", "camera_info")  # the player's topics, recorded too


class Recorder:
    """Subscribes to the node's outputs and keeps them with their arrival times."""

    def __init__(self, namespace: str) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import Image

        from sam2_ros.msg import TrackedObjectArray

        self.node = rclpy.create_node("sam2_ros_demo_recorder")
        self.lock = threading.Lock()
        self.objects: list[tuple[float, Any]] = []
        self.overlays: dict[int, Any] = {}
        self.diagnostics: dict[str, str] = {}
        self.input_stamps: list[int] = []  # arrival order = frame index in the played clip
        self.label_images: dict[int, np.ndarray] = {}
        self.namespace = namespace
        self.node.create_subscription(TrackedObjectArray, f"{namespace}/tracked_objects", self._on_objects, 50)
        self.node.create_subscription(Image, f"{namespace}/overlay", self._on_overlay, 50)
        self.node.create_subscription(Image, f"{namespace}/mask", self._on_mask, 50)
        self.node.create_subscription(Image, f"{namespace}/image", self._on_input, 50)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spinner = threading.Thread(target=self.executor.spin, daemon=True)
        self._spinner.start()

    def now_ns(self) -> int:
        return self.node.get_clock().now().nanoseconds

    def _on_objects(self, msg: Any) -> None:
        with self.lock:
            self.objects.append((self.now_ns(), msg))

    def _on_overlay(self, msg: Any) -> None:
        rgb = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, : msg.width * 3]
        with self.lock:
            self.overlays[stamp_to_ns(msg.header.stamp)] = rgb.reshape(msg.height, msg.width, 3).copy()

    def _on_mask(self, msg: Any) -> None:
        labels = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, : msg.width]
        with self.lock:
            self.label_images[stamp_to_ns(msg.header.stamp)] = labels.copy()

    def _on_input(self, msg: Any) -> None:
        with self.lock:
            self.input_stamps.append(stamp_to_ns(msg.header.stamp))

    def _on_diagnostics(self, msg: Any) -> None:
        for status in msg.status:
            if status.name.startswith(self.namespace + "/"):
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}

    def close(self) -> None:
        self.executor.shutdown()
        self._spinner.join(timeout=5)
        self.node.destroy_node()


def wait_for_last_outputs(recorder: Recorder, published: int, quiet_s: float = 10.0, limit_s: float = 60.0) -> bool:
    """Wait until the node's diagnostics account for every published frame and its outputs are here.

    Done when the node has received all ``published`` frames, processed, dropped or rejected each of
    them, and every processed frame's ``tracked_objects`` reached the recorder (True). Gives up
    (False) after ``limit_s``, or after ``quiet_s`` without any new output or diagnostics change
    (frames lost in transport are never accounted for).
    """
    deadline = time.monotonic() + limit_s
    last_state, last_change = None, time.monotonic()
    while time.monotonic() < deadline:
        with recorder.lock:
            diagnostics = dict(recorder.diagnostics)
            outputs = len(recorder.objects)
        counts = {k: int(diagnostics.get(k, 0)) for k in COUNTS}
        received, processed = counts["frames_received"], counts["frames_processed"]
        handled = processed + counts["frames_dropped"] + counts["messages_rejected"]
        if received >= published and handled >= received and outputs >= processed:
            return True
        state = (outputs, tuple(counts.values()))
        if state != last_state:
            last_state, last_change = state, time.monotonic()
        elif time.monotonic() - last_change > quiet_s:
            break
        time.sleep(0.1)
    return False


def wait_for_bag_topics(bag: BagRecorder, topics: list[str], node: subprocess.Popen, limit_s: float = 60.0) -> None:
    """Wait until the bag records ``topics`` (the node's outputs, there once it is configured), so that it
    misses none of their messages; gives up when the node exits or after ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while not bag.wait_for(topics, 0.25):
        if node.poll() is not None or time.monotonic() > deadline:
            print(f"[demo] WARNING: the bag did not see {', '.join(topics)} in time", file=sys.stderr)
            return


def close_bag(bag: BagRecorder, recorder: Recorder, topic: str, limit_s: float = 5.0) -> None:
    """Close the bag once it holds every ``topic`` message the recorder received (same messages, its own
    subscription: it may get the last one a moment later)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and bag.writer.counts.get(topic, 0) < len(recorder.objects):
        time.sleep(0.05)
    bag.close()


def match_to_ground_truth(frames: list[tuple[int, np.ndarray, Any]], clip: Any) -> dict[int, int]:
    """Node object id -> ground-truth id, for objects whose ids the node chose (detector prompts).

    ``frames``: (clip frame, label image, TrackedObjectArray) in order. Each node object goes to the
    ground-truth object (of its label, when one has it) whose visible mask overlaps the object's mask
    best on the first frame where that mask is not empty; an object that overlaps none stays out.
    """
    from sam2_ros.evaluation.metrics import iou

    mapping: dict[int, int] = {}
    for t, labels, msg in frames:
        for obj in msg.objects:
            predicted = labels == obj.object_id
            if obj.object_id in mapping or not predicted.any():
                continue
            candidates = [g for g in sorted(clip.masks) if clip.kinds[g] == obj.label] or sorted(clip.masks)
            scores = {g: iou(predicted, clip.masks[g][t]) for g in candidates}
            best = max(scores, key=scores.__getitem__)
            if scores[best] > 0:
                mapping[obj.object_id] = best
    return mapping


def quality_vs_ground_truth(recorder: Recorder, clip: Any, node_chose_ids: bool = False) -> dict | None:
    """IoU and J&F of the published label images against the synthetic clip's visible masks.

    With prompts from a file the node's object ids are the file's, written for the clip's ids; when
    the node chose them (``node_chose_ids``: detector prompts) they are matched by
    :func:`match_to_ground_truth`. Per-object figures are keyed by ground-truth id.
    """
    from sam2_ros.evaluation.metrics import boundary_f, iou

    with recorder.lock:
        frame_of = {stamp: i for i, stamp in enumerate(recorder.input_stamps)}
        records = [msg for _, msg in recorder.objects]
        labels = dict(recorder.label_images)
    frames = []
    for msg in records:
        stamp = stamp_to_ns(msg.header.stamp)
        t = frame_of.get(stamp)
        if t is not None and stamp in labels and t < len(clip.frames):
            frames.append((t, labels[stamp], msg))
    if node_chose_ids:
        mapping = match_to_ground_truth(frames, clip)
    else:
        mapping = {obj_id: obj_id for obj_id in clip.masks}
    j, f, per_object, errors = [], [], {}, []
    for t, label_image, msg in frames:
        for obj in msg.objects:
            truth_id = mapping.get(obj.object_id)
            if truth_id is None:
                continue
            predicted, truth = label_image == obj.object_id, clip.masks[truth_id][t]
            j.append(iou(predicted, truth))
            f.append(boundary_f(predicted, truth))
            per_object.setdefault(truth_id, []).append(j[-1])
            if obj.has_position and clip.depth is not None and truth.any():
                got = np.array([obj.position.x, obj.position.y, obj.position.z])
                errors.append(float(np.linalg.norm(got - np.array(clip.position(truth_id, t)))) * 100)
    if not j:
        return None
    quality = {
        "object_frames_scored": len(j),
        "mean_iou": round(float(np.mean(j)), 4),
        "J&F": round(float((np.mean(j) + np.mean(f)) / 2), 4),
        "mean_iou_per_object": {str(k): round(float(np.mean(v)), 4) for k, v in sorted(per_object.items())},
    }
    if errors:  # objects in 3D (the clip's depth): distance to the ground-truth position
        quality["position_error_cm"] = {
            "located": len(errors),
            "median": round(float(np.median(errors)), 2),
            "p90": round(float(np.percentile(errors, 90)), 2),
        }
    if node_chose_ids:
        quality["node_to_ground_truth_id"] = {str(k): v for k, v in sorted(mapping.items())}
    return quality


def write_outputs(
    recorder: Recorder,
    output: Path,
    published: int,
    rate: float,
    model: Path,
    random: bool,
    clip: Any = None,
    prompt_source: str | None = None,
    bag: BagWriter | None = None,
) -> dict:
    """overlay.mp4, contact_sheet.png, tracked_objects.jsonl, summary.json.

    ``prompt_source``: the prompt file, :data:`DETECTOR` or None (no prompts), as summary.json reports it;
    ``bag``: the recording of the run (its file and message counts per topic go into summary.json).
    """
    import cv2

    output.mkdir(parents=True, exist_ok=True)
    with recorder.lock:
        records = list(recorder.objects)
        overlays = dict(recorder.overlays)
        diagnostics = dict(recorder.diagnostics)
    latencies = []
    with open(output / "tracked_objects.jsonl", "w") as handle:
        for arrived, msg in records:
            latency = (arrived - stamp_to_ns(msg.header.stamp)) / 1e9
            latencies.append(latency)
            handle.write(json.dumps({
                "stamp": stamp_to_ns(msg.header.stamp) / 1e9,
                "end_to_end_latency_s": round(latency, 4),
                "inference_s": round(stamp_to_ns(msg.inference_latency) / 1e9, 4),
                "objects": [
                    {"id": o.object_id, "label": o.label, "visible": o.visible,
                     "presence": round(o.presence_probability, 4), "iou_pred": round(o.predicted_iou, 4),
                     "bbox": [o.bbox.x_offset, o.bbox.y_offset, o.bbox.width, o.bbox.height],
                     "area": o.area, "centroid": [o.centroid.x, o.centroid.y], "frames_tracked": o.frames_tracked}
                    for o in msg.objects
                ],
            }) + "\n")  # fmt: skip
    frames = [overlays[k] for k in sorted(overlays)]
    if frames:
        h, w = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(output / "overlay.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), max(rate, 1.0), (w, h))
        for rgb in frames:
            writer.write(np.ascontiguousarray(rgb[..., ::-1]))
        writer.release()
        contact_sheet(frames, scale=0.5).save(output / "contact_sheet.png")
    arrivals = [a for a, _ in records]
    summary = {
        "model": str(model),
        "random_weights": random,
        "frames_published": published,
        "frames_out": len(records),
        "frames_dropped": int(diagnostics.get("frames_dropped", 0)),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)) * 1000, 1) if latencies else None,
        "latency_ms_p95": round(float(np.percentile(latencies, 95)) * 1000, 1) if latencies else None,
        "output_rate_hz": round((len(arrivals) - 1) / ((arrivals[-1] - arrivals[0]) / 1e9), 2)
        if len(arrivals) > 1 and arrivals[-1] > arrivals[0]
        else None,
        "input_rate_hz": rate,
        "prompt_source": prompt_source,
        "quality_vs_ground_truth": quality_vs_ground_truth(recorder, clip, prompt_source == DETECTOR)
        if clip is not None
        else None,
        "bag": {"file": bag.path.name, "messages": dict(sorted(bag.counts.items()))} if bag is not None else None,
        "node_diagnostics": diagnostics,
    }
    (output / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sam2-ros-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: the shipped models/synthetic-128)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--video", type=Path, help="video file to play instead of the synthetic clip")
    source.add_argument("--frames", type=Path, help="folder of frames to play instead of the synthetic clip")
    parser.add_argument(
        "--prompts",
        help=f"prompts YAML (default: config/demo_prompts.yaml, on the clip), or '{DETECTOR}': a scripted detector "
        "on the built-in clip (its ground-truth boxes plus noise) publishes detections the node prompts itself with",
    )
    parser.add_argument("--rate", type=float, default=4.0, help="playback frame rate")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME:=VALUE",
        help="a node parameter over the launch file's (repeatable), e.g. backend:=openvino",
    )
    parser.add_argument("--max-frames", type=int, default=32)
    parser.add_argument("--output", type=Path, default=Path("output/demo"))
    args = parser.parse_args(argv)
    bad = [p for p in args.param if ":=" not in p]
    if bad:
        parser.error(f"--param takes NAME:=VALUE, got {bad[0]!r}")
    detector = args.prompts == DETECTOR
    if detector and (args.video or args.frames):
        parser.error(f"--prompts {DETECTOR} needs the built-in synthetic clip (its ground truth), not --video/--frames")

    model = find_model(args.model)
    from sam2_ros.engine.manifest import load_model_dir

    random = load_model_dir(model, verify_hashes=False)[0].random_weights
    if random:
        print("[demo] NOTE: RANDOM model weights - the node, topics and tracking run for real, but the masks "
              "carry no meaning until you export real SAM 2 weights (sam2-ros-export --checkpoint ...).")  # fmt: skip
    if detector:
        prompts = None
    else:
        prompts = Path(args.prompts) if args.prompts else (demo_prompts() if not (args.video or args.frames) else None)
    namespace = f"/sam2_ros_demo_{os.getpid()}"
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE=os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"))
    os.environ.update({k: v for k, v in env.items() if k.startswith("ROS_")})
    args.output.mkdir(parents=True, exist_ok=True)
    # reliable input, and a queue deep enough that frames arriving while the node is busy reach its
    # callback (which keeps the newest and counts the rest as dropped) instead of vanishing in DDS
    synthetic = not (args.video or args.frames)
    depth = ["depth_topics:=['depth']", "depth_reliability:=reliable"] if synthetic else []  # objects in 3D too
    node = start_node(model, namespace, env, args.output / "node.log", "input_reliability:=reliable",
                      f"input_depth:={IMAGE_DEPTH}", *depth, *args.param)  # fmt: skip
    import rclpy

    rclpy.init()
    recorder = Recorder(namespace)
    (args.output / BAG_NAME).unlink(missing_ok=True)
    select = output_selector(namespace, OUTPUT_KINDS + BAG_INPUTS, [DIAGNOSTICS])
    bag = BagRecorder(BagWriter(args.output / BAG_NAME), select, node_name="sam2_ros_demo_bag")
    player_cmd = [
        *(sys.executable, "-m", "sam2_ros.tools.demo.player"),
        *("--rate", str(args.rate), "--max-frames", str(args.max_frames)),
        *("--topic", f"{namespace}/image", "--prompt-topic", f"{namespace}/prompt", "--wait-subscribers", "60"),
        *("--min-subscribers", "3"),  # the node, this recorder and the bag: both must see frame 0
    ]
    if args.video:
        player_cmd += ["--video", str(args.video)]
    elif args.frames:
        player_cmd += ["--frames-dir", str(args.frames)]
    else:
        player_cmd += ["--synthetic", str(DEMO_CLIP["seed"]), "--height", str(DEMO_CLIP["height"]),
                       "--width", str(DEMO_CLIP["width"]), "--clip-frames", str(DEMO_CLIP["frames"]),
                       "--synthetic-depth", "--depth-topic", f"{namespace}/depth",
                       "--camera-info-topic", f"{namespace}/camera_info"]  # fmt: skip
    if prompts:
        player_cmd += ["--prompts", str(prompts)]
    if detector:
        player_cmd += ["--detections-topic", f"{namespace}/detections"]
    published = 0
    try:
        # the node's publishers exist once it is configured: the bag subscribes before the first frame
        wait_for_bag_topics(bag, [f"{namespace}/{kind}" for kind in ("mask", "tracked_objects")], node)
        player = subprocess.Popen(player_cmd, env=env, stderr=subprocess.PIPE, text=True)
        while player.poll() is None:
            with recorder.lock:
                out = len(recorder.objects)
            print(f"\r[demo] outputs received: {out}", end="", file=sys.stderr, flush=True)
            if node.poll() is not None:
                player.kill()
                raise SystemExit(f"the node exited; see {args.output / 'node.log'}")
            time.sleep(0.25)
        err = player.stderr.read() if player.stderr else ""
        published = int(err.split("published ")[1].split()[0]) if "published " in err else 0
        print(file=sys.stderr)
        print(err.strip(), file=sys.stderr)  # the player's last word: frames published, all delivered or not
        if not wait_for_last_outputs(recorder, published):
            print("[demo] WARNING: the node's diagnostics do not account for every published frame", file=sys.stderr)
    finally:
        stop_process(node)
        close_bag(bag, recorder, f"{namespace}/tracked_objects")
    clip = None
    if not (args.video or args.frames):
        from sam2_ros.clips.synthetic import generate_clip

        length = max(DEMO_CLIP["frames"], args.max_frames)
        clip = generate_clip(DEMO_CLIP["seed"], length, DEMO_CLIP["height"], DEMO_CLIP["width"], depth=True)
    source = DETECTOR if detector else (str(prompts) if prompts else None)
    summary = write_outputs(recorder, args.output, published, args.rate, model, bool(random), clip, source, bag.writer)
    recorder.close()
    rclpy.try_shutdown()
    print(json.dumps({k: v for k, v in summary.items() if k != "node_diagnostics"}, indent=2))
    names = f"overlay.mp4, contact_sheet.png, tracked_objects.jsonl, summary.json, {BAG_NAME}"
    print(f"[demo] wrote {args.output}/: {names}")
    return 0 if summary["frames_out"] > 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
