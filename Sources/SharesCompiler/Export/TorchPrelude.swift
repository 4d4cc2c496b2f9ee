/// The small modules a generated PyTorch file defines before its blocks, each only when used.
enum TorchPrelude {
    static let tiedConvolution = """
        class TiedConv2d(nn.Module):
            \"\"\"One use of a convolution weight that another module owns: the owner's weight (and bias), this
            use's stride, padding and groups. The owner is kept out of this module's children, so the weight
            is registered, counted and saved once, and autograd sums its gradient over all uses.\"\"\"

            def __init__(self, owner, stride=1, padding=0, groups=1):
                super().__init__()
                self.__dict__["owner"] = owner  # a plain reference, not a second registration
                self.stride, self.padding, self.groups = stride, padding, groups

            @property
            def weight(self):
                return self.owner.weight

            @property
            def bias(self):
                return self.owner.bias

            def forward(self, x):
                return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)

            def extra_repr(self):
                return (
                    f"tied weight {tuple(self.weight.shape)}, stride={self.stride}, padding={self.padding}, "
                    f"groups={self.groups}, bias={self.bias is not None}"
                )


        def conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1, bias=False, tied=None):
            \"\"\"A convolution with a weight of its own or, given `tied` (a convolution of a `shared` module),
            a use of that convolution's weight.\"\"\"
            if tied is None:
                return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)
            expected = (out_channels, in_channels // groups, kernel_size, kernel_size)
            if tied.weight.shape != expected:
                shape = tuple(tied.weight.shape)
                raise ValueError(f"the tied weight {shape} does not fit a convolution of weight {expected}")
            if (tied.bias is not None) != bias:
                having = "has" if tied.bias is not None else "lacks"
                raise ValueError(f"the tied convolution {having} a bias, where this one has bias={bias}")
            return TiedConv2d(tied, stride, padding, groups)


        def known_ties(tied, *names):
            \"\"\"A block's `tied` (convolutions by layer name), checked against the `names` it can tie: a
            misspelt name would otherwise leave that convolution with a weight of its own.\"\"\"
            tied = tied or {}
            unknown = sorted(set(tied) - set(names))
            if unknown:
                raise KeyError(f"{unknown[0]!r} is no convolution this block ties; it ties {', '.join(names)}")
            return tied

        """

    static let subsamplePad = """
        class SubsamplePad(nn.Module):
            \"\"\"The parameter-free shortcut of the CIFAR ResNets ("option A"): every `stride`-th pixel, and the
            channels zero-padded up to `out_channels` (half of the new channels in front).\"\"\"

            def __init__(self, out_channels, stride=1):
                super().__init__()
                self.out_channels, self.stride = out_channels, stride

            def forward(self, x):
                x = x[:, :, ::self.stride, ::self.stride]
                extra = self.out_channels - x.shape[1]
                return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))

        """

    /// The layer modules PyTorch lacks, by the name the generated code calls them with; each is written
    /// only where some layer uses it.
    static let layerModules: [(name: String, source: String)] = [
        ("SqueezeExcitation", squeezeExcitation), ("LayerNorm2d", layerNorm2d), ("LayerScale", layerScale),
        ("StochasticDepth", stochasticDepth)
    ]

    static let squeezeExcitation = """
        class SqueezeExcitation(nn.Module):
            \"\"\"Squeeze-and-excitation (Hu et al. 2018), as torchvision.ops.SqueezeExcitation: each channel scaled by
            a gate computed from the image's channel means by two 1x1 convolutions.\"\"\"

            def __init__(self, channels, squeeze_channels, activation=nn.ReLU):
                super().__init__()
                self.avgpool = nn.AdaptiveAvgPool2d(1)
                self.fc1 = nn.Conv2d(channels, squeeze_channels, 1)
                self.fc2 = nn.Conv2d(squeeze_channels, channels, 1)
                self.activation = activation()
                self.scale_activation = nn.Sigmoid()

            def forward(self, x):
                scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
                return self.scale_activation(scale) * x

        """

    static let layerNorm2d = """
        class LayerNorm2d(nn.LayerNorm):
            \"\"\"LayerNorm over the channels of each pixel of an N x C x H x W batch (ConvNeXt's, as torchvision's).\"\"\"

            def forward(self, x):
                x = x.permute(0, 2, 3, 1)
                x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
                return x.permute(0, 3, 1, 2)

        """

    static let layerScale = """
        class LayerScale(nn.Module):
            \"\"\"A learnt multiplier per channel (ConvNeXt's layer scale), starting at `init`. torchvision's CNBlock
            holds it as `layer_scale` of shape C x 1 x 1; here it is `weight` of shape C, as sharesc saves it.\"\"\"

            def __init__(self, channels, init=1e-06, images=True):
                super().__init__()
                self.weight = nn.Parameter(torch.full((channels,), float(init)))
                # Broadcast over an image's pixels, or over a batch of vectors; fixed here, so that the
                # forward pass has no branch on the input (torch.fx traces it).
                self.shape = (channels, 1, 1) if images else (channels,)

            def forward(self, x):
                return x * self.weight.view(self.shape)

            def extra_repr(self):
                return f"{self.weight.shape[0]}"

        """

    static let stochasticDepth = """
        class StochasticDepth(nn.Module):
            \"\"\"Stochastic depth (Huang et al. 2016) as torchvision.ops.StochasticDepth in "row" mode: in training,
            drops the residual branch of each sample with probability `p` and scales the kept ones by 1 / (1 - p);
            the identity in eval mode.\"\"\"

            def __init__(self, p):
                super().__init__()
                self.p = p

            def forward(self, x):
                if not self.training or self.p == 0.0:
                    return x
                survival = 1.0 - self.p
                noise = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
                noise.bernoulli_(survival)
                if survival > 0.0:
                    noise.div_(survival)
                return x * noise

            def extra_repr(self):
                return f"p={self.p}"

        """

    /// The stage module; `holdsShared` when some stage registers tied convolutions of its own.
    static func stage(holdsShared: Bool) -> String {
        holdsShared
            ? """
            class Stage(nn.Module):
                \"\"\"Residual blocks `block1`, `block2`, ... applied in order. `shared` holds the convolutions that
                blocks of this stage tie: registered here, once, and referenced by the blocks.\"\"\"

                def __init__(self, *blocks, shared=None):
                    super().__init__()
                    if shared is not None:
                        self.shared = shared
                    for index, block in enumerate(blocks, 1):
                        self.add_module(f"block{index}", block)

                def forward(self, x):
                    for name, block in self.named_children():
                        if name != "shared":
                            x = block(x)
                    return x
            """
            : """
            class Stage(nn.Module):
                \"\"\"Residual blocks `block1`, `block2`, ... applied in order.\"\"\"

                def __init__(self, *blocks):
                    super().__init__()
                    for index, block in enumerate(blocks, 1):
                        self.add_module(f"block{index}", block)

                def forward(self, x):
                    for block in self.children():
                        x = block(x)
                    return x
            """
    }
}
