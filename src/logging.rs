//! The log filter every Rustorium binary installs.
//!
//! arkworks instruments constraint synthesis with `info`-level spans (targets `gr1cs` and `r1cs`:
//! one per allocated variable and gadget call). With a subscriber at `info` they are created and
//! formatted by the hundred thousand per proof, which made a node at `RUSTORIUM_LOG=info` take
//! tens of seconds and gigabytes to become ready. Those targets are always off, whatever the
//! level asked for, so the log level never changes what the prover costs.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// Targets that are always off (arkworks' constraint-system tracing).
pub const SILENCED_TARGETS: [&str; 2] = ["gr1cs", "r1cs"];

/// The filter for `spec` (`RUSTORIUM_LOG`'s syntax, e.g. `info` or `rustorium=debug`; `warn`
/// when absent or invalid), with [`SILENCED_TARGETS`] off.
pub fn env_filter(spec: Option<&str>) -> EnvFilter {
    let mut filter = spec
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("warn"));
    for target in SILENCED_TARGETS {
        let directive: Directive = format!("{target}=off")
            .parse()
            .expect("a target=off directive parses");
        filter = filter.add_directive(directive);
    }
    filter
}

/// Installs the process's subscriber: to stderr, filtered by `RUSTORIUM_LOG` through
/// [`env_filter`]. Every Rustorium binary calls it first.
pub fn init_stderr() {
    tracing_subscriber::fmt()
        .with_env_filter(env_filter(std::env::var("RUSTORIUM_LOG").ok().as_deref()))
        .with_writer(std::io::stderr)
        .init();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystem};
    use rustorium_circuits::Fr;
    use rustorium_circuits::block::{BlockCircuit, CircuitShape};
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::{EnvFilter, Layer};

    use super::*;

    /// Counts the spans arkworks creates during synthesis.
    struct CountArkSpans(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> Layer<S> for CountArkSpans {
        fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
            if SILENCED_TARGETS.contains(&attrs.metadata().target()) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn ark_spans_under(filter: EnvFilter) -> usize {
        let count = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry()
            .with(filter)
            .with(CountArkSpans(count.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let cs = ConstraintSystem::<Fr>::new_ref();
            BlockCircuit::blank(CircuitShape {
                depth: 4,
                capacity: 1,
            })
            .expect("shape")
            .generate_constraints(cs)
            .expect("synthesize");
        });
        count.load(Ordering::Relaxed)
    }

    #[test]
    fn synthesis_creates_no_spans_at_any_log_level() {
        // A plain `info` filter lets arkworks' spans through (what the node did before)...
        assert!(ark_spans_under(EnvFilter::new("info")) > 1000);
        // ...ours never, at info or trace.
        assert_eq!(ark_spans_under(env_filter(Some("info"))), 0);
        assert_eq!(ark_spans_under(env_filter(Some("trace"))), 0);
        assert_eq!(ark_spans_under(env_filter(None)), 0);
    }
}
