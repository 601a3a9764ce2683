//! The closed loop (`ProtocolKind::ClosedLoop`) of the BCI task (`task.kind = "bci"`, `model.kind = "bci"`): a baseline
//! block calibrates the decoder, then days of trials in which the network acts, the cursor
//! moves, and the rule learns from one scalar a step — the error decrease, or (broadcast with
//! `rule.signal = "reward"`) the reward alone — through `Learner::act` / `reinforce`.
//!
//! Writes, besides `config.toml`:
//! - `calibration.json` (per-unit baseline statistics, θ, the baseline hit rate) and
//!   `ensembles.npy` (`[units]`, +1 P+ / −1 P− / 0 P0), before day 1;
//! - per day `activity/day-NN/`: `basal.npy`, `apical.npy`, `rate.npy`, `residual.npy`
//!   (`[trials, max_steps, units]`, NaN after a trial ended), `mask.npy` (`[trials, max_steps]`,
//!   1 where the step ran), `decoder.npy`, `angle.npy`, `error.npy`, `error_change.npy`
//!   (`[trials, max_steps]`, NaN-padded);
//! - `trials.csv` (day, trial, success, steps, reward), `metrics.csv` (one row per day), a
//!   checkpoint per day (resume restarts after the last completed day, with identical
//!   results), `plots/success_by_day.{png,svg}`, and `summary.json` (`chance`, `threshold`,
//!   `chance_measured` — the hit rate of a fresh untrained closed-loop block, its own noise —
//!   `success_by_day`, `rewards_per_day`, `late_success`, `trials_to_criterion` — null when
//!   not reached — and `trials_run`, where a run that never reached it is censored).
//!
//! With K task dimensions (`task.dims`) the network sees K gratings side by side (and, with
//! `task.targets = "cued"`, each trial's K target directions, drawn from a stream of their
//! own), the rule is
//! told the K-dimensional error (as a fraction of the travel, B − bin_k over B) and movement
//! (`Learner::observe_error`) besides the scalar; `decoder.npy` holds the smallest
//! dimension's D (what a hit needs at θ), `angle.npy` the gratings' mean angle, `error.npy`
//! the summed error.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use apical_learn::{build_bci_rule, ClosedLoopSignal, Learner};
use apical_nn::{BciNetwork, BciParams, ModelConfig, SeededRng};
use apical_tasks::bci::{BciConfig, BciTarget, BciTrial, Calibration, PerUnitFit};
use apical_tasks::TaskConfig;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use apical_store::{day_files, npy, plot, write_atomic, ClosedLoopSummary, RunDir, Summary};
use apical_tasks::Split;

use crate::checkpoint::LoopState;
use crate::{ConfigError, ExperimentConfig, Protocol, RunError, RunSummary, Session};

/// Stream tags of the BCI run's seeded generators.
const STREAM_BASELINE: u64 = 3 << 40;
const STREAM_TRIALS: u64 = 4 << 40;
const STREAM_CALIBRATION: u64 = 5 << 40;
const STREAM_CHANCE: u64 = 6 << 40;
/// Targets' directions (cued targets, centre-out): per trial of each block a stream of its own
/// (not one of the noise streams), so that the noise is the same whatever `task.targets` says.
const STREAM_TARGETS_BASELINE: u64 = 7 << 40;
const STREAM_TARGETS_TRIALS: u64 = 8 << 40;
const STREAM_TARGETS_CALIBRATION: u64 = 9 << 40;
const STREAM_TARGETS_CHANCE: u64 = 10 << 40;
/// One trial's outcome (a row of `trials.csv`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct TrialRow {
    day: usize,
    trial: usize,
    success: bool,
    steps: usize,
    /// A probe trial without plasticity (`task.probe_every`).
    probe: bool,
}

/// One day's numbers (a row of `metrics.csv`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct DayRow {
    day: usize,
    success: f64,
    rewards: usize,
    mean_steps: f64,
    rate_p_plus: f64,
    rate_p_minus: f64,
    rate_p0: f64,
}

/// `[trials, max_steps, …]` recordings of one day, NaN-padded.
struct DayArrays {
    trials: usize,
    steps: usize,
    units: usize,
    unit_arrays: [Vec<f32>; 4],
    step_arrays: [Vec<f32>; 4],
    mask: Vec<i64>,
}

impl DayArrays {
    fn new(trials: usize, steps: usize, units: usize) -> Self {
        let per_unit = || vec![f32::NAN; trials * steps * units];
        let per_step = || vec![f32::NAN; trials * steps];
        Self {
            trials,
            steps,
            units,
            unit_arrays: [per_unit(), per_unit(), per_unit(), per_unit()],
            step_arrays: [per_step(), per_step(), per_step(), per_step()],
            mask: vec![0; trials * steps],
        }
    }

    fn write(&self, dir: &Path) -> Result<Vec<String>, RunError> {
        std::fs::create_dir_all(dir).map_err(|source| apical_store::StoreError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut written = Vec::new();
        for (name, values) in day_files::UNIT_ARRAYS.iter().zip(&self.unit_arrays) {
            npy::write_f32(
                &dir.join(apical_store::recording_files::array(name)),
                &[self.trials, self.steps, self.units],
                values,
            )?;
            written.push(apical_store::recording_files::array(name));
        }
        for (name, values) in day_files::STEP_ARRAYS.iter().zip(&self.step_arrays) {
            npy::write_f32(
                &dir.join(apical_store::recording_files::array(name)),
                &[self.trials, self.steps],
                values,
            )?;
            written.push(apical_store::recording_files::array(name));
        }
        npy::write_i64(
            &dir.join(day_files::MASK),
            &[self.trials, self.steps],
            &self.mask,
        )?;
        written.push(day_files::MASK.into());
        Ok(written)
    }
}

fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data().iter::<f32>().collect()
}

/// The closed loop: a baseline block, then days of act → environment → reinforce.
pub struct ClosedLoop;

impl Protocol for ClosedLoop {
    fn run(
        &self,
        config: &ExperimentConfig,
        _data: &Split,
        device: &Device,
        session: Session<'_>,
    ) -> Result<RunSummary, RunError> {
        let (TaskConfig::Bci(task), ModelConfig::Bci(params)) = (&config.task, &config.model)
        else {
            return Err(ConfigError::new(
                Path::new("config"),
                "task.kind",
                "the closed loop needs task.kind = \"bci\" with model.kind = \"bci\"",
            )
            .into());
        };
        let mut lp = Loop::new(config, task, params, device, session)?;
        let started_day = if lp.session.is_resume() {
            lp.restore()?
        } else {
            None
        };
        let start_day = match started_day {
            Some(day) => day,
            None => {
                lp.baseline()?;
                lp.save_checkpoint(0, 0.0)?;
                0
            }
        };
        lp.days(start_day)
    }
}

struct Loop<'a> {
    config: &'a ExperimentConfig,
    task: &'a BciConfig,
    device: Device,
    session: Session<'a>,
    net: BciNetwork,
    learner: Learner<BciNetwork>,
    ensembles: Vec<i8>,
    calibration: Option<Calibration>,
    /// The mapped targets' teacher (empty for the other targets).
    teacher: Vec<f64>,
    /// The hit rate of a fresh untrained closed-loop block (its own noise), measured after
    /// the calibration.
    chance_measured: Option<f64>,
    trials: Vec<TrialRow>,
    days: Vec<DayRow>,
    wall_before: f64,
    resumed_from: Option<usize>,
}

impl<'a> Loop<'a> {
    fn new(
        config: &'a ExperimentConfig,
        task: &'a BciConfig,
        params: &BciParams,
        device: &Device,
        session: Session<'a>,
    ) -> Result<Self, RunError> {
        let seed = config.training.seed;
        // Autodiff device: the optimizer's convention (the rules compute on the inner one).
        let net = params
            .config(task.input_width(), task.dims, seed)
            .init(&device.clone().autodiff());
        let rule = build_bci_rule(&config.rule, &net, device)
            .map_err(|e| ConfigError::new(Path::new("config"), &e.key, e.message))?;
        let mut learner =
            Learner::new(rule, config.optimizer.init(), config.training.learning_rate);
        if !learner.learns_from_reward() {
            // Refused before anything is written (today `build_bci_rule` builds only such rules).
            return Err(ConfigError::new(
                Path::new("config"),
                "rule.kind",
                format!(
                    "{} cannot learn from a reward alone; the closed loop needs dendritic or reward-broadcast",
                    config.rule.kind()
                ),
            )
            .into());
        }
        Ok(Self {
            config,
            task,
            device: device.clone().autodiff(),
            session,
            ensembles: task.ensembles(params.units, seed),
            net,
            learner,
            calibration: None,
            teacher: task.teacher(seed),
            chance_measured: None,
            trials: Vec::new(),
            days: Vec::new(),
            wall_before: 0.0,
            resumed_from: None,
        })
    }

    fn run_dir(&self) -> &RunDir {
        self.session.dir()
    }

    /// `Err(Interrupted)` once a signal asked the run to stop (before `day` days were done);
    /// checked between trials, calibration ones included.
    fn check_stop(&self, day: usize) -> Result<(), RunError> {
        self.session.check_stop(day)
    }

    /// The target of trial `index` of the block whose noise is `stream` (all +1 and no cue
    /// unless `task.targets` or the layout says otherwise).
    fn target(&self, stream: u64, index: usize) -> BciTarget {
        let targets = match stream {
            STREAM_BASELINE => STREAM_TARGETS_BASELINE,
            STREAM_TRIALS => STREAM_TARGETS_TRIALS,
            STREAM_CALIBRATION => STREAM_TARGETS_CALIBRATION,
            STREAM_CHANCE => STREAM_TARGETS_CHANCE,
            other => unreachable!("no target stream for the noise stream {other:#x}"),
        };
        let mut rng = SeededRng::for_trial(self.config.training.seed, targets, index as u64);
        self.task.target(&self.teacher, &mut rng)
    }

    fn input(&self, trial: &BciTrial) -> Tensor<2> {
        let x = trial.scene(self.task);
        let n = x.len();
        Tensor::from_data(TensorData::new(x, [1, n]), &self.device)
    }

    /// The baseline block (no learning): with the grating held at the start, fits the units'
    /// soma-predicted apical part (on `self.net`) and the decoder's statistics; then sets θ in
    /// closed loop — the grating moving as it will during training — so that spontaneous
    /// activity hits in a fraction `task.chance` of the baseline trials; and measures the hit
    /// rate of a fresh block of as many closed-loop trials (its own noise) at that θ.
    /// Deterministic given the seed (resume recomputes it on the initial network). Returns
    /// the calibration and the measured chance.
    fn calibrate(&mut self) -> Result<(Calibration, f64), RunError> {
        let task = self.task;
        let seed = self.config.training.seed;
        let mut rng = SeededRng::for_stream(seed, STREAM_BASELINE);
        // On the inner backend: an autodiff graph that is never differentiated would grow
        // with every step.
        let net = self.net.valid();
        let device = self.device.clone().without_autodiff();
        let zero = Tensor::<2>::zeros([1, task.dims], &device);
        let mut trials = Vec::with_capacity(task.baseline_trials);
        let mut soma_fit = PerUnitFit::new(self.ensembles.len());
        for i in 0..task.baseline_trials {
            self.check_stop(0)?;
            let x = task.scene(
                &vec![0; task.cursors()],
                &self.target(STREAM_BASELINE, i).cue,
            );
            let n = x.len();
            let input = Tensor::<2>::from_data(TensorData::new(x, [1, n]), &device);
            let mut steps = Vec::with_capacity(task.max_steps);
            for _ in 0..task.max_steps {
                let basal = net.basal_phase(input.clone(), Some(&mut rng));
                let state = net.apical_phase(&basal, zero.clone(), Some(&mut rng));
                let rate = host(state.rate);
                soma_fit.add(&rate, &host(state.apical));
                steps.push(rate);
            }
            trials.push(steps);
        }
        let (slope, offset) = soma_fit.solve();
        let units = slope.len();
        let tensor =
            |v: Vec<f32>| Tensor::<1>::from_data(TensorData::new(v, [units]), &self.device);
        self.net = self
            .net
            .clone()
            .with_soma_prediction(tensor(slope), tensor(offset));
        let open_loop = Calibration::from_baseline(task, &self.ensembles, &trials)
            .map_err(apical_tasks::TaskError::from)?;
        let calibration = open_loop.closed_loop(task.chance, |calibration| {
            self.check_stop(0)?;
            self.closed_loop_hit_rate(calibration, STREAM_CALIBRATION)
        })?;
        let chance = self.closed_loop_hit_rate(&calibration, STREAM_CHANCE)?;
        Ok((calibration, chance))
    }

    /// The fraction of `task.baseline_trials` closed-loop trials without learning (noise from
    /// `stream`, the same for every θ: common random numbers) that hit with `calibration`.
    fn closed_loop_hit_rate(
        &self,
        calibration: &Calibration,
        stream: u64,
    ) -> Result<f64, RunError> {
        let task = self.task;
        let net = self.net.valid();
        let device = self.device.clone().without_autodiff();
        let mut hits = 0usize;
        for i in 0..task.baseline_trials {
            self.check_stop(0)?;
            let mut rng = SeededRng::for_trial(self.config.training.seed, stream, i as u64);
            let mut trial = BciTrial::for_target(task, self.target(stream, i));
            for _ in 0..task.max_steps {
                let x = trial.scene(task);
                let n = x.len();
                let input = Tensor::from_data(TensorData::new(x, [1, n]), &device);
                let rates = host(net.basal_phase(input, Some(&mut rng)).rate);
                if trial
                    .observe(task, calibration, &self.ensembles, &rates)
                    .hit
                {
                    hits += 1;
                    break;
                }
            }
        }
        Ok(hits as f64 / task.baseline_trials as f64)
    }

    /// The baseline block of a new run: calibrates, writes `calibration.json` and
    /// `ensembles.npy`.
    fn baseline(&mut self) -> Result<(), RunError> {
        let (calibration, chance) = self.calibrate()?;
        self.chance_measured = Some(chance);
        let text = serde_json::to_string_pretty(&calibration).expect("calibration serialises");
        write_atomic(&self.run_dir().calibration(), text.as_bytes())?;
        let ens: Vec<i64> = self.ensembles.iter().map(|&m| m as i64).collect();
        npy::write_i64(&self.run_dir().ensembles(), &[ens.len()], &ens)?;
        self.calibration = Some(calibration);
        Ok(())
    }

    /// Loads the newest usable checkpoint; returns the first day still to run (`None`: no
    /// checkpoint, start from the baseline block).
    fn restore(&mut self) -> Result<Option<usize>, RunError> {
        if !self.session.has_checkpoint()? {
            return Ok(None);
        }
        // The calibration, exactly as the run computed it: the baseline block again, on the
        // initial network (the checkpoint then replaces the network).
        let initial = self.net.clone();
        let (calibration, chance) = self.calibrate()?;
        self.calibration = Some(calibration);
        self.chance_measured = Some(chance);
        self.net = initial;
        let (net, learner, device) = (&mut self.net, &mut self.learner, &self.device);
        let session = &self.session;
        let mut wall_before = 0.0;
        let restored = session.restore(|ck| {
            wall_before = ck.state.wall_seconds;
            *net = session.load_learning(net, learner, ck, device)?;
            Ok(())
        })?;
        if let Some(day) = restored {
            self.wall_before = wall_before;
            self.reload_logs(day)?;
            self.resumed_from = Some(day);
        }
        Ok(restored)
    }

    fn reload_logs(&mut self, days_done: usize) -> Result<(), RunError> {
        let run = self.run_dir();
        let (trials_csv, metrics_csv) = (run.trials(), run.metrics());
        let read = |path: &Path| -> Result<String, RunError> {
            let path = path.to_path_buf();
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                Err(e) => Err(apical_store::StoreError::Read {
                    path,
                    source: e.into(),
                }
                .into()),
            }
        };
        let bad =
            |path: &Path, line: &str| RunError::resume(path, format!("unreadable row {line:?}"));
        self.trials.clear();
        for line in read(&trials_csv)?.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let parse = || -> Option<TrialRow> {
                Some(TrialRow {
                    day: f.first()?.parse::<usize>().ok()?.checked_sub(1)?,
                    trial: f.get(1)?.parse().ok()?,
                    success: f.get(2)?.parse::<u8>().ok()? == 1,
                    steps: f.get(3)?.parse().ok()?,
                    probe: f
                        .get(5)
                        .map_or(Some(false), |v| v.parse::<u8>().ok().map(|p| p == 1))?,
                })
            };
            let row = parse().ok_or_else(|| bad(&trials_csv, line))?;
            if row.day < days_done {
                self.trials.push(row);
            }
        }
        self.days.clear();
        for line in read(&metrics_csv)?.lines().skip(1) {
            let f: Vec<f64> = line.split(',').filter_map(|v| v.parse().ok()).collect();
            if f.len() != 7 {
                return Err(bad(&metrics_csv, line));
            }
            let row = DayRow {
                day: f[0] as usize,
                success: f[1],
                rewards: f[2] as usize,
                mean_steps: f[3],
                rate_p_plus: f[4],
                rate_p_minus: f[5],
                rate_p0: f[6],
            };
            if row.day <= days_done {
                self.days.push(row);
            }
        }
        if self.trials.len() != days_done * self.task.trials_per_day || self.days.len() != days_done
        {
            return Err(RunError::resume(
                self.run_dir().root(),
                format!("trials.csv / metrics.csv do not hold the {days_done} day(s) the checkpoint has"),
            ));
        }
        Ok(())
    }

    fn save_checkpoint(&self, days_done: usize, wall_seconds: f64) -> Result<(), RunError> {
        let state = LoopState {
            format_version: crate::checkpoint::CHECKPOINT_FORMAT,
            step: days_done,
            wall_seconds,
            diagnostics_pending: Default::default(),
        };
        self.session
            .save_checkpoint(&self.net, &self.learner, state, &[])
    }

    /// Runs one trial (global index `index`) and records it at row `row` of `arrays`.
    fn trial(
        &mut self,
        index: usize,
        row: usize,
        arrays: &mut DayArrays,
    ) -> Result<(bool, usize), RunError> {
        let task = self.task;
        // `days` runs only after `baseline` (a new run) or `restore` (a resumed one) set it.
        let calibration = self
            .calibration
            .clone()
            .expect("the calibration is set before the first day (baseline or restore)");
        let mut rng = SeededRng::for_trial(self.config.training.seed, STREAM_TRIALS, index as u64);
        let mut trial = BciTrial::for_target(task, self.target(STREAM_TRIALS, index));
        if task.is_probe(index) {
            return self.probe(&calibration, trial, &mut rng);
        }
        let units = arrays.units;
        let bins = task.bins() as f32;
        // What the rule is told each step: the error decrease, or the reward alone.
        let kind = self.config.rule.closed_loop_signal();
        let signal = |step: &apical_tasks::bci::BciStep| match kind {
            ClosedLoopSignal::ErrorChange => -step.error_change as f32,
            ClosedLoopSignal::Reward => f32::from(u8::from(step.hit)),
        };
        // The closed loop needs a rule that learns from reward and records its compartments; a
        // config that names another is refused (build_bci_rule builds only such rules today).
        let unsupported = |message: String| -> RunError {
            ConfigError::new(Path::new("config"), "rule.kind", message).into()
        };
        for step in 0..task.max_steps {
            let input = self.input(&trial);
            let rates = self
                .learner
                .act(&self.net, input, &mut rng)
                .map_err(|e| unsupported(e.to_string()))?;
            let rates = host(rates[0].clone());
            let outcome = trial.observe(task, &calibration, &self.ensembles, &rates);
            let error: Vec<f32> = outcome.error.iter().map(|&e| e as f32 / bins).collect();
            let movement: Vec<f32> = outcome.movement.iter().map(|&m| m as f32).collect();
            self.learner
                .observe_error(&error, &movement)
                .map_err(|e| unsupported(e.to_string()))?;
            let (net, _) = self
                .learner
                .reinforce(self.net.clone(), &[signal(&outcome)], &mut rng)
                .map_err(|e| unsupported(e.to_string()))?;
            self.net = net;
            let state = self.learner.compartments().ok_or_else(|| {
                unsupported(format!(
                    "{} records no dendritic compartments; the closed loop records them (use dendritic or reward-broadcast)",
                    self.config.rule.kind()
                ))
            })?;
            let at = row * arrays.steps + step;
            for (k, t) in [state.basal, state.apical, state.rate, state.residual]
                .into_iter()
                .enumerate()
            {
                arrays.unit_arrays[k][at * units..(at + 1) * units].copy_from_slice(&host(t));
            }
            for (k, v) in [
                outcome.progress,
                outcome.angle_deg,
                outcome.error_deg,
                outcome.error_change,
            ]
            .into_iter()
            .enumerate()
            {
                arrays.step_arrays[k][at] = v as f32;
            }
            arrays.mask[at] = 1;
            if outcome.hit {
                self.learner.end_episode();
                return Ok((true, step + 1));
            }
        }
        self.learner.end_episode();
        Ok((false, task.max_steps))
    }

    /// A probe trial: the network acts with its noise, the cursor moves, nothing learns and
    /// nothing is recorded but the outcome.
    fn probe(
        &mut self,
        calibration: &Calibration,
        mut trial: BciTrial,
        rng: &mut SeededRng,
    ) -> Result<(bool, usize), RunError> {
        let task = self.task;
        let net = self.net.valid();
        for step in 0..task.max_steps {
            let x = trial.scene(task);
            let n = x.len();
            let input =
                Tensor::from_data(TensorData::new(x, [1, n]), &net.layer.basal.weight.device());
            let rates = host(net.basal_phase(input, Some(&mut *rng)).rate);
            if trial
                .observe(task, calibration, &self.ensembles, &rates)
                .hit
            {
                return Ok((true, step + 1));
            }
        }
        Ok((false, task.max_steps))
    }

    fn days(mut self, start_day: usize) -> Result<RunSummary, RunError> {
        let task = self.task;
        let started = Instant::now();
        let mut steps_this_session = 0usize;
        let units = self.ensembles.len();
        for day in start_day..task.days {
            let mut arrays = DayArrays::new(task.trials_per_day, task.max_steps, units);
            for i in 0..task.trials_per_day {
                // The day in progress is dropped; resume repeats it exactly.
                self.check_stop(day)?;
                let index = day * task.trials_per_day + i;
                let (success, steps) = self.trial(index, i, &mut arrays)?;
                steps_this_session += steps;
                self.trials.push(TrialRow {
                    day,
                    trial: i,
                    success,
                    steps,
                    probe: task.is_probe(index),
                });
                if let Some(quantity) = self.learner.non_finite(&self.net) {
                    return self.diverged(day, quantity, started);
                }
            }
            self.end_day(day, &arrays)?;
            let wall = self.wall_before + started.elapsed().as_secs_f64();
            self.save_checkpoint(day + 1, wall)?;
            let last = self.days.last().expect("a day row");
            if self.session.options().progress {
                eprintln!(
                    "apical: day {}/{}: success {:.2}, mean steps {:.1}",
                    day + 1,
                    task.days,
                    last.success,
                    last.mean_steps
                );
            }
            self.session.check_halt(day + 1, task.days)?;
        }
        let session = started.elapsed().as_secs_f64();
        let wall = self.wall_before + session;
        self.finish(wall, session, steps_this_session)
    }

    /// Writes the day's recordings, `trials.csv` and `metrics.csv`.
    fn end_day(&mut self, day: usize, arrays: &DayArrays) -> Result<(), RunError> {
        if self.config.logging.record_days {
            arrays.write(&self.run_dir().day(day))?;
        }
        let today: Vec<&TrialRow> = self.trials.iter().filter(|t| t.day == day).collect();
        let hits = today.iter().filter(|t| t.success).count();
        let mean_rate = |group: i8| {
            let (mut sum, mut n) = (0.0, 0usize);
            let rate = &arrays.unit_arrays[2];
            for (at, &m) in arrays.mask.iter().enumerate() {
                if m == 1 {
                    for (u, &g) in self.ensembles.iter().enumerate() {
                        // P+ / P− of every dimension (labels ±(k + 1)), and P0.
                        if g.signum() == group {
                            sum += rate[at * arrays.units + u] as f64;
                            n += 1;
                        }
                    }
                }
            }
            // NaN for an empty group (no P0 units).
            sum / n as f64
        };
        self.days.push(DayRow {
            day: day + 1,
            success: hits as f64 / today.len() as f64,
            rewards: hits,
            mean_steps: today.iter().map(|t| t.steps as f64).sum::<f64>() / today.len() as f64,
            rate_p_plus: mean_rate(1),
            rate_p_minus: mean_rate(-1),
            rate_p0: mean_rate(0),
        });
        let mut trials = String::from("day,trial,success,steps,reward,probe\n");
        for t in &self.trials {
            let _ = writeln!(
                trials,
                "{},{},{},{},{},{}",
                t.day + 1,
                t.trial,
                u8::from(t.success),
                t.steps,
                u8::from(t.success),
                u8::from(t.probe)
            );
        }
        write_atomic(&self.run_dir().trials(), trials.as_bytes())?;
        let mut metrics =
            String::from("day,success,rewards,mean_steps,rate_p_plus,rate_p_minus,rate_p0\n");
        for d in &self.days {
            let _ = writeln!(
                metrics,
                "{},{},{},{},{},{},{}",
                d.day, d.success, d.rewards, d.mean_steps, d.rate_p_plus, d.rate_p_minus, d.rate_p0
            );
        }
        Ok(write_atomic(&self.run_dir().metrics(), metrics.as_bytes())?)
    }

    fn summary_base(
        &self,
        wall_seconds: f64,
        session_seconds: f64,
        session_steps: usize,
    ) -> Summary {
        let config = self.config;
        let success_by_day: Vec<f64> = self.days.iter().map(|d| d.success).collect();
        let late = &success_by_day[success_by_day.len().saturating_sub(2)..];
        let steps = self.trials.iter().map(|t| t.steps).sum();
        let successes: Vec<bool> = self.trials.iter().map(|t| t.success).collect();
        // With probe trials the criterion is taken over them alone, reported in trials.
        let probes: Vec<&TrialRow> = self.trials.iter().filter(|t| t.probe).collect();
        let trials_to_criterion = if self.task.probe_every > 0 {
            let probe_successes: Vec<bool> = probes.iter().map(|t| t.success).collect();
            apical_tasks::bci::trials_to_criterion(
                &probe_successes,
                self.task.criterion_window,
                self.task.criterion,
            )
            .map(|k| k * self.task.probe_every)
        } else {
            apical_tasks::bci::trials_to_criterion(
                &successes,
                self.task.criterion_window,
                self.task.criterion,
            )
        };
        // The floor-free measure: the exponential curve fitted to the same outcomes (trial
        // index from 1 over the whole run), started at the measured chance.
        let fitted_on: Vec<(f64, bool)> = self
            .trials
            .iter()
            .enumerate()
            .filter(|(_, t)| self.task.probe_every == 0 || t.probe)
            .map(|(i, t)| ((i + 1) as f64, t.success))
            .collect();
        let planned = (self.task.days * self.task.trials_per_day) as f64;
        let fit = self.chance_measured.and_then(|chance| {
            apical_tasks::learning_curve::fit_learning_curve(
                &fitted_on,
                chance,
                self.task.criterion,
                planned.min(self.trials.len() as f64),
            )
        });
        let probe_success_by_day = (self.task.probe_every > 0).then(|| {
            (0..self.days.len())
                .map(|d| {
                    let today: Vec<bool> = probes
                        .iter()
                        .filter(|t| t.day == d)
                        .map(|t| t.success)
                        .collect();
                    today.iter().filter(|&&s| s).count() as f64 / today.len().max(1) as f64
                })
                .collect()
        });
        Summary {
            steps,
            planned_steps: steps,
            epochs: 0.0,
            n_params: self.net.num_params(),
            wall_seconds,
            steps_per_second: if session_seconds > 0.0 {
                session_steps as f64 / session_seconds
            } else {
                0.0
            },
            resumed_from_step: self.resumed_from,
            closed_loop: ClosedLoopSummary {
                chance: Some(self.task.chance),
                chance_measured: self.chance_measured,
                trials_to_criterion,
                trials_to_criterion_fit: fit.and_then(|f| f.trials_to_criterion),
                fitted_asymptote: fit.map(|f| f.asymptote),
                fitted_tau: fit.map(|f| f.tau),
                probe_success_by_day,
                trials_run: Some(successes.len()),
                threshold: self.calibration.as_ref().map(|c| c.threshold),
                rewards_per_day: Some(self.days.iter().map(|d| d.rewards).collect()),
                late_success: (!late.is_empty())
                    .then(|| late.iter().sum::<f64>() / late.len() as f64),
                success_by_day: Some(success_by_day),
            },
            ..crate::summary_of_run(config)
        }
    }

    fn diverged(
        self,
        day: usize,
        quantity: &'static str,
        started: Instant,
    ) -> Result<RunSummary, RunError> {
        let session = started.elapsed().as_secs_f64();
        let summary = self.summary_base(self.wall_before + session, session, 0);
        self.session.diverged(summary, day + 1, quantity)
    }

    fn finish(
        self,
        wall_seconds: f64,
        session_seconds: f64,
        steps: usize,
    ) -> Result<RunSummary, RunError> {
        if self.config.logging.plots {
            let chance: Vec<(f64, f64)> = self
                .days
                .iter()
                .map(|d| (d.day as f64, self.task.chance))
                .collect();
            let success: Vec<(f64, f64)> = self
                .days
                .iter()
                .map(|d| (d.day as f64, d.success))
                .collect();
            plot::line_plot(
                &self.run_dir().plots(),
                apical_store::plot_names::SUCCESS_BY_DAY,
                &format!("BCI — {}", self.config.rule.kind()),
                "day",
                "fraction of successful trials",
                Some((0.0, 1.0)),
                &[
                    plot::PlotSeries::line("success", success),
                    plot::PlotSeries::line("chance", chance),
                ],
            )?;
        }
        let mut summary = self.summary_base(wall_seconds, session_seconds, steps);
        summary.activity = (0..self.task.days).map(apical_store::day_name).collect();
        self.session.finish(summary)
    }
}
