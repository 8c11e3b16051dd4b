"""The ``nnkern`` command (also ``python -m nnkern``).

Subcommands: ``train`` (the main job), ``launch`` (train on several MPI ranks), ``export-onnx`` (a checkpoint's
model as ONNX), ``experiment``, ``bench``, ``info``, ``demo``. Bad arguments or data end in a one-line error on
stderr and exit code 2, never a traceback (in a distributed run, that ends every rank of the job).
"""
import argparse
import sys


class UsageError(Exception):
    """A bad argument or bad data: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _cmd_info(args):
    from .info import format_info
    print(format_info())
    return 0


def _cmd_demo(args):
    from .demo import run_demo
    return run_demo(threads=args.threads)


def _cmd_train(args):
    from .train import train
    train(args)
    return 0


def _cmd_launch(args):
    from .distributed.launch import launch
    return launch(args.n, args.args, args.mpiexec, args.mpiexec_args)


def _cmd_export_onnx(args):
    from .onnx._cli import run
    return run(args)


def _cmd_experiment(args):
    from .experiments import NAMES, run_experiment
    names = NAMES if args.name == "all" else [args.name]
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        from . import set_num_threads
        set_num_threads(args.threads)
    for name in names:
        png, js = run_experiment(name, args.out, seed=args.seed)
        print(f"{name}: wrote {png} and {js}")
    return 0


def _cmd_bench(args):
    import os

    from .bench import compare
    if args.program:  # started as `nnkern` / `python -m nnkern`: never a process that called main() itself
        compare.restart_with_quiet_blas()
    os.makedirs(args.out_dir, exist_ok=True)
    args.out = args.out or os.path.join(args.out_dir, "bench.md")
    args.chart = args.chart or os.path.join(args.out_dir, "bench.png")
    code = compare.execute(args)
    print("wrote " + " and ".join(p for p in (args.out, args.chart) if p))
    return code


def build_parser():
    parser = _Parser(prog="nnkern", description="Deep Learning from Scratch on native kernels")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    train = sub.add_parser("train", help="train a network on the embedded digits (or local MNIST)")
    from .train import add_arguments as train_arguments
    train_arguments(train)
    launch = sub.add_parser("launch", help="run train data-parallel on N MPI ranks: nnkern launch -n 4 train ...")
    from .distributed.launch import add_arguments as launch_arguments
    launch_arguments(launch)
    exp = sub.add_parser("experiment", help="the study demonstrations (initialisation, optimizers, "
                                            "overfitting, batch norm): a PNG and a JSON each")
    exp.add_argument("name", help="init-histogram, optimizers, overfit, batchnorm or all")
    exp.add_argument("--out", default="nnkern-experiments", help="output folder")
    exp.add_argument("--seed", type=int, default=0)
    exp.add_argument("--threads", type=int, default=None)
    export = sub.add_parser("export-onnx", help="a checkpoint's model as ONNX: nnkern export-onnx CKPT --out m.onnx")
    from .onnx._cli import add_arguments as export_arguments
    export_arguments(export)
    sub.add_parser("info", help="version, compiler, SIMD path, BLAS and thread pools")
    demo = sub.add_parser("demo", help="one convolution natively and with the NumPy reference")
    demo.add_argument("--threads", type=int, default=None)
    bench = sub.add_parser("bench", help="nnkern vs the NumPy reference vs PyTorch: table and chart")
    from .bench.compare import add_arguments
    add_arguments(bench)
    bench.add_argument("--out-dir", default="nnkern-bench", help="folder for bench.md and bench.png")
    return parser


HANDLERS = {"train": _cmd_train, "launch": _cmd_launch, "export-onnx": _cmd_export_onnx, "experiment": _cmd_experiment,
            "info": _cmd_info, "demo": _cmd_demo, "bench": _cmd_bench}


def main(argv=None, program=False):
    """Run one command (argv: the arguments after ``nnkern``; None: sys.argv[1:]). program=True
    only from the console script and ``python -m nnkern`` (:func:`run`): ``nnkern bench`` may
    then restart the process with a quieter BLAS (nnkern.bench.compare.restart_with_quiet_blas)."""
    try:
        args = build_parser().parse_args(argv)
        args.program = program
        return HANDLERS[args.command](args)
    except (UsageError, ValueError, OSError) as e:
        print(f"nnkern: error: {e}", file=sys.stderr)
        from .distributed.group import abort_if_distributed
        abort_if_distributed(2)  # the other ranks may be waiting for this one
        return 2


def run():
    """The ``nnkern`` console script and ``python -m nnkern``."""
    return main(program=True)
