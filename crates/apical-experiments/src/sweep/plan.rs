//! The sweep file and its points.
//!
//! ```toml
//! base = "configs/quickstart.toml"   # relative to the sweep file's directory, else the working directory
//! [set]                              # overrides applied to every point
//! "training.steps" = 200
//! [grid]                             # full product, in the order written
//! "training.seed" = [0, 1]
//! "training.learning_rate" = [0.001, 0.003]
//! [[zip]]                            # keys that vary together (any number of groups)
//! "model.hidden" = [[64], [128]]
//! "training.batch_size" = [16, 32]
//! [conditions.passive]               # named conditions, each a set of overrides
//! "model.engagement" = 0
//! ```
//!
//! Points are the product of the grid axes, the zip groups (one axis each) and the conditions
//! (one axis: every point runs under every condition). Each point is a full
//! [`ExperimentConfig`]: the base with `set`, the point's values and its condition applied as
//! `--set` overrides, checked like any config before anything runs.

use std::path::{Path, PathBuf};

use apical_run::{ConfigError, ExperimentConfig};

/// The key of the seed axis: `collect` aggregates over it.
pub const SEED_KEY: &str = "training.seed";

/// One run of the sweep.
#[derive(Debug, Clone)]
pub struct Point {
    /// Directory name: stable, readable, filesystem-safe (`learning_rate=0.001,seed=0`).
    pub name: String,
    /// The point's value on every swept key (the `condition` axis holds the condition name).
    pub swept: Vec<(String, toml::Value)>,
    /// Every override applied to the base, as `key=value` (TOML values).
    pub overrides: Vec<String>,
    /// The resolved config.
    pub config: ExperimentConfig,
}

/// A checked sweep: its file, base config and points.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    /// The sweep file.
    pub file: PathBuf,
    /// The base config (absolute).
    pub base: PathBuf,
    /// The swept keys, grid first, then zip groups, then `condition`.
    pub keys: Vec<String>,
    /// The points, in order.
    pub points: Vec<Point>,
    /// The resolved sweep file (`base` absolute), written as `sweep.toml`.
    pub resolved: String,
}

fn err(file: &Path, key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(file, key, message)
}

/// `[section]` tables written either with quoted dotted keys (`"training.steps" = 1`) or as
/// nested tables (`training.steps = 1`): both become (dotted key, value), in file order.
fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&path, inner, out),
            other => out.push((path, other.clone())),
        }
    }
}

fn table<'a>(
    file: &Path,
    root: &'a toml::Table,
    key: &str,
) -> Result<Option<&'a toml::Table>, ConfigError> {
    match root.get(key) {
        None => Ok(None),
        Some(toml::Value::Table(t)) => Ok(Some(t)),
        Some(_) => Err(err(file, key, "expected a table of \"key.path\" = value")),
    }
}

/// A value as it appears in a point's name: numbers and words as written, arrays joined by
/// `x` (`[64, 32]` → `64x32`), anything outside `[A-Za-z0-9._+-]` replaced by `_`.
fn name_part(value: &toml::Value) -> String {
    let raw = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items.iter().map(name_part).collect::<Vec<_>>().join("x"),
        other => other.to_string(),
    };
    raw.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl SweepPlan {
    /// Reads, expands and checks `file`. Every error names the file and the key; a point whose
    /// combination is invalid is named with its overrides.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file)
            .map_err(|e| err(file, "", format!("cannot read the sweep file: {e}")))?;
        Self::parse(&text, file)
    }

    /// Like [`load`](Self::load) for a sweep file's text already in memory (`file` names it in
    /// errors, and a relative `base` is looked for beside it).
    pub fn parse(text: &str, file: &Path) -> Result<Self, ConfigError> {
        let root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            let place = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            err(
                file,
                "",
                format!("not valid TOML{place}: {}", e.message().trim()),
            )
        })?;
        for key in root.keys() {
            if !["base", "set", "grid", "zip", "conditions"].contains(&key.as_str()) {
                return Err(err(
                    file,
                    key,
                    "unknown key; a sweep file has base, [set], [grid], [[zip]], [conditions.<name>]",
                ));
            }
        }
        let base = match root.get("base") {
            Some(toml::Value::String(s)) => PathBuf::from(s),
            Some(_) => return Err(err(file, "base", "expected the path of a config file")),
            None => {
                return Err(err(
                    file,
                    "base",
                    "missing: the config every point starts from",
                ))
            }
        };
        let beside = file.parent().unwrap_or(Path::new(".")).join(&base);
        let base = [beside, base.clone()]
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| {
                err(
                    file,
                    "base",
                    format!(
                        "{} not found (relative to the sweep file's directory or the working directory)",
                        base.display()
                    ),
                )
            })?;
        let base = base.canonicalize().unwrap_or(base);

        let mut set = Vec::new();
        if let Some(t) = table(file, &root, "set")? {
            flatten("", t, &mut set);
        }
        // The swept keys, in file order: grid keys, then each zip group's.
        let mut swept_keys: Vec<String> = Vec::new();
        // Zip groups: one axis of tuples each; `groups[i]` = the keys of axis i.
        let mut groups: Vec<Vec<(String, Vec<toml::Value>)>> = Vec::new();
        let as_values = |key: &str, v: &toml::Value| -> Result<Vec<toml::Value>, ConfigError> {
            match v {
                toml::Value::Array(items) if !items.is_empty() => Ok(items.clone()),
                _ => Err(err(
                    file,
                    key,
                    "expected a non-empty array of the values to sweep",
                )),
            }
        };
        if let Some(t) = table(file, &root, "grid")? {
            let mut flat = Vec::new();
            flatten("", t, &mut flat);
            for (key, value) in flat {
                let values = as_values(&format!("grid.{key}"), &value)?;
                groups.push(vec![(key, values)]);
            }
        }
        match root.get("zip") {
            None => {}
            Some(toml::Value::Array(zips)) => {
                for (i, z) in zips.iter().enumerate() {
                    let toml::Value::Table(t) = z else {
                        return Err(err(file, &format!("zip[{i}]"), "expected a table"));
                    };
                    let mut flat = Vec::new();
                    flatten("", t, &mut flat);
                    let mut group = Vec::new();
                    for (key, value) in flat {
                        group.push((key.clone(), as_values(&format!("zip[{i}].{key}"), &value)?));
                    }
                    let lengths: Vec<usize> = group.iter().map(|(_, v)| v.len()).collect();
                    if lengths.is_empty() || lengths.iter().any(|&l| l != lengths[0]) {
                        return Err(err(
                            file,
                            &format!("zip[{i}]"),
                            format!("the keys of a zip group vary together and need arrays of one length, got lengths {lengths:?}"),
                        ));
                    }
                    groups.push(group);
                }
            }
            Some(_) => return Err(err(file, "zip", "expected [[zip]] tables")),
        }
        let mut seen = std::collections::BTreeSet::new();
        for (key, _) in groups.iter().flatten() {
            if !seen.insert(key.clone()) {
                return Err(err(
                    file,
                    key,
                    "swept twice (in [grid] and [[zip]], or two zip groups)",
                ));
            }
            swept_keys.push(key.clone());
        }
        if let Some((key, _)) = set.iter().find(|(k, _)| seen.contains(k)) {
            return Err(err(
                file,
                &format!("set.{key}"),
                "is also swept in [grid] or [[zip]]; the swept values would silently replace it",
            ));
        }
        let set_overrides: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
        ExperimentConfig::load(&base, &set_overrides).map_err(|e| {
            err(
                file,
                &format!("set.{}", e.key),
                format!("[set] on the base config: {}", e.message),
            )
        })?;
        let mut conditions: Vec<(String, Vec<(String, toml::Value)>)> = Vec::new();
        if let Some(t) = table(file, &root, "conditions")? {
            for (name, value) in t {
                let toml::Value::Table(c) = value else {
                    return Err(err(
                        file,
                        &format!("conditions.{name}"),
                        "expected a table of overrides",
                    ));
                };
                if name_part(&toml::Value::String(name.clone())) != *name {
                    return Err(err(
                        file,
                        &format!("conditions.{name}"),
                        "condition names may hold only letters, digits and . _ + -",
                    ));
                }
                let mut flat = Vec::new();
                flatten("", c, &mut flat);
                if let Some((key, _)) = flat.iter().find(|(k, _)| seen.contains(k)) {
                    return Err(err(
                        file,
                        &format!("conditions.{name}.{key}"),
                        "is also swept in [grid] or [[zip]]; a condition would silently replace the swept value",
                    ));
                }
                conditions.push((name.clone(), flat));
            }
        }

        // Expand: mixed-radix counting over the groups (first group slowest), then conditions.
        let sizes: Vec<usize> = groups.iter().map(|g| g[0].1.len()).collect();
        let total: usize = sizes.iter().product::<usize>() * conditions.len().max(1);
        let mut keys = swept_keys;
        if !conditions.is_empty() {
            keys.push("condition".into());
        }
        // Short names: the last path segment, unless two swept keys share it.
        let short: Vec<String> = keys
            .iter()
            .map(|k| {
                let last = k.rsplit('.').next().unwrap_or(k);
                let clash = keys
                    .iter()
                    .filter(|o| o.rsplit('.').next() == Some(last))
                    .count()
                    > 1;
                if clash {
                    k.clone()
                } else {
                    last.to_string()
                }
            })
            .collect();
        let mut points = Vec::with_capacity(total);
        let mut names = std::collections::BTreeSet::new();
        for index in 0..total {
            let (condition_index, mut rest) = if conditions.is_empty() {
                (None, index)
            } else {
                (Some(index % conditions.len()), index / conditions.len())
            };
            let mut picks = vec![0; groups.len()];
            for g in (0..groups.len()).rev() {
                picks[g] = rest % sizes[g];
                rest /= sizes[g];
            }
            let mut swept: Vec<(String, toml::Value)> = Vec::new();
            for (g, group) in groups.iter().enumerate() {
                for (key, values) in group {
                    swept.push((key.clone(), values[picks[g]].clone()));
                }
            }
            let mut overrides: Vec<String> = set.iter().map(|(k, v)| format!("{k}={v}")).collect();
            overrides.extend(swept.iter().map(|(k, v)| format!("{k}={v}")));
            let mut parts: Vec<String> = Vec::new();
            if let Some(c) = condition_index {
                let (name, with) = &conditions[c];
                overrides.extend(with.iter().map(|(k, v)| format!("{k}={v}")));
                swept.push(("condition".into(), toml::Value::String(name.clone())));
            }
            for (i, (_, value)) in swept.iter().enumerate() {
                parts.push(if keys[i] == "condition" {
                    name_part(value)
                } else {
                    format!("{}={}", short[i], name_part(value))
                });
            }
            let name = if parts.is_empty() {
                "base".to_string()
            } else {
                parts.join(",")
            };
            if !names.insert(name.clone()) {
                return Err(err(
                    file,
                    "",
                    format!("two points would share the directory name {name:?}; make the swept values distinct"),
                ));
            }
            let config = ExperimentConfig::load(&base, &overrides)
                .map(|c| ExperimentConfig {
                    name: Some(name.clone()),
                    ..c
                })
                .map_err(|e| {
                    err(
                        file,
                        &e.key,
                        format!(
                            "point {name} (overrides {}): {}",
                            overrides.join(" "),
                            e.message
                        ),
                    )
                })?;
            points.push(Point {
                name,
                swept,
                overrides,
                config,
            });
        }
        let mut resolved = root.clone();
        resolved.insert(
            "base".into(),
            toml::Value::String(base.display().to_string()),
        );
        Ok(Self {
            file: file.to_path_buf(),
            base,
            keys,
            points,
            resolved: toml::to_string(&resolved).expect("a sweep table serialises"),
        })
    }

    /// `points.csv`: the point's name, its value on every swept key, and its overrides.
    pub fn points_csv(&self) -> String {
        let mut header = vec!["point".to_string()];
        header.extend(self.keys.iter().cloned());
        header.push("overrides".into());
        let mut out = super::csv::line(&header);
        for p in &self.points {
            let mut row = vec![p.name.clone()];
            row.extend(p.swept.iter().map(|(_, v)| match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            }));
            row.push(p.overrides.join(" "));
            out.push_str(&super::csv::line(&row));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &str) -> Result<SweepPlan, ConfigError> {
        let dir = apical_store::testdir::tempdir().unwrap();
        let base = dir.path().join("base.toml");
        std::fs::write(&base, "[task]\nkind = \"digits\"\n[training]\nsteps = 5\n").unwrap();
        let file = dir.path().join("sweep.toml");
        std::fs::write(&file, text).unwrap();
        SweepPlan::load(&file)
    }

    #[test]
    fn expands_grid_zip_and_conditions_in_order() {
        let p = plan(
            r#"
base = "base.toml"
[set]
"training.eval_every" = 5
[grid]
"training.seed" = [0, 1]
"training.learning_rate" = [0.001, 0.003]
[[zip]]
"model.hidden" = [[64], [128, 32]]
"training.batch_size" = [16, 32]
[conditions.fast]
"training.steps" = 2
[conditions.slow]
"training.steps" = 4
"#,
        )
        .unwrap();
        assert_eq!(p.points.len(), 2 * 2 * 2 * 2);
        assert_eq!(
            p.keys,
            [
                "training.seed",
                "training.learning_rate",
                "model.hidden",
                "training.batch_size",
                "condition"
            ]
        );
        let first = &p.points[0];
        assert_eq!(
            first.name,
            "seed=0,learning_rate=0.001,hidden=64,batch_size=16,fast"
        );
        assert_eq!(first.config.training.steps, Some(2));
        assert_eq!(first.config.training.eval_every, 5);
        assert_eq!(first.config.name.as_deref(), Some(first.name.as_str()));
        let last = p.points.last().unwrap();
        assert_eq!(
            last.name,
            "seed=1,learning_rate=0.003,hidden=128x32,batch_size=32,slow"
        );
        assert_eq!(last.config.model.hidden(), &[128, 32]);
        assert_eq!(last.config.training.batch_size, 32);
        let csv = p.points_csv();
        assert!(csv.starts_with("point,training.seed,training.learning_rate,model.hidden,training.batch_size,condition,overrides\n"));
        assert!(csv.contains("\"[128, 32]\""));
    }

    #[test]
    fn every_shipped_sweep_file_plans() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/sweeps");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let plan = SweepPlan::load(&path).unwrap_or_else(|e| panic!("{e}"));
            assert!(!plan.points.is_empty());
            n += 1;
        }
        assert!(n >= 2);
    }

    #[test]
    fn refusals_name_the_key_or_the_point() {
        let key = |text: &str| plan(text).unwrap_err().key;
        assert_eq!(key("base = \"base.toml\"\nextra = 1\n"), "extra");
        assert_eq!(key("base = \"nope.toml\"\n"), "base");
        assert_eq!(
            key("base = \"base.toml\"\n[grid]\n\"training.seed\" = []\n"),
            "grid.training.seed"
        );
        assert_eq!(
            key("base = \"base.toml\"\n[[zip]]\n\"training.seed\" = [1, 2]\n\"training.batch_size\" = [3]\n"),
            "zip[0]"
        );
        let e = plan("base = \"base.toml\"\n[grid]\n\"training.learning_rate\" = [0.1, -1.0]\n")
            .unwrap_err();
        assert_eq!(e.key, "training.learning_rate");
        assert!(
            e.message.contains("point learning_rate=-1.0"),
            "{}",
            e.message
        );
        assert_eq!(
            key("base = \"base.toml\"\n[set]\n\"training.seed\" = 3\n[grid]\n\"training.seed\" = [1, 2]\n"),
            "set.training.seed"
        );
        assert_eq!(
            key("base = \"base.toml\"\n[set]\n\"training.stp\" = 3\n[grid]\n\"training.seed\" = [1, 2]\n"),
            "set.training.stp"
        );
        assert_eq!(
            key("base = \"base.toml\"\n[grid]\n\"training.steps\" = [1, 2]\n[conditions.fast]\n\"training.steps\" = 3\n"),
            "conditions.fast.training.steps"
        );
        let e = plan("base = \"base.toml\"\n[grid]\n\"model.hiddn\" = [[4]]\n").unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
    }
}
