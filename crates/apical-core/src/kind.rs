//! Reaching the config type of one kind of a tagged config section (`[model]`, `[task]`,
//! `[rule]`: `kind = …` picks the type of the other keys).

/// Something done with the config type of one `kind`, chosen by its name (each tagged section
/// offers `visit_kind(kind, visitor)`): e.g. reading the section's keys into that type alone,
/// so that an error can name the key inside the section (serde cannot follow a key's path
/// through an internally tagged enum).
pub trait KindVisitor {
    /// What the visit gives.
    type Output;
    /// Visits the config type `T` of the kind asked for.
    fn visit<T: serde::de::DeserializeOwned>(self) -> Self::Output;
}
