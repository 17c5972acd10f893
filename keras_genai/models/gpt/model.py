"""A character-level GPT: a decoder-only transformer language model as one ``keras.Model``.

Text is a sequence of characters from the model's ``vocabulary`` (a string of distinct
characters, sorted by code point; token id = index in it). ``fit`` takes batches of
``(tokens, targets)`` int32 (batch, length) where targets are the tokens shifted by one
(``keras_genai.data.text_windows``). ``generate`` decodes with a key/value cache inside one
compiled TensorFlow loop, so each new character costs one position.

Context policy: the model sees at most ``context_length`` characters. A longer prompt is
conditioned on its last ``context_length`` characters (the returned text keeps the whole
prompt). When generation fills the cache, the cache is rebuilt from the last
``context_length // 2`` characters (one parallel pass) and decoding goes on.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from keras_genai import distribution
from keras_genai.models import sampling
from keras_genai.models.base import GenerativeModel
from keras_genai.nets.dropout import ReplicaDropout
from keras_genai.nets.transformer import TransformerBlock

_LN2 = math.log(2.0)
# The decoding loop counts steps in int32 (also the type of the exported ``max_new_tokens``).
MAX_NEW_TOKENS = 2**31 - 1
# New ids are collected in blocks of this many steps (one TensorArray element per block).
_TOKENS_PER_BLOCK = 256


@keras.saving.register_keras_serializable(package="keras_genai")
class GPT(GenerativeModel):
    """Character-level decoder-only transformer.

    Args:
        vocabulary: string of distinct characters sorted by code point (the token ids).
        context_length: longest sequence the model attends over (position embeddings).
        num_layers, num_heads, embed_dim: transformer size; embed_dim % num_heads == 0.
        mlp_ratio: MLP hidden width / embed_dim.
        dropout: dropout rate during training.
        tie_embeddings: the output layer reuses the token embedding matrix.
        seed: seed of the model's ``SeedGenerator`` (``generate(seed=None)``).

    Example:

    ```python
    import numpy as np
    import keras
    import keras_genai

    text = "to be or not to be, that is the question. " * 20
    gpt = keras_genai.models.GPT(vocabulary="".join(sorted(set(text))), context_length=16, num_layers=1,
                                 num_heads=2, embed_dim=16, seed=0)  # or keras_genai.zoo.load("gpt_shakespeare")
    gpt.compile(optimizer=keras.optimizers.Adam(1e-3))
    ids = gpt.encode(text)
    windows = np.stack([ids[i : i + 17] for i in range(0, len(ids) - 17, 8)])
    gpt.fit(windows[:, :-1], windows[:, 1:], batch_size=16, epochs=1)
    print(gpt.generate("to be", max_new_tokens=20, temperature=0.8, seed=0))
    ```
    """

    def __init__(self, vocabulary, context_length=256, num_layers=4, num_heads=4, embed_dim=256,
                 mlp_ratio=4, dropout=0.0, tie_embeddings=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        _check_vocabulary(vocabulary)
        for name, value, least in (("context_length", context_length, 2), ("num_layers", num_layers, 1),
                                   ("num_heads", num_heads, 1), ("embed_dim", embed_dim, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        seed = sampling.check_seed(seed)
        self.vocabulary = vocabulary
        self.context_length = context_length
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.embed_dim = embed_dim
        self.mlp_ratio = mlp_ratio
        self.dropout_rate = float(dropout)
        self.tie_embeddings = bool(tie_embeddings)
        self.seed = seed
        self.code_points = np.array([ord(c) for c in vocabulary], dtype=np.int32)
        init = keras.initializers.RandomNormal(stddev=0.02, seed=seed)
        self.token_embedding = keras.layers.Embedding(len(vocabulary), embed_dim, embeddings_initializer=init,
                                                      name="token_embedding",
                                                      dtype=self.dtype_policy)
        self.position_embedding = keras.layers.Embedding(context_length, embed_dim, embeddings_initializer=init,
                                                         name="position_embedding",
                                                         dtype=self.dtype_policy)
        self.embedding_dropout = ReplicaDropout(self.dropout_rate, dtype=self.dtype_policy)
        self.blocks = [TransformerBlock(num_heads, mlp_ratio * embed_dim, self.dropout_rate, name=f"block_{i}",
                                        dtype=self.dtype_policy)
                       for i in range(num_layers)]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm", dtype=self.dtype_policy)
        self.head = None if self.tie_embeddings else keras.layers.Dense(len(vocabulary), use_bias=False, name="head",
                                                                               dtype=self.dtype_policy)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.bits_tracker = keras.metrics.Mean(name="bits_per_char")
        self.build((None, None))
        self._compiled_generate = _Untracked()

    def build(self, input_shape):
        self.token_embedding.build((None, None))
        self.position_embedding.build((None, None))
        width = (None, None, self.embed_dim)
        for layer in (*self.blocks, self.final_norm):
            layer.build(width)
        if self.head is not None:
            self.head.build(width)
        self.built = True

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary": self.vocabulary, "context_length": self.context_length, "num_layers": self.num_layers,
            "num_heads": self.num_heads, "embed_dim": self.embed_dim, "mlp_ratio": self.mlp_ratio,
            "dropout": self.dropout_rate, "tie_embeddings": self.tie_embeddings, "seed": self.seed,
        }

    @property
    def vocabulary_size(self):
        return len(self.vocabulary)

    generates = "text"
    jit_compile_default = False  # as every shipped GPT was trained

    def compile(self, optimizer=None, **kwargs):
        """Sets the optimizer; other keyword arguments (``steps_per_execution``, ``jit_compile``, ...)
        go to ``keras.Model.compile`` (``jit_compile`` defaults to False).

        The default (``default_optimizer()``) is the optimizer of the ``gpt_shakespeare`` recipe
        at a constant learning rate: ``AdamW(learning_rate=1e-3, weight_decay=0.05, beta_1=0.9,
        beta_2=0.99, clipnorm=1.0)``. The preset's own schedule (warm-up to 1.5e-3 over 100 steps,
        cosine decay to 1.5e-4 at step 3,000) is fitted to its run length, so it is not the
        default; ``keras_genai.zoo.load("gpt_shakespeare")`` compiles with it, and
        ``keras_genai.zoo.recipe.retuned`` rescales it.
        """
        super().compile(optimizer=default_optimizer() if optimizer is None else optimizer, **kwargs)

    # ------------------------------------------------------------------ network
    def _embed(self, tokens, positions, training=False):
        x = self.token_embedding(tokens) + self.position_embedding(positions)
        return self.embedding_dropout(x, training=training)

    def _logits(self, x):
        x = self.final_norm(x)
        if self.head is not None:
            return tf.cast(self.head(x), tf.float32)
        table = tf.cast(self.token_embedding.embeddings, x.dtype)
        return tf.cast(tf.einsum("...d,vd->...v", x, table), tf.float32)

    def call(self, tokens, training=False):
        """tokens (batch, L) int32 ids, L <= context_length -> logits (batch, L, vocabulary) float32
        for the next character at every position."""
        tokens = tf.cast(tokens, tf.int32)
        if tokens.shape.rank is not None and tokens.shape.rank != 2:
            raise ValueError(f"tokens must have shape (batch, length), got {tokens.shape}")
        if tokens.shape[1] is not None and tokens.shape[1] > self.context_length:
            raise ValueError(f"sequences of {tokens.shape[1]} tokens are longer than the context "
                             f"({self.context_length}); split them or pass the last {self.context_length}")
        x = self._embed(tokens, tf.range(tf.shape(tokens)[1])[None], training)
        for block in self.blocks:
            x = block(x, training=training)
        return self._logits(x)

    # ----------------------------------------------------------------- training
    @property
    def metrics(self):
        return [self.loss_tracker, self.bits_tracker]

    def _loss(self, tokens, targets, training):
        logits = self(tokens, training=training)
        per_token = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(targets, tf.int32), logits=logits)
        per_sequence = tf.reduce_mean(per_token, axis=-1)
        # Averaged over the global batch, so replicas of a tf.distribute strategy sum correctly.
        return distribution.global_batch_mean(per_sequence), tf.reduce_mean(per_sequence)

    def train_step(self, data):
        tokens, targets = self._unpack(data)
        with tf.GradientTape() as tape:
            loss, local_mean = self._loss(tokens, targets, training=True)
            scaled = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(scaled, self.trainable_variables)
        self.optimizer.apply(distribution.skip_together(gradients, self.optimizer), self.trainable_variables)
        return self._update_metrics(local_mean, tf.shape(tokens)[0])

    def test_step(self, data):
        tokens, targets = self._unpack(data)
        _, local_mean = self._loss(tokens, targets, training=False)
        return self._update_metrics(local_mean, tf.shape(tokens)[0])

    @staticmethod
    def _unpack(data):
        """(tokens, targets) from a dataset element or from ``fit/evaluate/*_on_batch(x, y)``,
        which append a sample weight; per-token weights are not supported."""
        tokens, targets, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if targets is None:
            raise ValueError("a GPT trains on (tokens, targets) pairs: both (batch, length) int32; got tokens only")
        if sample_weight is not None:
            raise ValueError("sample weights are not supported by GPT.fit/evaluate")
        return tokens, targets

    def _update_metrics(self, mean_loss, count):
        # Weighted by the number of sequences; one tracker per reported value so that Keras
        # aggregates the epoch's figures across tf.distribute replicas.
        self.loss_tracker.update_state(mean_loss, sample_weight=count)
        self.bits_tracker.update_state(mean_loss / _LN2, sample_weight=count)
        return distribution.step_logs(self.metrics)

    # -------------------------------------------------------------- characters
    def encode(self, text):
        """str -> int32 ids (len(text),). Raises ValueError naming characters outside the vocabulary."""
        if not isinstance(text, str):
            raise TypeError(f"expected a str, got {type(text).__name__}")
        unknown = sorted(set(text) - set(self.vocabulary))
        if unknown:
            raise ValueError(f"characters not in the model's vocabulary: {''.join(unknown)!r} "
                             f"(the vocabulary has {self.vocabulary_size} characters: {self.vocabulary!r})")
        index = {c: i for i, c in enumerate(self.vocabulary)}
        return np.array([index[c] for c in text], dtype=np.int32)

    def decode(self, ids):
        """int ids (any shape, last axis = positions) -> str (or nested lists of str)."""
        ids = np.asarray(ids)
        if ids.ndim == 0:
            ids = ids[None]
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocabulary_size):
            raise ValueError(f"token ids must be in [0, {self.vocabulary_size}), got [{ids.min()}, {ids.max()}]")
        if ids.ndim == 1:
            return "".join(self.vocabulary[i] for i in ids)
        return [self.decode(row) for row in ids]

    # ---------------------------------------------------------------- decoding
    def _prefill(self, tokens):
        """tokens (batch, L), 1 <= L <= context -> (caches, logits of the last position (batch, V))."""
        length = tf.shape(tokens)[1]
        x = self._embed(tokens, tf.range(length)[None])
        caches = []
        pad = [[0, 0], [0, 0], [0, self.context_length - length], [0, 0]]
        for block in self.blocks:
            x, keys, values = block.prefill(x)
            caches.append((tf.pad(keys, pad), tf.pad(values, pad)))
        return caches, self._logits(x[:, -1:])[:, 0]

    def _step(self, token, position, caches, weights=None, xla=False):
        """token (batch,) at ``position`` -> (caches, next logits (batch, V)); ``weights`` are the
        blocks' ``decoding_weights()`` (read here when None); ``xla``: traced for XLA."""
        x = self._embed(token, position[None])  # (batch, width): one position, no length axis
        weights = weights or [None] * len(self.blocks)
        updated = []
        for block, (keys, values), block_weights in zip(self.blocks, caches, weights):
            x, keys, values = block.step(x, keys, values, position, block_weights, xla)
            updated.append((keys, values))
        return updated, self._logits(x)

    def _last_logits(self, window):
        """Recomputes the whole window (batch, L) and returns the last position's logits
        (the cache-free decoding used to measure what the cache saves)."""
        return self(window)[:, -1]

    def _generate_ids(self, prompt, max_new_tokens, temperature, top_k, top_p, seed, use_cache=True,
                      xla_greedy=False):
        """The compiled decoding loop: prompt (batch, P) int32 -> new ids (batch, max_new_tokens).

        The new ids are kept in blocks of ``_TOKENS_PER_BLOCK`` steps (the block being filled is
        rewritten each step), so memory grows by about 4 bytes per new id, not by one tensor per step.
        Nothing is decided per step that can be decided once: greedy or sampled picking is chosen
        outside the loop, the weights are read before it, and the cache rebuilds of the context
        policy happen between inner loops of plain cached steps (no ``tf.cond`` per step).

        ``xla_greedy``: greedy decoding (temperature 0) runs its inner loops of cached steps as
        one XLA-compiled function each (``jit_compile=True``), which fuses the many small ops of a
        step. Sampling keeps TensorFlow's kernels: XLA has no ``StatelessMultinomial``, and
        another way of drawing would change the text a seed gives. The SavedModel exports leave it
        off, because TF Serving runs XLA only behind its ``--xla_cpu_compilation_enabled`` flag."""
        context = self.context_length
        refill = context // 2
        checks = [
            tf.debugging.assert_positive(max_new_tokens, message="max_new_tokens must be >= 1"),
            tf.debugging.assert_greater_equal(temperature, 0.0, message="temperature must be >= 0 (0 = greedy)"),
            tf.debugging.assert_greater_equal(top_k, 0, message="top_k must be >= 0 (0 = off)"),
            tf.debugging.assert_positive(top_p, message="top_p must be in (0, 1] (1 = off)"),
            tf.debugging.assert_less_equal(top_p, 1.0, message="top_p must be in (0, 1] (1 = off)"),
        ]
        with tf.control_dependencies(checks):  # every op below runs only after the checks pass
            prompt = tf.identity(prompt[:, -context:])
            max_new_tokens = tf.identity(max_new_tokens)
        batch, length = tf.shape(prompt)[0], tf.shape(prompt)[1]
        recent = tf.concat([tf.zeros([batch, context - length], tf.int32), prompt], axis=1)
        block_size = _TOKENS_PER_BLOCK
        new_ids = tf.TensorArray(tf.int32, size=(max_new_tokens - 1) // block_size + 1,
                                 element_shape=tf.TensorShape([None, block_size]))
        columns = tf.range(block_size)[None]
        block = tf.zeros([batch, block_size], tf.int32)

        def record(i, token, recent, block):
            """Keeps the new ``token`` (batch,) of step ``i``: in its id block and at the end of
            the window of the last ``context`` ids."""
            block = tf.where(columns == i % block_size, token[:, None], block)
            return tf.concat([recent[:, 1:], token[:, None]], axis=1), block

        if not use_cache:
            # The same windows as the cached path, recomputed from scratch every step.
            def recompute(i, filled, recent, logits, block, new_ids):
                token = _pick(logits, temperature, top_k, top_p, seed, i)
                recent, block = record(i, token, recent, block)
                filled = tf.where(filled + 1 > context, refill, filled + 1)
                return (i + 1, filled, recent, self._last_logits(recent[:, context - filled:]), block,
                        new_ids.write(i // block_size, block))

            loop = tf.while_loop(lambda i, *_: i < max_new_tokens, recompute,
                                 (tf.constant(0), length, recent, self._last_logits(prompt), block, new_ids))
            return _collect(loop[-1], batch, max_new_tokens)

        def decode(pick, xla):
            """The cached loop for one way of picking ids (the choice is made once, outside the
            loop). Each outer iteration rebuilds a full cache from the last ``refill`` ids, then
            runs an inner loop of one cached step per id up to the end of the id block, of the
            cache or of the ids asked for, then stores the block."""

            def cached_steps(i, stop, filled, recent, logits, caches, block):
                def cached_step(i, filled, recent, logits, caches, block):
                    token = pick(logits, i)
                    recent, block = record(i, token, recent, block)
                    caches, logits = self._step(token, filled, caches, weights, xla)
                    return i + 1, filled + 1, recent, logits, caches, block

                return tf.while_loop(lambda i, *_: i < stop, cached_step, (i, filled, recent, logits, caches, block))

            if xla:
                cached_steps = tf.function(cached_steps, jit_compile=True)

            def rebuild(i, filled, recent, logits, caches, block, new_ids):
                token = pick(logits, i)
                recent, block = record(i, token, recent, block)
                caches, logits = self._prefill(recent[:, context - refill:])
                return i + 1, tf.constant(refill), recent, logits, caches, block, new_ids.write(i // block_size, block)

            def segment(*state):
                i, filled, recent, logits, caches, block, new_ids = tf.cond(
                    state[1] >= context, lambda: rebuild(*state), lambda: state)
                # After a rebuild that ended the ids asked for, no step is left: stop == i.
                stop = tf.minimum(tf.minimum(max_new_tokens, i + context - filled), (i // block_size + 1) * block_size)
                i, filled, recent, logits, caches, block = cached_steps(i, stop, filled, recent, logits, caches, block)
                return i, filled, recent, logits, caches, block, new_ids.write((i - 1) // block_size, block)

            caches, logits = self._prefill(prompt)
            # Weights are read once here, not at every step: inside the loop the layers see them as
            # loop-invariant tensors (the same ops on the same values as reading the variables).
            weights = [transformer_block.decoding_weights() for transformer_block in self.blocks]
            with keras.StatelessScope(state_mapping=[(w, tf.convert_to_tensor(w)) for w in self.weights]):
                loop = tf.while_loop(lambda i, *_: i < max_new_tokens, segment,
                                     (tf.constant(0), length, recent, logits, caches, block, new_ids))
            return _collect(loop[-1], batch, max_new_tokens)

        return tf.cond(temperature > 0,
                       lambda: decode(lambda logits, i: _sample(logits, temperature, top_k, top_p, seed, i), False),
                       lambda: decode(lambda logits, i: _greedy(logits), xla_greedy))

    def _compiled(self, use_cache):
        functions = self._compiled_generate.functions
        if use_cache not in functions:
            functions[use_cache] = tf.function(
                lambda *args: self._generate_ids(*args, use_cache=use_cache, xla_greedy=True),
                input_signature=_GENERATE_SIGNATURE)
        return functions[use_cache]

    def generate(self, prompt, max_new_tokens, temperature=1.0, top_k=None, top_p=None, seed=None,
                 use_cache=True):
        """Continues ``prompt`` by ``max_new_tokens`` characters.

        Args:
            prompt: a non-empty str, or a list of str (each continued on its own).
            max_new_tokens: int in [1, MAX_NEW_TOKENS] (2**31 - 1, the int32 step counter of
                the loop); the generated ids (4 bytes each) must fit in ``sampling.result_limit()``.
                The context policy (module docstring) lets generation run past the context.
            temperature: finite, >= 0 and at most float32's largest value (3.4e38); 0 is greedy
                decoding (argmax), 1 samples the model's distribution.
            top_k: None or int >= 1: sample among the k most likely characters (a k above the
                vocabulary size means all of them, as None does).
            top_p: None or float in (0, 1]: nucleus sampling (smallest set with probability >= p).
            seed: int in the int64 range for reproducible sampling (same seed -> same text; a
                list of prompts uses seed, seed + 1, ...); None draws one from the model's
                SeedGenerator. Anything else is a ``TypeError`` (``sampling.check_seed``).
            use_cache: False recomputes the whole prefix every step (for comparison only).
        Returns:
            The prompt followed by the new characters (a str, or a list for a list of prompts).
        """
        seed = sampling.check_seed(seed)
        if isinstance(prompt, (list, tuple)):
            seeds = [None if seed is None else sampling.wrap_seed(seed + i) for i in range(len(prompt))]
            return [self.generate(p, max_new_tokens, temperature, top_k, top_p, s, use_cache)
                    for p, s in zip(prompt, seeds)]
        ids = self.generate_ids(self.encode(_check_prompt(prompt))[None], max_new_tokens, temperature, top_k,
                                top_p, seed, use_cache)
        return prompt + self.decode(ids[0, -max_new_tokens:])

    def generate_ids(self, prompt_ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None, seed=None,
                     use_cache=True):
        """Like ``generate`` on ids: prompt_ids (batch, P) int -> (batch, P + max_new_tokens) int32."""
        prompt_ids = np.asarray(prompt_ids)
        if prompt_ids.ndim != 2 or prompt_ids.shape[1] < 1 or prompt_ids.shape[0] < 1:
            raise ValueError(f"prompt_ids must have shape (batch, length) with batch, length >= 1, "
                             f"got {prompt_ids.shape}")
        if not np.issubdtype(prompt_ids.dtype, np.integer):
            raise TypeError(f"prompt_ids must be integers, got dtype {prompt_ids.dtype}")
        self.decode(prompt_ids)  # range check
        max_new_tokens, temperature, top_k, top_p = _check_sampling(max_new_tokens, temperature, top_k, top_p,
                                                                    self.vocabulary_size)
        seed = sampling.check_seed(seed)
        batch, length = prompt_ids.shape
        sampling.check_result_bytes(batch * (length + max_new_tokens) * 4,
                                    f"generating {max_new_tokens:,} tokens for {batch} sequence(s)",
                                    hint="ask for fewer new tokens")
        if seed is None:
            seed = int(keras.random.randint((), 0, 2**31 - 1, seed=self.seed_generator))
        new = self._compiled(bool(use_cache))(tf.constant(prompt_ids, tf.int32), tf.constant(max_new_tokens),
                                              tf.constant(temperature), tf.constant(top_k), tf.constant(top_p),
                                              tf.constant(seed, tf.int64))
        return np.concatenate([prompt_ids.astype(np.int32), new.numpy()], axis=1)

    def cache_bytes(self, batch_size=1):
        """Memory of the key/value cache during ``generate``: layers x 2 (keys, values) x batch x
        context x width x bytes of the compute dtype (4 in float32, 2 under mixed precision)."""
        itemsize = np.dtype(self.compute_dtype).itemsize
        return self.num_layers * 2 * batch_size * self.context_length * self.embed_dim * itemsize

    # ------------------------------------------------------------------ export
    def _ids_from_text(self, prompt):
        code_points = tf.strings.unicode_decode(prompt, "UTF-8")
        table = tf.constant(self.code_points)
        ids = tf.searchsorted(table, code_points)
        clipped = tf.minimum(ids, self.vocabulary_size - 1)
        known = tf.reduce_all(tf.equal(tf.gather(table, clipped), code_points))
        checks = [
            tf.debugging.assert_equal(known, True, message="prompt has characters outside the model's vocabulary"),
            tf.debugging.assert_greater(tf.size(code_points), 0, message="prompt must not be empty"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(tf.cast(clipped, tf.int32))

    def export_signatures(self):
        """Named serving endpoints: ``{name: (function, input_signature)}``.

        - ``generate`` (= ``serving_default``): prompt (string scalar), max_new_tokens int32,
          temperature float32 (0 = greedy), top_k int32 (0 = off), top_p float32 (1 = off),
          seed int64 -> text (string scalar: prompt + continuation);
        - ``generate_ids``: tokens (batch, P) int32 and the same controls -> tokens (batch, P + n);
        - ``logits``: tokens (batch, L <= context) int32 -> logits (batch, L, vocabulary) float32;
          also the LiteRT graph (``edge_signature``): decoding loops stay on the host there.
        """
        controls = [
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ]
        tokens_spec = tf.TensorSpec([None, None], tf.int32, name="tokens")

        def generate_text(prompt, max_new_tokens, temperature, top_k, top_p, seed):
            ids = self._ids_from_text(prompt)[None]
            new = self._generate_ids(ids, max_new_tokens, temperature, top_k, top_p, seed)[0]
            continuation = tf.strings.unicode_encode(tf.gather(tf.constant(self.code_points), new), "UTF-8")
            return {"text": prompt + continuation}

        def generate_ids(tokens, max_new_tokens, temperature, top_k, top_p, seed):
            new = self._generate_ids(tokens, max_new_tokens, temperature, top_k, top_p, seed)
            return {"tokens": tf.concat([tokens, new], axis=1)}

        def logits(tokens):
            return {"logits": self(tokens, training=False)}

        text_signature = (generate_text, [tf.TensorSpec([], tf.string, name="prompt"), *controls])
        return {
            "serving_default": text_signature,
            "generate": text_signature,
            "generate_ids": (generate_ids, [tokens_spec, *controls]),
            "logits": (logits, [tokens_spec]),
        }

    edge_signature = "logits"
    # Logits span about [-13, 16]; measured on gpt_shakespeare (8 validation windows of 256):
    # dynamic-range int8 max |diff| 0.31, mean 0.032, top-1 agreement 99.3%; float16 max 8e-3,
    # mean 7e-4 (the default image tolerances hold); float32 1e-5.
    export_tolerances = {"logits": {"tflite_dynamic_int8": (0.6, 0.06)}}
    # Integer-only attention and layer norms move gpt_shakespeare's logits by 1.38 on average
    # (max 11.5, logits up to 13.4; 1,000 windows), far from the float model: not offered.
    edge_quantizations = ("float32", "float16", "dynamic_int8")
    edge_quantization_notes = {"full_int8": "integer-only attention and layer norms move the logits by 1.4 on "
                                            "average; dynamic_int8 keeps float activations"}

    def example_inputs(self, signature, num_samples=2, seed=0):
        """Inputs (numpy, by name) for one of ``export_signatures()`` and the Keras outputs they
        must give: ``(inputs, {output name: array})``."""
        prompt = "ROMEO:\n" if set("ROMEO:\n") <= set(self.vocabulary) else "".join(
            self.vocabulary[(7 * i + seed) % self.vocabulary_size] for i in range(5))
        controls = {"max_new_tokens": np.int32(12), "temperature": np.float32(0.8), "top_k": np.int32(20),
                    "top_p": np.float32(0.95), "seed": np.int64(seed)}
        sampling = dict(temperature=0.8, top_k=20, top_p=0.95, seed=seed)
        if signature in ("serving_default", "generate"):
            return ({"prompt": np.array(prompt.encode()), **controls},
                    {"text": np.array(self.generate(prompt, 12, **sampling).encode())})
        tokens = np.stack([self.encode(prompt)] * num_samples)
        if signature == "generate_ids":
            return {"tokens": tokens, **controls}, {"tokens": self.generate_ids(tokens, 12, **sampling)}
        if signature == "logits":
            return {"tokens": tokens}, {"logits": self(tokens).numpy()}
        raise self._unknown_signature(signature)

    # ----------------------------------------------------------------- the zoo's questions
    def sample(self, num_samples, seed=None, **conditions):
        raise ValueError("a GPT generates text: use generate(prompt, max_new_tokens, seed=...)")

    @classmethod
    def card_usage(cls, metadata):
        return ['text = model.generate("ROMEO:\\n", max_new_tokens=300, temperature=0.8, seed=0)',
                'greedy = model.generate("ROMEO:\\n", max_new_tokens=300, temperature=0)']

    @classmethod
    def card_preview(cls, metadata):
        sample = metadata.get("sample_text")
        if not sample:
            return []
        return ["## Sample", "", f"`model.generate({sample['prompt']!r}, {sample['max_new_tokens']}, "
                f"temperature={sample['temperature']}, seed={sample['seed']})`:", "", "```text", sample["text"], "```",
                ""]

    @classmethod
    def card_metrics(cls, key, results):
        """The ``language`` evaluation (``default_evaluation``) as a table of the loss per split."""
        if key != "language":
            return super().card_metrics(key, results)
        from keras_genai.zoo import preset

        lines = ["", "### Character-level loss", "",
                 "Consecutive non-overlapping windows of the model's context; every character after the "
                 "first of a window is predicted from the ones before it.", "",
                 "| split | nats / char | bits / char | perplexity | characters |", "| --- | --- | --- | --- | --- |"]
        for split, r in results.items():
            if isinstance(r, dict):
                lines.append(f"| {split} | {r['nats_per_char']:.4f} | {r['bits_per_char']:.4f} | {r['perplexity']:.3f} "
                             f"| {r['characters']} |")
        return lines + preset.command_lines(results)

    def default_evaluation(self, metadata, **options):
        """``keras-genai evaluate``: loss per character on the validation and test splits of the
        preset's text (``metrics.language``); stored as ``language``."""
        return "language", self._split_losses(metadata)

    def training_data(self, dataset, recipe, batch_size, seed, start_epoch=0, steps_per_epoch=None, data_dir=None,
                      manual_dir=None):
        """Random windows of ``recipe["sequence_length"]`` characters (default: the context) of the
        preset's text split, ``recipe["windows_per_epoch"]`` per epoch (default: the text's length
        over the window's), as step-keyed ``(tokens, targets)`` batches."""
        from keras_genai import data

        text = data.text(dataset["name"], split=dataset.get("split", "train"), data_dir=data_dir, manual_dir=manual_dir)
        length = recipe.get("sequence_length", self.context_length)
        if length > self.context_length:
            raise ValueError(f"the recipe's sequence_length {length} is longer than the model's context "
                             f"({self.context_length})")
        ids = self.encode(text)
        windows = recipe.get("windows_per_epoch") or len(ids) // length
        steps = steps_per_epoch or max(1, windows // batch_size)
        train, _ = data.text_window_stream(ids, length, batch_size, seed=seed, start_step=start_epoch * steps,
                                           windows=windows)
        return train, steps

    def training_report(self, metadata, data_dir=None, manual_dir=None):
        """The validation and test loss (``metrics.language``) and the card's sample text."""
        return {"metrics": {"language": self._split_losses(metadata, data_dir, manual_dir)},
                "sample_text": self.card_sample_text()}

    def _split_losses(self, metadata, data_dir=None, manual_dir=None):
        from keras_genai.metrics import language

        results = language.evaluate_splits(self, metadata["dataset"]["name"], data_dir=data_dir,
                                           manual_dir=manual_dir)
        for split, scores in results.items():
            print(f"{split}: {scores['nats_per_char']:.4f} nats/char, {scores['bits_per_char']:.4f} bits/char, "
                  f"perplexity {scores['perplexity']:.3f}")
        return {**results, "command": f"keras-genai evaluate {metadata['name']} --update-card"}

    def card_sample_text(self, prompt="ROMEO:\n", max_new_tokens=400, temperature=0.8, seed=0):
        """A sample for the model card, with the settings that made it (a prompt outside the
        vocabulary is replaced by its first character)."""
        prompt = prompt if not set(prompt) - set(self.vocabulary) else self.vocabulary[0]
        text = self.generate(prompt, max_new_tokens, temperature=temperature, seed=seed)
        return {"prompt": prompt, "max_new_tokens": max_new_tokens, "temperature": temperature, "seed": seed,
                "text": text}


def default_optimizer():
    """The optimizer ``GPT.compile()`` uses when none is given: AdamW with the ``gpt_shakespeare``
    recipe's weight decay (0.05), betas (0.9, 0.99) and gradient clipping (norm 1.0) at a constant
    learning rate of 1e-3.

    Example:

    ```python
    gpt.compile(optimizer=keras_genai.models.gpt.default_optimizer())  # the same as gpt.compile()
    ```
    """
    return keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.05, beta_1=0.9, beta_2=0.99, clipnorm=1.0)


class _Untracked:
    """Holds the compiled decoding functions outside Keras/TF object tracking (not saved)."""

    def __init__(self):
        self.functions = {}


_GENERATE_SIGNATURE = [
    tf.TensorSpec([None, None], tf.int32),
    tf.TensorSpec([], tf.int32),
    tf.TensorSpec([], tf.float32),
    tf.TensorSpec([], tf.int32),
    tf.TensorSpec([], tf.float32),
    tf.TensorSpec([], tf.int64),
]


def _collect(new_ids, batch, max_new_tokens):
    """The id blocks of the decoding loop (a TensorArray) as (batch, max_new_tokens) int32."""
    blocks = new_ids.stack()  # (blocks, batch, block_size)
    return tf.reshape(tf.transpose(blocks, [1, 0, 2]), [batch, -1])[:, :max_new_tokens]


def _pick(logits, temperature, top_k, top_p, seed, step):
    """Next ids (batch,) from logits (batch, V): ``_greedy`` when temperature == 0, else
    ``_sample``."""
    return tf.cond(temperature > 0, lambda: _sample(logits, temperature, top_k, top_p, seed, step),
                   lambda: _greedy(logits))


def _greedy(logits):
    """The most likely ids (batch,) int32 of logits (batch, V)."""
    return tf.argmax(logits, axis=-1, output_type=tf.int32)


def _sample(logits, temperature, top_k, top_p, seed, step):
    """Ids (batch,) drawn from softmax(logits / temperature), temperature > 0, restricted to the
    top_k (0 = all) most likely ids (ties with the k-th are kept) and to the smallest set whose
    probability reaches top_p (1 = all). Stateless in (seed, step)."""
    scaled = logits / temperature
    ordered = tf.sort(scaled, axis=-1, direction="DESCENDING")
    vocabulary = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary), vocabulary)
    kth_largest = ordered[:, k - 1: k]
    before = tf.math.cumsum(tf.nn.softmax(ordered, axis=-1), axis=-1, exclusive=True)
    nucleus_smallest = tf.reduce_min(tf.where(before < top_p, ordered, np.inf), axis=-1, keepdims=True)
    threshold = tf.maximum(kth_largest, nucleus_smallest)
    # Ties with the k-th value are kept; excluded ids get probability exactly 0.
    kept = tf.where(scaled >= threshold, scaled, -np.inf)
    draw_seed = tf.stack([tf.cast(seed, tf.int64), tf.cast(step, tf.int64)])
    return tf.random.stateless_categorical(kept, 1, seed=draw_seed, dtype=tf.int32)[:, 0]


def _check_vocabulary(vocabulary):
    if not isinstance(vocabulary, str) or len(vocabulary) < 2:
        raise ValueError(f"vocabulary must be a string of at least 2 distinct characters, got {vocabulary!r}")
    if list(vocabulary) != sorted(set(vocabulary)):
        raise ValueError("vocabulary must hold distinct characters sorted by code point "
                         "(''.join(sorted(set(text))))")


def _check_prompt(prompt):
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str (or a list of str), got {type(prompt).__name__}")
    if not prompt:
        raise ValueError("prompt must contain at least one character (a character model has no start token; "
                         "use '\\n' to start a fresh passage)")
    return prompt


_FLOAT32 = np.finfo(np.float32)


def _check_sampling(max_new_tokens, temperature, top_k, top_p, vocabulary_size):
    """The sampling controls as the compiled loop takes them: (max_new_tokens, temperature, top_k
    (0 = off, at most the vocabulary size), top_p (1 = off, at least float32's smallest normal))."""
    if (isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer))
            or not 1 <= max_new_tokens <= MAX_NEW_TOKENS):
        raise ValueError(f"max_new_tokens must be an integer >= 1 and at most {MAX_NEW_TOKENS:,} (2**31 - 1, the "
                         f"int32 step counter of the decoding loop), got {max_new_tokens!r}")
    if not (isinstance(temperature, (int, float, np.floating)) and not isinstance(temperature, bool)
            and math.isfinite(temperature) and 0 <= temperature <= float(_FLOAT32.max)):
        raise ValueError(f"temperature must be a finite number >= 0 (0 = greedy) and at most {_FLOAT32.max:.4g} "
                         f"(float32), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise ValueError(f"top_k must be None or an integer >= 1, got {top_k!r}")
    if top_p is not None and not (isinstance(top_p, (int, float, np.floating)) and 0 < top_p <= 1):
        raise ValueError(f"top_p must be None or in (0, 1], got {top_p!r}")
    top_k = min(int(top_k or 0), vocabulary_size)  # the loop clamps to the vocabulary as well
    # A top_p below float32's smallest normal number would round to 0; any p below the most likely
    # character's probability keeps that character alone, so the smallest normal float32 does the same.
    top_p = 1.0 if top_p is None else max(float(top_p), float(_FLOAT32.tiny))
    return int(max_new_tokens), float(temperature), top_k, top_p
