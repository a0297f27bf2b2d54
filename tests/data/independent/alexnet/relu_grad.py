def relu_grad(x):
    """d relu(x) / dx elementwise: 1 where x > 0, else 0 (0 at x == 0), in x's shape, dtype and device."""
    ones, zeros = torch.ones_like(x), torch.zeros_like(x)
    return torch.where(x > 0, ones, zeros)
