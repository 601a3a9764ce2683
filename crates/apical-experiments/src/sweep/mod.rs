//! Sweeps: many runs from one file. [`plan`] reads and checks the sweep file and expands it
//! into points; [`local`] runs the points as worker processes (resumable); [`collect`](mod@collect) turns
//! the finished runs into `results.csv`, `aggregate.csv` and a plot; [`slurm`] submits the
//! points as a Slurm job array; [`csv`] is the quoting these tables share.

pub mod collect;
pub mod csv;
pub mod local;
pub mod plan;
pub mod slurm;

pub use collect::*;
pub use local::*;
pub use plan::*;
