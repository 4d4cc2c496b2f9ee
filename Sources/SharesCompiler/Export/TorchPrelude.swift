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

            def forward(self, x):
                return F.conv2d(x, self.owner.weight, self.owner.bias, self.stride, self.padding, 1, self.groups)

            def extra_repr(self):
                return f"stride={self.stride}, padding={self.padding}, groups={self.groups}"


        def conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1, bias=False, tied=None):
            \"\"\"A convolution with a weight of its own or, given `tied` (a convolution of a `shared` module),
            a use of that convolution's weight.\"\"\"
            if tied is None:
                return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)
            expected = (out_channels, in_channels // groups, kernel_size, kernel_size)
            if tied.weight.shape != expected or (tied.bias is not None) != bias:
                raise ValueError(f"the tied weight {tuple(tied.weight.shape)} does not fit a convolution of weight {expected}")
            return TiedConv2d(tied, stride, padding, groups)

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
