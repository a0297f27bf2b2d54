class AlexNet(nn.Module):
    """AlexNet as in torchvision (single-tower 'one weird trick' variant): features → avgpool(6x6) → classifier."""

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        # (out channels, kernel, stride, padding, pool afterwards?) for the five conv layers
        plan = [(64, 11, 4, 2, True), (192, 5, 1, 2, True), (384, 3, 1, 1, False),
                (256, 3, 1, 1, False), (256, 3, 1, 1, True)]
        layers = []
        channels = 3
        for width, k, s, p, pool in plan:
            layers.append(nn.Conv2d(channels, width, k, s, p))
            layers.append(nn.ReLU(inplace=True))
            if pool:
                layers.append(nn.MaxPool2d(3, 2))
            channels = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(6)
        hidden = 4096
        head = [nn.Dropout(dropout), nn.Linear(channels * 36, hidden), nn.ReLU(inplace=True)]
        head += [nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True)]
        head.append(nn.Linear(hidden, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, x):
        pooled = self.avgpool(self.features(x))
        return self.classifier(pooled.flatten(start_dim=1))
