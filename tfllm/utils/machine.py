"""A short description of the machine, for the figures a run reports."""

import os
import platform


def cpu_name(cpuinfo="/proc/cpuinfo"):
    """The CPU model name, e.g. `"Intel(R) Xeon(R) Processor"`.

    Args:
        cpuinfo: str. Path of Linux's CPU description; its first
            `model name` line is used.

    Returns:
        str: that model name; where the file is missing or has no such line
        (macOS, Windows), `platform.processor()`, else `"?"`. (On Linux
        `platform.processor()` is usually empty, hence the file first.)
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() or "?"
    except OSError:
        pass
    return platform.processor() or "?"


def machine_description(cpuinfo="/proc/cpuinfo"):
    """`"<architecture>, <CPU model>, <n> CPUs"`, e.g. `"x86_64, AMD EPYC
    7B13, 2 CPUs"`: the machine field of `summary.json` and benchmarks."""
    return (f"{platform.machine()}, {cpu_name(cpuinfo)}, "
            f"{os.cpu_count()} CPUs")
