"""KV-cache rollback that works across transformers versions."""

from __future__ import annotations


def cache_length(cache) -> int:
    return 0 if cache is None else int(cache.get_seq_length())


def crop_cache(cache, keep: int) -> None:
    """Drop cached positions so that ``keep`` remain.

    transformers 5.x ``DynamicCache.crop(n)`` takes n <= 0, the number of positions to drop, and
    refuses n > 0; 4.x took the length to keep but also accepted a negative n as "drop |n|". A
    negative argument therefore means the same in both (``DynamicCache.crop`` in transformers'
    ``src/transformers/cache_utils.py``, https://github.com/huggingface/transformers; the real-run
    tests in ``tests/test_real.py`` roll caches back through this function).
    """
    length = cache_length(cache)
    if keep < 0 or keep > length:
        raise ValueError(f"cannot crop a cache of {length} positions to {keep}")
    if keep == length:
        return
    cache.crop(keep - length)
    if cache_length(cache) != keep:
        raise RuntimeError(f"cache crop left {cache_length(cache)} positions, expected {keep}")


_KWARG: dict[type, str] = {}  # model class -> the keyword its forward takes the cache under


def cache_kwarg(model) -> str:
    """The keyword a model's forward takes its KV cache under: ``cache`` in transformers releases
    that renamed it (5.2x: ``past_key_values`` is deprecated there, to be removed in 5.40),
    ``past_key_values`` before. Looked up once per model class."""
    cls = type(getattr(model, "wrapped_lm", model))  # a reduced-head draft passes it to its model
    name = _KWARG.get(cls)
    if name is None:
        import inspect

        params = inspect.signature(cls.forward).parameters
        name = _KWARG[cls] = "cache" if "cache" in params else "past_key_values"
    return name
