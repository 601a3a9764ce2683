//! Seeded streams for data generation.

/// A SplitMix64 stream per (seed, split, trial) with Box–Muller normals. Local to this crate
/// and fully specified, so generated data never change with a dependency's version.
pub(crate) struct TrialRng {
    state: u64,
}

impl TrialRng {
    pub(crate) fn new(seed: u64, split: u64, trial: u64) -> Self {
        let mut rng = Self {
            state: seed ^ 0x5DEE_CE66_D1CE_4E5B,
        };
        let a = rng.next_u64() ^ split.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = Self { state: a };
        let b = rng.next_u64() ^ trial.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Self { state: b }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Fisher–Yates shuffle.
    pub(crate) fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}
