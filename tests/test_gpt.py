"""The character-level GPT: causal network, cached decoding, sampling controls, training, bad input."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_genai import data
from keras_genai.metrics import language
from keras_genai.models import GPT

VOCAB = "\n abcdefgh"


@pytest.fixture(scope="module")
def tiny_gpt():
    keras.utils.set_random_seed(0)
    return GPT(VOCAB, context_length=8, num_layers=2, num_heads=2, embed_dim=16, seed=0)


def test_logits_are_causal_and_shaped(tiny_gpt):
    tokens = np.array([[1, 2, 3, 4, 5, 6]], np.int32)
    changed = tokens.copy()
    changed[0, 4:] = [9, 9]
    logits, logits_changed = tiny_gpt(tokens).numpy(), tiny_gpt(changed).numpy()
    assert logits.shape == (1, 6, len(VOCAB)) and logits.dtype == np.float32
    np.testing.assert_allclose(logits[:, :4], logits_changed[:, :4], atol=1e-6)
    assert not np.allclose(logits[:, 4:], logits_changed[:, 4:])


def test_cache_steps_reproduce_the_full_forward_pass(tiny_gpt):
    tokens = tf.constant([[1, 5, 2, 7, 3, 8, 4]], tf.int32)
    full = tiny_gpt(tokens).numpy()
    caches, logits = tiny_gpt._prefill(tokens[:, :3])
    stepped = [logits.numpy()]
    for position in range(3, 7):
        caches, logits = tiny_gpt._step(tokens[:, position], tf.constant(position), caches)
        stepped.append(logits.numpy())
    np.testing.assert_allclose(np.stack(stepped, axis=1), full[:, 2:], atol=1e-5)


@pytest.mark.parametrize("sampling", [dict(temperature=0.0), dict(temperature=1.0, seed=3),
                                      dict(temperature=0.7, top_k=3, top_p=0.9, seed=4)])
def test_cached_decoding_equals_recomputation_past_the_context(tiny_gpt, sampling):
    # 3 prompt + 20 new characters with a context of 8: the cache is rebuilt several times.
    cached = tiny_gpt.generate("abc", 20, **sampling)
    recomputed = tiny_gpt.generate("abc", 20, use_cache=False, **sampling)
    assert cached == recomputed
    assert cached.startswith("abc") and len(cached) == 23 and set(cached) <= set(VOCAB)


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_decoding_across_id_blocks_equals_recomputation(tiny_gpt, temperature):
    # 600 new ids cross two blocks of 256 (greedy decoding runs XLA-compiled, one call per block)
    # and rebuild the cache of 8 positions about 150 times, for two prompts at once.
    prompts = np.array([tiny_gpt.encode("abc"), tiny_gpt.encode("hhg")])
    cached = tiny_gpt.generate_ids(prompts, 600, temperature=temperature, seed=1)
    recomputed = tiny_gpt.generate_ids(prompts, 600, temperature=temperature, seed=1, use_cache=False)
    np.testing.assert_array_equal(cached, recomputed)
    assert cached.shape == (2, 603)


def test_sampling_controls(tiny_gpt):
    greedy = tiny_gpt.generate("ab", 12, temperature=0)
    assert tiny_gpt.generate("ab", 12, temperature=1.0, top_k=1, seed=1) == greedy
    assert tiny_gpt.generate("ab", 12, temperature=1.0, top_p=1e-6, seed=2) == greedy
    assert tiny_gpt.generate("ab", 12, seed=5) == tiny_gpt.generate("ab", 12, seed=5)
    draws = {tiny_gpt.generate("ab", 12, seed=s) for s in range(4)}
    assert len(draws) > 1


def test_top_k_only_draws_the_k_most_likely_characters(tiny_gpt):
    logits = tiny_gpt(tiny_gpt.encode("abc")[None]).numpy()[0, -1]
    allowed = set(np.argsort(logits)[-2:])
    firsts = {tiny_gpt.generate_ids(tiny_gpt.encode("abc")[None], 1, temperature=2.0, top_k=2, seed=s)[0, -1]
              for s in range(30)}
    assert firsts <= allowed and len(firsts) == 2


def test_encode_decode_round_trip(tiny_gpt):
    assert tiny_gpt.decode(tiny_gpt.encode("a bad\nface")) == "a bad\nface"


@pytest.mark.parametrize("call, message", [
    (lambda m: m.generate("hello", 5), r"not in the model's vocabulary: 'lo'"),
    (lambda m: m.generate("", 5), "at least one character"),
    (lambda m: m.generate("ab", 0), "max_new_tokens must be an integer >= 1"),
    (lambda m: m.generate("ab", 5, top_p=0.0), r"top_p must be None or in \(0, 1\]"),
    (lambda m: m.generate("ab", 5, top_p=1.5), r"top_p must be None or in \(0, 1\]"),
    (lambda m: m.generate("ab", 5, top_k=0), "top_k must be None or an integer >= 1"),
    (lambda m: m.generate("ab", 5, temperature=-1), "temperature must be a finite number >= 0"),
    (lambda m: m.generate_ids(np.array([[1, 99]]), 5), r"token ids must be in \[0, 10\)"),
    (lambda m: m.generate_ids(np.zeros((1, 0), int), 5), r"shape \(batch, length\)"),
])
def test_bad_input_gets_a_clear_error(tiny_gpt, call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny_gpt)


def test_long_prompts_condition_on_the_last_context_characters(tiny_gpt):
    long_prompt = "hhhhhhhhhh" + "abcdefgh"  # 18 characters, context 8
    out = tiny_gpt.generate(long_prompt, 6, temperature=0)
    assert out.startswith(long_prompt)
    assert out[len(long_prompt):] == tiny_gpt.generate("abcdefgh", 6, temperature=0)[8:]


def test_vocabulary_must_be_sorted_and_distinct():
    with pytest.raises(ValueError, match="sorted by code point"):
        GPT("ba", context_length=4, num_layers=1, num_heads=1, embed_dim=4)


def test_text_windows_shift_targets_and_cover_the_text():
    ids = np.arange(50, dtype=np.int32)
    tokens, targets = next(iter(data.text_windows(ids, 8, batch_size=3, shuffle=True, seed=1)))
    np.testing.assert_array_equal(tokens.numpy()[:, 1:], targets.numpy()[:, :-1])
    np.testing.assert_array_equal(targets.numpy(), tokens.numpy() + 1)
    again = next(iter(data.text_windows(ids, 8, batch_size=3, shuffle=True, seed=1)))[0]
    np.testing.assert_array_equal(tokens, again)
    ordered = np.concatenate([t.numpy().ravel() for t, _ in data.text_windows(ids, 8, 4, shuffle=False)])
    np.testing.assert_array_equal(ordered, np.arange(48))


def test_fit_learns_a_repeating_text_and_the_loss_metric_agrees():
    keras.utils.set_random_seed(1)
    model = GPT(VOCAB, context_length=8, num_layers=1, num_heads=2, embed_dim=16, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    text = "abcdefgh\n" * 40
    windows = data.text_windows(model.encode(text), 8, batch_size=8, shuffle=True, seed=0, windows=64)
    history = model.fit(windows, epochs=4, verbose=0)
    # The first character of a window has no context (log 9 = 2.2 nats over 8 positions: 0.27).
    assert history.history["loss"][-1] < 0.5 and history.history["loss"][0] > 1.0
    assert math.isclose(history.history["bits_per_char"][-1], history.history["loss"][-1] / math.log(2), rel_tol=1e-5)
    scores = language.character_loss(model, text, batch_size=4)
    evaluated = model.evaluate(data.text_windows(model.encode(text), 8, 4, shuffle=False), return_dict=True, verbose=0)
    assert math.isclose(scores["nats_per_char"], evaluated["loss"], rel_tol=1e-4)
    assert math.isclose(scores["perplexity"], math.exp(scores["nats_per_char"]), rel_tol=1e-9)
    assert model.generate("abc", 9, temperature=0) == "abcdefgh\nabc"


def test_tiny_shakespeare_prepares_offline_from_the_shared_file():
    validation = data.text("tiny_shakespeare", split="validation")
    assert len(validation) == 55_770
    assert set(validation) <= set(data.vocabulary_of(data.text("tiny_shakespeare", split="train")))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_training_keeps_float32_logits_and_weights(policy):
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(2)
        model = GPT(VOCAB, context_length=8, num_layers=1, num_heads=2, embed_dim=16, seed=2)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        text = "abcdefgh\n" * 20
        history = model.fit(data.text_windows(model.encode(text), 8, 8, seed=0, windows=32), epochs=3, verbose=0)
        assert model.token_embedding.embeddings.dtype == "float32"
        assert model(model.encode("abc")[None]).dtype == tf.float32
        assert np.isfinite(history.history["loss"]).all()
        assert history.history["loss"][-1] < history.history["loss"][0]
        if policy == "mixed_float16":
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert model.generate("ab", 5, temperature=0).startswith("ab")
    finally:
        keras.config.set_dtype_policy("float32")


def test_tiny_temperatures_and_ties_behave():
    model = GPT(VOCAB, context_length=8, num_layers=1, num_heads=1, embed_dim=8, seed=0)
    greedy = model.generate("ab", 6, temperature=0)
    assert model.generate("ab", 6, temperature=1e-9, top_k=1, seed=3) == greedy
    assert model.generate("ab", 6, temperature=1e-9, seed=3) == greedy


def test_evaluation_weights_a_partial_last_batch_by_its_size(tiny_gpt):
    tiny_gpt.compile(optimizer="adam")
    text = "abcdefgh\n" * 7 + "ab"  # 8 windows of 8 in batches of 3: 3 + 3 + 2
    windows = data.text_windows(tiny_gpt.encode(text), 8, 3, shuffle=False)
    assert [int(t.shape[0]) for t, _ in windows] == [3, 3, 2]
    evaluated = tiny_gpt.evaluate(windows, return_dict=True, verbose=0)["loss"]
    assert math.isclose(evaluated, language.character_loss(tiny_gpt, text, batch_size=3)["nats_per_char"], rel_tol=1e-5)


def test_sequences_longer_than_the_context_are_refused(tiny_gpt):
    with pytest.raises(ValueError, match="longer than the context"):
        tiny_gpt(np.zeros((1, 9), np.int32))
    with pytest.raises(ValueError, match="longer than the model's context"):
        language.character_loss(tiny_gpt, "abcdefgh" * 5, sequence_length=9)
    with pytest.raises(ValueError, match="context_length must be an integer >= 2"):
        GPT(VOCAB, context_length=1, num_layers=1, num_heads=1, embed_dim=4)


def test_text_data_bad_input():
    with pytest.raises(ValueError, match="unknown text dataset 'wikitext'"):
        data.text("wikitext")
    with pytest.raises(ValueError, match="longer than sequence_length=8"):
        data.text_windows(np.arange(5), 8, 2)
    with pytest.raises(ValueError, match="batch_size and sequence_length must be >= 1"):
        data.text_windows(np.arange(50), 8, 0)


def test_cli_points_language_and_image_presets_to_the_right_command(capsys):
    from keras_genai import cli

    assert cli.main(["sample", "gpt_shakespeare", "-n", "2"]) == 1
    assert "generates text, not images; use `keras-genai generate gpt_shakespeare" in capsys.readouterr().err
    assert cli.main(["generate", "dcgan_mnist", "--prompt", "a"]) == 1
    assert "generates images, not text; use `keras-genai sample dcgan_mnist`" in capsys.readouterr().err
    assert cli.main(["generate", "gpt_shakespeare", "--prompt", "Grüß", "-n", "3"]) == 1
    assert "characters not in the model's vocabulary: 'ßü'" in capsys.readouterr().err


def test_on_batch_calls_take_tokens_and_targets_like_a_dataset_does():
    keras.utils.set_random_seed(0)
    model = GPT(VOCAB, context_length=8, num_layers=1, num_heads=2, embed_dim=8, seed=0)
    model.compile()
    text = np.random.default_rng(0).integers(0, len(VOCAB), (4, 9)).astype("int32")
    tokens, targets = text[:, :-1], text[:, 1:]
    on_batch = model.test_on_batch(tokens, targets, return_dict=True)["loss"]
    dataset = tf.data.Dataset.from_tensor_slices((tokens, targets)).batch(4)
    assert on_batch == pytest.approx(model.evaluate(dataset, verbose=0, return_dict=True)["loss"], rel=1e-6)
    with pytest.raises(ValueError, match=r"\(tokens, targets\) pairs"):
        model.train_on_batch(tokens)


def test_compile_defaults_to_the_shakespeare_recipes_optimizer_at_a_constant_rate():
    from keras_genai import zoo
    from keras_genai.zoo import preset

    model = GPT(VOCAB, context_length=8, num_layers=1, num_heads=2, embed_dim=8, seed=0)
    model.compile()
    recipe = preset.read_json(zoo.registry.resolve("gpt_shakespeare"), preset.CONFIG_FILE)["compile_config"]
    expected = recipe["optimizer"]
    assert type(model.optimizer).__name__ == expected["class_name"] == "AdamW"
    got = model.optimizer.get_config()
    for field in ("weight_decay", "beta_1", "beta_2", "epsilon", "clipnorm", "global_clipnorm", "clipvalue",
                  "amsgrad", "use_ema"):
        assert got[field] == expected["config"][field], field
    assert got["learning_rate"] == pytest.approx(1e-3)  # the recipe's schedule fits its 3,000 steps only
    assert model.get_compile_config()["optimizer"]["class_name"] == "AdamW"  # saved with the model
    explicit = GPT(VOCAB, context_length=8, num_layers=1, num_heads=2, embed_dim=8, seed=0)
    explicit.compile(optimizer="sgd")
    assert type(explicit.optimizer).__name__ == "SGD"


def test_the_shipped_card_text_is_what_generate_writes_today():
    # Pins decoding to the bit: the card's sample (400 characters past a 256-character context,
    # so the cache is rebuilt on the way) was written by the decoding loop of the training run.
    from keras_genai import zoo

    card = zoo.info("gpt_shakespeare")["sample_text"]
    model = zoo.load("gpt_shakespeare", compile=False)
    text = model.generate(card["prompt"], card["max_new_tokens"], temperature=card["temperature"], seed=card["seed"])
    assert text == card["text"]


@pytest.mark.parametrize("rows", [1, 3, 8])
def test_dense_in_column_blocks_gives_the_dense_layers_numbers_exactly(rows):
    from keras_genai.nets.transformer import column_blocks, dense_in_column_blocks

    dense = keras.layers.Dense(768, activation="gelu")
    x = tf.constant(np.random.default_rng(rows).standard_normal((rows, 192)), tf.float32)
    dense.build(x.shape)
    blocks = column_blocks(dense)
    assert len(blocks) == 3 and sum(int(kernel.shape[1]) for kernel, _ in blocks) == 768
    # Eagerly and compiled (where MatMul, BiasAdd and GELU are fused into one kernel, whose
    # rounding differs from the eager ops'), each the same as the layer in the same mode.
    np.testing.assert_array_equal(dense_in_column_blocks(dense, x, blocks).numpy(), dense(x).numpy())
    compiled = tf.function(lambda x: dense_in_column_blocks(dense, x, column_blocks(dense)))(x)
    np.testing.assert_array_equal(compiled.numpy(), tf.function(dense)(x).numpy())
