"""Evaluation: the FID Inception-v3 in Flax and FID, IS, KID, precision/recall.

    from jaxgan.eval import InceptionExtractor, compute_metrics, reference_statistics
"""

from jaxgan.eval.features import (
                                  InceptionExtractor,
                                  compute_metrics,
                                  load_stats,
                                  reference_statistics,
                                  reference_stats_path,
                                  save_stats,
                                  stats_from_features,
)
from jaxgan.eval.inception import FIDInceptionV3
from jaxgan.eval.metrics import (
                                  fid_from_features,
                                  frechet_distance,
                                  inception_score,
                                  intra_fid,
                                  kernel_inception_distance,
                                  precision_recall,
                                  statistics,
)
from jaxgan.eval.weights import load_inception_params

__all__ = [
    "FIDInceptionV3", "InceptionExtractor", "compute_metrics", "fid_from_features", "frechet_distance",
    "inception_score", "intra_fid", "kernel_inception_distance", "load_inception_params", "load_stats",
    "precision_recall", "reference_statistics", "reference_stats_path", "save_stats", "statistics",
    "stats_from_features",
]
