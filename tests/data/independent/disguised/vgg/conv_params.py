def conv_params(kernel_size, in_channels, out_channels, bias=False):
    """Number of parameters of one kernel_size x kernel_size convolution: k·k·C_in·C_out (+ C_out if bias)."""
    n_weights = kernel_size * kernel_size * in_channels * out_channels
    return n_weights + (out_channels if bias else 0)
