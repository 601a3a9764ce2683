//! The one error of config validation: a parameter, named as in config files, and what was
//! expected. Model, rule, task and optimizer configs all return it from `validate()`; the run
//! layer prefixes the section (`model.`, `rule.`, …) and the file.

use thiserror::Error;

/// A hyper-parameter with an impossible value (linfa's validated-parameter style).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key}: {message}")]
pub struct InvalidParameter {
    /// The key as written in a config section (`hidden`, `top_down_rate`, …); empty when the
    /// section as a whole is at fault.
    pub key: String,
    /// What was expected, with the value given.
    pub message: String,
}

impl InvalidParameter {
    /// A new error about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The same error with `section.` put in front of the key (`hidden` → `model.hidden`).
    pub fn in_section(self, section: &str) -> Self {
        let key = if self.key.is_empty() {
            section.to_string()
        } else {
            format!("{section}.{}", self.key)
        };
        Self { key, ..self }
    }
}

/// Checks shared by config validators. Each returns the error naming `key`.
pub mod check {
    use super::InvalidParameter;

    /// `value` is finite and ≥ 0.
    pub fn non_negative(key: &str, value: f64) -> Result<(), InvalidParameter> {
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(InvalidParameter::new(
                key,
                format!("must be a finite number ≥ 0, got {value}"),
            ))
        }
    }

    /// `value` is finite and > 0.
    pub fn positive(key: &str, value: f64) -> Result<(), InvalidParameter> {
        if value.is_finite() && value > 0.0 {
            Ok(())
        } else {
            Err(InvalidParameter::new(
                key,
                format!("must be a finite number > 0, got {value}"),
            ))
        }
    }

    /// `value` ≥ 1.
    pub fn at_least_one(key: &str, value: usize) -> Result<(), InvalidParameter> {
        if value >= 1 {
            Ok(())
        } else {
            Err(InvalidParameter::new(key, "must be at least 1"))
        }
    }

    /// `low ≤ value < high` (`closed_high`: `≤ high`); `open_low`: `low < value`.
    pub fn in_range(
        key: &str,
        value: f64,
        low: f64,
        high: f64,
        open_low: bool,
        closed_high: bool,
    ) -> Result<(), InvalidParameter> {
        let above = if open_low { value > low } else { value >= low };
        let below = if closed_high {
            value <= high
        } else {
            value < high
        };
        if above && below {
            Ok(())
        } else {
            Err(InvalidParameter::new(
                key,
                format!(
                    "must be in {}{low}, {high}{}, got {value}",
                    if open_low { "(" } else { "[" },
                    if closed_high { "]" } else { ")" }
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_prefix_the_key_and_checks_name_it() {
        let e = InvalidParameter::new("hidden", "bad").in_section("model");
        assert_eq!(e.key, "model.hidden");
        assert_eq!(e.to_string(), "model.hidden: bad");
        assert_eq!(
            InvalidParameter::new("", "x").in_section("rule").key,
            "rule"
        );
        assert!(check::positive("beta", 0.0)
            .unwrap_err()
            .message
            .contains("> 0"));
        assert!(check::non_negative("s", f64::NAN).is_err());
        assert!(check::in_range("r", 2.0, 0.0, 2.0, true, false).is_err());
        assert!(check::in_range("r", 2.0, 0.0, 2.0, true, true).is_ok());
        assert!(check::at_least_one("n", 0).is_err());
    }
}
