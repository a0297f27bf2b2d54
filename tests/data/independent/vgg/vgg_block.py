def vgg_block(in_channels, out_channels, num_convs):
    """num_convs × (3x3 conv with padding 1, ReLU), then a 2x2 max-pool with stride 2, as one nn.Sequential."""
    widths = [in_channels] + [out_channels] * num_convs
    modules = []
    for c_in, c_out in zip(widths[:-1], widths[1:]):
        modules.append(nn.Conv2d(c_in, c_out, kernel_size=(3, 3), padding=(1, 1)))
        modules.append(nn.ReLU(inplace=True))
    return nn.Sequential(*modules, nn.MaxPool2d(2))
