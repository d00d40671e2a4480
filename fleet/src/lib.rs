//! The proving fleet (issue 17): proving jobs leave the node through NATS JetStream, stateless
//! prover workers on other machines prove them, and their results come back to the node, which
//! checks every one before it stores it. docs/protocol.md ("The proving fleet") specifies the
//! streams, subjects and encodings; docs/operations.md deploys it.
//!
//! | stream | subjects | retention | what |
//! | --- | --- | --- | --- |
//! | `RUSTORIUM_JOBS` | `rustorium.jobs.<chain>.d<depth>c<capacity>` | work queue | one job per block, message id `<chain>-<height>` (de-duplicated by height) |
//! | `RUSTORIUM_RESULTS` | `rustorium.results.<chain>` | limits (age) | proofs from workers; each node reads them through its own durable consumer |
//! | `RUSTORIUM_DEAD` | `rustorium.dead.<chain>` | limits (age) | jobs whose deliveries were exhausted (proven in the node's process) |
//! | `RUSTORIUM_ACCEPTED` | `rustorium.accepted.<chain>` | limits (age) | every accepted transfer, message id its hash: a replayable log |
//!
//! Leases are JetStream acknowledgements: a worker's pull consumer (`provers-<chain>-d<d>c<c>`,
//! shared by every worker of that chain and shape) delivers a job with an ack wait; the worker
//! extends it with in-progress acks while it proves and acknowledges the job only after the
//! results stream has acknowledged the proof. A worker that dies stops extending its lease and the
//! job is delivered again, at most `max_deliver` times; then the server's max-deliveries advisory
//! tells the node, which moves the job to the dead-letter subject and proves it itself.

pub mod local;
pub mod result;
pub mod worker;

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use rustorium_circuits::block::CircuitShape;
use thiserror::Error;

pub use result::{ProofResult, ResultError, valid_worker_name};

/// The jobs stream.
pub const JOBS_STREAM: &str = "RUSTORIUM_JOBS";
/// The results stream.
pub const RESULTS_STREAM: &str = "RUSTORIUM_RESULTS";
/// The dead-letter stream.
pub const DEAD_STREAM: &str = "RUSTORIUM_DEAD";
/// The accepted-transfer stream.
pub const ACCEPTED_STREAM: &str = "RUSTORIUM_ACCEPTED";
/// Header naming the worker that published a result (a label, as untrusted as the result).
pub const WORKER_HEADER: &str = "Rustorium-Worker";
/// Header naming the height a result or a job is for (so that a garbled result still names the
/// job to queue again).
pub const HEIGHT_HEADER: &str = "Rustorium-Height";

/// The subject of chain `chain`'s jobs of `shape`.
pub fn job_subject(chain: u64, shape: CircuitShape) -> String {
    format!("rustorium.jobs.{chain}.d{}c{}", shape.depth, shape.capacity)
}

/// The durable pull consumer every worker of chain `chain` and `shape` shares.
pub fn jobs_consumer(chain: u64, shape: CircuitShape) -> String {
    format!("provers-{chain}-d{}c{}", shape.depth, shape.capacity)
}

/// The subject of chain `chain`'s results.
pub fn results_subject(chain: u64) -> String {
    format!("rustorium.results.{chain}")
}

/// The subject of chain `chain`'s dead letters.
pub fn dead_subject(chain: u64) -> String {
    format!("rustorium.dead.{chain}")
}

/// The subject of chain `chain`'s accepted transfers.
pub fn accepted_subject(chain: u64) -> String {
    format!("rustorium.accepted.{chain}")
}

/// The advisory subject the server publishes when a jobs consumer exhausts a job's deliveries.
pub fn max_deliveries_advisory(chain: u64, shape: CircuitShape) -> String {
    format!(
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{JOBS_STREAM}.{}",
        jobs_consumer(chain, shape)
    )
}

/// Errors of the fleet's transport.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The server's URL.
        url: String,
        /// What the client said.
        reason: String,
    },
    /// A stream or consumer could not be made or read.
    #[error("JetStream {what}: {reason}")]
    JetStream {
        /// Which operation.
        what: &'static str,
        /// What the server or client said.
        reason: String,
    },
    /// A publication was not acknowledged by the stream.
    #[error("publish to {subject}: {reason}")]
    Publish {
        /// The subject.
        subject: String,
        /// What the server or client said.
        reason: String,
    },
    /// The worker's configuration is unusable (no keys, a bad name).
    #[error("{0}")]
    Config(String),
    /// Proving failed in the worker.
    #[error("prover: {0}")]
    Prover(#[from] rustorium_prover::ProverError),
}

fn js_err(what: &'static str) -> impl FnOnce(&dyn std::fmt::Display) -> FleetError {
    move |e| FleetError::JetStream {
        what,
        reason: e.to_string(),
    }
}

/// How the jobs consumers and streams are set up (the node's `[fleet]` section; the node creates
/// them, workers use what exists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSettings {
    /// The lease: a delivered job is delivered again when its worker neither acknowledges nor
    /// extends it for this long.
    pub ack_wait: Duration,
    /// Deliveries of one job before it is a dead letter.
    pub max_deliver: i64,
    /// Stream replicas (1 on a single server; 3 on a 3-server cluster).
    pub replicas: usize,
    /// How long results, dead letters and accepted transfers are kept.
    pub retention: Duration,
    /// The window in which a job's message id de-duplicates a second publication.
    pub duplicate_window: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            ack_wait: Duration::from_secs(30),
            max_deliver: 5,
            replicas: 1,
            retention: Duration::from_secs(24 * 3600),
            duplicate_window: Duration::from_secs(600),
        }
    }
}

/// Counts of one jobs consumer, as the server reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Jobs waiting for a worker.
    pub pending: u64,
    /// Jobs delivered and not yet acknowledged (leases held).
    pub in_flight: u64,
    /// Jobs delivered more than once and still not acknowledged.
    pub redelivered: u64,
    /// Pull requests of workers waiting for a job (0 while every worker is busy, or none runs).
    pub waiting: u64,
}

/// A connection to the fleet's NATS server (or cluster) for one chain.
#[derive(Clone, Debug)]
pub struct Link {
    client: async_nats::Client,
    js: jetstream::Context,
    chain: u64,
}

/// What a publication to a stream returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    /// The message's sequence in its stream.
    pub sequence: u64,
    /// The stream had a message of this id already (nothing was added).
    pub duplicate: bool,
}

impl Link {
    /// Connects to `url` (comma-separated for a cluster), retrying the first connection for up to
    /// `connect_timeout`; the client reconnects by itself afterwards.
    pub async fn connect(
        url: &str,
        chain: u64,
        name: &str,
        connect_timeout: Duration,
    ) -> Result<Self, FleetError> {
        let err = |reason: String| FleetError::Connect {
            url: url.to_string(),
            reason,
        };
        // Every server of a cluster, so that the first connection and reconnections try each.
        let servers = url
            .split(',')
            .map(|u| u.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| err(format!("bad URL: {e}")))?;
        let deadline = tokio::time::Instant::now() + connect_timeout;
        let client = loop {
            let attempt = async_nats::ConnectOptions::new()
                .name(name)
                .connection_timeout(Duration::from_secs(2))
                .max_reconnects(None)
                .connect(servers.as_slice())
                .await;
            match attempt {
                Ok(c) => break c,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(err(e.to_string()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(10));
        Ok(Self { client, js, chain })
    }

    /// The chain this link serves.
    pub fn chain(&self) -> u64 {
        self.chain
    }

    /// The underlying client (subscriptions to advisories).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The JetStream context.
    pub fn jetstream(&self) -> &jetstream::Context {
        &self.js
    }

    /// Creates the four streams if they do not exist (an existing stream is used as it is: an
    /// operator may have tuned it).
    pub async fn ensure_streams(&self, s: &QueueSettings) -> Result<(), FleetError> {
        let limits = |name: &str, subject: &str| stream::Config {
            name: name.to_string(),
            subjects: vec![subject.to_string()],
            retention: stream::RetentionPolicy::Limits,
            storage: stream::StorageType::File,
            num_replicas: s.replicas,
            max_age: s.retention,
            duplicate_window: s.duplicate_window.min(s.retention),
            ..Default::default()
        };
        let jobs = stream::Config {
            retention: stream::RetentionPolicy::WorkQueue,
            max_age: Duration::ZERO,
            duplicate_window: s.duplicate_window,
            ..limits(JOBS_STREAM, "rustorium.jobs.>")
        };
        for config in [
            jobs,
            limits(RESULTS_STREAM, "rustorium.results.>"),
            limits(DEAD_STREAM, "rustorium.dead.>"),
            limits(ACCEPTED_STREAM, "rustorium.accepted.>"),
        ] {
            self.js
                .get_or_create_stream(config)
                .await
                .map_err(|e| js_err("create stream")(&e))?;
        }
        Ok(())
    }

    /// Creates (node) the jobs consumer of `shape`.
    pub async fn ensure_jobs_consumer(
        &self,
        shape: CircuitShape,
        s: &QueueSettings,
    ) -> Result<(), FleetError> {
        let stream = self.stream(JOBS_STREAM).await?;
        let name = jobs_consumer(self.chain, shape);
        stream
            .get_or_create_consumer(
                &name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    filter_subject: job_subject(self.chain, shape),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: s.ack_wait,
                    max_deliver: s.max_deliver,
                    num_replicas: s.replicas,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| js_err("create jobs consumer")(&e))?;
        Ok(())
    }

    /// The jobs consumer of `shape`, waiting up to `wait` for the node to create it (workers).
    pub async fn jobs_consumer(
        &self,
        shape: CircuitShape,
        wait: Duration,
    ) -> Result<consumer::Consumer<consumer::pull::Config>, FleetError> {
        let deadline = tokio::time::Instant::now() + wait;
        let name = jobs_consumer(self.chain, shape);
        loop {
            let found = match self.js.get_stream(JOBS_STREAM).await {
                Ok(stream) => stream.get_consumer(&name).await.ok(),
                Err(_) => None,
            };
            if let Some(c) = found {
                return Ok(c);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(FleetError::JetStream {
                    what: "jobs consumer",
                    reason: format!("{name} does not exist (is a node with this [fleet] running?)"),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A node's durable consumer of the results (`durable` names the node).
    pub async fn results_consumer(
        &self,
        durable: &str,
    ) -> Result<consumer::Consumer<consumer::pull::Config>, FleetError> {
        let stream = self.stream(RESULTS_STREAM).await?;
        stream
            .get_or_create_consumer(
                durable,
                consumer::pull::Config {
                    durable_name: Some(durable.to_string()),
                    filter_subject: results_subject(self.chain),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(60),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| js_err("create results consumer")(&e))
    }

    async fn stream(&self, name: &str) -> Result<stream::Stream, FleetError> {
        self.js
            .get_stream(name)
            .await
            .map_err(|e| js_err("get stream")(&e))
    }

    /// Publishes bytes to a stream subject with a message id and headers, and waits for the
    /// stream's acknowledgement (the message is then stored, replicated on a cluster).
    pub async fn publish(
        &self,
        subject: String,
        msg_id: &str,
        headers: &[(&str, String)],
        payload: Vec<u8>,
    ) -> Result<Published, FleetError> {
        let mut map = HeaderMap::new();
        map.insert("Nats-Msg-Id", msg_id);
        for (k, v) in headers {
            map.insert(*k, v.as_str());
        }
        let err = |reason: String, subject: &str| FleetError::Publish {
            subject: subject.to_string(),
            reason,
        };
        let ack = self
            .js
            .publish_with_headers(subject.clone(), map, payload.into())
            .await
            .map_err(|e| err(e.to_string(), &subject))?
            .await
            .map_err(|e| err(e.to_string(), &subject))?;
        Ok(Published {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// Publishes the encoded job of block `height` (`attempt` 0: the first publication, whose
    /// id `<chain>-<height>` de-duplicates; later attempts re-queue a job the queue no longer has).
    pub async fn publish_job(
        &self,
        shape: CircuitShape,
        height: u64,
        attempt: u32,
        job: Vec<u8>,
    ) -> Result<Published, FleetError> {
        let id = if attempt == 0 {
            format!("{}-{height}", self.chain)
        } else {
            format!("{}-{height}-{attempt}", self.chain)
        };
        self.publish(
            job_subject(self.chain, shape),
            &id,
            &[(HEIGHT_HEADER, height.to_string())],
            job,
        )
        .await
    }

    /// Whether the jobs stream still holds message `sequence` (queued, or leased and not yet
    /// acknowledged).
    pub async fn job_queued(&self, sequence: u64) -> Result<bool, FleetError> {
        let stream = self.stream(JOBS_STREAM).await?;
        match stream.get_raw_message(sequence).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(false),
            Err(e) => Err(js_err("read job")(&e)),
        }
    }

    /// Removes job `sequence` from the jobs stream and returns its bytes (`None`: already gone).
    pub async fn take_job(&self, sequence: u64) -> Result<Option<Vec<u8>>, FleetError> {
        let stream = self.stream(JOBS_STREAM).await?;
        let msg = match stream.get_raw_message(sequence).await {
            Ok(m) => m,
            Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => return Ok(None),
            Err(e) => return Err(js_err("read job")(&e)),
        };
        stream
            .delete_message(sequence)
            .await
            .map_err(|e| js_err("delete job")(&e))?;
        Ok(Some(msg.payload.to_vec()))
    }

    /// Every accepted transfer the accepted-transfer stream holds for this chain, oldest first
    /// (an ordered ephemeral consumer read up to the subject's last message at the call).
    pub async fn accepted_transfers(&self) -> Result<Vec<Vec<u8>>, FleetError> {
        let stream = self.stream(ACCEPTED_STREAM).await?;
        let subject = accepted_subject(self.chain);
        let last = match stream.get_last_raw_message_by_subject(&subject).await {
            Ok(m) => m.sequence,
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(js_err("read accepted transfers")(&e)),
        };
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: subject,
                deliver_policy: consumer::DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| js_err("accepted-transfer consumer")(&e))?;
        let mut messages = consumer
            .messages()
            .await
            .map_err(|e| js_err("read accepted transfers")(&e))?;
        let mut out = Vec::new();
        while let Some(m) = futures_util::StreamExt::next(&mut messages).await {
            let m = m.map_err(|e| js_err("read accepted transfers")(&e))?;
            out.push(m.payload.to_vec());
            let seq = m
                .info()
                .map_err(|e| js_err("read accepted transfers")(&e))?;
            if seq.stream_sequence >= last {
                break;
            }
        }
        Ok(out)
    }

    /// The jobs consumer's counts for `shape`.
    pub async fn queue_stats(&self, shape: CircuitShape) -> Result<QueueStats, FleetError> {
        let stream = self.stream(JOBS_STREAM).await?;
        let mut c: consumer::Consumer<consumer::pull::Config> = stream
            .get_consumer(&jobs_consumer(self.chain, shape))
            .await
            .map_err(|e| js_err("jobs consumer")(&e))?;
        let info = c.info().await.map_err(|e| js_err("consumer info")(&e))?;
        Ok(QueueStats {
            pending: info.num_pending,
            in_flight: info.num_ack_pending as u64,
            redelivered: info.num_redelivered as u64,
            waiting: info.num_waiting as u64,
        })
    }
}

/// The stream sequence a max-deliveries advisory names (`None`: not such an advisory).
pub fn advisory_sequence(payload: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(payload).ok()?;
    v.get("stream_seq")?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_consumers_name_chain_and_shape() {
        let shape = CircuitShape {
            depth: 8,
            capacity: 4,
        };
        assert_eq!(job_subject(7, shape), "rustorium.jobs.7.d8c4");
        assert_eq!(jobs_consumer(7, shape), "provers-7-d8c4");
        assert_eq!(
            max_deliveries_advisory(7, shape),
            "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.RUSTORIUM_JOBS.provers-7-d8c4"
        );
        assert_eq!(
            advisory_sequence(br#"{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream_seq":42,"deliveries":5}"#),
            Some(42)
        );
        assert_eq!(advisory_sequence(b"not json"), None);
        assert_eq!(advisory_sequence(br#"{"stream_seq":"x"}"#), None);
    }
}
