"""Repository-wide test setting: no test downloads a dataset by surprise.

Loaders download missing datasets on first use (common.data.core); under pytest that is turned
off with REPRO_OFFLINE=1 (set here before collection, so module-level checks are covered too;
run with REPRO_OFFLINE=0 to let data tests download). A test that finds no data then skips or
sees DataMissingError at once. Tests of the download path unset the variable themselves and
serve files locally (file:// URLs or a patched urlopen).
"""

import os

os.environ.setdefault("REPRO_OFFLINE", "1")
