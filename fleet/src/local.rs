//! A local `nats-server` with JetStream as a child process, on a free loopback port with its store
//! in a directory of ours: `rustorium devnet --fleet N`, the fleet tests and `bench fleet` start
//! one. Debian's package installs the binary as `/usr/sbin/nats-server`, outside a normal user's
//! PATH, so that directory is searched too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::FleetError;

/// A running `nats-server -js`.
#[derive(Debug)]
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    store: PathBuf,
    binary: PathBuf,
}

/// Where `nats-server` is: `$PATH`, then `/usr/sbin` and `/usr/local/sbin`.
pub fn find_nats_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16, FleetError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| FleetError::Config(format!("no free loopback port: {e}")))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| FleetError::Config(e.to_string()))
}

impl NatsServer {
    /// Starts a server with JetStream's file store under `store` and waits until it accepts
    /// connections (10 s at most). Fails with a clear error when `nats-server` is not installed.
    pub fn start(store: &Path) -> Result<Self, FleetError> {
        let binary = find_nats_server().ok_or_else(|| {
            FleetError::Config(
                "nats-server not found on PATH or in /usr/sbin (install Debian's nats-server package: scripts/setup.sh does)".into(),
            )
        })?;
        let mut s = Self {
            child: None,
            port: free_port()?,
            store: store.to_path_buf(),
            binary,
        };
        s.spawn()?;
        Ok(s)
    }

    fn spawn(&mut self) -> Result<(), FleetError> {
        std::fs::create_dir_all(&self.store)
            .map_err(|e| FleetError::Config(format!("{}: {e}", self.store.display())))?;
        let log = std::fs::File::create(self.store.join("nats-server.log"))
            .map_err(|e| FleetError::Config(format!("nats-server log: {e}")))?;
        let child = Command::new(&self.binary)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| FleetError::Config(format!("starting {}: {e}", self.binary.display())))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(FleetError::Config(format!(
                    "nats-server did not listen on {addr} within 10 s (log: {})",
                    self.store.join("nats-server.log").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no clean shutdown, as a crash).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store (after [`NatsServer::kill`]).
    pub fn restart(&mut self) -> Result<(), FleetError> {
        self.kill();
        self.spawn()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
