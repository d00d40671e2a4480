//! A local devnet of validators in one process (`rustorium devnet --validators n`, the consensus
//! benchmark): a genesis with `[[validators]]` written beside their data, each validator on its
//! own loopback port.

use std::path::Path;
use std::sync::Arc;

use crate::{ConsensusSection, Node, NodeConfig, NodeError};

/// Free UDP ports on loopback (bound, read, released; a small race acceptable for a devnet).
fn free_udp_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let socks = (0..n)
        .map(|_| std::net::UdpSocket::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    socks.iter().map(|s| Ok(s.local_addr()?.port())).collect()
}

/// Starts `n` validators in this process under BFT consensus on loopback: a genesis with
/// `[[validators]]` (devnet keys and fee accounts 0..n) is written to `data/genesis.toml`,
/// validator `i` keeps its data in `data/v{i}`. Validator 0 keeps `base`'s listen addresses and
/// proves when `prove_first`; the others listen on ephemeral ports and do not prove.
pub fn start_validators(
    genesis_src: &Path,
    data: &Path,
    n: usize,
    base: NodeConfig,
    prove_first: bool,
) -> Result<Vec<Arc<Node>>, NodeError> {
    if n < 4 {
        return Err(NodeError::Config(format!(
            "BFT needs at least 4 validators (n = 3f + 1), got {n}"
        )));
    }
    let io = |p: &Path, e: std::io::Error| NodeError::Config(format!("{}: {e}", p.display()));
    std::fs::create_dir_all(data).map_err(|e| io(data, e))?;
    let mut genesis = std::fs::read_to_string(genesis_src).map_err(|e| io(genesis_src, e))?;
    for i in 0..n {
        genesis += &format!("\n[[validators]]\ndev_key = {i}\nfee_account = {i}\n");
    }
    let genesis_path = data.join("genesis.toml");
    std::fs::write(&genesis_path, genesis).map_err(|e| io(&genesis_path, e))?;
    let ports = free_udp_ports(n).map_err(|e| io(Path::new("127.0.0.1"), e))?;
    let peers: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let mut nodes = Vec::new();
    for i in 0..n {
        let mut c = base.clone();
        c.genesis = genesis_path.clone();
        c.data_dir = data.join(format!("v{i}"));
        c.producer = i as u64;
        c.prove = prove_first && i == 0;
        if i > 0 {
            c.quic_listen = "127.0.0.1:0".into();
            c.http_listen = "127.0.0.1:0".into();
        }
        c.consensus = Some(ConsensusSection {
            validator: i as u16,
            dev_key: Some(i as u64),
            key_file: None,
            listen: peers[i].clone(),
            peers: peers.clone(),
            propose_timeout_ms: 1000,
            vote_timeout_ms: 400,
            fault_injection: false,
            byzantine: crate::consensus::Byzantine::None,
        });
        nodes.push(Node::start(c)?);
    }
    tracing::info!(n, peers = %peers.join(", "), "validators under BFT consensus");
    Ok(nodes)
}
