"""meta_rdre: Meta-Learning for Relative Density-Ratio Estimation (Kumagai, Iwata, Fujiwara, NeurIPS 2021)."""
