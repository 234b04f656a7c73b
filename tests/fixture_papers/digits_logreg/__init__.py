"""Test fixture: a real tiny experiment (logistic regression vs nearest centroid on sklearn digits)
shaped like a paper folder. Not a paper; used by the repo-wide sweep/aggregation/claims tests."""
