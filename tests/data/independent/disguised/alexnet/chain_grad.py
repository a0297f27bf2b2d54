def chain_grad(activation, depth, x0):
    """Derivative of f∘f∘…∘f (depth times) at x0 by the chain rule, f in {"relu", "sigmoid", "tanh"}.

    Returns a Python float. Raises ValueError for any other activation.
    """
    if depth < 0:
        raise ValueError(f"depth must be >= 0, got {depth}")

    def sigmoid(x):
        # stable sigmoid
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        z = math.exp(x)
        return z / (1.0 + z)

    # name -> pair
    table = {
        "relu": (lambda x: x if x > 0 else 0.0, lambda x: 1.0 if x > 0 else 0.0),
        "sigmoid": (sigmoid, lambda x: sigmoid(x) * (1.0 - sigmoid(x))),
        "tanh": (math.tanh, lambda x: 1.0 - math.tanh(x) ** 2),
    }
    if activation not in table:
        raise ValueError(f"activation must be one of {sorted(table)}, got {activation!r}")
    step, slope = table[activation]

    x, deriv = float(x0), 1.0
    for _ in range(depth):
        deriv *= slope(x)   # multiply
        x = step(x)        # next
    return deriv
