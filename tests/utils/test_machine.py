"""The machine description that `summary.json` and the benchmarks carry."""

import os
import platform

from tfllm.utils import machine


def test_cpu_name_reads_the_first_model_name_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nvendor_id\t: AuthenticAMD\n"
        "model name\t: AMD EPYC 7B13 64-Core Processor\n\n"
        "processor\t: 1\nmodel name\t: something else\n")
    assert machine.cpu_name(str(cpuinfo)) == "AMD EPYC 7B13 64-Core Processor"
    assert machine.machine_description(str(cpuinfo)) == (
        f"{platform.machine()}, AMD EPYC 7B13 64-Core Processor, "
        f"{os.cpu_count()} CPUs")


def test_cpu_name_falls_back_without_cpuinfo(tmp_path, monkeypatch):
    monkeypatch.setattr(platform, "processor", lambda: "arm")
    assert machine.cpu_name(str(tmp_path / "missing")) == "arm"
    (tmp_path / "no_model").write_text("processor\t: 0\n")
    assert machine.cpu_name(str(tmp_path / "no_model")) == "arm"
    monkeypatch.setattr(platform, "processor", lambda: "")
    assert machine.cpu_name(str(tmp_path / "missing")) == "?"
