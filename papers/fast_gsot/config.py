"""Configuration of one fast_gsot cell. Defaults = full profile (see README: the paper's exact
settings could not be read in this session, so full-profile values are our best reading)."""

from dataclasses import dataclass

from common.config import BaseConfig

METHODS = ("original", "fast", "pot_dual", "sinkhorn_l1l2_gl", "emd", "no_adapt")

# (samples, smallest class size) of each domain pair's source and target, and its number of
# classes, for early checks.
DATA_SIZES = {
    "mnist5k_to_digits": ((5000, 500), (1797, 174), 10),
    "digits_to_mnist5k": ((1797, 174), (5000, 500), 10),
    "omniglot_drawers": ((2420, 10), (2420, 10), 242),
    "mnist_to_usps": ((60000, 5421), (7291, 542), 10),
    "usps_to_mnist": ((7291, 542), (60000, 5421), 10),
}


@dataclass(frozen=True)
class Config(BaseConfig):
    dataset: str = "mnist_to_usps"
    """Domain pair source_to_target: mnist5k_to_digits, digits_to_mnist5k (quick, offline real
    data), mnist_to_usps, usps_to_mnist (full; need official MNIST and usps.bz2)."""
    methods: str = "original,fast,pot_dual,sinkhorn_l1l2_gl,emd,no_adapt"
    """Comma list run side by side on the same instance: original (full-gradient L-BFGS), fast
    (the paper's), pot_dual (same objective in ot.smooth.solve_dual), sinkhorn_l1l2_gl (POT's
    entropic group lasso, a different objective), emd (unregularised exact OT, ot.emd: a
    diagnostic for the DA accuracy), no_adapt (1-NN source -> target)."""
    n_source: int = 2000
    """Labelled source samples (stratified random subset per seed)."""
    n_target: int = 2000
    """Unlabelled target samples (stratified random subset per seed)."""
    n_classes: int = 10
    """Classes (= groups of the regulariser); a random subset of the dataset's classes per seed
    when fewer than all (10 digits; 242 Omniglot characters)."""
    gamma: float = 10.0
    """Regularisation strength gamma of Omega (Eq. P); cost is squared Euclidean / its max."""
    rho: float = 0.5
    """Group-lasso share rho in [0, 1): Omega = gamma[(1-rho)/2 ||t_g||^2 + rho ||t_g||]."""
    tol: float = 1e-9
    """L-BFGS-B tolerance (scipy `tol`: ftol and gtol), same for original, fast and pot_dual."""
    max_iter: int = 3000
    """L-BFGS-B iteration cap, same for original, fast and pot_dual."""
    refresh_waste: float = 0.1
    """Fast method: take a new snapshot when candidate blocks that turn out zero exceed this
    fraction of all blocks in one evaluation."""
    sinkhorn_reg: float = 0.01
    """Entropic weight of sinkhorn_l1l2_gl (cost normalised to max 1)."""
    sinkhorn_eta: float = 0.1
    """Group-lasso weight eta of sinkhorn_l1l2_gl (POT default)."""
    sinkhorn_outer: int = 10
    """Outer (conditional-gradient) iterations of sinkhorn_l1l2_gl (POT default)."""
    sinkhorn_inner: int = 200
    """Inner Sinkhorn iterations of sinkhorn_l1l2_gl (POT default)."""
    emd_max_iter: int = 10_000_000
    """Network-simplex iteration cap of emd (POT's default 100000 is too few beyond a few hundred
    samples per side)."""

    def validate(self) -> None:
        if self.dataset not in DATA_SIZES:
            raise ValueError(f"dataset must be one of {', '.join(DATA_SIZES)}, got {self.dataset!r}")
        methods = [m.strip() for m in self.methods.split(",") if m.strip()]
        bad = [m for m in methods if m not in METHODS]
        if not methods or bad:
            raise ValueError(f"methods must be a comma list of {', '.join(METHODS)}; bad: {bad or '(empty)'}")
        if "fast" in methods and "original" not in methods:
            raise ValueError("methods: 'fast' is compared with 'original' in the same run; list both")
        (ns, mins), (nt, mint), n_cls = DATA_SIZES[self.dataset]
        if not 2 <= self.n_classes <= n_cls:
            raise ValueError(f"n_classes must be in 2..{n_cls} for {self.dataset}, got {self.n_classes}")
        for name, n, total, per in (("n_source", self.n_source, ns, mins), ("n_target", self.n_target, nt, mint)):
            if n < self.n_classes:
                raise ValueError(f"{name}={n} must be at least n_classes={self.n_classes}")
            most = total if self.n_classes == n_cls else min(total, per * self.n_classes)
            if n > most:
                raise ValueError(f"{name}={n} is more than {self.dataset} can give for {self.n_classes} "
                                 f"classes (at most {most})")
        if not self.gamma > 0:
            raise ValueError(f"gamma must be > 0, got {self.gamma}")
        if not 0.0 <= self.rho < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {self.rho}")
        if not self.tol > 0 or self.max_iter < 1:
            raise ValueError("tol must be > 0 and max_iter >= 1")
        if self.emd_max_iter < 1:
            raise ValueError(f"emd_max_iter must be >= 1, got {self.emd_max_iter}")
        if not self.refresh_waste > 0:
            raise ValueError(f"refresh_waste must be > 0, got {self.refresh_waste}")

    @property
    def method_list(self) -> list[str]:
        return [m.strip() for m in self.methods.split(",") if m.strip()]


QUICK = {"dataset": "mnist5k_to_digits", "n_source": 1000, "n_target": 1000, "threads": 1}
SMOKE = {"n_source": 100, "n_target": 100, "threads": 1,
         "methods": "original,fast,pot_dual,sinkhorn_l1l2_gl,emd,no_adapt",
         "sinkhorn_outer": 2, "sinkhorn_inner": 20}
