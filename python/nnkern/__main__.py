"""Command line: ``nnkern info`` and ``nnkern demo`` (also ``python -m nnkern ...``)."""
import argparse
import sys


def _cmd_info(args):
    from .info import format_info
    print(format_info())
    return 0


def _cmd_demo(args):
    from .demo import run_demo
    return run_demo(threads=args.threads)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="nnkern", description="nnkern: DLFS layers on native kernels")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="version, compiler, SIMD path, BLAS and thread pools")
    demo = sub.add_parser("demo", help="run a convolution natively and with the NumPy reference")
    demo.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    handlers = {"info": _cmd_info, "demo": _cmd_demo}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
