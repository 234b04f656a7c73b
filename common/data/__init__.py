"""Shared datasets: registry, search roots, verified downloads and loaders.

``from common.data import load_fashion_mnist, load_mnist, load_digits, load_omniglot, load_cifar10,
load_cifar10_subset``; ``python -m common.data`` (``make data-status``) lists every dataset of
every paper and whether it is found on this machine. Missing datasets with a published checksum
are downloaded on first use unless ``REPRO_OFFLINE=1`` (see ``common.data.core``).
"""

from common.data.cifar import (  # noqa: F401
    CIFAR10_CLASSES,
    load_cifar,
    load_cifar10,
    load_cifar10_subset,
    load_cifar100,
)
from common.data.core import (  # noqa: F401
    REGISTRY,
    ChecksumError,
    DataError,
    DataFormatError,
    DataMissingError,
    Resource,
    download,
    fetch_resources,
    find_dir,
    find_files,
    find_or_fetch,
    reading,
    register,
    register_dataset,
    search_roots,
    uses,
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
