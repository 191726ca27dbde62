//! Processes the suites start (`corsica serve`, nginx, Caddy, HAProxy): a guard that
//! stops them, free loopback ports, and waiting until something listens.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::TcpStream;

/// A process stopped when dropped: SIGTERM first (nginx's master then stops its workers,
/// which would otherwise outlive a SIGKILL), SIGKILL after two seconds.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        // Already reaped (stopped by its owner): its pid may belong to another process now.
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
        for _ in 0..40 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `corsica serve --config FILE` (`corsica`: the binary beside this one), its log to
/// `stderr`, stopped when dropped.
pub(crate) fn serve(corsica: &Path, file: &Path, stderr: Stdio) -> Result<Process, String> {
    Command::new(corsica)
        .arg("serve")
        .arg("--config")
        .arg(file)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map(Process)
        .map_err(|e| format!("cannot start {}: {e}", corsica.display()))
}

/// A free loopback port.
pub(crate) fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Waits until something accepts connections on `addr`.
pub(crate) async fn ready(addr: SocketAddr, what: &str) -> Result<(), String> {
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{what} did not start on {addr}"))
}
