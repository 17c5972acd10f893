"""PyTorch twins of the zoo's networks, for references timed in the same run (``torch`` comes
with the optional ``[bench]`` extra: ``pip install -e ".[bench]"``).

A twin has the same layers, shapes and parameter count as the Keras model, and is built from the
Keras model's weights, so that both compute the same function and their outputs can be compared.

- ``TorchDCGAN.from_keras(gan)``: a DCGAN's generator and discriminator, layer for layer (dense,
  batch norm, ReLU / LeakyReLU, strided and 3x3 convolutions, the latent mixture prior), in
  PyTorch's channels-first layout, with ``train_step(images)``: the preset's step structure
  (one discriminator update on real and generated images, then a generator update on new noise,
  non-saturating losses, Adam).
- ``TorchGPT.from_keras(gpt)``: the character GPT (pre-LN blocks, fused qkv projection, GELU MLP,
  tied or separate head) with ``generate_greedy``, a decoding loop over a preallocated key/value
  cache of ``context_length`` positions in the nanoGPT style: each step writes one position of
  every layer's cache in place and attends over the filled part only
  (``scaled_dot_product_attention``). When the cache is full it is rebuilt from the last
  ``context_length // 2`` ids, the context policy of ``GPT.generate``, so that both decode the
  same windows.

Example:

```python
from keras_genai import zoo
from torch_twins import TorchGPT

gpt = zoo.load("gpt_shakespeare", compile=False)
twin = TorchGPT.from_keras(gpt)
ids = twin.generate_greedy([gpt.encode("ROMEO:\\n")], 64)  # numpy (1, 7 + 64) int64
```
"""

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class _MixturePrior(nn.Module):
    """z -> means[c] + exp(log_scales[c]) * z, c the component of each row (by thresholds on z[:, 0])."""

    def __init__(self, prior):
        super().__init__()
        self.means = nn.Parameter(torch.from_numpy(np.array(prior.means)))
        self.log_scales = nn.Parameter(torch.from_numpy(np.array(prior.log_scales)))
        self.register_buffer("thresholds", torch.from_numpy(np.asarray(prior._thresholds, np.float32)))

    def forward(self, z):
        component = (z[:, :1] > self.thresholds[None, :]).sum(1)
        return self.means[component] + torch.exp(self.log_scales[component]) * z


class _Unflatten(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = shape

    def forward(self, x):
        return x.view(x.shape[0], *self.shape)


def _torch_layers(network):
    """The layers of a sequential Keras image network (functional, one path) as PyTorch modules."""
    import keras

    modules, channels = [], None
    for layer in network.layers:
        kind = type(layer).__name__
        if isinstance(layer, keras.layers.InputLayer):
            shape = layer.batch_shape[1:] if hasattr(layer, "batch_shape") else layer.output.shape[1:]
            channels = shape[-1]
        elif kind == "GaussianMixturePrior":
            modules.append(_MixturePrior(layer))
        elif kind == "Dense":
            modules.append(nn.Linear(layer.kernel.shape[0], layer.units, bias=layer.use_bias))
            channels = layer.units
        elif kind == "BatchNormalization":
            modules.append(nn.BatchNorm1d(channels, eps=layer.epsilon, momentum=1 - layer.momentum)
                           if len(layer.input.shape) == 2 else
                           nn.BatchNorm2d(channels, eps=layer.epsilon, momentum=1 - layer.momentum))
        elif kind == "ReLU":
            modules.append(nn.ReLU())
        elif kind == "LeakyReLU":
            modules.append(nn.LeakyReLU(float(layer.negative_slope)))
        elif kind == "Reshape":
            height, width, channels = layer.target_shape
            modules.append(_Unflatten((channels, height, width)))
        elif kind in ("Conv2D", "Conv2DTranspose"):
            size, stride = layer.kernel_size[0], layer.strides[0]
            if kind == "Conv2D":
                modules.append(nn.Conv2d(channels, layer.filters, size, stride, padding=(size - stride + 1) // 2,
                                         bias=layer.use_bias))
            else:  # "same" with stride 2 and kernel 4 doubles the size: padding 1
                modules.append(nn.ConvTranspose2d(channels, layer.filters, size, stride, padding=(size - stride) // 2,
                                                  bias=layer.use_bias))
            channels = layer.filters
        elif kind == "ReplicaDropout":
            modules.append(nn.Dropout(layer.rate))
        elif kind == "Flatten":
            modules.append(nn.Flatten())
            channels = int(np.prod(layer.output.shape[1:]))
        elif kind == "Activation" and layer.activation.__name__ == "tanh":
            modules.append(nn.Tanh())
        else:
            raise ValueError(f"no PyTorch twin for layer {layer.name} ({kind})")
    return nn.Sequential(*modules)


class TorchDCGAN(nn.Module):
    """A DCGAN's two networks in PyTorch, with the preset's training step. Build it with
    ``from_keras``; ``train_step`` takes images (batch, channels, height, width) in [-1, 1]."""

    def __init__(self, generator, discriminator, latent_dim, learning_rate=1e-4, beta_1=0.5):
        super().__init__()
        self.generator, self.discriminator, self.latent_dim = generator, discriminator, latent_dim
        self.g_optimizer = torch.optim.Adam(generator.parameters(), learning_rate, betas=(beta_1, 0.999), eps=1e-7)
        self.d_optimizer = torch.optim.Adam(discriminator.parameters(), learning_rate, betas=(beta_1, 0.999), eps=1e-7)

    @classmethod
    def from_keras(cls, gan):
        """The twin of a ``keras_genai`` unconditional DCGAN (architecture only: training speed
        does not depend on the weights)."""
        return cls(_torch_layers(gan.generator), _torch_layers(gan.discriminator), gan.latent_dim)

    def train_step(self, images):
        batch = images.shape[0]
        ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
        fake = self.generator(torch.randn(batch, self.latent_dim))
        d_loss = (F.binary_cross_entropy_with_logits(self.discriminator(images), ones)
                  + F.binary_cross_entropy_with_logits(self.discriminator(fake.detach()), zeros))
        self.d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_optimizer.step()
        fake = self.generator(torch.randn(batch, self.latent_dim))
        g_loss = F.binary_cross_entropy_with_logits(self.discriminator(fake), ones)
        self.g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        self.g_optimizer.step()
        return d_loss.detach(), g_loss.detach()


class _Block(nn.Module):
    def __init__(self, width, heads, mlp_dim, dropout):
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, width // heads, dropout
        self.attention_norm = nn.LayerNorm(width, eps=1e-5)
        self.qkv = nn.Linear(width, 3 * width)
        self.projection = nn.Linear(width, width)
        self.mlp_norm = nn.LayerNorm(width, eps=1e-5)
        self.mlp_in = nn.Linear(width, mlp_dim)
        self.mlp_out = nn.Linear(mlp_dim, width)

    def _qkv(self, x):
        """x (batch, L, width) -> q, k, v (batch, heads, L, head_dim)."""
        batch, length, _ = x.shape
        qkv = self.qkv(self.attention_norm(x)).view(batch, length, 3, self.heads, self.head_dim)
        return qkv.permute(2, 0, 3, 1, 4).unbind(0)

    def _finish(self, x, attended):
        batch, _, length, _ = attended.shape
        attended = self.projection(attended.transpose(1, 2).reshape(batch, length, -1))
        x = x + F.dropout(attended, self.dropout, self.training)
        return x + F.dropout(self.mlp_out(F.gelu(self.mlp_in(self.mlp_norm(x)))), self.dropout, self.training)

    def forward(self, x):
        """Causal pass over x (batch, L, width), with dropout when training."""
        q, k, v = self._qkv(x)
        dropout = self.dropout if self.training else 0.0
        return self._finish(x, F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True))

    def prefill(self, x, keys, values):
        """Causal pass over x (batch, L, width), writing positions [0, L) of the caches."""
        q, k, v = self._qkv(x)
        length = x.shape[1]
        keys[:, :, :length], values[:, :, :length] = k, v
        return self._finish(x, F.scaled_dot_product_attention(q, k, v, is_causal=True))

    def step(self, x, keys, values, position):
        """x (batch, 1, width) at ``position``: writes that position, attends over [0, position]."""
        q, k, v = self._qkv(x)
        keys[:, :, position], values[:, :, position] = k[:, :, 0], v[:, :, 0]
        attended = F.scaled_dot_product_attention(q, keys[:, :, :position + 1], values[:, :, :position + 1])
        return self._finish(x, attended)


class TorchGPT(nn.Module):
    """The character GPT in PyTorch. Build it with ``from_keras``; inputs are id arrays."""

    def __init__(self, vocabulary_size, context_length, num_layers, num_heads, embed_dim, mlp_dim, tied,
                 dropout=0.0):
        super().__init__()
        self.dropout = dropout
        self.context_length, self.num_heads, self.embed_dim = context_length, num_heads, embed_dim
        self.token_embedding = nn.Embedding(vocabulary_size, embed_dim)
        self.position_embedding = nn.Embedding(context_length, embed_dim)
        self.blocks = nn.ModuleList(_Block(embed_dim, num_heads, mlp_dim, dropout) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(embed_dim, eps=1e-5)
        self.head = None if tied else nn.Linear(embed_dim, vocabulary_size)

    @classmethod
    def from_keras(cls, gpt):
        """The twin of a ``keras_genai`` GPT, holding a copy of its weights (float32)."""
        mlp_dim = int(gpt.blocks[0].mlp_dim)
        twin = cls(gpt.vocabulary_size, gpt.context_length, gpt.num_layers, gpt.blocks[0].num_heads,
                   gpt.embed_dim, mlp_dim, tied=gpt.head is None, dropout=gpt.dropout_rate)

        def copy(target, kernel=None, bias=None, gamma=None, beta=None):
            with torch.no_grad():
                if kernel is not None:
                    target.weight.copy_(torch.from_numpy(np.asarray(kernel, np.float32).T))
                    target.bias.copy_(torch.from_numpy(np.asarray(bias, np.float32)))
                else:
                    target.weight.copy_(torch.from_numpy(np.asarray(gamma, np.float32)))
                    target.bias.copy_(torch.from_numpy(np.asarray(beta, np.float32)))

        with torch.no_grad():
            twin.token_embedding.weight.copy_(torch.from_numpy(np.asarray(gpt.token_embedding.embeddings)))
            twin.position_embedding.weight.copy_(torch.from_numpy(np.asarray(gpt.position_embedding.embeddings)))
        for block, keras_block in zip(twin.blocks, gpt.blocks):
            attention = keras_block.attention
            copy(block.attention_norm, gamma=keras_block.attention_norm.gamma, beta=keras_block.attention_norm.beta)
            copy(block.qkv, attention.qkv.kernel, attention.qkv.bias)
            copy(block.projection, attention.projection.kernel, attention.projection.bias)
            copy(block.mlp_norm, gamma=keras_block.mlp_norm.gamma, beta=keras_block.mlp_norm.beta)
            copy(block.mlp_in, keras_block.mlp_in.kernel, keras_block.mlp_in.bias)
            copy(block.mlp_out, keras_block.mlp_out.kernel, keras_block.mlp_out.bias)
        copy(twin.final_norm, gamma=gpt.final_norm.gamma, beta=gpt.final_norm.beta)
        if gpt.head is not None:
            copy(twin.head, gpt.head.kernel, gpt.head.bias)
        return twin.eval()

    def _logits(self, x):
        x = self.final_norm(x)
        return self.head(x) if self.head is not None else x @ self.token_embedding.weight.T

    def forward(self, tokens):
        """tokens (batch, L) int64 -> logits (batch, L, vocabulary) (training, scoring)."""
        x = self.token_embedding(tokens) + self.position_embedding(torch.arange(tokens.shape[1]))
        x = F.dropout(x, self.dropout, self.training)
        for block in self.blocks:
            x = block(x)
        return self._logits(x)

    def _prefill(self, tokens, caches):
        x = self.token_embedding(tokens) + self.position_embedding(torch.arange(tokens.shape[1]))
        for block, (keys, values) in zip(self.blocks, caches):
            x = block.prefill(x, keys, values)
        return self._logits(x[:, -1])

    @torch.inference_mode()
    def generate_greedy(self, prompt_ids, max_new_tokens):
        """Greedy decoding: prompt_ids (batch, P) ints -> numpy (batch, P + max_new_tokens) int64."""
        prompt = torch.as_tensor(np.asarray(prompt_ids), dtype=torch.int64)[:, -self.context_length:]
        batch, context, refill = prompt.shape[0], self.context_length, self.context_length // 2
        head_dim = self.embed_dim // self.num_heads
        caches = [(torch.zeros(batch, self.num_heads, context, head_dim),
                   torch.zeros(batch, self.num_heads, context, head_dim)) for _ in self.blocks]
        recent = prompt
        logits = self._prefill(prompt, caches)
        filled = prompt.shape[1]
        new = torch.empty(batch, max_new_tokens, dtype=torch.int64)
        for i in range(max_new_tokens):
            token = logits.argmax(-1)
            new[:, i] = token
            recent = torch.cat([recent[:, 1 - context:], token[:, None]], dim=1)
            if filled == context:  # full: rebuild from the last ``refill`` ids
                logits = self._prefill(recent[:, -refill:], caches)
                filled = refill
                continue
            x = self.token_embedding(token)[:, None] + self.position_embedding.weight[filled]
            for block, (keys, values) in zip(self.blocks, caches):
                x = block.step(x, keys, values, filled)
            logits = self._logits(x[:, 0])
            filled += 1
        return np.concatenate([np.asarray(prompt_ids), new.numpy()], axis=1)
