def vgg_block(in_channels, out_channels, num_convs):
    """num_convs × (3x3 conv with padding 1, ReLU), then a 2x2 max-pool with stride 2, as one nn.Sequential."""
    mods = []
    for i in range(num_convs):
        mods += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
        in_channels = out_channels
    mods.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*mods)
