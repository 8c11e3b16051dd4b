"""The bench's table and chart logic (formatting only: timings are never asserted)."""
import numpy as np
from nnkern.bench import compare
from nnkern.bench.chart import chart_series, speedup_chart
from nnkern.bench.compare import Row


def rows(torch=True):
    return [Row("conv2d forward", "a", 0.01, 0.1, 0.02 if torch else None, flops=1e9, algo="im2col"),
            Row("relu", "b", 0.001, 0.01, 0.002 if torch else None, bytes=1e6)]


def test_table_shows_algo_and_share_of_sgemm():
    text = compare.table(rows(), {"size": 2048, "nnkern OpenBLAS": 200.0, "torch matmul": 210.0})
    head, sep, conv, relu = text.splitlines()
    assert "| algo |" in head and "% of sgemm" in head
    assert head.count("|") == sep.count("|") == conv.count("|") == relu.count("|")
    assert "| im2col |" in conv and "| 50% |" in conv  # 1e9 flop / 0.01 s = 100 GFLOP/s of 200
    assert "| - |" in relu and "GB/s" in relu
    note = compare.ceiling_note({"size": 2048, "nnkern OpenBLAS": 200.0, "torch matmul": 210.0})
    assert "2048^3" in note and "200 GFLOP/s" in note and "210 GFLOP/s" in note and "exceed 100%" in note
    assert "2048 GFLOP" not in note


def test_table_without_convolutions_has_no_algo_column():
    text = compare.table(rows()[1:])
    assert "algo" not in text and "% of sgemm" not in text


def test_conv_algos_names_each_pass():
    spec = ((2, 3, 8, 8), (4, 3, 3, 3), {"padding": 1}, ("forward", "backward_input", "backward_weight"))
    picks = compare.conv_algos(spec)
    assert picks == "im2col" or picks.count(" / ") == 2


def test_chart_has_no_pytorch_series_without_torch(tmp_path):
    assert [s[0] for s in chart_series(rows(torch=True))] == ["nnkern vs NumPy reference", "nnkern vs PyTorch"]
    assert [s[0] for s in chart_series(rows(torch=False))] == ["nnkern vs NumPy reference"]
    speedup_chart(rows(torch=False), tmp_path / "c.png", "title")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.isnan(chart_series(rows(torch=True))[1][1]).sum() == 0


def test_sweep_table_marks_the_heuristic_and_the_fastest():
    from nnkern.bench import conv_sweep
    text = conv_sweep.table([("s", "forward", {"im2col": 0.002}, "im2col", 0.004)])
    assert "| s | forward | 2.00 | 4.00 | im2col | im2col | 2.00x |" in text
    from nnkern.bench.workloads import conv2d
    assert conv2d.BENCH[0] == "mnist-simpleconv" and conv2d.BENCH[-1] == "alexnet-conv3"
    assert len(conv2d.SWEEP) > 10 and all(len(spec) == 5 for spec in conv2d.SHAPES.values())
