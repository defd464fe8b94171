"""``jupyter-warp eval`` and ``jupyter-warp export``: the two command functions.

``jupyter_warp.cli`` dispatches to them; each returns the exit status (a ``WarpError`` is the
caller's to print). Their options are in ``options.py``, which ``%warp_eval`` shares.
"""

from __future__ import annotations

import argparse
import json
import sys

from .options import evaluate_args


def eval_command(args: argparse.Namespace) -> int:
    """``jupyter-warp eval``: print the table (or JSON); 1 when the judge stopped early."""
    from .compare import comparison

    result = evaluate_args(args)
    if args.json:
        print(json.dumps(comparison(result), ensure_ascii=False, indent=1))
    else:
        print(result.table())
    if args.out:
        print(f"written: {result.save(args.out)}", file=sys.stderr)
    if result.incomplete:
        kept = f"; what was measured is in {args.out}" if args.out else "; add --out FILE to keep what was measured"
        print(f"error: the judge stopped: {result.incomplete}{kept}", file=sys.stderr)
        return 1
    return 0


def export_command(args: argparse.Namespace) -> int:
    """``jupyter-warp export``: write the chat examples and print what was written."""
    from .export import export_sft

    summary = export_sft(args.runs, args.out, accepted_only=args.accepted_only, min_support=args.min_support,
                         threshold=args.threshold)
    print(summary.table())
    return 0
