"""Pure tests name stores by scheme ("az", "file"); the backend registry declares those schemes' key and
metadata rules, so it is loaded once here (it imports no cloud SDK)."""

import multicloud.clouds.registry  # noqa: F401
