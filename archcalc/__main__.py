"""``python -m archcalc`` runs the command-line tool."""

from archcalc.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
