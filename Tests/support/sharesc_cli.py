"""What the Python suites share: the repository root and the sharesc binary they test."""
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def sharesc_binary() -> pathlib.Path:
    """$SHARESC, else the release build, else the debug build."""
    if os.environ.get("SHARESC"):
        return pathlib.Path(os.environ["SHARESC"])
    for configuration in ("release", "debug"):
        candidate = ROOT / ".build" / configuration / "sharesc"
        if candidate.exists():
            return candidate
    pytest.exit("no sharesc binary: run `swift build -c release` first or set SHARESC", returncode=2)
