"""``python -m common.data`` (``make data-status``): every dataset of every paper, and whether it
is on this machine. Nothing is downloaded or fully loaded here."""

from __future__ import annotations

import importlib
import sys

from common.data.core import REGISTRY, REPO_ROOT, dataset_status, offline, search_roots


def import_paper_data_modules() -> list[str]:
    """Import ``papers/<slug>/data.py`` of every paper (they register their datasets); returns
    one line per module that could not be imported."""
    problems = []
    for path in sorted((REPO_ROOT / "papers").glob("*/data.py")):
        slug = path.parent.name
        if slug.startswith(("_", ".")):
            continue
        try:
            importlib.import_module(f"papers.{slug}.data")
        except Exception as exc:  # noqa: BLE001 - report and go on with the other papers
            problems.append(f"papers/{slug}/data.py could not be imported: {type(exc).__name__}: {exc}")
    return problems


def status_lines() -> list[str]:
    problems = import_paper_data_modules()
    lines = ["search roots: " + ", ".join(str(r) for r in search_roots()),
             "downloads: " + ("disabled (REPRO_OFFLINE=1)" if offline() else
                              "on first use, for datasets with a download source (REPRO_OFFLINE=1 disables)"),
             ""]
    n_found = 0
    for name in sorted(REGISTRY):
        st = dataset_status(name)
        n_found += st.found
        if st.found:
            state = f"found: {st.where}"
        elif st.info.sources:
            state = f"MISSING - downloads on first use from {st.info.sources[0]}" + (
                f" (+{len(st.info.sources) - 1} more)" if len(st.info.sources) > 1 else "")
        else:
            state = f"MISSING - {st.info.how_to_obtain}"
        lines.append(f"{name:24s} [{', '.join(st.used_by)}] {st.info.description}")
        lines.append(f"{'':24s} {state}")
    lines.append("")
    lines.append(f"{n_found} of {len(REGISTRY)} datasets found")
    return lines + problems


def main() -> int:
    sys.stdout.write("\n".join(status_lines()) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
