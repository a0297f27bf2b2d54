def receptive_field(kernel_sizes, strides=None):
    """Receptive field (side, in input pixels) of a stack of layers with these kernel sizes and strides.

    r starts at 1 and grows by (kk - 1) * step per layer; the jump multiplies by each stride. strides=None: all 1.
    """
    kernel_sizes = list(kernel_sizes)
    strides = [1] * len(kernel_sizes) if strides is None else list(strides)
    if len(strides) != len(kernel_sizes):
        raise ValueError(f"got {len(kernel_sizes)} kernel sizes but {len(strides)} strides")
    size, step = 1, 1
    for kk, ss in zip(kernel_sizes, strides):
        size += (kk - 1) * step
        step *= ss
    return size
