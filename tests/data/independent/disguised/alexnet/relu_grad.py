def relu_grad(x):
    """d relu(x) / dx elementwise: 1 where x > 0, else 0 (0 at x == 0), in x's shape, dtype and device."""
    return (x > 0).to(x.dtype)
