use super::*;

const BASE: &str = r#"
[task]
kind = "digits"

[training]
steps = 10
"#;

fn parse(text: &str, overrides: &[&str]) -> Result<ExperimentConfig, ConfigError> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    ExperimentConfig::parse(text, Path::new("exp.toml"), &overrides)
}

fn key_of(text: &str, overrides: &[&str]) -> (String, String) {
    let err = parse(text, overrides).unwrap_err();
    let line = err.to_string();
    assert!(!line.contains('\n'), "one-line error expected: {line}");
    assert!(line.starts_with("exp.toml"), "names the file: {line}");
    (err.key, err.message)
}

#[test]
fn defaults_are_filled_and_round_trip() {
    let config = parse(BASE, &[]).unwrap();
    assert_eq!(config.training.batch_size, 64);
    assert_eq!(config.backend.kind, BackendKind::Ndarray);
    let again = parse(&config.to_toml(), &[]).unwrap();
    assert_eq!(again, config);
    assert!(config.to_toml().contains("learning_rate"));
}

#[test]
fn every_shipped_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            ExperimentConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 2);
}

#[test]
fn overrides_set_nested_keys_with_toml_values() {
    let config = parse(
        BASE,
        &[
            "training.steps=7",
            "model.hidden=[32, 16]",
            "optimizer.kind=sgd",
            "optimizer.momentum=0.5",
            "backend.kind=wgpu",
        ],
    )
    .unwrap();
    assert_eq!(config.training.steps, Some(7));
    assert_eq!(
        config.model,
        ModelConfig::Ff(apical_nn::FeedforwardParams {
            hidden: vec![32, 16],
            ..Default::default()
        })
    );
    assert_eq!(
        config.optimizer,
        OptimizerConfig::Sgd {
            momentum: 0.5,
            weight_decay: 0.0
        }
    );
    assert_eq!(config.backend.kind, BackendKind::Wgpu);
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let (key, message) = key_of(&format!("{BASE}lr = 3\n"), &[]);
    assert_eq!(key, "training.lr");
    assert!(message.contains("unknown field `lr`"), "{message}");
    let (key, message) = key_of(BASE, &["model.widths=[3]"]);
    assert!(key.starts_with("model"), "{key}");
    assert!(message.contains("widths"), "{message}");
    let (_, message) = key_of(BASE, &["colour=1"]);
    assert!(message.contains("colour"), "{message}");
    let (key, message) = key_of(BASE, &["task.kind=cifar"]);
    assert_eq!(key, "task.kind");
    assert!(
        message.contains("cifar") && message.contains("mnist"),
        "{message}"
    );
}

#[test]
fn wrong_types_are_refused_with_their_path() {
    let (key, message) = key_of(BASE, &["training.batch_size=\"big\""]);
    assert_eq!(key, "training.batch_size");
    assert!(message.contains("invalid type"), "{message}");
    let (key, _) = key_of(BASE, &["training.seed=-1"]);
    assert_eq!(key, "training.seed");
}

#[test]
fn impossible_values_are_refused_with_their_key() {
    let cases: &[(&str, &str)] = &[
        ("training.learning_rate=-0.1", "training.learning_rate"),
        ("training.batch_size=0", "training.batch_size"),
        ("training.steps=0", "training.steps"),
        ("model.hidden=[0]", "model.hidden"),
        ("model.noise_std=-1", "model.noise_std"),
        ("model.rate_noise=-0.5", "model.rate_noise"),
        ("optimizer.beta1=1.5", "optimizer.beta1"),
        ("task.test_fraction=0", "task.test_fraction"),
    ];
    for (set, expected) in cases {
        let (key, _) = key_of(BASE, &[set]);
        assert_eq!(&key, expected, "for --set {set}");
    }
    let (key, _) = key_of(BASE, &["rule.kind=reward-broadcast", "rule.sigma=0"]);
    assert_eq!(key, "rule.sigma");
    // Predictive coding's inference draws only noise_std: rate noise is refused, not ignored.
    let (key, message) = key_of(
        BASE,
        &["rule.kind=predictive-coding", "model.rate_noise=0.5"],
    );
    assert_eq!(key, "model.rate_noise");
    assert!(message.contains("predictive-coding"), "{message}");
    let (key, _) = key_of(BASE, &["rule.kind=kolen-pollack", "rule.decay=1.5"]);
    assert_eq!(key, "rule.decay");
    let (key, message) = key_of(BASE, &["rule.kind=feedback-alignment", "rule.decay=0.1"]);
    assert!(key.starts_with("rule"), "{key}");
    assert!(message.contains("decay"), "{message}");
    let orientation = "[task]\nkind = \"orientation\"\nsignal_levels = [3, 6]\n";
    let (key, message) = key_of(orientation, &[]);
    assert_eq!(key, "task.signal_levels");
    assert!(message.contains("must include 0"), "{message}");
}

#[test]
fn syntax_errors_and_bad_overrides_are_one_line() {
    let (key, message) = key_of("[task\nkind = 1", &[]);
    assert_eq!(key, "");
    assert!(message.contains("not valid TOML (line 1)"), "{message}");
    let (key, message) = key_of(BASE, &["training.steps"]);
    assert_eq!(key, "training.steps");
    assert!(message.contains("key.path=value"), "{message}");
    let (key, _) = key_of(BASE, &["training.steps.x=1"]);
    assert_eq!(key, "training.steps");
}

#[test]
fn timestamp_has_the_documented_shape() {
    let ts = utc_timestamp();
    assert_eq!(ts.len(), 15);
    assert_eq!(&ts[8..9], "-");
    assert!(ts[..4].parse::<u32>().unwrap() >= 2024);
}

#[test]
fn every_shipped_config_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            ExperimentConfig::load(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 15, "{n} configs");
}

#[test]
fn task_seeds_can_follow_the_training_seed() {
    let text = r#"
[task]
kind = "orientation"
seed = "training"
subset_seed = "training"

[training]
steps = 10
seed = 7
"#;
    let config = parse(text, &[]).unwrap();
    let TaskConfig::Orientation(task) = &config.task else {
        panic!("orientation")
    };
    assert_eq!((task.seed, task.subset_seed), (7, 7));
    // `--set training.seed` moves them too (a sweep over seeds varies every stream), and the
    // resolved config holds the numbers.
    let config = parse(text, &["training.seed=9"]).unwrap();
    let TaskConfig::Orientation(task) = &config.task else {
        panic!("orientation")
    };
    assert_eq!((task.seed, task.subset_seed), (9, 9));
    let written = parse(&config.to_toml(), &[]).unwrap();
    let TaskConfig::Orientation(task) = &written.task else {
        panic!("orientation")
    };
    assert_eq!(
        (task.seed, task.subset_seed),
        (9, 9),
        "config.toml records the numbers"
    );
    // A number stays a number; anything else is refused naming the key.
    let fixed = parse(&text.replace(r#"seed = "training""#, "seed = 3"), &[]).unwrap();
    let TaskConfig::Orientation(task) = &fixed.task else {
        panic!("orientation")
    };
    assert_eq!(task.seed, 3);
    let (key, message) = key_of(text, &["task.seed=\"run\""]);
    assert_eq!(key, "task.seed");
    assert!(message.contains("\"training\""), "{message}");
}

#[test]
fn errors_inside_a_section_name_the_key_and_the_set_that_caused_them() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "model.activation=\"foo\"",
            "model.activation",
            "unknown variant `foo`",
        ),
        ("model.noise_std=\"x\"", "model.noise_std", "invalid type"),
        ("model.bogus=1", "model.bogus", "unknown field `bogus`"),
        ("model.kind=\"foo\"", "model.kind", "unknown variant `foo`"),
        ("rule.kind=\"dendritic\"", "rule.kind", "gfn"),
        (
            "optimizer.momentum=0.9",
            "optimizer.momentum",
            "unknown field `momentum`",
        ),
    ];
    for (set, want_key, want_message) in cases {
        let err = parse(BASE, &[set]).unwrap_err();
        assert_eq!(&err.key, want_key, "--set {set}: {err}");
        assert!(err.message.contains(want_message), "--set {set}: {err}");
        assert_eq!(
            err.file,
            Path::new(&format!("exp.toml (--set {set})")),
            "{err}"
        );
    }
    // Inside an array of a task section.
    let orientation = "[task]\nkind = \"orientation\"\n";
    let err = parse(orientation, &["task.contexts=[\"cardinal\", \"x\"]"]).unwrap_err();
    assert_eq!(err.key, "task.contexts[1]", "{err}");
    // The same mistake in the file is the file's.
    let err = parse(
        "[task]\nkind = \"digits\"\n[model]\nactivation = \"foo\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(
        (err.key.as_str(), err.file.as_path()),
        ("model.activation", Path::new("exp.toml"))
    );
    // A key a kind without keys does not take.
    let err = parse(
        "[task]\nkind = \"digits\"\n[rule]\nkind = \"backprop\"\nbeta = 1\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(err.key, "rule.beta", "{err}");
    assert!(
        err.message
            .contains("rule.kind = \"backprop\" takes no other keys"),
        "{err}"
    );
}

#[test]
fn a_set_kind_drops_the_keys_the_new_kind_does_not_take_and_says_so() {
    let dendritic = "[task]\nkind = \"digits\"\n[model]\nkind = \"gfn\"\nsteps = 2\n[rule]\nkind = \"dendritic\"\nbeta = 2.0\n";
    let config = parse(dendritic, &["rule.kind=\"backprop\""]).unwrap();
    assert_eq!(config.rule.kind(), "backprop");
    assert_eq!(config.notes.len(), 1, "{:?}", config.notes);
    assert!(
        config.notes[0].contains("rule.beta") && config.notes[0].contains("dendritic"),
        "{:?}",
        config.notes
    );
    // A key the user sets with the new kind is not dropped: it is refused as usual.
    let err = parse(dendritic, &["rule.kind=\"backprop\"", "rule.beta=3"]).unwrap_err();
    assert_eq!(err.key, "rule.beta", "{err}");
    // Without a --set of the kind nothing is dropped.
    assert!(parse(dendritic, &[]).unwrap().notes.is_empty());
}

#[test]
fn a_set_of_the_runs_length_replaces_the_other_length_key() {
    let config = parse(BASE, &["training.epochs=3"]).unwrap();
    assert_eq!(
        (config.training.steps, config.training.epochs),
        (None, Some(3))
    );
    assert!(config.notes[0].contains("replaces the file's training.steps"));
    let epochs = "[task]\nkind = \"digits\"\n[training]\nepochs = 2\n";
    let config = parse(epochs, &["training.steps=7"]).unwrap();
    assert_eq!(
        (config.training.steps, config.training.epochs),
        (Some(7), None)
    );
    // Both in the file: refused, saying how to override.
    let both = "[task]\nkind = \"digits\"\n[training]\nsteps = 5\nepochs = 2\n";
    let (key, message) = key_of(both, &[]);
    assert_eq!(key, "training.steps");
    assert!(
        message.contains("a --set of either replaces the other"),
        "{message}"
    );
}

#[test]
fn settings_ignored_or_clamped_on_the_data_are_noticed() {
    let config = parse(BASE, &["training.batch_size=500", "training.eval_every=50"]).unwrap();
    let notices = config.notices(100);
    assert!(
        notices
            .iter()
            .any(|n| n.contains("batch_size = 500") && n.contains("100 training examples")),
        "{notices:?}"
    );
    assert!(
        notices
            .iter()
            .any(|n| n.contains("eval_every = 50") && n.contains("10 steps")),
        "{notices:?}"
    );
    assert!(parse(BASE, &["training.eval_every=5"])
        .unwrap()
        .notices(1000)
        .is_empty());
    let bci = "[task]\nkind = \"bci\"\n[model]\nkind = \"bci\"\n[rule]\nkind = \"dendritic\"\n[training]\nsteps = 10\n";
    let notices = parse(bci, &[]).unwrap().notices(0);
    assert!(
        notices
            .iter()
            .any(|n| n.contains("training.steps is not used")),
        "{notices:?}"
    );
}

#[test]
fn a_kind_change_drops_every_foreign_key_and_errors_blame_the_exact_set() {
    // A digits file whose subset seed is linked to the training seed, moved to mnist: the
    // digits-only key goes, the shared ones stay.
    let digits = "[task]\nkind = \"digits\"\nsubset_seed = \"training\"\ntest_fraction = 0.3\ntrain_per_class = 5\n[training]\nsteps = 10\nseed = 4\n";
    let config = parse(digits, &["task.kind=\"mnist\""]).unwrap();
    assert_eq!(config.task.kind(), "mnist");
    assert_eq!(config.task.subset().unwrap().train_per_class, Some(5));
    assert_eq!(config.task.subset().unwrap().subset_seed, 4);
    assert!(
        config.notes[0].contains("task.test_fraction"),
        "{:?}",
        config.notes
    );
    // The error of a key is the --set of that key, not of the section's kind.
    let err = parse(BASE, &["model.steps=\"x\"", "model.kind=\"gfn\""]).unwrap_err();
    assert_eq!(err.key, "model.steps");
    assert_eq!(
        err.file,
        Path::new("exp.toml (--set model.steps=\"x\")"),
        "{err}"
    );
    // A bad --set of a linked seed names that --set.
    let orientation = "[task]\nkind = \"orientation\"\n";
    let err = parse(orientation, &["task.seed=\"soon\""]).unwrap_err();
    assert_eq!(err.key, "task.seed");
    assert_eq!(
        err.file,
        Path::new("exp.toml (--set task.seed=\"soon\")"),
        "{err}"
    );
}
