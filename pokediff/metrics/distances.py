"""Distances between two sets of feature vectors: Fréchet and kernel (KID).

Both take features of shape `(N, D)`, for instance from
`pokediff.metrics.extract_features` (the type classifier's embedding) or
`pokediff.metrics.InceptionFeatures` (the standard FID/KID space). All
computations run in float64 with numpy.
"""

import warnings

import numpy as np


def _check_features(features, name, min_rows=2):
    features = np.asarray(features, dtype="float64")
    if features.ndim != 2:
        raise ValueError(
            f"`{name}` expected a 2-D array of shape (N, D). "
            f"Received: {name}.shape={features.shape}"
        )
    if features.shape[0] < min_rows:
        raise ValueError(
            f"`{name}` expected at least {min_rows} feature vectors. "
            f"Received: {name}.shape={features.shape}"
        )
    if not np.isfinite(features).all():
        raise ValueError(
            f"`{name}` expected finite values only. Received: "
            f"{int((~np.isfinite(features)).sum())} NaN or infinite values"
        )
    return features


def _check_same_dim(features_a, features_b):
    if features_a.shape[1] != features_b.shape[1]:
        raise ValueError(
            "`features_a` and `features_b` expected the same feature size. "
            f"Received: features_a.shape={features_a.shape}, "
            f"features_b.shape={features_b.shape}"
        )


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix via `eigh`.

    Eigenvalues that round-off made slightly negative are clipped to 0.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    return (eigenvectors * np.sqrt(eigenvalues)) @ eigenvectors.T


def feature_statistics(features):
    """Mean and covariance of a set of feature vectors.

    Args:
        features: float array of shape `(N, D)` with `N >= 2`.

    Returns:
        A tuple `(mean, covariance)` of float64 arrays of shapes `(D,)` and
        `(D, D)`; the covariance uses the unbiased `N - 1` normalisation.

    Example:

    >>> mean, cov = feature_statistics([[0.0], [2.0]])
    >>> float(mean[0]), float(cov[0, 0])
    (1.0, 2.0)
    """
    features = _check_features(features, "features")
    mean = features.mean(axis=0)
    covariance = np.cov(features, rowvar=False).reshape(
        features.shape[1], features.shape[1]
    )
    return mean, covariance


def frechet_distance_from_statistics(mean_a, cov_a, mean_b, cov_b):
    """Fréchet distance between two Gaussians given by mean and covariance.

    d² = |μa - μb|² + tr(Σa) + tr(Σb) - 2 tr((Σa Σb)^½)

    The trace of the matrix square root is computed without a general
    `sqrtm`: with S = Σa^½ (symmetric), S Σb S is symmetric positive
    semi-definite and has the same eigenvalues as Σa Σb, so
    tr((Σa Σb)^½) is the sum of the square roots of its eigenvalues
    (`eigvalsh`, with round-off negatives clipped to 0).

    Args:
        mean_a: float array of shape `(D,)`.
        cov_a: float array of shape `(D, D)`, symmetric PSD.
        mean_b: float array of shape `(D,)`.
        cov_b: float array of shape `(D, D)`, symmetric PSD.

    Returns:
        The squared Fréchet distance as a non-negative Python float.

    Example:

    >>> frechet_distance_from_statistics([0.0], [[1.0]], [3.0], [[4.0]])
    10.0
    """
    mean_a = np.atleast_1d(np.asarray(mean_a, dtype="float64"))
    mean_b = np.atleast_1d(np.asarray(mean_b, dtype="float64"))
    cov_a = np.atleast_2d(np.asarray(cov_a, dtype="float64"))
    cov_b = np.atleast_2d(np.asarray(cov_b, dtype="float64"))
    dim = mean_a.shape[0]
    for name, value, shape in (
        ("mean_b", mean_b, (dim,)),
        ("cov_a", cov_a, (dim, dim)),
        ("cov_b", cov_b, (dim, dim)),
    ):
        if value.shape != shape:
            raise ValueError(
                f"`{name}` expected shape {shape} to match "
                f"mean_a.shape={mean_a.shape}. "
                f"Received: {name}.shape={value.shape}"
            )

    sqrt_a = _sqrt_psd((cov_a + cov_a.T) / 2)
    product = sqrt_a @ cov_b @ sqrt_a
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mean_a - mean_b
    distance = (
        diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    )
    return float(max(distance, 0.0))


def frechet_distance(features_a, features_b):
    """Fréchet distance between two sets of feature vectors.

    Fits a Gaussian (mean and covariance) to each set and returns the
    squared Fréchet (2-Wasserstein) distance between them, the quantity
    known as FID when the features come from InceptionV3. Lower is better;
    identical sets give 0. The value depends on the feature space, so only
    compare scores computed with the same feature extractor.

    Args:
        features_a: float array of shape `(N, D)`, `N >= 2`.
        features_b: float array of shape `(M, D)`, `M >= 2`.

    Returns:
        A non-negative Python float.

    Example:

    >>> a = [[-1.0], [1.0]]  # mean 0, variance 2
    >>> b = [[1.0], [3.0]]  # mean 2, variance 2
    >>> frechet_distance(a, b)
    4.0
    """
    features_a = _check_features(features_a, "features_a")
    features_b = _check_features(features_b, "features_b")
    _check_same_dim(features_a, features_b)

    return frechet_distance_from_statistics(
        *feature_statistics(features_a), *feature_statistics(features_b)
    )


def _polynomial_kernel(x, y, degree):
    return (x @ y.T / x.shape[1] + 1.0) ** degree


def _unbiased_mmd2(x, y, degree):
    m = x.shape[0]
    k_xx = _polynomial_kernel(x, x, degree)
    k_yy = _polynomial_kernel(y, y, degree)
    k_xy = _polynomial_kernel(x, y, degree)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (
        m * (m - 1)
    )
    return within - 2.0 * k_xy.mean()


def kernel_distance(
    features_a,
    features_b,
    degree=3,
    subset_size=1000,
    num_subsets=100,
    seed=None,
):
    """Kernel distance (KID) between two sets of feature vectors.

    The unbiased estimate of the squared maximum mean discrepancy (MMD²)
    with the polynomial kernel k(x, y) = (x·y / D + 1)^degree, averaged over
    `num_subsets` random pairs of subsets of `subset_size` vectors drawn
    without replacement from each set. Unlike the Fréchet distance it is
    unbiased for small samples, and can come out slightly negative when
    both sets follow the same distribution. Lower is better.

    Args:
        features_a: float array of shape `(N, D)`, `N >= 2`.
        features_b: float array of shape `(M, D)`, `M >= 2`.
        degree: int, the degree of the polynomial kernel. Defaults to `3`.
        subset_size: int, the number of vectors per subset; lowered, with a
            warning, to `min(N, M)` when larger. Defaults to `1000`.
        num_subsets: int, the number of subsets averaged. Defaults to
            `100`.
        seed: int or `None`, seeds the subset draws. Defaults to `None`.

    Returns:
        A tuple `(mean, std)` of Python floats: the mean and the standard
        deviation of the MMD² estimates over the subsets.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(50, 4))
    >>> mean, std = kernel_distance(a, a + 3.0, subset_size=20, seed=0)
    >>> mean > 0
    True
    """
    features_a = _check_features(features_a, "features_a")
    features_b = _check_features(features_b, "features_b")
    _check_same_dim(features_a, features_b)
    if degree < 1 or num_subsets < 1 or subset_size < 2:
        raise ValueError(
            "`degree` and `num_subsets` expected positive ints and "
            "`subset_size` an int >= 2. Received: "
            f"degree={degree}, num_subsets={num_subsets}, "
            f"subset_size={subset_size}"
        )
    smallest = min(len(features_a), len(features_b))
    if subset_size > smallest:
        warnings.warn(
            f"`subset_size={subset_size}` is larger than the smaller "
            f"feature set ({smallest} vectors); using {smallest} instead.",
            stacklevel=2,
        )
        subset_size = smallest

    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets)
    for index in range(num_subsets):
        rows_a = rng.choice(len(features_a), subset_size, replace=False)
        rows_b = rng.choice(len(features_b), subset_size, replace=False)
        estimates[index] = _unbiased_mmd2(
            features_a[rows_a], features_b[rows_b], degree
        )
    return float(estimates.mean()), float(estimates.std())
