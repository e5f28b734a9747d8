//! The versioned JSON format of a [`TrainingHistory`] (feature `serde`).
//!
//! The format is documented for writers in other languages in `docs/history-format.md`. In
//! short:
//!
//! ```json
//! {"format": "vanishing-gradient/history", "version": 1,
//!  "epochs": [{"loss": 0.69, "validation_loss": 0.7,
//!              "layers": [{"name": "dense1", "weight_count": 4096, "weight_l2": 3.2,
//!                          "relative_update": 0.001,
//!                          "gradient": {"l2": 0.01, "max_abs": 0.002, "count": 4096}}]}]}
//! ```
//!
//! Every per-layer field except `name` is optional. A layer may carry a `weights_sample` (the
//! same fixed sample of weight values in every epoch) instead of `weight_l2` and
//! `relative_update`: the loader derives both from it (a sampled estimate, see
//! [`sampled_update_relative_error`](super::sampled_update_relative_error)). Non-finite numbers
//! are written as the strings `"NaN"`, `"Infinity"` and `"-Infinity"` (JSON has no such
//! numbers). The loaded epochs go through [`TrainingHistory::push`], so a malformed file cannot
//! produce an invalid history.

use std::fmt;
use std::io::{Read, Write};

use serde::de::{self, IgnoredAny, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::sample::l2_norm;
use super::{ActivityStats, EpochRecord, GradientStats, LayerRecord, TrainingHistory};
use crate::error::{Error, Result};

/// The value of the `format` field of a history file.
pub const HISTORY_FORMAT: &str = "vanishing-gradient/history";

/// The newest version of the history format this crate reads, and the one it writes.
pub const HISTORY_FORMAT_VERSION: u64 = 1;

/// Serializes and deserializes an `f64` as a JSON number, or as one of the strings `"NaN"`,
/// `"Infinity"` and `"-Infinity"` when it is not finite.
pub(crate) mod number {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if *value == f64::INFINITY {
            serializer.serialize_str("Infinity")
        } else if *value == f64::NEG_INFINITY {
            serializer.serialize_str("-Infinity")
        } else {
            serializer.serialize_f64(*value)
        }
    }

    struct NumberVisitor;

    impl Visitor<'_> for NumberVisitor {
        type Value = f64;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str(r#"a number, or one of the strings "NaN", "Infinity", "-Infinity""#)
        }

        fn visit_f64<E: de::Error>(self, value: f64) -> Result<f64, E> {
            Ok(value)
        }

        fn visit_i64<E: de::Error>(self, value: i64) -> Result<f64, E> {
            Ok(value as f64)
        }

        fn visit_u64<E: de::Error>(self, value: u64) -> Result<f64, E> {
            Ok(value as f64)
        }

        fn visit_str<E: de::Error>(self, value: &str) -> Result<f64, E> {
            match value {
                "NaN" => Ok(f64::NAN),
                "Infinity" | "+Infinity" => Ok(f64::INFINITY),
                "-Infinity" => Ok(f64::NEG_INFINITY),
                other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
            }
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        deserializer.deserialize_any(NumberVisitor)
    }

    /// An `f64` in the JSON number convention, for use inside containers.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub(crate) struct Number(pub(crate) f64);

    impl Serialize for Number {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serialize(&self.0, serializer)
        }
    }

    impl<'de> Deserialize<'de> for Number {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserialize(deserializer).map(Number)
        }
    }
}

/// [`number`] for an `Option<f64>`: `null` (or a missing field, with `#[serde(default)]`) is
/// `None`.
pub(crate) mod optional_number {
    use super::number::Number;
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<f64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => serializer.serialize_some(&Number(*v)),
            None => serializer.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<f64>, D::Error> {
        Ok(Option::<Number>::deserialize(deserializer)?.map(|n| n.0))
    }
}

/// The gradient object of a layer in a file: `count`, `max_abs` and at least one of `l2` and
/// `rms` (a missing one is derived, `rms = l2 / sqrt(count)`; both given are kept as given, as
/// [`TrainingHistory::push`] keeps them).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct GradientEntry {
    #[serde(default, with = "optional_number")]
    l2: Option<f64>,
    #[serde(default, with = "optional_number")]
    rms: Option<f64>,
    #[serde(with = "number")]
    max_abs: f64,
    count: usize,
}

/// One layer of one epoch, as written in a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerEntry {
    name: String,
    #[serde(default)]
    weight_count: Option<usize>,
    #[serde(default, with = "optional_number")]
    weight_l2: Option<f64>,
    #[serde(default, with = "optional_number")]
    relative_update: Option<f64>,
    #[serde(default)]
    weights_sample: Option<Vec<number::Number>>,
    #[serde(default)]
    gradient: Option<GradientEntry>,
    #[serde(default)]
    activity: Option<ActivityStats>,
}

/// One epoch, as written in a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct EpochEntry {
    /// Optional: when given it must equal the epoch's position (catches lost epochs).
    #[serde(default)]
    epoch: Option<usize>,
    #[serde(with = "number")]
    loss: f64,
    #[serde(default, with = "optional_number")]
    validation_loss: Option<f64>,
    #[serde(default)]
    layers: Vec<LayerEntry>,
}

/// A whole history file, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HistoryFile {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    version: Option<u64>,
    /// Free-form: ignored by the loader.
    #[serde(default)]
    #[allow(dead_code)]
    metadata: Option<IgnoredAny>,
    epochs: Vec<EpochEntry>,
}

/// The header alone, read first so that a file of another kind gets a clear message.
#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    format: Option<serde_json::Value>,
    #[serde(default)]
    version: Option<serde_json::Value>,
}

/// The layer names alone, read only to name the layer of a parse error.
#[derive(Deserialize)]
struct NamesFile {
    #[serde(default)]
    epochs: Vec<NamesEpoch>,
}

#[derive(Deserialize)]
struct NamesEpoch {
    #[serde(default)]
    layers: Vec<NamesLayer>,
}

#[derive(Deserialize)]
struct NamesLayer {
    #[serde(default)]
    name: Option<String>,
}

/// What the serializer writes: the header and the epochs as they are.
#[derive(Serialize)]
struct HistoryFileRef<'a> {
    format: &'static str,
    version: u64,
    epochs: &'a [EpochRecord],
}

fn file_error(epoch: Option<usize>, layer: Option<&str>, reason: String) -> Error {
    Error::History {
        epoch,
        layer: layer.map(str::to_owned),
        reason,
    }
}

fn check_header(format: Option<&str>, version: Option<u64>) -> Result<()> {
    match format {
        Some(HISTORY_FORMAT) => {}
        Some(other) => {
            return Err(file_error(
                None,
                None,
                format!(
                    "`format` is \"{other}\": not a history file (expected \"{HISTORY_FORMAT}\")"
                ),
            ))
        }
        None => {
            return Err(file_error(
                None,
                None,
                format!(
                    "missing `format`: a history file starts with \"format\": \"{HISTORY_FORMAT}\""
                ),
            ))
        }
    }
    match version {
        Some(HISTORY_FORMAT_VERSION) => Ok(()),
        Some(v) if v > HISTORY_FORMAT_VERSION => Err(file_error(
            None,
            None,
            format!(
                "`version` {v} is newer than this crate reads ({HISTORY_FORMAT_VERSION}): \
                 upgrade vanishing-gradient"
            ),
        )),
        Some(v) => Err(file_error(
            None,
            None,
            format!("`version` {v} is not a version of the history format (expected {HISTORY_FORMAT_VERSION})"),
        )),
        None => Err(file_error(
            None,
            None,
            format!("missing `version` (this crate reads version {HISTORY_FORMAT_VERSION})"),
        )),
    }
}

/// The previous sample of one layer: its values and the weight norm of that epoch.
struct SampleBaseline {
    values: Vec<f64>,
    weight_l2: f64,
}

/// Turns the file's layer entries into records, deriving the weight norm and the relative
/// update from `weights_sample` where given.
fn layer_record(
    epoch: usize,
    entry: LayerEntry,
    baseline: &mut Option<SampleBaseline>,
) -> Result<LayerRecord> {
    let name = entry.name;
    let error = |reason: String| file_error(Some(epoch), Some(&name), reason);
    let mut record = LayerRecord::new(name.clone());
    record.weight_count = entry.weight_count;
    record.weight_l2 = entry.weight_l2;
    record.relative_update = entry.relative_update;
    record.activity = entry.activity;
    if let Some(g) = entry.gradient {
        if g.count == 0 {
            return Err(error("`gradient.count` is zero".into()));
        }
        let root_count = (g.count as f64).sqrt();
        let (l2, rms) = match (g.l2, g.rms) {
            (Some(l2), Some(rms)) => (l2, rms),
            (Some(l2), None) => (l2, l2 / root_count),
            (None, Some(rms)) => (rms * root_count, rms),
            (None, None) => {
                return Err(error("`gradient` needs `l2` or `rms` (or both)".into()));
            }
        };
        record.gradient = Some(GradientStats {
            l2,
            rms,
            max_abs: g.max_abs,
            count: g.count,
        });
    }
    if let Some(sample) = entry.weights_sample {
        let values: Vec<f64> = sample.into_iter().map(|n| n.0).collect();
        if values.is_empty() {
            return Err(error("`weights_sample` is empty".into()));
        }
        let sampled = values.len();
        let count = match record.weight_count {
            Some(count) if count < sampled => {
                return Err(error(format!(
                    "`weights_sample` has {sampled} values but `weight_count` is {count}"
                )))
            }
            Some(count) => count,
            None => sampled,
        };
        record.weight_count = Some(count);
        let scale = (count as f64 / sampled as f64).sqrt();
        let sample_l2 = l2_norm(values.iter().copied()).l2;
        if let Some(given) = record.weight_l2 {
            if sample_l2.is_finite() && given.is_finite() && sample_l2 > given * (1.0 + 1e-9) {
                return Err(error(format!(
                    "the norm of `weights_sample` ({sample_l2}) exceeds `weight_l2` ({given}): \
                     the sample must be part of the weights"
                )));
            }
        }
        let weight_l2 = *record.weight_l2.get_or_insert(sample_l2 * scale);
        if let Some(previous) = baseline.as_ref() {
            if previous.values.len() != sampled {
                return Err(error(format!(
                    "`weights_sample` changed length from {} to {sampled}: the sample must hold \
                     the same weights in every epoch",
                    previous.values.len()
                )));
            }
            if record.relative_update.is_none() {
                let delta = l2_norm(
                    values
                        .iter()
                        .zip(&previous.values)
                        .map(|(now, before)| now - before),
                )
                .l2 * scale;
                record.relative_update = Some(if previous.weight_l2 == 0.0 {
                    if weight_l2 == 0.0 {
                        0.0
                    } else {
                        delta / weight_l2
                    }
                } else {
                    delta / previous.weight_l2
                });
            }
        }
        *baseline = Some(SampleBaseline { values, weight_l2 });
    }
    Ok(record)
}

impl TryFrom<HistoryFile> for TrainingHistory {
    type Error = Error;

    fn try_from(file: HistoryFile) -> Result<Self> {
        check_header(file.format.as_deref(), file.version)?;
        let mut history = TrainingHistory::new();
        let mut baselines: Vec<Option<SampleBaseline>> = Vec::new();
        for (index, entry) in file.epochs.into_iter().enumerate() {
            if let Some(stated) = entry.epoch {
                if stated != index {
                    return Err(file_error(
                        Some(index),
                        None,
                        format!("`epoch` says {stated} but the entry is epoch {index} of the list (0-based): an epoch is missing or out of order"),
                    ));
                }
            }
            if baselines.len() < entry.layers.len() {
                baselines.resize_with(entry.layers.len(), || None);
            }
            let mut record = EpochRecord::new(entry.loss);
            record.validation_loss = entry.validation_loss;
            for (layer, baseline) in entry.layers.into_iter().zip(baselines.iter_mut()) {
                record.layers.push(layer_record(index, layer, baseline)?);
            }
            history.push(record)?;
        }
        Ok(history)
    }
}

impl Serialize for TrainingHistory {
    /// Writes the versioned history format (`format`, `version`, `epochs`).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        HistoryFileRef {
            format: HISTORY_FORMAT,
            version: HISTORY_FORMAT_VERSION,
            epochs: self.epochs(),
        }
        .serialize(serializer)
    }
}

/// `"epochs[3].layers[1].gradient.rms"` to `(Some(3), Some(1))`.
fn epoch_and_layer(path: &serde_path_to_error::Path) -> (Option<usize>, Option<usize>) {
    use serde_path_to_error::Segment;
    let mut epoch = None;
    let mut layer = None;
    let mut previous_key: Option<&str> = None;
    for segment in path.iter() {
        match segment {
            Segment::Map { key } => previous_key = Some(key.as_str()),
            Segment::Seq { index } => {
                match previous_key {
                    Some("epochs") => epoch = Some(*index),
                    Some("layers") => layer = Some(*index),
                    _ => {}
                }
                previous_key = None;
            }
            _ => previous_key = None,
        }
    }
    (epoch, layer)
}

/// The name of a layer, read again leniently to make an error message precise.
fn layer_name(text: &str, epoch: usize, layer: usize) -> String {
    serde_json::from_str::<NamesFile>(text)
        .ok()
        .and_then(|file| {
            file.epochs
                .get(epoch)
                .and_then(|e| e.layers.get(layer))
                .and_then(|l| l.name.clone())
        })
        .unwrap_or_else(|| format!("#{layer} (by depth)"))
}

fn parse_error(text: &str, error: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = error.path().to_string();
    let (epoch, layer) = epoch_and_layer(error.path());
    let layer = match (epoch, layer) {
        (Some(e), Some(l)) => Some(layer_name(text, e, l)),
        _ => None,
    };
    let inner = error.into_inner();
    Error::History {
        epoch,
        layer,
        reason: if path == "." || path.is_empty() {
            format!("invalid history file: {inner}")
        } else {
            format!("invalid history file at `{path}`: {inner}")
        },
    }
}

impl TrainingHistory {
    /// Reads a history from the versioned JSON format (see `docs/history-format.md` and the
    /// [module documentation](self)), validating every epoch as
    /// [`push`](TrainingHistory::push) does.
    ///
    /// # Errors
    /// [`Error::History`], naming the epoch, the layer and the field where it can: invalid JSON
    /// (with line and column), a missing or wrong `format` tag, an unknown `version`, a
    /// missing, misspelled or mistyped field, an inconsistent `weights_sample`, or an epoch
    /// that [`push`](TrainingHistory::push) refuses.
    ///
    /// ```
    /// use vanishing_gradient::history::TrainingHistory;
    ///
    /// let text = r#"{"format": "vanishing-gradient/history", "version": 1, "epochs": [
    ///     {"loss": 0.7, "layers": [{"name": "dense1", "weights_sample": [3.0, 4.0]}]},
    ///     {"loss": "NaN", "layers": [{"name": "dense1", "weights_sample": [3.0, 4.5]}]}
    /// ]}"#;
    /// let history = TrainingHistory::from_json_str(text)?;
    /// let layer = &history.epochs()[1].layers[0];
    /// assert!((layer.relative_update.unwrap() - 0.1).abs() < 1e-12); // |0.5| / |(3, 4)|
    /// assert!(history.epochs()[1].loss.is_nan());
    ///
    /// let error = TrainingHistory::from_json_str(r#"{"format": "vanishing-gradient/history",
    ///     "version": 1, "epochs": [{"loss": 0.7, "layers": [{"name": "dense1",
    ///     "weight_l2": "big"}]}]}"#).unwrap_err();
    /// assert!(error.to_string().contains("weight_l2"));
    /// # Ok::<(), vanishing_gradient::Error>(())
    /// ```
    pub fn from_json_str(text: &str) -> Result<Self> {
        if !text.trim_start().starts_with('{') {
            return Err(file_error(
                None,
                None,
                "invalid history file: expected a JSON object starting with `{`".into(),
            ));
        }
        let header: Header = serde_json::from_str(text)
            .map_err(|e| file_error(None, None, format!("invalid history file: {e}")))?;
        let format = header.format.as_ref().map(|value| match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let version = match &header.version {
            None => None,
            Some(value) => Some(value.as_u64().ok_or_else(|| {
                file_error(
                    None,
                    None,
                    format!("`version` must be a whole number, got {value}"),
                )
            })?),
        };
        check_header(format.as_deref(), version)?;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let file: HistoryFile = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|e| parse_error(text, e))?;
        deserializer
            .end()
            .map_err(|e| file_error(None, None, format!("invalid history file: {e}")))?;
        TrainingHistory::try_from(file)
    }

    /// Reads a history from a reader (the whole input is read first), as
    /// [`from_json_str`](TrainingHistory::from_json_str).
    ///
    /// # Errors
    /// As [`from_json_str`](TrainingHistory::from_json_str), and [`Error::History`] if the
    /// reader fails or the input is not UTF-8.
    pub fn from_json_reader(mut reader: impl Read) -> Result<Self> {
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|e| file_error(None, None, format!("cannot read the history: {e}")))?;
        Self::from_json_str(&text)
    }

    /// Writes the history in the versioned JSON format, pretty-printed. Non-finite values are
    /// written as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`; absent fields are left
    /// out. Reading the text back with [`from_json_str`](TrainingHistory::from_json_str) gives
    /// an equal history.
    ///
    /// # Errors
    /// [`Error::History`] if serialization fails (it does not for a valid history).
    ///
    /// ```
    /// use vanishing_gradient::history::{EpochRecord, LayerRecord, TrainingHistory};
    /// let mut epoch = EpochRecord::new(f64::INFINITY);
    /// epoch.layers.push(LayerRecord::new("dense1"));
    /// let history = TrainingHistory::from_epochs([epoch])?;
    /// let text = history.to_json_string()?;
    /// assert!(text.contains(r#""loss": "Infinity""#));
    /// assert_eq!(TrainingHistory::from_json_str(&text)?.epochs(), history.epochs());
    /// # Ok::<(), vanishing_gradient::Error>(())
    /// ```
    pub fn to_json_string(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| file_error(None, None, format!("cannot write the history: {e}")))
    }

    /// Writes the history to a writer, as [`to_json_string`](TrainingHistory::to_json_string).
    ///
    /// # Errors
    /// [`Error::History`] if the writer fails.
    pub fn to_json_writer(&self, writer: impl Write) -> Result<()> {
        serde_json::to_writer_pretty(writer, self)
            .map_err(|e| file_error(None, None, format!("cannot write the history: {e}")))
    }
}
