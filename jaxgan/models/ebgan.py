"""EBGAN's autoencoder discriminator (Zhao, Mathieu and LeCun 2017). EBGAN
has no released code; this follows the paper's convolutional autoencoder for
64x64 images, (64)4c2s-(128)4c2s-(256)4c2s down and (128)4c2s-(64)4c2s-(3)4c2s
up, in the DCGAN conventions its generator shares (jaxgan.models.dcgan:
4x4 stride-2 convs without biases, BatchNorm but after the first and last
layers, LeakyReLU 0.2 down, ReLU up, N(0, 0.02) init).

The energy of an image is its reconstruction error; the trainer takes the
mean squared error per image. The embedding (the encoder's output, flattened)
feeds the pulling-away term.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jaxgan.models.dcgan import batch_norm, conv, conv_transpose

Array = jax.Array


class EBGANDiscriminator(nn.Module):
    """image -> (reconstruction, embedding [B, (res/8)^2 * 4 ndf])."""

    resolution: int = 64
    ndf: int = 64
    num_layers: int = 3  # stride-2 convs down (and transposed convs up)

    @nn.compact
    def __call__(self, x: Array, train: bool = True) -> tuple[Array, Array]:
        if self.resolution % (2 ** self.num_layers):
            raise ValueError(f"EBGAN's discriminator halves the size {self.num_layers} times: the resolution "
                             f"{self.resolution} must be a multiple of {2 ** self.num_layers}")
        channels = x.shape[-1]
        lrelu = lambda v: nn.leaky_relu(v, 0.2)
        h = lrelu(conv(self.ndf, 4, 2, 1, "down_0")(x))
        for i in range(1, self.num_layers):
            h = lrelu(batch_norm(train, f"down_bn_{i}")(conv(self.ndf * 2 ** i, 4, 2, 1, f"down_{i}")(h)))
        embedding = h.reshape(h.shape[0], -1)
        for i in reversed(range(self.num_layers - 1)):
            h = nn.relu(batch_norm(train, f"up_bn_{i}")(conv_transpose(self.ndf * 2 ** i, 4, 2, 1, f"up_{i}")(h)))
        return conv_transpose(channels, 4, 2, 1, "to_image")(h), embedding
