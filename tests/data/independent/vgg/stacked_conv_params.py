def stacked_conv_params(kernel_size, channels, depth, bias=False):
    """Parameters of `depth` stacked kernel_size x kernel_size convolutions, each channels -> channels."""
    total = 0
    for _ in range(depth):
        total += conv_params(kernel_size, channels, channels, bias)
    return total
