def empirical_receptive_field(model, in_channels, size=33):
    """Side of the input region whose gradient w.r.t. the model's middle output pixel is non-zero.

    Feeds random (N, in_channels, size, size) inputs, backpropagates the middle output pixel (summed over
    channels and batch) and measures the extent of the non-zero input gradient. The model is not modified.
    """
    p0 = next(model.parameters(), None)
    device = p0.device if p0 is not None else torch.device("cpu")
    dtype = p0.dtype if p0 is not None and p0.is_floating_point() else torch.float32
    # own generator
    gen = torch.Generator(device=device).manual_seed(0)

    old_mode = model.training
    model.eval()   # dropout would mask pixels, batch norm in training mode would mix the batch
    try:
        # several inputs: for one input, inactive ReLUs and max-pooling route the gradient through some pixels only
        x = torch.randn(16, in_channels, size, size, generator=gen, device=device, dtype=dtype,
                        requires_grad=True)
        out = model(x)
        middle = out[:, :, out.shape[-2] // 2, out.shape[-1] // 2]
        (grad,) = torch.autograd.grad(middle.sum(), x)   # gradient w.r.t. x only: the parameters' .grad stays untouched
    finally:
        model.train(old_mode)

    nonzero_mask = grad.abs().sum(dim=(0, 1)) != 0   # (size, size): input pixels the middle value depends on
    rows = nonzero_mask.any(dim=1).nonzero()
    cols = nonzero_mask.any(dim=0).nonzero()
    if rows.numel() == 0:
        return 0
    height = int(rows.max() - rows.min()) + 1
    width = int(cols.max() - cols.min()) + 1
    return max(height, width)
