//! One round of the peer comparison (benches/peers/run.sh): `steps` timed training steps of a
//! rule at a size, after `warmup` untimed ones, printed as one JSON line in the peers' format.
//! Also the loop to profile: `perf record -g target/debug/examples/peer_round --rule bp ...`.
//!
//! ```text
//! cargo run --profile dev -p apical-benches --example peer_round -- --rule bp --net 784-256-10 --batch 64 --steps 200
//! ```

use std::time::Instant;

use apical::prelude::BackendKind;
use apical_benches::{sgemm_gflops, stepper, BenchRule, Size};

struct Args {
    rule: BenchRule,
    size: Size,
    steps: usize,
    warmup: usize,
    backend: BackendKind,
    sgemm: bool,
}

fn parse() -> Result<Args, String> {
    let mut rule = BenchRule::Backprop;
    let mut net = "784-256-10".to_string();
    let mut batch = 64usize;
    let mut steps = 200usize;
    let mut warmup = 20usize;
    let mut backend = BackendKind::Ndarray;
    let mut sgemm = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--sgemm" {
            sgemm = true;
            continue;
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag}: expected a value"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: expected a whole number, got {v:?}"))
        };
        match flag.as_str() {
            "--rule" => rule = BenchRule::parse(&value)?,
            "--net" => net = value,
            "--batch" => batch = number(&value)?,
            "--steps" => steps = number(&value)?.max(1),
            "--warmup" => warmup = number(&value)?,
            "--backend" => {
                backend = value
                    .parse()
                    .map_err(|_| format!("--backend: expected ndarray or wgpu, got {value:?}"))?
            }
            _ => {
                return Err(format!(
                    "unknown flag {flag:?} (expected --rule, --net, --batch, --steps, --warmup, --backend, --sgemm)"
                ))
            }
        }
    }
    Ok(Args {
        rule,
        size: Size::parse(&net, batch)?,
        steps,
        warmup,
        backend,
        sgemm,
    })
}

fn main() {
    let args = parse().unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(2);
    });
    if args.sgemm {
        let gflops = sgemm_gflops(args.backend, 1024, 20).unwrap_or_else(|e| {
            eprintln!("error: {e}");
            std::process::exit(1);
        });
        println!(
            "{{\"peer\": \"apical\", \"rule\": \"sgemm\", \"n\": 1024, \"backend\": \"{}\", \"gflops\": {gflops:.2}}}",
            args.backend.name()
        );
        return;
    }
    // The threads `apical run` would choose for this net (one for small nets unless
    // APICAL_THREADS or MATMUL_NUM_THREADS is set; like the binary, APICAL_THREADS also sets
    // the matrix library's).
    use apical::nn::{auto_threads_for, largest_product, shared_matmul_threads, THREAD_VARIABLES};
    let var = std::env::var_os;
    if let Some(threads) = shared_matmul_threads(
        var("APICAL_THREADS").as_deref(),
        var("MATMUL_NUM_THREADS").as_deref(),
    ) {
        std::env::set_var("MATMUL_NUM_THREADS", threads);
    }
    let user_set = THREAD_VARIABLES
        .iter()
        .any(|v| var(v).is_some_and(|v| !v.is_empty()));
    let macs = largest_product(args.size.batch, &args.size.widths());
    let auto = auto_threads_for(macs, user_set);
    if let Some(n) = auto {
        std::env::set_var("MATMUL_NUM_THREADS", n.to_string());
    }
    let [apical_threads, matmul_threads] = THREAD_VARIABLES.map(|v| std::env::var(v).ok());
    if let Some(n) =
        apical::nn::threads_from([apical_threads.as_deref(), matmul_threads.as_deref()])
    {
        apical::nn::set_threads(n);
    }
    let mut step = stepper(args.rule, &args.size, args.backend).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    for _ in 0..args.warmup {
        step();
    }
    let mut ms = Vec::with_capacity(args.steps);
    let mut loss = 0.0;
    for _ in 0..args.steps {
        let start = Instant::now();
        loss = step();
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let ms: Vec<String> = ms.iter().map(|m| format!("{m:.4}")).collect();
    println!(
        "{{\"peer\": \"apical\", \"rule\": \"{}\", \"net\": \"{}\", \"batch\": {}, \"T\": 5, \"backend\": \"{}\", \"matmul_threads\": \"{}\", \"loss_last\": {loss}, \"ms\": [{}], \"versions\": {{\"apical\": \"{}\", \"burn\": \"0.22.1\"}}}}",
        args.rule.name(),
        args.size.net(),
        args.size.batch,
        args.backend.name(),
        match auto {
            Some(n) => format!("{n} (auto)"),
            None => std::env::var("MATMUL_NUM_THREADS").unwrap_or_else(|_| "default".into()),
        },
        ms.join(", "),
        env!("CARGO_PKG_VERSION"),
    );
}
