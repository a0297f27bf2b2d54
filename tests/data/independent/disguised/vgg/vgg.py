class VGG(nn.Module):
    """features → adaptive average pool to 7x7 → classifier, as torchvision.models.VGG."""

    def __init__(self, features, num_classes=1000, dropout=0.5, init_weights=True):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:   # init like torchvision
            for mod in self.modules():
                if isinstance(mod, nn.Conv2d):
                    nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.constant_(mod.bias, 0)
                elif isinstance(mod, nn.Linear):
                    nn.init.normal_(mod.weight, 0, 0.01)
                    nn.init.constant_(mod.bias, 0)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


def vgg19(num_classes=1000):
    """VGG19 (configuration E, 16 conv + 3 FC layers) in torchvision's layout: features / avgpool / classifier."""
    return VGG(make_features([(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]), num_classes=num_classes)


def vgg16(num_classes=1000):
    """VGG16 (configuration D, 13 conv + 3 FC layers) in torchvision's layout: features / avgpool / classifier."""
    return VGG(make_features([(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]), num_classes=num_classes)


def make_features(blocks, in_channels=3):
    """The layers of vgg_block()s in ONE flat nn.Sequential; blocks = [(num_convs, out_channels), ...]."""
    module_list = []
    for num_convs, out_channels in blocks:
        module_list.extend(vgg_block(in_channels, out_channels, num_convs))   # flatten the block
        in_channels = out_channels
    return nn.Sequential(*module_list)
