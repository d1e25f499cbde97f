"""Helpers the benchmarks share: peak resident memory from /proc and running a measurement in a fresh process.

Each method is measured in its own subprocess so one method's memory and caches cannot colour another's;
the child prints a JSON line last, which `run_json` returns.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(field: str = "VmHWM") -> float:
    """A memory figure of this process from /proc/self/status in MB: VmHWM (peak, reset by exec, unlike
    ru_maxrss, which a child inherits from its parent) or VmRSS (now)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM), so the peak covers only what runs after this call."""
    Path("/proc/self/clear_refs").write_text("5")


def run_json(*args: str) -> dict:
    """Run `python *args` in a fresh interpreter from the repository root; return its last output line as JSON."""
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise SystemExit(f"{' '.join(args)[:200]} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])
