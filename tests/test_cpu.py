"""The CPU signature every trial records: model name and the features that pick XLA's kernels."""

from __future__ import annotations

from hplists.cpu import ISA_FLAGS, cpu_signature, parse_cpuinfo

INTEL = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu vme sse4_2 avx avx2 fma avx512f avx512bw avx512_bf16 amx_tile amx_bf16
processor\t: 1
model name\t: Intel(R) Xeon(R) Processor
flags\t\t: fpu
"""


def test_the_first_processor_decides_and_only_the_kernel_features_are_kept():
    assert parse_cpuinfo(INTEL) == {
        "model": "Intel(R) Xeon(R) Processor",
        "isa": ["amx_tile", "avx", "avx2", "avx512_bf16", "avx512bw", "avx512f", "fma", "sse4_2"]}


def test_a_cpuinfo_without_model_or_flags_gives_empty_fields():
    assert parse_cpuinfo("processor : 0\n") == {"model": "", "isa": []}


def test_this_machine_is_read_once_and_each_call_gets_its_own_copy():
    a, b = cpu_signature(), cpu_signature()
    assert a == b and a is not b
    a["isa"].append("x")
    assert "x" not in cpu_signature()["isa"] and set(b["isa"]) <= set(ISA_FLAGS)
