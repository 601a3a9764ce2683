//! `apical fewshot`: the few-shot protocol, built on sweeps.
//!
//! For every config (one rule on one model each), every n (labelled examples per class, or
//! "all"), every seed and — with `--pretrained` — with and without generative pretraining:
//! the same tuning grid for every rule (default: the config's learning rate × {⅓, 1, 3}) is run
//! on the seed's labelled subset (`task.train_per_class = n`, `task.subset_seed = seed`); each
//! run keeps its best validation evaluation (`best_validation_step`: highest validation
//! accuracy, then lowest loss; `training.patience` ends it early), the grid point with the
//! lowest validation error there (then loss) is chosen, and its test error at that step is the
//! result.
//! The test split is never used for a choice. Song et al.'s "minimum test error" (the lowest
//! test error seen during training, an optimistic measure that does use the test split) is
//! reported beside it, for comparison with their figure only.
//!
//! Layout of the output directory:
//! - `protocol.toml` — what was asked (a rerun into the same directory must ask the same, and
//!   then continues: finished runs are kept);
//! - `pretrain/<model>.toml`, `pretrain/<model>/` — `--pretrained auto`: the pretraining config
//!   and one generative run per seed (a sweep; `runs/seed=<s>`): predictive coding in generative mode on every training image, without
//!   labels; fine-tuning loads its hidden layers (`training.init_from`, `init_layers`);
//! - `runs/<config>/<scratch|pretrained>/seed=<s>/` — one sweep per seed over n × the grid;
//! - `fewshot.csv`, `fewshot_summary.csv`, `fewshot_paired.csv`, `fewshot_auc.csv`,
//!   `fewshot.{png,svg}` — see [`results`].

pub mod controls;
pub mod results;

use std::path::{Path, PathBuf};

use crate::sweep::{run_local_many, LocalOptions, SweepDir, SweepPlan};
use apical_learn::{PcMode, PcSettings, RuleConfig};
use apical_run::{split_override, ConfigError, ExperimentConfig, ProtocolKind, RunError};
use apical_store::write_atomic;

use crate::ExperimentError;

pub use results::*;

/// A command-line argument the protocol cannot use (exit 2, like every usage error).
fn usage(message: String) -> RunError {
    RunError::Usage { message }
}

/// Labelled training examples per class: a count or the whole training split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PerClass {
    /// n examples per class.
    Count(usize),
    /// Every training example (less the validation split).
    All,
}

impl PerClass {
    /// Parses `1,2,5,all`.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, RunError> {
        let mut out = Vec::new();
        for item in text.split(',').map(str::trim) {
            let n = if item == "all" {
                PerClass::All
            } else {
                match item.parse::<usize>() {
                    Ok(n) if n >= 1 => PerClass::Count(n),
                    _ => {
                        return Err(usage(format!(
                            "--n expects counts ≥ 1 or \"all\", comma-separated (1,2,5,all), got {item:?}"
                        )))
                    }
                }
            };
            if out.contains(&n) {
                return Err(usage(format!("--n lists {item} twice")));
            }
            out.push(n);
        }
        out.sort();
        Ok(out)
    }

    /// As written in tables: the count or `all`.
    pub fn label(&self) -> String {
        match self {
            PerClass::Count(n) => n.to_string(),
            PerClass::All => "all".into(),
        }
    }

    fn value(&self) -> toml::Value {
        match self {
            PerClass::Count(n) => toml::Value::Integer(*n as i64),
            PerClass::All => toml::Value::String("all".into()),
        }
    }
}

/// Where fine-tuning starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pretrained {
    /// Run the generative pretraining here (one run per seed and model).
    Auto,
    /// A finished run (or checkpoint); `{seed}` in the path is replaced by the seed.
    Run(String),
}

/// The seeds `--seeds` names: a count (`10` → 0..9) or a comma-separated list.
pub fn parse_seeds(text: &str) -> Result<Vec<u64>, RunError> {
    let bad = || {
        usage(format!(
            "--seeds expects a count (10 → seeds 0..9) or a list (3,4,5), got {text:?}"
        ))
    };
    if text.contains(',') {
        let seeds: Vec<u64> = text
            .split(',')
            .map(|s| s.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        let mut sorted = seeds.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != seeds.len() {
            return Err(usage(format!("--seeds lists a seed twice: {text:?}")));
        }
        Ok(seeds)
    } else {
        match text.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Ok((0..n).collect()),
            _ => Err(bad()),
        }
    }
}

/// The tuning grid `--tune` names: `lr=1e-3,3e-3;steps=100,300` (`lr`, `steps`, `batch` stand
/// for `training.learning_rate`, `training.steps`, `training.batch_size`; other keys are
/// dotted config keys). Values are TOML.
pub fn parse_tune(text: &str) -> Result<Vec<(String, Vec<toml::Value>)>, RunError> {
    let mut out: Vec<(String, Vec<toml::Value>)> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, values)) = part.split_once('=') else {
            return Err(usage(format!(
                "--tune expects key=v1,v2;key=v1,v2, got {part:?}"
            )));
        };
        let key = match key.trim() {
            "lr" => "training.learning_rate".to_string(),
            "steps" => "training.steps".to_string(),
            "batch" => "training.batch_size".to_string(),
            k => k.to_string(),
        };
        if out.iter().any(|(k, _)| *k == key) {
            return Err(usage(format!("--tune names {key} twice")));
        }
        let mut parsed = Vec::new();
        for v in values.split(',').map(str::trim) {
            let (_, value) = split_override(&format!("{key}={v}"))
                .map_err(|e| usage(format!("--tune {key}: {}", e.message)))?;
            parsed.push(value);
        }
        if parsed.is_empty() || values.trim().is_empty() {
            return Err(usage(format!("--tune {key}: no values")));
        }
        out.push((key, parsed));
    }
    if out.is_empty() {
        return Err(usage("--tune is empty; give key=v1,v2".into()));
    }
    Ok(out)
}

/// What `apical fewshot` was asked.
#[derive(Debug, Clone)]
pub struct FewshotOptions {
    /// The configs (one rule on one model each).
    pub configs: Vec<PathBuf>,
    /// `--set` overrides applied to every config.
    pub overrides: Vec<String>,
    /// Examples per class.
    pub n: Vec<PerClass>,
    /// Seeds (of the subset draw and of the run).
    pub seeds: Vec<u64>,
    /// Generative pretraining, run beside training from scratch.
    pub pretrained: Option<Pretrained>,
    /// Overrides of the pretraining runs (`--pretrained auto`).
    pub pretrain_overrides: Vec<String>,
    /// The tuning grid, the same for every config (default: learning rate × {⅓, 1, 3}).
    pub tune: Option<Vec<(String, Vec<toml::Value>)>>,
    /// The output directory.
    pub out: PathBuf,
    /// How the runs are executed.
    pub local: LocalOptions,
}

/// One config with or without pretraining: a line of the tables.
#[derive(Debug, Clone)]
pub struct Condition {
    /// Config file stem.
    pub config: String,
    /// The rule's config name.
    pub rule: String,
    /// The model kind.
    pub model: String,
    /// Started from the generative pretraining.
    pub pretrained: bool,
    /// Per seed: the sweep directory of its runs.
    pub sweeps: Vec<(u64, SweepDir, SweepPlan)>,
}

/// Keys the protocol sets itself per point (`--tune` may not sweep them).
const PROTOCOL_KEYS: [&str; 6] = [
    "task.train_per_class",
    "task.validation_per_class",
    "task.subset_seed",
    "training.seed",
    "training.init_from",
    "training.init_layers",
];

/// Steps of a pretraining run unless `--pretrain-set training.steps=…` says otherwise.
pub const DEFAULT_PRETRAIN_STEPS: usize = 1000;

fn bad(file: &Path, key: &str, message: impl Into<String>) -> ExperimentError {
    ConfigError::new(file, key, message).into()
}

fn quote(path: &Path) -> toml::Value {
    toml::Value::String(path.to_string_lossy().into_owned())
}

/// A sweep file's text from its parts (keys quoted, values TOML).
fn sweep_text(
    base: &Path,
    set: &[(String, toml::Value)],
    grid: &[(String, Vec<toml::Value>)],
) -> String {
    let mut root = toml::Table::new();
    root.insert("base".into(), quote(base));
    let mut s = toml::Table::new();
    for (k, v) in set {
        s.insert(k.clone(), v.clone());
    }
    root.insert("set".into(), toml::Value::Table(s));
    let mut g = toml::Table::new();
    for (k, v) in grid {
        g.insert(k.clone(), toml::Value::Array(v.clone()));
    }
    root.insert("grid".into(), toml::Value::Table(g));
    toml::to_string(&root).expect("a sweep table serialises")
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Checks everything, then runs what is not finished and writes the tables.
pub fn run(options: &FewshotOptions) -> Result<FewshotTables, ExperimentError> {
    let configs = load_configs(options)?;
    let protocol = protocol_text(options);
    let out = &options.out;
    let protocol_file = out.join("protocol.toml");
    match std::fs::read_to_string(&protocol_file) {
        // The same study with other seeds or n values: extended (the runs made are kept and
        // reused; every other setting must be the same).
        Ok(existing) if existing != protocol => {
            let differing = protocol_differences(&existing, &protocol);
            if !differing.is_empty() {
                return Err(RunError::OutputDir {
                    path: out.clone(),
                    message: format!(
                        "holds another few-shot protocol (its protocol.toml differs in {}); only --n and --seeds may change to extend a study; pick another --out",
                        differing.join(", ")
                    ),
                }
                .into());
            }
            eprintln!(
                "apical: extending the few-shot study in {} (other --n or --seeds; finished runs are reused)",
                out.display()
            );
        }
        Ok(_) => {}
        Err(_) if out.exists() && std::fs::read_dir(out).is_ok_and(|mut e| e.next().is_some()) => {
            return Err(RunError::OutputDir {
                path: out.clone(),
                message: "exists, is not empty and is not a few-shot directory; pick another --out"
                    .into(),
            }
            .into())
        }
        Err(_) => {}
    }
    // Every sweep is planned (every point's config built and checked) before anything runs; a
    // refusal leaves no trace (the pretraining configs written for planning are removed).
    let existed = out.exists();
    let planned = plan(options, &configs);
    if planned.is_err() {
        // Only what planning wrote (the directory was new, or empty: checked above).
        if !existed {
            let _ = std::fs::remove_dir_all(out);
        } else if !protocol_file.exists() {
            let _ = std::fs::remove_dir_all(out.join("pretrain"));
        }
    }
    let (pretraining, conditions) = planned?;
    std::fs::create_dir_all(out).map_err(|source| apical_store::StoreError::Write {
        path: out.clone(),
        source,
    })?;
    let _lock = apical_store::RunLock::acquire(out)?;
    write_atomic(&protocol_file, protocol.as_bytes())?;
    let total: usize = pretraining
        .iter()
        .map(|p| p.plan.points.len())
        .sum::<usize>()
        + conditions
            .iter()
            .flat_map(|c| &c.sweeps)
            .map(|s| s.2.points.len())
            .sum::<usize>();
    eprintln!(
        "apical: few-shot protocol: {} configs × {} n × {} seeds{} × {} tuning points = {total} runs → {}",
        configs.len(),
        options.n.len(),
        options.seeds.len(),
        if options.pretrained.is_some() { " × {scratch, pretrained}" } else { "" },
        tune_grid(options, &configs[0].1).iter().map(|(_, v)| v.len()).product::<usize>(),
        out.display()
    );
    // The pretraining first (fine-tuning loads it), then every fine-tuning sweep in one pool.
    let pre: Vec<(SweepDir, &SweepPlan)> = pretraining
        .iter()
        .map(|p| Ok((SweepDir::prepare_extending(&p.dir, &p.plan)?, &p.plan)))
        .collect::<Result<_, ExperimentError>>()?;
    run_all(&pre, &options.local, &out.join("pretrain"))?;
    // A diverged pretraining run counts as finished for its sweep; fine-tuning must not start
    // from it.
    for (dir, plan) in &pre {
        for point in &plan.points {
            let run = dir.run_dir(&point.name);
            if let Ok(summary) = apical_store::Summary::read(&run) {
                if summary.status != apical_store::RunStatus::Completed {
                    return Err(ExperimentError::PretrainingDiverged {
                        run,
                        step: summary.diverged_at_step.unwrap_or(0),
                    });
                }
            }
        }
    }
    let fine: Vec<(SweepDir, &SweepPlan)> = conditions
        .iter()
        .flat_map(|c| &c.sweeps)
        .map(|(_, dir, plan)| Ok((SweepDir::prepare_extending(&dir.path, plan)?, plan)))
        .collect::<Result<_, ExperimentError>>()?;
    run_all(&fine, &options.local, &out.join("runs"))?;
    let tune_keys: Vec<String> = tune_grid(options, &configs[0].1)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let tables = results::tabulate(&conditions, &options.n, &tune_keys)?;
    tables.write(out)?;
    Ok(tables)
}

/// The pretraining sweeps and the conditions (one sweep per seed each), all checked.
fn plan(
    options: &FewshotOptions,
    configs: &[(PathBuf, ExperimentConfig)],
) -> Result<(Vec<Pretraining>, Vec<Condition>), ExperimentError> {
    let pretraining = plan_pretraining(options, configs)?;
    let mut conditions = Vec::new();
    for (path, config) in configs {
        // `--pretrained RUN` is checked against the config's model: its data (input and output
        // widths) and device are built once per config, not once per seed.
        let probe = match &options.pretrained {
            Some(Pretrained::Run(_)) => Some((
                apical_run::build_data(config)?,
                apical_run::init_device(config.backend.kind)?,
            )),
            _ => None,
        };
        let variants: &[bool] = if options.pretrained.is_some() {
            &[false, true]
        } else {
            &[false]
        };
        for &pretrained in variants {
            let mut sweeps = Vec::new();
            for &seed in &options.seeds {
                let init = if pretrained {
                    Some(init_run(
                        options,
                        &pretraining,
                        config,
                        probe.as_ref(),
                        seed,
                    )?)
                } else {
                    None
                };
                let (dir, plan) = plan_runs(options, path, config, seed, init.as_deref())?;
                sweeps.push((seed, dir, plan));
            }
            conditions.push(Condition {
                config: stem(path),
                rule: config.rule.kind().to_string(),
                model: config.model.kind().to_string(),
                pretrained,
                sweeps,
            });
        }
    }
    Ok((pretraining, conditions))
}

/// Runs the sweeps' unfinished points in one pool; failed points (as `<sweep dir>/<point>`)
/// are an error naming `dir`.
fn run_all(
    sweeps: &[(SweepDir, &SweepPlan)],
    local: &LocalOptions,
    dir: &Path,
) -> Result<(), ExperimentError> {
    let refs: Vec<(&SweepDir, &SweepPlan)> = sweeps.iter().map(|(d, p)| (d, *p)).collect();
    let outcomes = run_local_many(&refs, local).map_err(|e| match e {
        ExperimentError::SweepInterrupted { signal, dir } => ExperimentError::FewshotInterrupted {
            signal,
            // The output directory: the sweep's ancestor holding protocol.toml.
            dir: dir
                .ancestors()
                .find(|a| a.join("protocol.toml").is_file())
                .map(Path::to_path_buf)
                .unwrap_or(dir),
        },
        other => other,
    })?;
    let failed: Vec<String> = sweeps
        .iter()
        .zip(outcomes)
        .flat_map(|((sweep, _), o)| {
            o.failed
                .into_iter()
                .map(move |(point, _)| format!("{}/{point}", sweep.path.display()))
        })
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ExperimentError::SweepFailed {
            failed,
            dir: dir.to_path_buf(),
        })
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into())
}

/// Loads and checks every config: a supervised task with a validation split.
/// Refuses, before anything is written, an `--n` larger than the task's smallest class allows
/// (with the validation split): the task's data are read once, with the largest n asked, as
/// `apical run` would read them (exit 2, naming `task.train_per_class`, and the largest n the
/// data allow).
fn check_sizes(options: &FewshotOptions, path: &Path) -> Result<(), ExperimentError> {
    let Some(largest) = options.n.iter().rev().find_map(|n| match n {
        PerClass::Count(k) => Some(*k),
        PerClass::All => None,
    }) else {
        return Ok(());
    };
    let mut set = options.overrides.clone();
    set.push(format!("task.train_per_class={largest}"));
    let checked = ExperimentConfig::load(path, &set)?;
    match apical_run::build_data(&checked) {
        Ok(_) => Ok(()),
        Err(RunError::Data(apical_tasks::TaskError::InvalidParameter(e))) => {
            Err(bad(path, &e.key, format!("--n {largest}: {}", e.message)))
        }
        Err(other) => Err(other.into()),
    }
}

fn load_configs(
    options: &FewshotOptions,
) -> Result<Vec<(PathBuf, ExperimentConfig)>, ExperimentError> {
    if options.configs.is_empty() {
        return Err(RunError::Usage {
            message: "apical fewshot needs at least one config".into(),
        }
        .into());
    }
    let mut out: Vec<(PathBuf, ExperimentConfig)> = Vec::new();
    for path in &options.configs {
        let config = ExperimentConfig::load(path, &options.overrides)?;
        if ProtocolKind::of(&config) == ProtocolKind::ClosedLoop {
            return Err(bad(path, "task.kind", "few-shot learning needs a labelled task (digits, idx, orientation), not the closed-loop bci task"));
        }
        let subset = config.task.subset().unwrap_or_default();
        if subset.validation_per_class.is_none() {
            return Err(bad(
                path,
                "task.validation_per_class",
                "few-shot tuning and early stopping need a validation split: set task.validation_per_class (e.g. 10)",
            ));
        }
        if config.training.init_from.is_some() && options.pretrained.is_some() {
            return Err(bad(
                path,
                "training.init_from",
                "is set in the config and --pretrained is given; use one",
            ));
        }
        if out.iter().any(|(p, _)| stem(p) == stem(path)) {
            return Err(RunError::Usage {
                message: format!(
                    "two configs are named {}; each condition needs its own file name",
                    stem(path)
                ),
            }
            .into());
        }
        check_sizes(options, path)?;
        out.push((absolute(path), config));
    }
    // Every config gets a grid of the same size (the tuning budget is equal).
    if let Some(tune) = &options.tune {
        for (key, _) in tune {
            if PROTOCOL_KEYS.contains(&key.as_str()) {
                return Err(RunError::Usage {
                    message: format!("--tune cannot sweep {key}: the protocol sets it"),
                }
                .into());
            }
        }
    }
    Ok(out)
}

/// The tuning grid of `config`.
fn tune_grid(
    options: &FewshotOptions,
    config: &ExperimentConfig,
) -> Vec<(String, Vec<toml::Value>)> {
    match &options.tune {
        Some(t) => t.clone(),
        None => {
            let lr = config.training.learning_rate;
            vec![(
                "training.learning_rate".into(),
                [lr / 3.0, lr, lr * 3.0]
                    .iter()
                    .map(|&v| toml::Value::Float((v * 1e9).round() / 1e9))
                    .collect(),
            )]
        }
    }
}

/// The settings two protocol files differ in, other than `n` and `seeds` (which a study may
/// extend).
fn protocol_differences(old: &str, new: &str) -> Vec<String> {
    let parse = |t: &str| -> toml::Table {
        let mut table: toml::Table = t.parse().unwrap_or_default();
        table.remove("n");
        table.remove("seeds");
        table
    };
    let (a, b) = (parse(old), parse(new));
    let mut keys: Vec<String> = a.keys().chain(b.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| a.get(k) != b.get(k)).collect()
}

fn protocol_text(options: &FewshotOptions) -> String {
    let mut t = toml::Table::new();
    let strings = |v: &[String]| {
        toml::Value::Array(v.iter().map(|s| toml::Value::String(s.clone())).collect())
    };
    t.insert(
        "configs".into(),
        strings(
            &options
                .configs
                .iter()
                .map(|p| absolute(p).to_string_lossy().into_owned())
                .collect::<Vec<_>>(),
        ),
    );
    t.insert("set".into(), strings(&options.overrides));
    t.insert(
        "n".into(),
        toml::Value::Array(options.n.iter().map(PerClass::value).collect()),
    );
    t.insert(
        "seeds".into(),
        toml::Value::Array(
            options
                .seeds
                .iter()
                .map(|&s| toml::Value::Integer(s as i64))
                .collect(),
        ),
    );
    let pretrained = match &options.pretrained {
        None => "none".to_string(),
        Some(Pretrained::Auto) => "auto".to_string(),
        Some(Pretrained::Run(r)) => r.clone(),
    };
    t.insert("pretrained".into(), toml::Value::String(pretrained));
    t.insert("pretrain_set".into(), strings(&options.pretrain_overrides));
    if let Some(tune) = &options.tune {
        let mut g = toml::Table::new();
        for (k, v) in tune {
            g.insert(k.clone(), toml::Value::Array(v.clone()));
        }
        t.insert("tune".into(), toml::Value::Table(g));
    }
    toml::to_string(&t).expect("protocol serialises")
}

/// The pretraining sweep of one model (on one task).
#[derive(Debug, Clone)]
struct Pretraining {
    /// The model section and the task (without its subset keys) it was made for.
    signature: String,
    dir: PathBuf,
    plan: SweepPlan,
}

/// What a pretraining run shares with a config: the task's images and the model.
fn signature(config: &ExperimentConfig) -> String {
    let mut task = config.task.clone();
    task.clear_subset();
    format!(
        "{}\n{}",
        toml::to_string(&task).unwrap_or_default(),
        toml::to_string(&config.model).unwrap_or_default()
    )
}

/// `--pretrained auto`: one generative sweep (over the seeds) per distinct model.
fn plan_pretraining(
    options: &FewshotOptions,
    configs: &[(PathBuf, ExperimentConfig)],
) -> Result<Vec<Pretraining>, ExperimentError> {
    if options.pretrained != Some(Pretrained::Auto) {
        if !options.pretrain_overrides.is_empty() {
            return Err(RunError::Usage {
                message: "--pretrain-set is for --pretrained auto".into(),
            }
            .into());
        }
        return Ok(Vec::new());
    }
    let mut out: Vec<Pretraining> = Vec::new();
    for (_, config) in configs {
        let sig = signature(config);
        if out.iter().any(|p| p.signature == sig) {
            continue;
        }
        let hidden: Vec<String> = config
            .model
            .hidden()
            .iter()
            .map(|h| h.to_string())
            .collect();
        let mut name = format!("{}-{}", config.model.kind(), hidden.join("x"));
        if out.iter().any(|p| {
            p.dir
                .file_name()
                .is_some_and(|f| f.to_string_lossy() == name)
        }) {
            name = format!("{name}-{}", out.len());
        }
        let dir = options.out.join("pretrain").join(&name);
        let base = options.out.join("pretrain").join(format!("{name}.toml"));
        // The config, turned into predictive coding in generative mode on every training image:
        // predictive coding's defaults (the same for every model whatever the configs' own
        // rules are; `--pretrain-set rule.…` changes them), no labelled subset, no start from
        // or freezing of other weights, a fixed number of steps.
        let mut pretrain = config.clone();
        pretrain.name = None;
        pretrain.rule = RuleConfig::PredictiveCoding(PcSettings {
            mode: PcMode::Generative,
            ..PcSettings::default()
        });
        pretrain.task.clear_subset();
        let training = &mut pretrain.training;
        training.init_from = None;
        training.init_layers = None;
        training.freeze.clear();
        training.epochs = None;
        training.patience = None;
        training.steps = Some(DEFAULT_PRETRAIN_STEPS);
        let base_text = pretrain.to_toml();
        // Checked now (with the pretraining overrides) so that a bad --pretrain-set stops
        // everything before it starts.
        ExperimentConfig::parse(&base_text, &base, &options.pretrain_overrides)?;
        // The user's overrides last, so they win over the quiet logging.
        let mut set = quiet_logging();
        for item in &options.pretrain_overrides {
            set.push(split_override(item).map_err(|e| bad(&base, &e.key, e.message))?);
        }
        let grid = vec![(
            "training.seed".to_string(),
            options
                .seeds
                .iter()
                .map(|&s| toml::Value::Integer(s as i64))
                .collect(),
        )];
        // The base file must exist for the plan; it is written now (before any run).
        let parent = options.out.join("pretrain");
        std::fs::create_dir_all(&parent).map_err(|source| apical_store::StoreError::Write {
            path: parent,
            source,
        })?;
        write_atomic(&base, base_text.as_bytes())?;
        let text = sweep_text(&base, &set, &grid);
        let plan = SweepPlan::parse(&text, &dir.join("sweep.toml"))?;
        out.push(Pretraining {
            signature: sig,
            dir,
            plan,
        });
    }
    Ok(out)
}

/// Logging a protocol run does not need (no TensorBoard, plots or probe recordings; one
/// checkpoint).
fn quiet_logging() -> Vec<(String, toml::Value)> {
    vec![
        ("logging.tensorboard".into(), toml::Value::Boolean(false)),
        ("logging.plots".into(), toml::Value::Boolean(false)),
        ("logging.probe_examples".into(), toml::Value::Integer(0)),
        ("training.keep_checkpoints".into(), toml::Value::Integer(1)),
    ]
}

/// The pretrained run the seed's fine-tuning starts from.
fn init_run(
    options: &FewshotOptions,
    pretraining: &[Pretraining],
    config: &ExperimentConfig,
    probe: Option<&(apical_tasks::Split, burn::tensor::Device)>,
    seed: u64,
) -> Result<PathBuf, ExperimentError> {
    match &options.pretrained {
        Some(Pretrained::Run(pattern)) => {
            let path = PathBuf::from(pattern.replace("{seed}", &seed.to_string()));
            // A finished run (or a checkpoint) whose layers fit this config's model: checked
            // now, before anything runs (exit 2 naming the key, as for `apical run`).
            let mut check = config.clone();
            check.training.init_from = Some(absolute(&path));
            check.training.init_layers = Some((0..config.model.hidden().len()).collect());
            let (data, device) = probe.ok_or_else(|| RunError::Usage {
                message: "internal: --pretrained RUN checked without the config's data".into(),
            })?;
            apical_run::check_init(&check, data, device).map_err(|e| match e {
                RunError::Config(c) => RunError::Config(c.in_file(Path::new("--pretrained"))),
                other => other,
            })?;
            Ok(absolute(&path))
        }
        Some(Pretrained::Auto) => {
            let sig = signature(config);
            let p = pretraining
                .iter()
                .find(|p| p.signature == sig)
                .expect("a pretraining per model");
            let point = p
                .plan
                .points
                .iter()
                .find(|pt| {
                    pt.swept
                        .iter()
                        .any(|(k, v)| k == "training.seed" && v.as_integer() == Some(seed as i64))
                })
                .expect("a point per seed");
            Ok(absolute(
                &SweepDir {
                    path: p.dir.clone(),
                }
                .run_dir(&point.name),
            ))
        }
        None => Err(RunError::Usage {
            message: "no pretraining was asked (--pretrained)".into(),
        }
        .into()),
    }
}

/// The sweep of one config, condition and seed: n × the tuning grid.
fn plan_runs(
    options: &FewshotOptions,
    path: &Path,
    config: &ExperimentConfig,
    seed: u64,
    init: Option<&Path>,
) -> Result<(SweepDir, SweepPlan), ExperimentError> {
    let condition = if init.is_some() {
        "pretrained"
    } else {
        "scratch"
    };
    let dir = options
        .out
        .join("runs")
        .join(stem(path))
        .join(condition)
        .join(format!("seed={seed}"));
    // The quiet logging first, so that the user's overrides win; then the protocol's keys.
    let mut set = quiet_logging();
    for item in &options.overrides {
        set.push(split_override(item).map_err(|e| bad(path, &e.key, e.message))?);
    }
    set.push(("training.seed".into(), toml::Value::Integer(seed as i64)));
    set.push(("task.subset_seed".into(), toml::Value::Integer(seed as i64)));
    if let Some(init) = init {
        set.push(("training.init_from".into(), quote(init)));
        // The hidden layers; the readout starts fresh.
        let hidden = config.model.hidden().len();
        set.push((
            "training.init_layers".into(),
            toml::Value::Array(
                (0..hidden)
                    .map(|l| toml::Value::Integer(l as i64))
                    .collect(),
            ),
        ));
    }
    let mut grid = vec![(
        "task.train_per_class".to_string(),
        options.n.iter().map(PerClass::value).collect(),
    )];
    grid.extend(tune_grid(options, config));
    let text = sweep_text(path, &set, &grid);
    let plan = SweepPlan::parse(&text, &dir.join("sweep.toml"))?;
    Ok((SweepDir { path: dir }, plan))
}
