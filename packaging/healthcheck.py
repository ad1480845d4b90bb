"""The container's HEALTHCHECK: exit 0 when Backstop answers GET /healthz with 200.

Python rather than curl, so the image needs nothing beyond what Backstop itself runs on.
"""

import os
import sys
import urllib.request

port = os.environ.get("BACKSTOP_PORT", "8750")
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=4) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:  # any failure is "unhealthy"; say why in `docker inspect`
    print(f"unhealthy: {exc}", file=sys.stderr)
    sys.exit(1)
