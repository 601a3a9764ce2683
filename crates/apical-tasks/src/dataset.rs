//! In-memory labelled data sets.

/// A labelled data set held in memory, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Inputs, `[len, n_features]` row-major.
    pub inputs: Vec<f32>,
    /// Width of one input.
    pub n_features: usize,
    /// Class label of each example, below `n_classes`.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub n_classes: usize,
    /// Signed signal level of each trial in percent (perceptual tasks only; 0 = zero-signal).
    pub signal: Option<Vec<f32>>,
    /// Context index of each trial (perceptual tasks only; see the task for the meaning).
    pub context: Option<Vec<usize>>,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the set holds no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The input of example `index`.
    pub fn input(&self, index: usize) -> &[f32] {
        &self.inputs[index * self.n_features..(index + 1) * self.n_features]
    }

    /// Gathers the examples at `indices` into a batch: inputs `[indices.len(), n_features]`
    /// row-major, and their labels.
    pub fn batch(&self, indices: &[usize]) -> (Vec<f32>, Vec<usize>) {
        let mut inputs = Vec::with_capacity(indices.len() * self.n_features);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            inputs.extend_from_slice(self.input(i));
            labels.push(self.labels[i]);
        }
        (inputs, labels)
    }

    /// The examples at `indices` as a new data set (keeps signal and context).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let (inputs, labels) = self.batch(indices);
        Dataset {
            inputs,
            n_features: self.n_features,
            labels,
            n_classes: self.n_classes,
            signal: self
                .signal
                .as_ref()
                .map(|s| indices.iter().map(|&i| s[i]).collect()),
            context: self
                .context
                .as_ref()
                .map(|c| indices.iter().map(|&i| c[i]).collect()),
        }
    }

    /// Checks the internal invariants (lengths agree, labels in range).
    ///
    /// # Panics
    /// With a message naming the broken invariant: a programming error in a task.
    pub fn assert_consistent(&self) {
        assert_eq!(
            self.inputs.len(),
            self.len() * self.n_features,
            "Dataset: inputs length is not len × n_features"
        );
        assert!(
            self.labels.iter().all(|&l| l < self.n_classes),
            "Dataset: a label is not below n_classes = {}",
            self.n_classes
        );
        if let Some(s) = &self.signal {
            assert_eq!(s.len(), self.len(), "Dataset: one signal level per example");
        }
        if let Some(c) = &self.context {
            assert_eq!(c.len(), self.len(), "Dataset: one context per example");
        }
    }
}

/// A train / test pair, with an optional validation split (drawn from the training data).
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Training examples.
    pub train: Dataset,
    /// Validation examples (`task.validation_per_class`), disjoint from `train`.
    pub validation: Option<Dataset>,
    /// Held-out examples.
    pub test: Dataset,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_and_subset_gather_rows() {
        let data = Dataset {
            inputs: vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
            n_features: 2,
            labels: vec![0, 1, 0],
            n_classes: 2,
            signal: Some(vec![-3.0, 0.0, 3.0]),
            context: None,
        };
        data.assert_consistent();
        assert_eq!(data.batch(&[2, 0]), (vec![4.0, 5.0, 0.0, 1.0], vec![0, 0]));
        let sub = data.subset(&[1]);
        assert_eq!(sub.inputs, vec![2.0, 3.0]);
        assert_eq!(sub.signal, Some(vec![0.0]));
    }
}
