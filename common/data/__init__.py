"""Shared datasets: registry, search roots, verified downloads and loaders.

``from common.data import load_fashion_mnist, load_mnist, load_digits, load_omniglot``;
``common.data.load(name)`` for registry access; ``python -m common.data`` lists the datasets
and whether each is found on this machine.
"""

from common.data.core import (  # noqa: F401
    REGISTRY,
    ChecksumError,
    DataFormatError,
    DataMissingError,
    Resource,
    download,
    fetch_resources,
    find_files,
    load,
    register,
    search_roots,
    verify_checksum,
)
from common.data.idx import read_idx, write_idx  # noqa: F401
from common.data.images import (  # noqa: F401
    ArrayDataset,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_omniglot,
)
