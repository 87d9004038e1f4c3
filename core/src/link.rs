//! The link: which connection a client and its sessions use right now, shared by both.
//!
//! A client's connection can be replaced (reconnect, restarted CLI) while its sessions live on,
//! so sessions never hold a connection: they ask the link for the current one. The link also
//! tells waiting turns that the connection they started on is gone.

use crate::error::{Error, ErrorKind, Result};
use crate::rpc::Connection;
use std::time::Duration;
use tokio::sync::watch;

#[derive(Clone)]
pub(crate) enum LinkState {
    /// Connected; `epoch` grows with every new connection.
    Up { conn: Connection, epoch: u64 },
    /// The connection was lost and the client is reconnecting.
    Reconnecting { cause: Error },
    /// Not started, stopped, or given up: calls fail with this error.
    Down { error: Error },
}

pub(crate) struct Link {
    tx: watch::Sender<LinkState>,
    /// How long a call made while reconnecting waits for the connection.
    call_wait: Duration,
}

impl Link {
    pub fn new(call_wait: Duration) -> Link {
        let error = Error::new(ErrorKind::NotConnected, "the client is not started");
        Link { tx: watch::Sender::new(LinkState::Down { error }), call_wait }
    }

    pub fn set_up(&self, conn: Connection) -> u64 {
        let epoch = self.next_epoch();
        self.tx.send_replace(LinkState::Up { conn, epoch });
        epoch
    }

    fn next_epoch(&self) -> u64 {
        static EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_reconnecting(&self, cause: Error) {
        self.tx.send_replace(LinkState::Reconnecting { cause });
    }

    pub fn set_down(&self, error: Error) {
        self.tx.send_replace(LinkState::Down { error });
    }

    /// The epoch of the current connection (None when not connected).
    pub fn epoch(&self) -> Option<u64> {
        match &*self.tx.borrow() {
            LinkState::Up { epoch, .. } => Some(*epoch),
            _ => None,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<LinkState> {
        self.tx.subscribe()
    }

    /// The current connection. While reconnecting, waits up to `call_wait` for it, then fails
    /// with `reconnecting`; when down, fails with the reason.
    pub async fn conn(&self) -> Result<Connection> {
        let mut rx = self.tx.subscribe();
        let cause = match &*rx.borrow_and_update() {
            LinkState::Up { conn, .. } => return Ok(conn.clone()),
            LinkState::Down { error } => return Err(error.clone()),
            LinkState::Reconnecting { cause } => cause.clone(),
        };
        if !self.call_wait.is_zero() {
            let settled =
                tokio::time::timeout(self.call_wait, rx.wait_for(|s| !matches!(s, LinkState::Reconnecting { .. })))
                    .await;
            if let Ok(Ok(state)) = settled {
                return match &*state {
                    LinkState::Up { conn, .. } => Ok(conn.clone()),
                    LinkState::Down { error } => Err(error.clone()),
                    LinkState::Reconnecting { .. } => unreachable!("wait_for returned a reconnecting state"),
                };
            }
        }
        Err(reconnecting_error(&cause, self.call_wait))
    }
}

fn reconnecting_error(cause: &Error, waited: Duration) -> Error {
    let waited = if waited.is_zero() { String::new() } else { format!(" (waited {waited:?})") };
    cause.rekind(
        ErrorKind::Reconnecting,
        format!(
            "the connection to the CLI was lost ({}) and the client is reconnecting{waited}; the call was not sent: retry it",
            cause.message()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn conn_err(link: &Link) -> Error {
        link.conn().await.err().expect("no connection expected")
    }

    #[tokio::test]
    async fn calls_wait_while_reconnecting_then_fail_typed() {
        let link = Link::new(Duration::from_millis(50));
        assert_eq!(conn_err(&link).await.kind(), ErrorKind::NotConnected);
        link.set_reconnecting(Error::closed("gone"));
        let t = std::time::Instant::now();
        let e = conn_err(&link).await;
        assert_eq!(e.kind(), ErrorKind::Reconnecting);
        assert!(e.is_retriable() && e.message().contains("gone"), "{e}");
        assert!(t.elapsed() >= Duration::from_millis(50));
        let fast = Link::new(Duration::ZERO);
        fast.set_reconnecting(Error::closed("gone"));
        assert_eq!(conn_err(&fast).await.kind(), ErrorKind::Reconnecting);
        // Giving up while a call waits: the call gets the reason at once.
        let link = std::sync::Arc::new(Link::new(Duration::from_secs(10)));
        link.set_reconnecting(Error::closed("gone"));
        let l2 = link.clone();
        let waiting = tokio::spawn(async move { conn_err(&l2).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        link.set_down(Error::new(ErrorKind::ReconnectFailed, "gave up"));
        let e = tokio::time::timeout(Duration::from_secs(1), waiting).await.unwrap().unwrap();
        assert_eq!(e.kind(), ErrorKind::ReconnectFailed);
    }
}
