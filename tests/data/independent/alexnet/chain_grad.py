def chain_grad(activation, depth, x0):
    """Derivative of f∘f∘…∘f (depth times) at x0 by the chain rule, f in {"relu", "sigmoid", "tanh"}.

    Returns a Python float. Raises ValueError for any other activation.
    """
    if activation == "relu":
        step = lambda v: v if v > 0 else 0.0
        slope = lambda v: float(v > 0)
    elif activation == "sigmoid":
        def step(v):
            # logistic written through tanh: no overflow for large |v|
            return 0.5 * (1.0 + math.tanh(0.5 * v))

        def slope(v):
            s = step(v)
            return s * (1.0 - s)
    elif activation == "tanh":
        step = math.tanh

        def slope(v):
            t = math.tanh(v)
            return (1.0 - t) * (1.0 + t)
    else:
        raise ValueError("unknown activation: " + repr(activation))
    result, value = 1.0, float(x0)
    layer = 0
    while layer < depth:
        result = result * slope(value)
        value = step(value)
        layer += 1
    return float(result)
