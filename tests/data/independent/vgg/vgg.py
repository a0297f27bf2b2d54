class VGG(nn.Module):
    """features → adaptive average pool to 7x7 → classifier, as torchvision.models.VGG."""

    def __init__(self, features, num_classes=1000, dropout=0.5, init_weights=True):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(output_size=7)
        width = 4096
        self.classifier = nn.Sequential(
            nn.Linear(512 * 49, width), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(width, width), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(width, num_classes))
        if not init_weights:
            return
        for layer in self.modules():
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=0.01)
                nn.init.zeros_(layer.bias)
            elif isinstance(layer, nn.Conv2d):
                nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(layer.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def make_features(blocks, in_channels=3):
    """The layers of vgg_block()s in ONE flat nn.Sequential; blocks = [(num_convs, out_channels), ...]."""
    seq = nn.Sequential()
    c = in_channels
    for n, width in blocks:
        for layer in vgg_block(c, width, n):
            seq.append(layer)
        c = width
    return seq


def vgg16(num_classes=1000):
    """VGG16 (configuration D, 13 conv + 3 FC layers) in torchvision's layout: features / avgpool / classifier."""
    plan = [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]
    return VGG(make_features(plan), num_classes)


def vgg19(num_classes=1000):
    """VGG19 (configuration E, 16 conv + 3 FC layers) in torchvision's layout: features / avgpool / classifier."""
    depths = [2, 2, 4, 4, 4]
    widths = [64, 128, 256, 512, 512]
    return VGG(make_features(list(zip(depths, widths))), num_classes=num_classes)
