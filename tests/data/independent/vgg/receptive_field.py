def receptive_field(kernel_sizes, strides=None):
    """Receptive field (side, in input pixels) of a stack of layers with these kernel sizes and strides.

    r starts at 1 and grows by (k - 1) * jump per layer; the jump multiplies by each stride. strides=None: all 1.
    """
    kernels = tuple(kernel_sizes)
    if strides is None:
        strides = (1,) * len(kernels)
    elif len(tuple(strides)) != len(kernels):
        raise ValueError("kernel_sizes and strides must have the same length")
    # walk back from one output pixel: each layer widens the region to (size - 1) * stride + kernel
    size = 1
    for k, s in reversed(tuple(zip(kernels, strides))):
        size = (size - 1) * s + k
    return size
