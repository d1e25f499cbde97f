"""LUTLab entry point: no sub-command opens the editor; a sub-command runs a headless job."""

import sys


def main() -> int:
    args = sys.argv[1:]
    if args and not args[0].startswith("-") and not _looks_like_photo(args[0]):
        from engine.cli import main as cli_main

        return cli_main(args)
    if args and args[0] in ("-h", "--help"):
        from engine.cli import main as cli_main

        return cli_main(args)
    from app.main import run_editor

    return run_editor(args[0] if args else None)


def _looks_like_photo(arg: str) -> bool:
    """`python main.py photo.jpg` opens the editor; a bare word is a sub-command."""
    return "." in arg or "/" in arg


if __name__ == "__main__":
    sys.exit(main())
