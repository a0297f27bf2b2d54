def empirical_receptive_field(model, in_channels, size=33):
    """Side of the input region whose gradient w.r.t. the model's centre output pixel is non-zero.

    Feeds random (N, in_channels, size, size) inputs, backpropagates the centre output pixel (summed over
    channels and batch) and measures the extent of the non-zero input gradient. The model is not modified.
    """
    first = next(iter(model.parameters()), None)
    dev = first.device if first is not None else torch.device("cpu")
    kind = first.dtype if first is not None and first.is_floating_point() else torch.float32
    mode = model.training
    model.eval()
    gen = torch.Generator(device=dev)
    gen.manual_seed(1234)
    inputs = torch.rand(8, in_channels, size, size, generator=gen, device=dev, dtype=kind) * 2 - 1
    inputs.requires_grad_(True)
    try:
        output = model(inputs)
        h, w = output.shape[-2:]
        output[..., h // 2, w // 2].sum().backward(inputs=[inputs])
    finally:
        model.train(mode)
    mask = inputs.grad.ne(0).any(0).any(0)
    ys = torch.nonzero(mask.any(1)).flatten()
    xs = torch.nonzero(mask.any(0)).flatten()
    if len(ys) == 0:
        return 0
    return int(max(ys[-1] - ys[0], xs[-1] - xs[0])) + 1
