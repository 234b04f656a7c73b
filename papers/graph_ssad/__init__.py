"""Kumagai, Iwata, Fujiwara. Semi-supervised Anomaly Detection on Attributed Graphs (IJCNN 2021,
arXiv 2002.12011): GCN node embeddings trained to enclose labelled normal nodes in a small
hypersphere with an AUC regulariser that pushes labelled anomalies outside it."""
