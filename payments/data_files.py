"""Where the service's data files are: `schema.sql` and `translations/`.

Beside the packages in a source checkout (and an editable install); an installed wheel
finds them in PAYMENTS_DATA_DIR, where the image puts them (Dockerfile). A deployment
setting, not a service setting: it says where the release's own files are.
"""

from __future__ import annotations

import os
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """PAYMENTS_DATA_DIR when set, else the source checkout."""
    configured = os.environ.get("PAYMENTS_DATA_DIR", "").strip()
    return Path(configured) if configured else CHECKOUT


SCHEMA_FILE = data_dir() / "schema.sql"
TRANSLATIONS = data_dir() / "translations"
