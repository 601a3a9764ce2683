//! Balanced labelled subsets for few-shot learning: `task.train_per_class = n` draws n labelled
//! examples of every class from the training split (a different draw per `task.subset_seed`,
//! deterministic), and `task.validation_per_class` more of every class from the rest of the
//! training split as a validation split (for tuning and early stopping). The test split is
//! never touched. The same keys work for `digits`, `idx` and `orientation` (trials per class).

use apical_core::{InvalidParameter, SeededRng};

use crate::{Dataset, Split, TaskError};

/// Declares a labelled task's `[task]` config: the task's own fields, then the labelled-subset
/// keys every labelled task takes — `train_per_class`, `validation_per_class`, `subset_seed`,
/// declared once here (serde cannot `flatten` a struct into one with `deny_unknown_fields`) —
/// and `subset()`, which gathers them into a [`LabelledSubset`].
macro_rules! labelled_task_config {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $($(#[$field_meta:meta])* pub $field:ident : $ty:ty,)*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $ty,)*
            /// Labelled training examples per class, drawn from the training split with
            /// `subset_seed` (few-shot learning; all when absent or `"all"`).
            #[serde(
                default,
                deserialize_with = "crate::subset::count_or_all",
                skip_serializing_if = "Option::is_none"
            )]
            pub train_per_class: Option<usize>,
            /// Validation examples per class, drawn from the training examples not chosen (for
            /// tuning and early stopping; none when absent). The test split is never used for
            /// choices.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub validation_per_class: Option<usize>,
            /// Seed of the labelled-subset draw (one draw per seed; nested across
            /// train_per_class; `"training"` in a config: the run's `training.seed`).
            #[serde(default)]
            pub subset_seed: u64,
            /// Cross-validation inside the labelled set: split each class's
            /// `train_per_class` examples into this many folds (needs `train_per_class` ≥ it;
            /// not with `validation_per_class`); `cv_fold` is held out as the validation split.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub cv_folds: Option<usize>,
            /// The held-out fold (0 … cv_folds − 1).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub cv_fold: Option<usize>,
        }

        impl $name {
            /// The labelled subset its keys ask for.
            pub fn subset(&self) -> $crate::LabelledSubset {
                $crate::LabelledSubset {
                    train_per_class: self.train_per_class,
                    validation_per_class: self.validation_per_class,
                    subset_seed: self.subset_seed,
                    cv: self.cv_folds.map(|folds| (self.cv_fold.unwrap_or(usize::MAX), folds)),
                    cv_fold_without_folds: self.cv_folds.is_none() && self.cv_fold.is_some(),
                }
            }

            /// No labelled subset, no validation split, no folds: the whole training split.
            pub fn clear_subset(&mut self) {
                self.train_per_class = None;
                self.validation_per_class = None;
                self.subset_seed = 0;
                self.cv_folds = None;
                self.cv_fold = None;
            }
        }
    };
}
pub(crate) use labelled_task_config;

/// The subset a task's `[task]` keys ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LabelledSubset {
    /// Labelled training examples per class (`None`: the whole training split).
    pub train_per_class: Option<usize>,
    /// Validation examples per class, drawn from the training examples not chosen (`None`:
    /// no validation split).
    pub validation_per_class: Option<usize>,
    /// Seed of the draw.
    pub subset_seed: u64,
    /// Cross-validation inside the labelled examples: (held-out fold, folds). Each class's
    /// drawn examples go to folds in turn (the i-th drawn to fold i mod folds); the held-out
    /// fold is the validation split, the others train. The labelled set is the draw without
    /// cross-validation, so the folds are nested in it.
    pub cv: Option<(usize, usize)>,
    /// `cv_fold` was given without `cv_folds` (refused by [`validate`](Self::validate); a
    /// `cv_folds` without `cv_fold` arrives as fold `usize::MAX`, refused too).
    pub cv_fold_without_folds: bool,
}

/// Stream tag of the subset draw.
const STREAM_SUBSET: u64 = 0x5B5E7;

impl LabelledSubset {
    /// Checks the sizes (keys relative to `[task]`).
    pub fn validate(&self) -> Result<(), InvalidParameter> {
        for (key, n) in [
            ("train_per_class", self.train_per_class),
            ("validation_per_class", self.validation_per_class),
        ] {
            if n == Some(0) {
                return Err(InvalidParameter::new(
                    key,
                    "must be at least 1 (leave it out for all)",
                ));
            }
        }
        if self.cv_fold_without_folds {
            return Err(InvalidParameter::new(
                "cv_fold",
                "needs cv_folds (the number of folds the labelled examples are split into)",
            ));
        }
        if let Some((fold, folds)) = self.cv {
            if folds < 2 {
                return Err(InvalidParameter::new(
                    "cv_folds",
                    format!("must be at least 2, got {folds}"),
                ));
            }
            if fold == usize::MAX {
                return Err(InvalidParameter::new(
                    "cv_fold",
                    format!("cv_folds = {folds} needs cv_fold: the fold held out as the validation split (0 … {})", folds - 1),
                ));
            }
            if fold >= folds {
                return Err(InvalidParameter::new(
                    "cv_fold",
                    format!(
                        "must be below cv_folds = {folds} (folds are numbered from 0), got {fold}"
                    ),
                ));
            }
            if self.validation_per_class.is_some() {
                return Err(InvalidParameter::new(
                    "cv_folds",
                    "cross-validation holds out a fold of the labelled examples as the validation split: leave validation_per_class out",
                ));
            }
            match self.train_per_class {
                None => {
                    return Err(InvalidParameter::new(
                        "cv_folds",
                        "needs train_per_class (the labelled examples the folds split)",
                    ))
                }
                Some(n) if n < folds => {
                    return Err(InvalidParameter::new(
                        "cv_folds",
                        format!("must be at most train_per_class = {n}, so that every fold holds every class, got {folds}"),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Whether the split is changed at all.
    pub fn is_identity(&self) -> bool {
        self.train_per_class.is_none() && self.validation_per_class.is_none() && self.cv.is_none()
    }

    /// Draws the subsets from `split.train` (`task`: the task's name, for errors). Fails when
    /// a class has fewer training examples than `train_per_class + validation_per_class`.
    pub fn apply(&self, split: Split, task: &str) -> Result<Split, TaskError> {
        if self.is_identity() {
            return Ok(split);
        }
        let train = &split.train;
        let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); train.n_classes];
        for (i, &label) in train.labels.iter().enumerate() {
            by_class[label].push(i);
        }
        let mut rng = SeededRng::for_stream(self.subset_seed, STREAM_SUBSET);
        let (mut chosen, mut validation) = (Vec::new(), Vec::new());
        for (class, indices) in by_class.iter_mut().enumerate() {
            rng.shuffle(indices);
            let n_train = self.train_per_class.unwrap_or(usize::MAX);
            let n_val = self.validation_per_class.unwrap_or(0);
            let needed = self
                .train_per_class
                .map_or(n_val, |n| n.saturating_add(n_val));
            if indices.len() < needed || indices.is_empty() {
                return Err(InvalidParameter::new(
                    if self.train_per_class.is_some() {
                        "task.train_per_class"
                    } else {
                        "task.validation_per_class"
                    },
                    format!(
                        "{task}: class {class} has {} training examples, {needed} asked for (train_per_class + validation_per_class)",
                        indices.len()
                    ),
                )
                .into());
            }
            // Validation first, so that the training draw for n is the same examples whatever
            // the validation size… and the n-example draw is nested across n (n = 1 ⊂ 2 ⊂ 5).
            let (val, rest) = indices.split_at(n_val);
            validation.extend_from_slice(val);
            let drawn = &rest[..n_train.min(rest.len())];
            match self.cv {
                Some((fold, folds)) => {
                    for (i, &index) in drawn.iter().enumerate() {
                        if i % folds == fold {
                            validation.push(index);
                        } else {
                            chosen.push(index);
                        }
                    }
                }
                None => chosen.extend_from_slice(drawn),
            }
        }
        chosen.sort_unstable();
        validation.sort_unstable();
        Ok(Split {
            train: train.subset(&chosen),
            validation: (!validation.is_empty()).then(|| train.subset(&validation)),
            test: split.test,
        })
    }
}

/// `train_per_class` in a config: a count, or `"all"` (the whole training split, as when the key
/// is left out) — so a sweep can put "all" on the same axis as the counts.
pub fn count_or_all<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    struct CountOrAll;
    impl serde::de::Visitor<'_> for CountOrAll {
        type Value = Option<usize>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a count of examples per class or \"all\"")
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as usize))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            usize::try_from(v).map(Some).map_err(|_| {
                E::custom(format!(
                    "expected a count of examples per class or \"all\", got {v}"
                ))
            })
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v == "all" {
                Ok(None)
            } else {
                Err(E::custom(format!(
                    "expected a count of examples per class or \"all\", got {v:?}"
                )))
            }
        }
    }
    d.deserialize_any(CountOrAll)
}

/// The class sizes of `data` (for messages and tests).
pub fn class_counts(data: &Dataset) -> Vec<usize> {
    let mut counts = vec![0; data.n_classes];
    for &l in &data.labels {
        counts[l] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize, classes: usize) -> Split {
        let labels: Vec<usize> = (0..n).map(|i| i % classes).collect();
        let data = Dataset {
            inputs: (0..n).map(|i| i as f32).collect(),
            n_features: 1,
            labels,
            n_classes: classes,
            signal: None,
            context: None,
        };
        Split {
            train: data.clone(),
            validation: None,
            test: data.subset(&[0, 1]),
        }
    }

    fn subset(n: Option<usize>, v: Option<usize>, seed: u64) -> LabelledSubset {
        LabelledSubset {
            train_per_class: n,
            validation_per_class: v,
            subset_seed: seed,
            ..LabelledSubset::default()
        }
    }

    #[test]
    fn cross_validation_folds_partition_the_labelled_set_and_hold_every_class() {
        let split = toy(300, 3);
        let labelled = subset(Some(6), None, 4)
            .apply(split.clone(), "toy")
            .unwrap();
        let mut seen: Vec<f32> = Vec::new();
        for fold in 0..3 {
            let s = LabelledSubset {
                cv: Some((fold, 3)),
                ..subset(Some(6), None, 4)
            }
            .apply(split.clone(), "toy")
            .unwrap();
            let val = s.validation.as_ref().expect("the held-out fold");
            assert_eq!(class_counts(val), vec![2, 2, 2]);
            assert_eq!(class_counts(&s.train), vec![4, 4, 4]);
            for x in s.train.inputs.iter().chain(&val.inputs) {
                assert!(
                    labelled.train.inputs.contains(x),
                    "outside the labelled set"
                );
            }
            for x in &val.inputs {
                assert!(
                    !s.train.inputs.contains(x),
                    "a held-out example is trained on"
                );
            }
            seen.extend(&val.inputs);
        }
        seen.sort_by(f32::total_cmp);
        let mut all = labelled.train.inputs.clone();
        all.sort_by(f32::total_cmp);
        assert_eq!(seen, all, "the folds cover the labelled set once");
        for (cv, key) in [
            (Some((0, 1)), "cv_folds"),
            (Some((3, 3)), "cv_fold"),
            (Some((0, 7)), "cv_folds"),
        ] {
            let err = LabelledSubset {
                cv,
                ..subset(Some(6), None, 4)
            }
            .validate()
            .unwrap_err();
            assert_eq!(err.key, key, "{err}");
        }
        let with_validation = LabelledSubset {
            cv: Some((0, 2)),
            ..subset(Some(6), Some(2), 4)
        };
        assert_eq!(with_validation.validate().unwrap_err().key, "cv_folds");
    }

    #[test]
    fn draws_n_per_class_disjoint_from_validation_nested_and_seeded() {
        let split = toy(300, 3);
        let s = subset(Some(5), Some(10), 1)
            .apply(split.clone(), "toy")
            .unwrap();
        assert_eq!(class_counts(&s.train), vec![5, 5, 5]);
        let val = s.validation.as_ref().unwrap();
        assert_eq!(class_counts(val), vec![10, 10, 10]);
        for x in &s.train.inputs {
            assert!(!val.inputs.contains(x), "train and validation overlap");
        }
        assert_eq!(s.test, split.test, "the test split is untouched");
        // Deterministic, different per seed, nested across n with the same validation.
        let again = subset(Some(5), Some(10), 1)
            .apply(split.clone(), "toy")
            .unwrap();
        assert_eq!(again, s);
        let other = subset(Some(5), Some(10), 2)
            .apply(split.clone(), "toy")
            .unwrap();
        assert_ne!(other.train, s.train);
        let two = subset(Some(2), Some(10), 1)
            .apply(split.clone(), "toy")
            .unwrap();
        for x in &two.train.inputs {
            assert!(s.train.inputs.contains(x), "n = 2 is not inside n = 5");
        }
        assert_eq!(two.validation, s.validation);
    }

    #[test]
    fn refuses_more_than_a_class_has_naming_the_key() {
        let err = subset(Some(90), Some(20), 0)
            .apply(toy(300, 3), "toy")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("task.train_per_class") && err.contains("110"),
            "{err}"
        );
        assert_eq!(
            subset(Some(0), None, 0).validate().unwrap_err().key,
            "train_per_class"
        );
        assert!(subset(None, None, 0).apply(toy(9, 3), "toy").is_ok());
    }
}
