"""``python -m common.data``: list registered datasets and whether each is found here."""

from common.data import REGISTRY, DataMissingError, search_roots


def main() -> None:
    print("search roots:", ", ".join(str(r) for r in search_roots()))
    for name, info in sorted(REGISTRY.items()):
        try:
            ds = info.loader()
            state = f"found: {ds.name}, {len(ds)} items ({ds.source})"
        except DataMissingError:
            state = f"MISSING - {info.how_to_obtain}"
        print(f"{name:15s} {info.description}\n{'':15s} {state}")


if __name__ == "__main__":
    main()
