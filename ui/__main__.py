"""The `assetsmith` launcher: sub-commands go to the headless CLI without importing Qt;
with none, the desktop window opens."""
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from studio import COMMANDS

    if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help")):
        from studio.cli import main as cli_main

        return cli_main(argv)
    from ui.pyside_feature import quick_feature_check

    quick_feature_check()  # before the window's modules are imported: each is checked
    from ui.app import run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
