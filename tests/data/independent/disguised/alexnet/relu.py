def relu(x):
    """Elementwise max(0, x): a new tensor with x's shape, dtype and device; x itself is not modified."""
    # `x <= 0` (rather than `x > 0`) keeps NaN as NaN, like torch.relu, and picks the 0 branch at x == 0,
    # so autograd's derivative at 0 is 0 — the same convention as relu_grad below.
    return torch.where(x <= 0, 0, x)
