//! `apical`: config-driven experiments. The only place that reads argv and the environment and
//! that picks the device.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;

use apical_experiments::ExperimentError;
use apical_report::ReportError;
use apical_run::{init_device, ExperimentConfig, RunError, RunOptions};
use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "apical",
    version,
    about = "Brain-inspired learning experiments on burn: generative-feedback and feedforward networks, perceptual tasks, redundancy analyses, sweeps."
)]
#[command(after_help = "Examples:
  apical run configs/quickstart.toml
  apical run configs/orientation_backprop.toml --backend wgpu --set training.steps=2000
  apical run configs/quickstart.toml --set model.hidden=[256,128] --out runs/wide
  apical resume runs/wide
  apical config show configs/quickstart.toml --set training.seed=3
  apical sweep configs/sweeps/quickstart_lr.toml --jobs 2 && apical collect sweeps/quickstart_lr

Exit codes: 0 success, 2 bad input (config, data files, arguments, unavailable backend, busy or unusable output), 1 failure while running (or failed sweep points), 130 / 143 stopped by SIGINT / SIGTERM (a checkpoint was written).")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the experiment a config describes and write a run directory.
    #[command(after_help = "Examples:
  apical run configs/quickstart.toml
  apical run configs/quickstart.toml --backend wgpu
  apical run configs/orientation_backprop.toml --set task.signal_levels=[-12,0,12] --set training.seed=2 --out runs/o2")]
    Run(RunArgs),
    /// Continue a run from its newest checkpoint; the result equals an uninterrupted run.
    #[command(after_help = "Example:\n  apical resume runs/quickstart-20261123-153000")]
    Resume(ResumeArgs),
    /// Re-record a trained network's probe activity under other conditions, without training
    /// (e.g. passive viewing at the same weights).
    #[command(after_help = "Examples:
  apical record runs/redundancy_dendritic --set model.engagement=0 --set task.context_cue=false --out runs/redundancy_dendritic-passive
  apical record runs/redundancy_dendritic --checkpoint step-2000 --set model.engagement=0 --out runs/passive-2000
  apical analyze runs/redundancy_dendritic-passive

Without --checkpoint every step the run recorded (logging.record_at) and its newest checkpoint
are re-recorded, with the run's own noise streams: with no --set the recordings equal the
run's. --set may change model.engagement, model.apical_inhibition, model.noise_std, model.steps,
task.context_cue (false sets the cue inputs to 0), task.noise_std, task.contrast,
task.signal_levels, task.seed, logging.probe_examples, training.seed.")]
    Record(RecordArgs),
    /// Train one config on several backends (e.g. ndarray,wgpu) and compare speed and logged
    /// losses: compare.json and a table.
    #[command(
        after_help = "Example:\n  apical compare configs/quickstart.toml --backends ndarray,wgpu --steps 500\n\nEach backend's run directory is <out>/<backend>/; the losses compared are every loss column of their metrics.csv (the evaluations), row by row. steps/s is end to end (evaluations and outputs included)."
    )]
    Compare(CompareArgs),
    /// Run every point of a sweep file (grid × zip groups × conditions), resumably.
    #[command(after_help = "Examples:
  apical sweep configs/sweeps/quickstart_lr.toml --jobs 2
  apical sweep configs/sweeps/quickstart_lr.toml --status
  apical collect sweeps/quickstart_lr

Rerunning the same command skips finished points, resumes interrupted ones from their
checkpoint and (with --retry-failed) retries failed ones. Exit 1 lists the failed points.")]
    Sweep(SweepArgs),
    /// Tabulate a sweep: results.csv, aggregate.csv (mean and 95% bootstrap interval over seeds) and a plot.
    #[command(
        after_help = "Example:\n  apical collect sweeps/quickstart_lr --by training.learning_rate --metric test_accuracy,test_loss"
    )]
    Collect(CollectArgs),
    /// The few-shot protocol: for each n labelled examples per class and seed, tune on the
    /// validation split (the same grid for every rule), train, and report the test error.
    #[command(after_help = "Examples:
  apical fewshot configs/fewshot_digits_backprop.toml --n 1,5 --seeds 3 --out fewshot/bp
  apical fewshot configs/fewshot_digits_*.toml --n 1,2,5,10,20,50,all --seeds 10 --pretrained auto --out fewshot/digits
  apical fewshot configs/fewshot_digits_dendritic.toml --n 1,5 --seeds 5 --tune 'lr=0.01,0.03,0.1' --out fewshot/d

Writes fewshot.csv (n, rule, pretrained, seed, chosen values, val_error, test_error, …),
fewshot_summary.csv (mean_test_error with its 95% bootstrap interval), fewshot_paired.csv (paired
differences with sign-flip p-values), fewshot_auc.csv and fewshot.png/svg. Rerunning the same
command into the same --out continues it; with more --n values or --seeds it extends the study.")]
    Fewshot(FewshotArgs),
    /// The few-label controls that learn no features: raw-pixel nearest neighbour, and PCA fitted
    /// on the unlabelled pool with a nearest-neighbour or ridge readout, on the same labelled sets
    /// as `apical fewshot`.
    #[command(after_help = "Example:
  apical fewshot-controls configs/mnist_backprop.toml --n 1,3,10,30,100 --seeds 20 --out fewshot/controls

For each seed and n the labelled set is the draw `apical fewshot` trains on (task.train_per_class
= n, task.subset_seed = seed); the pool is every training image of the config's task, without
labels. The number of components (5, 10, 20, 50, 100) and the ridge penalty (0.01 … 100) are
chosen by 3-fold cross-validation inside the labelled set; below 3 per class the choice made at
n = 3 for the seed is used. Only the config's [task] matters. Writes controls.csv (n, control,
seed, test_error, pca_dim, lambda, cv_error, chosen_by) and controls_summary.csv (mean test
error with its 95% bootstrap interval over seeds).")]
    FewshotControls(ControlsArgs),
    /// One Slurm array task of a sweep (run by slurm/array.sbatch).
    #[command(hide = true)]
    SweepTask(SweepTaskArgs),
    /// Inspect configs.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Data sets apical reads: download the full MNIST or Fashion-MNIST for users with a network.
    #[command(subcommand)]
    Data(DataCommand),
    /// Analyse recordings (.npy files: yours or a run's) or a whole run directory.
    #[command(after_help = "Examples:
  apical analyze runs/orientation_backprop-20261123-153000
  apical analyze fisher --responses R.npy --signal S.npy --method liu --subset-size 32 --subsets 1000 --out fisher.json
  apical analyze correlations --responses R.npy --signal S.npy
  apical analyze decode --responses R.npy --labels L.npy --folds 5
  apical analyze residuals --apical A.npy --soma S.npy --labels reward.npy --error-change dE.npy --groups G.npy")]
    Analyze(AnalyzeArgs),
    /// List the runs in a directory: status, progress, key settings, headline metric.
    #[command(after_help = "Examples:\n  apical ls\n  apical ls sweeps/quickstart_lr/runs")]
    Ls(LsArgs),
}

#[derive(Args)]
struct LsArgs {
    /// A directory of run directories (or one run directory).
    #[arg(default_value = "runs")]
    dir: PathBuf,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct AnalyzeArgs {
    #[command(subcommand)]
    what: Option<AnalyzeCommand>,
    /// A run directory written by `apical run`: analyses what it recorded and writes
    /// analysis/analysis.json and plots there.
    run_dir: Option<PathBuf>,
    /// Run directory: largest unit-subset size for the Fisher information.
    #[arg(long, default_value_t = 32)]
    subset_size: usize,
    /// Run directory: number of random unit subsets.
    #[arg(long, default_value_t = 200)]
    subsets: usize,
    /// Run directory: label shuffles of the decoder's control (the permutation p-value
    /// cannot fall below 1 / (shuffles + 1): 0.05 with the default 19; 99 for 0.01).
    #[arg(long, default_value_t = 19)]
    shuffles: usize,
    /// Run directory: seed of subsets, folds and shuffles.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run directory: most trials the label decoder is fitted on (a random subset from the
    /// seed when a recording has more; 0: all). The Fisher estimates use every trial.
    #[arg(long, default_value_t = 2000)]
    decode_trials: usize,
    /// Run directory: its passive re-recording (`apical record RUN --set model.engagement=0
    /// --out DIR`): adds the engagement contrasts — learning × engagement with a bootstrap
    /// over probe trials, I(active)/I(passive), within-trial and relevance differences.
    #[arg(long, value_name = "DIR")]
    passive: Option<PathBuf>,
    /// Run directory: bootstrap replicates of the engagement contrasts (with --passive).
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
}

#[derive(Subcommand)]
enum AnalyzeCommand {
    /// Bias-corrected linear Fisher information, shuffled information and redundancy.
    Fisher {
        /// Responses: trials × units (or trials × time bins × units), float or int .npy.
        #[arg(long)]
        responses: PathBuf,
        /// Signed signal per trial (0 = zero-signal trial).
        #[arg(long)]
        signal: PathBuf,
        /// Context label per trial (adds per-context and cross-context information).
        #[arg(long)]
        context: Option<PathBuf>,
        /// Estimator: liu (covariance from zero-signal trials) or kanitscheider.
        #[arg(long, default_value = "liu", value_parser = ["liu", "kanitscheider"])]
        method: String,
        /// Units per random subset (median and 16–84% over subsets).
        #[arg(long)]
        subset_size: Option<usize>,
        /// Number of random subsets.
        #[arg(long, default_value_t = 1000)]
        subsets: usize,
        /// Seed of the subsets.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the JSON here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Noise correlations, variance along f′ and single-unit information.
    Correlations {
        /// Responses: trials × units.
        #[arg(long)]
        responses: PathBuf,
        /// Signed signal per trial (conditions are signal × context).
        #[arg(long)]
        signal: PathBuf,
        /// Context label per trial.
        #[arg(long)]
        context: Option<PathBuf>,
        /// Write the JSON here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Cross-validated logistic-regression decoding with a label-shuffle control.
    Decode {
        /// Features: trials × units.
        #[arg(long)]
        responses: PathBuf,
        /// Integer class label per trial.
        #[arg(long)]
        labels: PathBuf,
        /// Cross-validation folds (the number of trials for leave-one-out).
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Label shuffles for the control.
        #[arg(long, default_value_t = 20)]
        shuffles: usize,
        /// Seed of folds and shuffles.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Write the JSON here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Dendritic residuals (apical minus its soma-predicted part), decoding and vectorisation.
    Residuals {
        /// Apical activity: trials × units.
        #[arg(long)]
        apical: PathBuf,
        /// Somatic activity: trials × units.
        #[arg(long)]
        soma: PathBuf,
        /// Integer label per trial to decode from residual vectors (e.g. reward).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Error change per trial (negative = decreased), with --groups.
        #[arg(long)]
        error_change: Option<PathBuf>,
        /// Group per unit (e.g. 1 = P+, -1 = P-, 0 = P0), with --error-change.
        #[arg(long)]
        groups: Option<PathBuf>,
        /// Write the JSON here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
struct RunArgs {
    /// The experiment config (TOML), e.g. configs/quickstart.toml.
    config: PathBuf,
    /// Backend: ndarray (CPU, default) or wgpu (GPU; Mesa lavapipe without one). Overrides backend.kind.
    #[arg(long, value_parser = ["ndarray", "wgpu"])]
    backend: Option<String>,
    /// Override a config key: --set training.steps=500 (repeatable; values in TOML syntax).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Run directory (default: runs/<name>-<UTC timestamp>). Must not exist or be empty.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stop right after this step, as if killed (for testing `resume`).
    #[arg(long, hide = true)]
    halt_after: Option<usize>,
}

#[derive(Args)]
struct CompareArgs {
    /// The experiment config (TOML), e.g. configs/quickstart.toml.
    config: PathBuf,
    /// Backends to train on, comma-separated; the first is the reference the others are
    /// compared with.
    #[arg(long, value_delimiter = ',', default_value = "ndarray,wgpu")]
    backends: Vec<String>,
    /// Training steps on each backend (default: the config's length).
    #[arg(long)]
    steps: Option<usize>,
    /// Override a config key: --set training.eval_every=50 (repeatable; values in TOML syntax).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Output directory (default: runs/<name>-compare-<UTC timestamp>). Must not exist or be
    /// empty.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct SweepArgs {
    /// The sweep file (TOML): base, [set], [grid], [[zip]], [conditions.<name>]; or a sweep
    /// directory (its resolved sweep.toml).
    sweep: PathBuf,
    /// Sweep directory (default: sweeps/<sweep file stem>). Rerunning into it resumes.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker processes at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Also rerun points whose last attempt failed.
    #[arg(long)]
    retry_failed: bool,
    /// Print each point's state (and, for Slurm, the queue's) and exit.
    #[arg(long)]
    status: bool,
    /// local (worker processes on this machine) or slurm (a job array, then a dependent collect job).
    #[arg(long, default_value = "local", value_parser = ["local", "slurm"])]
    executor: String,
    /// Slurm: the partition.
    #[arg(long)]
    partition: Option<String>,
    /// Slurm: the time limit of each array task (e.g. 01:00:00).
    #[arg(long)]
    time: Option<String>,
    /// Slurm: CPUs per array task.
    #[arg(long)]
    cpus_per_task: Option<usize>,
    /// Slurm: memory per array task (e.g. 4G).
    #[arg(long)]
    mem: Option<String>,
    /// Slurm: at most this many array tasks at once.
    #[arg(long)]
    max_parallel: Option<usize>,
    /// Slurm: an extra #SBATCH argument, verbatim (repeatable), e.g. --sbatch-arg=--qos=short.
    #[arg(long, allow_hyphen_values = true)]
    sbatch_arg: Vec<String>,
    /// Slurm: write slurm/array.sbatch without submitting.
    #[arg(long)]
    dry_run: bool,
    /// Slurm: after submitting (or with --status), wait until the sweep's jobs have left the queue.
    #[arg(long)]
    wait: bool,
    /// Slurm: seconds between queue checks while waiting (be kind to slurmctld).
    #[arg(long, default_value_t = 10.0)]
    poll: f64,
}

#[derive(Args)]
struct FewshotArgs {
    /// The configs, one rule on one model each (each needs task.validation_per_class).
    #[arg(required = true)]
    configs: Vec<PathBuf>,
    /// Labelled examples per class, comma-separated counts or "all".
    #[arg(long, default_value = "1,2,5,10,20,50,all")]
    n: String,
    /// Seeds: a count (10 → 0..9) or a comma-separated list. Each seed draws its own subset.
    #[arg(long, default_value = "10")]
    seeds: String,
    /// Also fine-tune from a generative pretraining: "auto" runs it (predictive coding in
    /// generative mode on every training image, no labels); or a finished run or checkpoint
    /// ("{seed}" in the path is replaced by the seed).
    #[arg(long)]
    pretrained: Option<String>,
    /// Override a key of the pretraining runs (repeatable), e.g. training.steps=2000.
    #[arg(long = "pretrain-set", value_name = "KEY=VALUE")]
    pretrain_set: Vec<String>,
    /// The tuning grid, the same for every config: "lr=1e-3,3e-3;steps=100,300" (lr, steps,
    /// batch or dotted keys). Default: each config's learning rate × {1/3, 1, 3}.
    #[arg(long)]
    tune: Option<String>,
    /// Override a key of every config (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Output directory. Rerunning into it continues.
    #[arg(long)]
    out: PathBuf,
    /// Worker processes at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Also rerun points whose last attempt failed.
    #[arg(long)]
    retry_failed: bool,
}

#[derive(Args)]
struct ControlsArgs {
    /// A config whose [task] names the data (its model and rule are not used).
    config: PathBuf,
    /// Labelled examples per class, comma-separated counts.
    #[arg(long, default_value = "1,3,10,30,100")]
    n: String,
    /// Seeds: a count (10 → 0..9) or a comma-separated list. Each seed draws its own subset.
    #[arg(long, default_value = "10")]
    seeds: String,
    /// Override a key of the config (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Output directory (its two tables are replaced).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct SweepTaskArgs {
    /// The sweep directory.
    dir: PathBuf,
    /// The array index (a line of slurm/tasks.txt).
    index: usize,
}

#[derive(Args)]
struct CollectArgs {
    /// A sweep directory written by `apical sweep`.
    dir: PathBuf,
    /// Group by these swept keys, comma-separated (default: every swept key but training.seed).
    #[arg(long, value_delimiter = ',')]
    by: Option<Vec<String>>,
    /// Metrics of summary.json to aggregate, comma-separated; the first is plotted.
    #[arg(long, value_delimiter = ',', default_value = "test_accuracy,test_loss")]
    metric: Vec<String>,
}

#[derive(Args)]
struct RecordArgs {
    /// A run directory written by `apical run`.
    run: PathBuf,
    /// Re-record one step: `step-N` (or N; 0 = the initial weights).
    #[arg(long, value_name = "step-N")]
    checkpoint: Option<String>,
    /// Change a condition (repeatable): KEY=VALUE.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Output directory (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct ResumeArgs {
    /// A run directory written by `apical run`.
    dir: PathBuf,
    /// Stop right after this step (for testing).
    #[arg(long, hide = true)]
    halt_after: Option<usize>,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the resolved config, every default filled in.
    #[command(
        after_help = "Example:\n  apical config show configs/quickstart.toml --set training.steps=50"
    )]
    Show {
        /// The experiment config (TOML).
        config: PathBuf,
        /// Override a config key (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// List every config key: its type, its default, the kinds that take it, its meaning.
    Schema,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Download a data set's four gzip IDX files, check each against its published SHA-256,
    /// and decompress them; then `task.kind = "idx"` with `task.path` = the directory reads them.
    #[command(after_help = "Examples:
  apical data fetch mnist
  apical data fetch fashion-mnist --dir data/fashion-mnist
  apical data fetch mnist --base-url https://ossci-datasets.s3.amazonaws.com/mnist/

The default directory is $XDG_CACHE_HOME/apical/<name> (~/.cache/apical/<name>). Files already
there and verified are not fetched again; an interrupted download resumes on the next fetch; a
file that does not match its published checksum is deleted and the command exits 1 naming it.
After fetching mnist, the command reports how many of the vendored MNIST-10k images are in the
official training and test sets.")]
    Fetch {
        /// The data set.
        #[arg(value_parser = ["mnist", "fashion-mnist"])]
        name: String,
        /// Where to put the files (default: the user's cache directory).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Fetch from this URL instead of the data set's own (a mirror serving the same files).
        #[arg(long)]
        base_url: Option<String>,
    },
}

/// What a command can fail with: one run's errors, orchestration's (sweeps, few-shot,
/// compare, record) or the analysis front end's. Each knows its exit code.
#[derive(Debug)]
enum Failure {
    Run(RunError),
    Experiment(ExperimentError),
    Report(ReportError),
    /// `apical data fetch`: a download, a checksum or the data directory (exit 1).
    Fetch(apical_fetch::FetchError),
    /// `apical data fetch`: no directory to default to (exit 2).
    NoCacheDir,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Run(e) => e.fmt(f),
            Failure::Experiment(e) => e.fmt(f),
            Failure::Report(e) => e.fmt(f),
            Failure::Fetch(e) => e.fmt(f),
            Failure::NoCacheDir => {
                f.write_str("neither XDG_CACHE_HOME nor HOME is set: give the directory with --dir")
            }
        }
    }
}

impl Failure {
    /// 2 bad input, 128 + signal when stopped by a signal, 1 otherwise.
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Run(e) => e.exit_code(),
            Failure::Experiment(e) => e.exit_code(),
            Failure::Report(e) => e.exit_code(),
            Failure::Fetch(_) => 1,
            Failure::NoCacheDir => 2,
        }
    }
}

impl From<RunError> for Failure {
    fn from(e: RunError) -> Self {
        Failure::Run(e)
    }
}

impl From<ExperimentError> for Failure {
    fn from(e: ExperimentError) -> Self {
        Failure::Experiment(e)
    }
}

impl From<ReportError> for Failure {
    fn from(e: ReportError) -> Self {
        Failure::Report(e)
    }
}

impl From<apical_run::ConfigError> for Failure {
    fn from(e: apical_run::ConfigError) -> Self {
        Failure::Run(e.into())
    }
}

impl From<apical_run::BackendError> for Failure {
    fn from(e: apical_run::BackendError) -> Self {
        Failure::Run(e.into())
    }
}

impl From<apical_store::StoreError> for Failure {
    fn from(e: apical_store::StoreError) -> Self {
        Failure::Run(e.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `APICAL_THREADS` also limits the matrix products (matrixmultiply reads only its own
    // variable, at the first product).
    if let Some(threads) = apical_nn::shared_matmul_threads(
        std::env::var_os("APICAL_THREADS").as_deref(),
        std::env::var_os("MATMUL_NUM_THREADS").as_deref(),
    ) {
        std::env::set_var("MATMUL_NUM_THREADS", threads);
    }
    private_runtime_dir();
    match dispatch(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Mesa's Vulkan drivers (lavapipe, used by `--backend wgpu` on machines without a GPU) print
/// "XDG_RUNTIME_DIR is invalid or not set" on every device query when the session has no
/// runtime directory (containers, cron, Slurm jobs). Where it is unset or unusable, point it at
/// a private directory (mode 0700, as the XDG spec asks) under the temporary directory, made
/// once per user.
fn private_runtime_dir() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let usable = std::env::var_os("XDG_RUNTIME_DIR")
        .map(std::path::PathBuf::from)
        .and_then(|d| std::fs::metadata(d).ok())
        .is_some_and(|m| m.is_dir());
    if usable {
        return;
    }
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let dir = std::env::temp_dir().join(format!("apical-runtime-{uid}"));
    let made = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)));
    if made.is_ok() {
        std::env::set_var("XDG_RUNTIME_DIR", &dir);
    }
}

/// SIGINT / SIGTERM set the run's stop flag to the signal number: the run checkpoints, flushes
/// its logs and exits 130 / 143. A second SIGINT exits at once. SIGXFSZ (a file-size limit) is
/// caught so that a write past the limit fails with an error instead of killing the process.
fn stop_flag() -> Option<Arc<AtomicUsize>> {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGXFSZ};
    use signal_hook::flag;
    let stop = Arc::new(AtomicUsize::new(0));
    let interrupted = Arc::new(AtomicBool::new(false));
    let registered = flag::register_conditional_shutdown(SIGINT, 130, interrupted.clone())
        .and_then(|_| flag::register(SIGINT, interrupted))
        .and_then(|_| flag::register_usize(SIGINT, stop.clone(), SIGINT as usize))
        .and_then(|_| flag::register_usize(SIGTERM, stop.clone(), SIGTERM as usize))
        .and_then(|_| flag::register(SIGXFSZ, Arc::new(AtomicBool::new(false))));
    match registered {
        Ok(_) => Some(stop),
        Err(e) => {
            eprintln!("apical: warning: cannot install signal handlers ({e}); Ctrl-C stops without a checkpoint");
            None
        }
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Run(args) => run(args),
        Command::Resume(args) => resume(args),
        Command::Record(args) => record(args),
        Command::Compare(args) => compare(args),
        Command::Analyze(args) => analyze(args),
        Command::Sweep(args) => sweep(args),
        Command::SweepTask(args) => sweep_task(args),
        Command::Collect(args) => collect(args),
        Command::Fewshot(args) => fewshot(args),
        Command::FewshotControls(args) => fewshot_controls(args),
        Command::Ls(args) => {
            let rows = apical_report::listing::list_runs(&args.dir)?;
            if rows.is_empty() {
                println!("no run directories in {}", args.dir.display());
            } else {
                print!("{}", apical_report::listing::format_table(&rows));
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Show { config, overrides }) => {
            let config = ExperimentConfig::load(&config, &overrides)?;
            print!("{}", config.to_documented_toml());
            Ok(())
        }
        Command::Config(ConfigCommand::Schema) => {
            print!("{}", apical_run::schema::schema_text());
            Ok(())
        }
        Command::Data(DataCommand::Fetch {
            name,
            dir,
            base_url,
        }) => data_fetch(&name, dir, base_url.as_deref()),
    }
}

/// `apical data fetch`: downloads into `dir` (default: the user's cache directory), prints
/// each file's fate, where the files are and the config lines that read them.
fn data_fetch(name: &str, dir: Option<PathBuf>, base_url: Option<&str>) -> Result<(), Failure> {
    let set = apical_fetch::data_set(name).expect("clap accepts only known data sets");
    let dir = match dir {
        Some(dir) => dir,
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME")
                        .filter(|v| !v.is_empty())
                        .map(|h| PathBuf::from(h).join(".cache"))
                })
                .ok_or(Failure::NoCacheDir)?;
            cache.join("apical").join(name)
        }
    };
    apical_fetch::fetch(&set, &dir, base_url, |event| match event {
        apical_fetch::Event::Start { file, url, from } if from > 0 => {
            eprintln!("apical: resuming {file} after {from} bytes from {url}")
        }
        apical_fetch::Event::Start { file, url, .. } => {
            eprintln!("apical: fetching {file} from {url}")
        }
        apical_fetch::Event::Restart { file } => eprintln!(
            "apical: the kept part of {file} did not check out; fetching it again from the start"
        ),
        apical_fetch::Event::Done { file, outcome } => {
            let what = match outcome {
                apical_fetch::Outcome::Present => "already there, verified",
                apical_fetch::Outcome::Downloaded => "downloaded, verified, decompressed",
                apical_fetch::Outcome::Resumed => "resumed, verified, decompressed",
            };
            eprintln!("apical: {file}: {what}")
        }
    })
    .map_err(Failure::Fetch)?;
    let shown = std::path::absolute(&dir).unwrap_or(dir.clone());
    println!("{name}: the four IDX files are in {}", shown.display());
    println!(
        "use them with:\n  [task]\n  kind = \"idx\"\n  path = {:?}",
        shown.display().to_string()
    );
    if name == "mnist" {
        match apical_tasks::mnist::overlap_with(&dir) {
            Ok(o) => println!(
                "MNIST-10k (the vendored 10,000, task.kind = \"mnist\") against this set, by exact image bytes: {} in its training images, {} in its test images, {} in neither; {} of MNIST-10k's 2,000 test images are in its training images",
                o.in_official_train, o.in_official_test, o.in_neither, o.vendored_test_in_official_train
            ),
            Err(e) => eprintln!("apical: could not compare with MNIST-10k: {e}"),
        }
    }
    Ok(())
}

/// The threads the user chose, as `apical sweep` hands them to its workers.
fn user_threads() -> Option<std::ffi::OsString> {
    apical_nn::THREAD_VARIABLES
        .iter()
        .find_map(std::env::var_os)
}

/// The CPU kernels' threads for `config` (one thread for small nets unless the user set the
/// thread variables): sets `MATMUL_NUM_THREADS` for the matrix library and the fused
/// optimizer's threads. Before any device starts or product runs.
fn choose_threads(config: &ExperimentConfig, data: &apical_run::Split) {
    let user_set = apical_nn::THREAD_VARIABLES
        .iter()
        .any(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
    if let Some(n) = apical_run::auto_threads(config, data, user_set) {
        std::env::set_var("MATMUL_NUM_THREADS", n.to_string());
    }
    let [apical, matmul] = apical_nn::THREAD_VARIABLES.map(|var| std::env::var(var).ok());
    if let Some(n) = apical_nn::threads_from([apical.as_deref(), matmul.as_deref()]) {
        apical_nn::set_threads(n);
    }
}

fn options(halt_after: Option<usize>, backend: apical_run::BackendKind) -> RunOptions {
    let mut provenance = provenance();
    if backend == apical_run::BackendKind::Wgpu {
        provenance.adapter = apical_nn::wgpu_adapter_name();
    }
    RunOptions {
        progress: std::io::stderr().is_terminal(),
        halt_after,
        stop: stop_flag(),
        provenance: Some(provenance),
    }
}

/// What `summary.json` records of this process: the command line, the machine, the threads
/// and the start time.
fn provenance() -> apical_store::Provenance {
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into());
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    apical_run::provenance(command, host, cpus, apical_nn::threads(), started)
}

/// Memory this process may still use: the least of the machine's available memory
/// (`MemAvailable`) and its cgroup's limit less what the cgroup holds that cannot be reclaimed
/// (usage less inactive page cache). The cgroup is this process's own (`/proc/self/cgroup`:
/// v2 `memory.max` / `memory.current` / `memory.stat`, v1 `memory.limit_in_bytes` /
/// `memory.usage_in_bytes` / `total_inactive_file`), as under Slurm or in a container.
/// `APICAL_MEMORY_LIMIT` (bytes) stands in for a smaller machine. `None` where nothing can be
/// read (no check then).
fn available_memory() -> Option<u64> {
    let read = |path: &std::path::Path| std::fs::read_to_string(path).ok();
    let number = |text: Option<String>| text.and_then(|t| t.trim().parse::<u64>().ok());
    let stat = |path: &std::path::Path, key: &str| -> Option<u64> {
        read(path)?.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == key).then(|| v.trim().parse().ok()).flatten()
        })
    };
    let mut limits = Vec::new();
    if let Some(meminfo) = read(std::path::Path::new("/proc/meminfo")) {
        if let Some(kb) = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            limits.push(kb * 1024);
        }
    }
    // This process's cgroup: "0::/path" (v2), "N:memory:/path" (v1).
    let own = read(std::path::Path::new("/proc/self/cgroup")).unwrap_or_default();
    let v2 = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim);
    let v1 = own
        .lines()
        .find_map(|l| l.split_once(":memory:").map(|(_, p)| p.trim()));
    let root = std::path::Path::new("/sys/fs/cgroup");
    let mut groups = Vec::new();
    if let Some(p) = v2 {
        groups.push((
            root.join(p.trim_start_matches('/')),
            "memory.max",
            "memory.current",
            "memory.stat",
            "inactive_file",
        ));
    }
    if let Some(p) = v1 {
        groups.push((
            root.join("memory").join(p.trim_start_matches('/')),
            "memory.limit_in_bytes",
            "memory.usage_in_bytes",
            "memory.stat",
            "total_inactive_file",
        ));
    }
    for (dir, limit, usage, stat_file, inactive) in groups {
        // "max" (v2) or a huge number (v1) means no limit.
        if let Some(max) = number(read(&dir.join(limit))).filter(|&m| m < 1 << 60) {
            let used = number(read(&dir.join(usage))).unwrap_or(0);
            let reclaimable = stat(&dir.join(stat_file), inactive).unwrap_or(0);
            limits.push(max.saturating_sub(used.saturating_sub(reclaimable)));
        }
    }
    if let Some(cap) = std::env::var("APICAL_MEMORY_LIMIT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        limits.push(cap);
    }
    limits.into_iter().min()
}

/// [`apical_run::check_memory`] against what this process may use (host memory: a wgpu run's
/// tensors live on its device, which this does not measure, so it is not checked).
fn check_memory(config: &ExperimentConfig, data: &apical_run::Split) -> Result<(), RunError> {
    if config.backend.kind == apical_run::BackendKind::Wgpu {
        return Ok(());
    }
    match available_memory() {
        Some(available) => apical_run::check_memory(config, data, available),
        None => Ok(()),
    }
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let mut overrides = args.overrides;
    if let Some(backend) = &args.backend {
        overrides.push(format!("backend.kind=\"{backend}\""));
    }
    // Everything that can be refused is checked before anything is written.
    let config = ExperimentConfig::load(&args.config, &overrides)?;
    let name = config.run_name(&args.config);
    let out = args
        .out
        .unwrap_or_else(|| apical_run::default_run_dir(&name));
    apical_run::check_out_dir(&out)?;
    let data = apical_run::build_data(&config)?;
    choose_threads(&config, &data);
    let device = init_device(config.backend.kind)?;
    apical_run::check_init(&config, &data, &device)
        .and_then(|()| check_memory(&config, &data))
        .map_err(|e| match e {
            RunError::Config(c) => RunError::Config(c.in_file(&args.config)),
            other => other,
        })?;
    let config = ExperimentConfig {
        name: Some(name),
        ..config
    };
    // An unwritable location fails here, in one line, before the run announces itself.
    std::fs::create_dir_all(&out).map_err(|source| apical_store::StoreError::Write {
        path: out.clone(),
        source,
    })?;
    for notice in config.notices(data.train.len()) {
        eprintln!("apical: note: {notice}");
    }
    let name = config.name.as_deref().unwrap_or("run");
    let what = match config.rule.kind() {
        "none" => format!(
            "sampling {name} (the {} model on {}, not trained",
            config.model.kind(),
            config.task.kind()
        ),
        rule => format!("training {name} ({rule} on {}", config.task.kind()),
    };
    eprintln!(
        "apical: {what}, backend {}) → {}",
        config.backend.kind.name(),
        out.display()
    );
    let summary = apical_run::start(
        &config,
        &data,
        &device,
        &out,
        &options(args.halt_after, config.backend.kind),
    )?;
    report(&summary);
    Ok(())
}

fn compare(args: CompareArgs) -> Result<(), Failure> {
    // Everything that can be refused is checked before anything is written.
    let backends = apical_experiments::compare::parse_backends(&args.backends)?;
    let config = ExperimentConfig::load(&args.config, &args.overrides)?;
    let config = apical_experiments::compare::with_steps(config, args.steps)?;
    let name = config.run_name(&args.config);
    let out = args
        .out
        .unwrap_or_else(|| apical_run::default_run_dir(&format!("{name}-compare")));
    let config = ExperimentConfig {
        name: Some(name),
        ..config
    };
    // The threads are chosen before any device starts threads of its own.
    apical_run::check_out_dir(&out)?;
    let data = apical_run::build_data(&config)?;
    choose_threads(&config, &data);
    let comparison = apical_experiments::compare::compare(
        &args.config,
        &config,
        &data,
        &backends,
        &out,
        &options(None, apical_run::BackendKind::Ndarray),
    )
    .map_err(|e| match e {
        ExperimentError::Run(RunError::Config(c)) => {
            ExperimentError::Run(RunError::Config(c.in_file(&args.config)))
        }
        other => other,
    })?;
    print!("{}", comparison.table());
    println!("→ {}", out.join("compare.json").display());
    Ok(())
}

fn resume(args: ResumeArgs) -> Result<(), Failure> {
    apical_run::check_resumable(&args.dir)?;
    let config_path = apical_store::RunDir::new(&args.dir).config();
    if let Ok(done) = apical_run::Summary::read(&args.dir) {
        println!(
            "{} already ended ({:?} after {} steps); nothing to resume",
            args.dir.display(),
            done.status,
            done.diverged_at_step.unwrap_or(done.steps)
        );
        return Ok(());
    }
    let config = ExperimentConfig::load(&config_path, &[])?;
    let data = apical_run::build_data(&config)?;
    check_memory(&config, &data).map_err(|e| match e {
        RunError::Config(c) => RunError::Config(c.in_file(&config_path)),
        other => other,
    })?;
    choose_threads(&config, &data);
    let device = init_device(config.backend.kind)?;
    eprintln!(
        "apical: resuming {} (backend {})",
        args.dir.display(),
        config.backend.kind.name()
    );
    let summary = apical_run::resume(
        &config,
        &data,
        &device,
        &args.dir,
        &options(args.halt_after, config.backend.kind),
    )?;
    report(&summary);
    Ok(())
}

fn record(args: RecordArgs) -> Result<(), Failure> {
    use apical_experiments::rerecord::{record_config, record_run, RecordRequest};
    let step = match &args.checkpoint {
        None => None,
        Some(text) => Some(
            apical_store::parse_step_name(text)
                .or_else(|| text.parse::<usize>().ok())
                .ok_or(())
                .map_err(|_| {
                    RunError::Config(apical_run::ConfigError::new(
                        std::path::Path::new("--checkpoint"),
                        "",
                        format!("expected step-N or N (a training step), got {text:?}"),
                    ))
                })?,
        ),
    };
    let req = RecordRequest {
        run: args.run,
        step,
        overrides: args.overrides,
        out: args.out,
    };
    let (config, _) = record_config(&req)?;
    let device = init_device(config.backend.kind)?;
    let info = record_run(&req, &device)?;
    println!(
        "recorded {} at step{} {} → {}",
        req.run.display(),
        if info.steps.len() == 1 { "" } else { "s" },
        info.steps
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        req.out.display()
    );
    Ok(())
}

fn sweep(args: SweepArgs) -> Result<(), Failure> {
    use apical_experiments::sweep::{run_local, slurm, LocalOptions, SweepDir, SweepPlan};
    // A sweep directory stands for its resolved sweep file.
    let (file, out) = if args.sweep.is_dir() {
        (
            args.sweep.join("sweep.toml"),
            Some(args.out.unwrap_or(args.sweep.clone())),
        )
    } else {
        (args.sweep.clone(), args.out)
    };
    // Every point is checked before anything is written.
    let plan = SweepPlan::load(&file)?;
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sweep".into());
    let out = out.unwrap_or_else(|| PathBuf::from("sweeps").join(stem));
    let usage = |message: String| Err(RunError::Usage { message }.into());
    for (flag, value) in [
        ("--jobs", args.jobs),
        ("--max-parallel", args.max_parallel),
        ("--cpus-per-task", args.cpus_per_task),
    ] {
        if value == Some(0) {
            return usage(format!("{flag} must be at least 1, got 0"));
        }
    }
    let slurm_executor = args.executor == "slurm";
    let slurm_flags = [
        ("--dry-run", args.dry_run),
        ("--wait", args.wait && !args.status),
        ("--partition", args.partition.is_some()),
        ("--time", args.time.is_some()),
        ("--mem", args.mem.is_some()),
        ("--cpus-per-task", args.cpus_per_task.is_some()),
        ("--max-parallel", args.max_parallel.is_some()),
        ("--sbatch-arg", !args.sbatch_arg.is_empty()),
    ];
    if !slurm_executor {
        if let Some((flag, _)) = slurm_flags.iter().find(|(_, given)| *given) {
            return usage(format!(
                "{flag} belongs to the Slurm executor; add --executor slurm"
            ));
        }
    }
    if slurm_executor && args.jobs.is_some() {
        return usage(
            "--jobs is for the local executor; with --executor slurm use --max-parallel".into(),
        );
    }
    if !(args.poll.is_finite() && args.poll > 0.0) {
        return usage(format!(
            "--poll must be a number of seconds > 0, got {}",
            args.poll
        ));
    }
    let poll = std::time::Duration::from_secs_f64(args.poll);
    if args.status {
        // Read-only: the sweep directory as it is, never (re)written.
        if !out.join("sweep.toml").is_file() {
            return usage(format!(
                "{} is not a sweep directory yet (no sweep.toml); run the sweep first",
                out.display()
            ));
        }
        // A directory that holds another sweep is refused, as a run into it would be (its
        // points would all read as new).
        let resolved = std::fs::read_to_string(out.join("sweep.toml")).unwrap_or_default();
        if resolved != plan.resolved {
            return Err(RunError::OutputDir {
                path: out,
                message: format!(
                    "holds a different sweep (its sweep.toml differs from {})",
                    args.sweep.display()
                ),
            }
            .into());
        }
        let dir = SweepDir { path: out };
        if args.wait {
            slurm::wait(&dir, poll)?;
        }
        return sweep_status(&dir, &plan);
    }
    let dir = SweepDir::prepare(&out, &plan)?;
    let exe = std::env::current_exe().map_err(|source| apical_store::StoreError::Write {
        path: PathBuf::from("apical"),
        source,
    })?;
    // One sweep process per directory at a time (its workers lock their own run directories).
    let _lock = apical_run::RunLock::acquire(&out)?;
    if slurm_executor {
        let workdir =
            std::env::current_dir().map_err(|source| apical_store::StoreError::Write {
                path: PathBuf::from("."),
                source,
            })?;
        let submission = slurm::submit(
            &dir,
            &plan,
            &slurm::SlurmOptions {
                exe,
                workdir,
                partition: args.partition,
                time: args.time,
                cpus_per_task: args.cpus_per_task,
                mem: args.mem,
                max_parallel: args.max_parallel,
                sbatch_args: args.sbatch_arg,
                retry_failed: args.retry_failed,
                dry_run: args.dry_run,
            },
        )?;
        if submission.points == 0 {
            println!("every point is finished; nothing to submit");
            return Ok(());
        }
        println!(
            "wrote {} ({} points)",
            submission.script.display(),
            submission.points
        );
        match (&submission.array_job, &submission.collect_job) {
            (Some(array), Some(collect)) => {
                println!("submitted array job {array} and collect job {collect} (runs after the array succeeds)");
                if args.wait {
                    slurm::wait(&dir, poll)?;
                    return sweep_status(&dir, &plan);
                }
            }
            _ if args.dry_run => println!(
                "dry run: nothing submitted (sbatch {})",
                submission.script.display()
            ),
            _ => println!("every point is finished; nothing to submit"),
        }
        return Ok(());
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    eprintln!(
        "apical: sweep of {} points ({} jobs) → {}",
        plan.points.len(),
        jobs,
        out.display()
    );
    let outcome = run_local(
        &dir,
        &plan,
        &LocalOptions {
            exe,
            jobs,
            retry_failed: args.retry_failed,
            progress: std::io::stderr().is_terminal(),
            stop: stop_flag(),
            user_threads: user_threads(),
        },
    )?;
    println!(
        "{} points: {} finished now, {} finished before, {} failed; results: apical collect {}",
        plan.points.len(),
        outcome.finished,
        outcome.skipped,
        outcome.failed.len(),
        out.display()
    );
    if outcome.failed.is_empty() {
        Ok(())
    } else {
        for (point, reason) in &outcome.failed {
            eprintln!("failed: {point}: {reason}");
        }
        Err(ExperimentError::SweepFailed {
            failed: outcome.failed.iter().map(|(p, _)| p.clone()).collect(),
            dir: out,
        }
        .into())
    }
}

/// Per point: its state from its run directory, or the queue's for a submitted Slurm task.
fn sweep_status(
    dir: &apical_experiments::sweep::SweepDir,
    plan: &apical_experiments::sweep::SweepPlan,
) -> Result<(), Failure> {
    use apical_experiments::sweep::slurm;
    let mut queue_state = std::collections::BTreeMap::new();
    if let Some((array, collect)) = slurm::submitted_jobs(dir) {
        let queued = slurm::queued(dir).unwrap_or_default();
        let tasks: Vec<String> = std::fs::read_to_string(dir.path.join("slurm/tasks.txt"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        for (index, state) in slurm::array_states(&array, &queued) {
            if let Some(point) = tasks.get(index) {
                queue_state.insert(point.clone(), state.to_lowercase());
            }
        }
        let collect_state = queued
            .iter()
            .find(|(id, _)| *id == collect)
            .map(|(_, s)| s.clone())
            .or_else(|| slurm::job_state(&collect))
            .unwrap_or_else(|| "unknown".into());
        println!(
            "slurm: array job {array}, collect job {collect} ({})",
            collect_state.to_lowercase()
        );
    }
    let mut counts = std::collections::BTreeMap::new();
    let mut failed = Vec::new();
    for p in &plan.points {
        let state = dir.state(&p.name);
        let word = match (&state, queue_state.get(&p.name)) {
            (apical_experiments::sweep::PointState::Done(_), _) | (_, None) => {
                state.word().to_string()
            }
            (_, Some(queued)) => queued.clone(),
        };
        if word == "failed" {
            failed.push(p.name.clone());
        }
        println!("{word:<12} {}", p.name);
        *counts.entry(word).or_insert(0) += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    println!("{} points: {}", plan.points.len(), parts.join(", "));
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ExperimentError::SweepFailed {
            failed,
            dir: dir.path.clone(),
        }
        .into())
    }
}

/// One array task: run, resume or skip its point, as the local executor does.
fn sweep_task(args: SweepTaskArgs) -> Result<(), Failure> {
    use apical_experiments::sweep::{slurm, PointState, SweepDir};
    let dir = SweepDir { path: args.dir };
    let point = slurm::task_point(&dir, args.index)?;
    if let PointState::Done(_) = dir.state(&point) {
        return Ok(());
    }
    let args = apical_experiments::sweep::worker_args(&dir, &point);
    let arg = |i: usize| PathBuf::from(&args[i]);
    let result = if args[0] == "resume" {
        resume(ResumeArgs {
            dir: arg(1),
            halt_after: None,
        })
    } else {
        run(RunArgs {
            config: arg(1),
            backend: None,
            overrides: Vec::new(),
            out: Some(arg(3)),
            halt_after: None,
        })
    };
    match result {
        // A diverged run is a result (its summary says so), not a failed task.
        Err(Failure::Run(RunError::Diverged { .. })) => Ok(()),
        // Stopped (time limit, preemption, scancel) or busy: it continues on resubmission.
        Err(
            e @ Failure::Run(
                RunError::Interrupted { .. }
                | RunError::Store(apical_store::StoreError::Locked { .. }),
            ),
        ) => Err(e),
        Err(e) => {
            apical_run::write_atomic(&dir.failed(&point), format!("error: {e}\n").as_bytes())?;
            Err(e)
        }
        Ok(()) => Ok(()),
    }
}

fn fewshot_controls(args: ControlsArgs) -> Result<(), Failure> {
    use apical_experiments::fewshot::{controls, parse_seeds, PerClass};
    let n: Vec<usize> = PerClass::parse_list(&args.n)?
        .into_iter()
        .map(|p| match p {
            PerClass::Count(n) => Ok(n),
            PerClass::All => Err(RunError::Usage {
                message: "--n takes counts per class here (\"all\" leaves nothing to compare)"
                    .into(),
            }),
        })
        .collect::<Result<_, _>>()?;
    let seeds = parse_seeds(&args.seeds)?;
    let rows = controls::run_controls(&args.config, &args.overrides, &n, &seeds, &args.out)?;
    eprintln!(
        "apical: {} rows → {}",
        rows.len(),
        args.out.join("controls.csv").display()
    );
    print!(
        "{}",
        std::fs::read_to_string(args.out.join("controls_summary.csv")).unwrap_or_default()
    );
    Ok(())
}

fn fewshot(args: FewshotArgs) -> Result<(), Failure> {
    use apical_experiments::fewshot::{self, parse_seeds, parse_tune, PerClass, Pretrained};
    let usage = |message: String| RunError::Usage { message };
    if args.jobs == Some(0) {
        return Err(usage("--jobs must be at least 1, got 0".into()).into());
    }
    let n = PerClass::parse_list(&args.n)?;
    let seeds = parse_seeds(&args.seeds)?;
    if seeds.len() < apical_experiments::sweep::MIN_FOR_INTERVAL {
        eprintln!(
            "apical: note: {} seed(s): the tables give means without intervals (an interval needs at least {} seeds)",
            seeds.len(),
            apical_experiments::sweep::MIN_FOR_INTERVAL
        );
    }
    let tune = args.tune.as_deref().map(parse_tune).transpose()?;
    let pretrained = args.pretrained.map(|p| {
        if p == "auto" {
            Pretrained::Auto
        } else {
            Pretrained::Run(p)
        }
    });
    let exe = std::env::current_exe().map_err(|source| apical_store::StoreError::Write {
        path: PathBuf::from("apical"),
        source,
    })?;
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let started = std::time::Instant::now();
    let tables = fewshot::run(&fewshot::FewshotOptions {
        configs: args.configs,
        overrides: args.overrides,
        n,
        seeds,
        pretrained,
        pretrain_overrides: args.pretrain_set,
        tune,
        out: args.out.clone(),
        local: apical_experiments::sweep::LocalOptions {
            exe,
            jobs,
            retry_failed: args.retry_failed,
            progress: std::io::stderr().is_terminal(),
            stop: stop_flag(),
            user_threads: user_threads(),
        },
    })?;
    print!("{}", tables.summary_csv());
    println!(
        "wrote {}/fewshot.csv, fewshot_summary.csv, fewshot_paired.csv, fewshot_auc.csv, fewshot.png/svg ({:.0} s)",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn collect(args: CollectArgs) -> Result<(), Failure> {
    let options = apical_experiments::sweep::CollectOptions {
        by: args.by,
        metrics: args.metric,
    };
    let outcome = apical_experiments::sweep::collect(&args.dir, &options)?;
    println!(
        "{} runs ({} finished) in {} groups → {}, {}, {}.png|svg",
        outcome.runs,
        outcome.finished,
        outcome.groups,
        args.dir.join("results.csv").display(),
        args.dir.join("aggregate.csv").display(),
        args.dir.join(&options.metrics[0]).display()
    );
    let mut few = outcome.without_interval;
    few.dedup();
    if !few.is_empty() {
        eprintln!(
            "apical: note: fewer than {} finished runs in group(s) {}: no interval for them (ci_low, ci_high empty)",
            apical_experiments::sweep::MIN_FOR_INTERVAL,
            few.join("; ")
        );
    }
    Ok(())
}

fn emit<T: serde::Serialize>(value: T, out: Option<PathBuf>) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(&value).expect("an analysis serialises") + "\n";
    match out {
        Some(path) => Ok(apical_run::write_atomic(&path, text.as_bytes())?),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn analyze(args: AnalyzeArgs) -> Result<(), Failure> {
    use apical_report::analyze::{self as a, FisherRequest, ResidualRequest};
    use apical_report::DecoderConfig;
    match (args.what, args.run_dir) {
        (Some(AnalyzeCommand::Fisher { responses, signal, context, method, subset_size, subsets, seed, out }), _) => {
            let method = method.parse().map_err(|message| ReportError::Analysis { message })?;
            emit(a::analyze_fisher(&FisherRequest { responses, signal, context, method, subset_size, subsets, seed })?, out)
        }
        (Some(AnalyzeCommand::Correlations { responses, signal, context, out }), _) => emit(a::analyze_correlations(&responses, &signal, context.as_deref())?, out),
        (Some(AnalyzeCommand::Decode { responses, labels, folds, shuffles, seed, out }), _) => {
            emit(a::analyze_decode(&responses, &labels, &DecoderConfig { folds, shuffles, seed, ..Default::default() })?, out)
        }
        (Some(AnalyzeCommand::Residuals { apical, soma, labels, error_change, groups, out }), _) => {
            emit(a::analyze_residuals(&ResidualRequest { apical, soma, labels, error_change, groups, decoder: DecoderConfig::default() })?, out)
        }
        (None, Some(dir)) => {
            if args.subset_size < 2 || args.subsets == 0 {
                return Err(ReportError::Analysis { message: format!("--subset-size must be at least 2 and --subsets at least 1, got {} and {}", args.subset_size, args.subsets) }.into());
            }
            let settings = apical_report::RunAnalysisSettings { subset_size: args.subset_size, subsets: args.subsets, shuffles: args.shuffles, seed: args.seed, decode_trials: args.decode_trials, bootstrap: args.bootstrap };
            a::analyze_run_against(&dir, args.passive.as_deref(), &settings)?;
            eprintln!("apical: wrote {}", apical_store::RunDir::new(&dir).analysis_json().display());
            Ok(())
        }
        (None, None) => Err(ReportError::Analysis { message: "give a run directory or one of: fisher, correlations, decode, residuals (see apical analyze --help)".into() }.into()),
    }
}

fn report(run: &apical_run::RunSummary) {
    let summary = &run.summary;
    if let (Some(late), Some(chance)) =
        (summary.closed_loop.late_success, summary.closed_loop.chance)
    {
        println!(
            "late success {late:.2} (chance {chance}) after {} trial steps ({:.1} s); run directory: {}",
            summary.steps,
            summary.wall_seconds,
            run.dir.display()
        );
        return;
    }
    let length = match summary.classifier.stopped_early_at_step {
        Some(step) => format!(
            "{step} of {} steps (stopped early: no better validation evaluation since step {})",
            summary.planned_steps,
            summary
                .classifier
                .best_validation_step
                .map_or_else(|| "0".to_string(), |s| s.to_string())
        ),
        None => format!("{} steps", summary.steps),
    };
    println!(
        "test accuracy {:.4} after {length} ({:.1} s); run directory: {}",
        summary.classifier.test_accuracy.unwrap_or(f64::NAN),
        summary.wall_seconds,
        run.dir.display()
    );
    if let Some(levels) = &summary.classifier.accuracy_by_signal {
        let parts: Vec<String> = levels
            .iter()
            .map(|l| format!("{:+}%: {:.3}", l.signal, l.accuracy))
            .collect();
        println!("accuracy by signal level: {}", parts.join(", "));
    }
}
