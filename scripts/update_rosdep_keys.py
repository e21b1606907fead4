#!/usr/bin/env python3
"""Regenerate test/data/rosdep_keys.txt, the rosdep keys test/unit/package/test_package_xml.py accepts in package.xml.

Reads a local checkout of https://github.com/ros/rosdistro (nothing is downloaded):

    git clone --depth 1 https://github.com/ros/rosdistro /tmp/rosdistro
    .venv/bin/python scripts/update_rosdep_keys.py /tmp/rosdistro

A key is known when it would resolve for every ROS distribution and platform this package supports
(DISTROS on ubuntu:PLATFORM), which is how `rosdep install --from-paths src --ignore-src` resolves it:

* ``system``: a top-level key of rosdep/base.yaml or rosdep/python.yaml whose rule resolves for
  ubuntu:noble under REP 111, as rosdep's RosdepDefinition.get_rule_for_platform does it: the ``ubuntu``
  entry (or the OS wildcard ``*`` when ubuntu is absent) is a package list, an installer dict (apt, pip,
  gem, npm, source), or a codename dict whose ``noble`` entry, or ``*`` when noble is absent, is not null.
  A key without such an entry, or with ``noble: null``, fails on noble and is left out.
* ``ros``: a package released in every one of DISTROS' distribution.yaml (a repository with a ``release``
  entry contributes ``release.packages``, or its own name when ``packages`` is absent), as rosdep's
  rosdistro source does; a package released in only one of them would fail there and is left out.

Each line is ``<key> <kind>``; kind is ``ros``, ``system`` or ``ros,system``.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
from pathlib import Path

import yaml

DISTROS = ("jazzy", "kilted")
OS_NAME = "ubuntu"
PLATFORM = "noble"
ROSDEP_FILES = ("rosdep/base.yaml", "rosdep/python.yaml")
# rosdep's installers for ubuntu (rosdep2/platforms/debian.py), in its order
INSTALLERS = ("apt", "pip", "gem", "npm", "source")
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "test" / "data" / "rosdep_keys.txt"


def resolves(rule: object, os_name: str = OS_NAME, version: str = PLATFORM) -> bool:
    """Whether a rosdep rule resolves for ``os_name:version`` (REP 111, as rosdep reads it)."""
    if not isinstance(rule, dict):
        return False
    if os_name not in rule:
        if not isinstance(rule.get("*"), dict):
            return False
        os_name = "*"
    data = rule[os_name]
    if isinstance(data, dict) and not any(key in data for key in INSTALLERS):
        # a codename dict: the codename, else its wildcard
        if version in data:
            data = data[version]
        elif "*" in data:
            data = data["*"]
        else:
            return False
    return data is not None and isinstance(data, (dict, list, str))


def system_keys(rosdistro: Path) -> set[str]:
    keys: set[str] = set()
    for name in ROSDEP_FILES:
        rules = yaml.safe_load((rosdistro / name).read_text()) or {}
        keys.update(key for key, rule in rules.items() if resolves(rule))
    return keys


def released_packages(rosdistro: Path, distro: str) -> set[str]:
    data = yaml.safe_load((rosdistro / distro / "distribution.yaml").read_text())
    platforms = (data.get("release_platforms") or {}).get(OS_NAME) or []
    if PLATFORM not in platforms:
        raise SystemExit(f"{distro} is not released for {OS_NAME}:{PLATFORM} (release_platforms: {platforms})")
    names: set[str] = set()
    for repo, spec in (data.get("repositories") or {}).items():
        release = (spec or {}).get("release")
        if release:
            names.update(release.get("packages") or [repo])
    return names


def snapshot(rosdistro: Path) -> tuple[str, str]:
    """Commit hash and commit date of the checkout (``unknown`` when it is not a git work tree)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(rosdistro), "log", "-1", "--format=%H %cs"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        return out[0], out[1]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown", "unknown"


def render(entries: dict[str, list[str]], commit: str, commit_date: str, generated: str) -> str:
    header = [
        "Known rosdep keys: test/unit/package/test_package_xml.py requires every *depend of package.xml to be one.",
        f"Source: https://github.com/ros/rosdistro commit {commit} ({commit_date}):",
        f"  {', '.join(ROSDEP_FILES)}, {', '.join(f'{d}/distribution.yaml' for d in DISTROS)}.",
        f"Generated: {generated} by scripts/update_rosdep_keys.py.",
        f"Rule: a key is known when it resolves on {OS_NAME}:{PLATFORM} for every one of {', '.join(DISTROS)}:",
        f"  system = a top-level key of the rosdep yaml files whose rule resolves for {OS_NAME}:{PLATFORM} (REP 111:",
        f"    a list or installer dict for all of {OS_NAME}, or a codename dict with a non-null {PLATFORM} or `*`);",
        f"    keys without one, or with `{PLATFORM}: null`, are left out;",
        f"  ros = a package released (a repository's `release` entry) in every one of {', '.join(DISTROS)}.",
        "Format: `<key> <kind>` per line, sorted by key; kind is ros, system or ros,system.",
        "Regenerate (reads a local checkout, downloads nothing):",
        "  git clone --depth 1 https://github.com/ros/rosdistro /tmp/rosdistro",
        "  .venv/bin/python scripts/update_rosdep_keys.py /tmp/rosdistro",
    ]
    lines = [f"# {line}" for line in header]
    lines += [f"{key} {','.join(kinds)}" for key, kinds in sorted(entries.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rosdistro", type=Path, help="path of a local ros/rosdistro checkout")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="default: %(default)s")
    parser.add_argument("--commit", help="commit hash of the checkout (default: from git)")
    parser.add_argument("--commit-date", help="commit date YYYY-MM-DD (default: from git)")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="generation date (default: today)")
    args = parser.parse_args(argv)

    commit, commit_date = snapshot(args.rosdistro)
    commit = args.commit or commit
    commit_date = args.commit_date or commit_date

    ros = set.intersection(*(released_packages(args.rosdistro, d) for d in DISTROS))
    system = system_keys(args.rosdistro)
    entries: dict[str, list[str]] = {}
    for key in ros:
        entries.setdefault(key, []).append("ros")
    for key in system:
        entries.setdefault(key, []).append("system")

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(entries, commit, commit_date, args.date))
    print(f"{args.output}: {len(entries)} keys ({len(ros)} ros, {len(system)} system)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
