def conv_params(kernel_size, in_channels, out_channels, bias=False):
    """Number of parameters of one kernel_size x kernel_size convolution: k·k·C_in·C_out (+ C_out if bias)."""
    count = in_channels * out_channels * kernel_size ** 2
    if bias:
        count += out_channels
    return count
