"""Writers of the vanishing-gradient history format (docs/history-format.md) for Python trainers.

- ``keras_callback.HistoryWriter``: a Keras 3 callback (imports keras only when used).
- ``torch_helper.HistoryRecorder``: a PyTorch helper (imports torch only when used).
- ``history_format``: the format itself, with the JSON encoding of non-finite numbers.

Load the files in Rust with ``TrainingHistory::from_json_str`` (feature ``serde``).
"""

from .history_format import FORMAT, VERSION, HistoryFile, WeightSampler, encode_number

__all__ = ["FORMAT", "VERSION", "HistoryFile", "WeightSampler", "encode_number"]
