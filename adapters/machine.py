"""Which machine a report comes from: the ``machine`` object of ``optconform check --json``'s summary.

``report merge`` (report_merge.py) puts the reports of several machines side by side, so each
report says where it ran:

* ``hostname``, ``os`` (``platform.platform()``), ``arch``, ``python`` (version and implementation);
* ``cpu`` (the model name the operating system reports) and ``cpus`` (logical CPUs);
* ``gpus``: the accelerators' names — NVIDIA GPUs as the driver lists them (``/proc/driver/nvidia``,
  else ``nvidia-smi``), read without importing a framework — and, for an adapter that offers the
  optional ``device_names() -> {device: name}``, the names it reports (``"torch cuda: NVIDIA H100"``);
* ``frameworks``: each adapter's framework version as the summary's ``adapters`` records it;
* ``optconform``: this package's version.

Everything is informative: a value that cannot be read is left out or empty, never an error, and
nothing here imports a framework.
"""
from __future__ import annotations

import glob
import os
import platform
import shutil
import socket
import subprocess

from optconform.reference import __version__


def cpu_model() -> str:
    """The CPU's model name: /proc/cpuinfo on Linux, sysctl on macOS, else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    if platform.system() == "Darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                 timeout=5).stdout.strip()
            if out:
                return out
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine()


def nvidia_gpus(proc_root: str = "/proc/driver/nvidia") -> list[str]:
    """The NVIDIA GPUs' model names, in bus order: from the driver's ``gpus/*/information`` files,
    else ``nvidia-smi``; [] without an NVIDIA driver."""
    names = []
    for info in sorted(glob.glob(os.path.join(proc_root, "gpus", "*", "information"))):
        try:
            with open(info, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    key, sep, value = line.partition(":")
                    if sep and key.strip() == "Model" and value.strip():
                        names.append(value.strip())
                        break
        except OSError:
            continue
    if names or proc_root != "/proc/driver/nvidia" or not shutil.which("nvidia-smi"):
        return names
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def adapter_devices(adapters: dict) -> list[str]:
    """``"<adapter> <device>: <name>"`` for every adapter instance offering ``device_names()``;
    an adapter whose query raises contributes nothing."""
    out = []
    for key, adapter in adapters.items():
        method = getattr(adapter, "device_names", None)
        if method is None:
            continue
        try:
            names = dict(method())
        except Exception:  # noqa: BLE001 - informative only
            continue
        out += [f"{key} {device}: {name}" for device, name in names.items() if name]
    return out


def describe(adapters_info: dict, adapters: dict | None = None) -> dict:
    """The ``machine`` object: ``adapters_info`` is the summary's ``adapters`` entry (versions),
    ``adapters`` the loaded adapter instances by name (their optional ``device_names``)."""
    return {
        "hostname": socket.gethostname(),
        "os": platform.platform(),
        "arch": platform.machine(),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "gpus": nvidia_gpus() + adapter_devices(adapters or {}),
        "frameworks": {name: info.get("version") for name, info in sorted(adapters_info.items())
                       if info.get("available")},
        "optconform": __version__,
    }
