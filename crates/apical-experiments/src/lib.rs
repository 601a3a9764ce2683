//! Many runs at once, built on `apical-run`: sweeps from one file ([`sweep`]: local worker
//! processes or a Slurm job array, resumable, and `apical collect`), the few-shot protocol
//! ([`fewshot`]), one config on several backends ([`compare`]) and re-recording a trained run
//! ([`rerecord`]). A sweep's state lives in its run directories.
#![warn(missing_docs)]

pub mod compare;
mod error;
pub mod fewshot;
pub mod rerecord;
pub mod sweep;

pub use error::*;
