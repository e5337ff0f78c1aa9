"""Allows `python -m tinymodels`."""

from __future__ import annotations

from tinymodels.cli import main

raise SystemExit(main())
