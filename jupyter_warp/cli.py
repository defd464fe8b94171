"""``jupyter-warp index|search|run|batch``: argument parsing and dispatch only."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .errors import WarpError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter-warp",
        description="Write a long, cited research report from local files with a local model (WARP).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or update a Whoosh index of the files under PATH...")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--index", default=".warp/index", help="index folder (default: .warp/index)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("search", help="print the passages a query finds")
    p.add_argument("query")
    p.add_argument("--index", default=".warp/index")
    p.add_argument("-k", type=int, default=10, help="passages to print (default 10)")

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; a WarpError prints as one line and exits 2."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "index":
            from .corpus.commands import index_command

            return index_command(args.paths, args.index, quiet=args.quiet)
        if args.command == "search":
            from .corpus.commands import search_command

            return search_command(args.query, args.index, k=args.k)
    except WarpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
