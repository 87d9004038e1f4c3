//! `copilot-chaos proxy --target PORT [--listen PORT]`: a loopback TCP proxy
//! between a client and a real CLI server whose behaviour the test switches
//! at any time with stdin commands:
//!
//! | command     | effect                                                                   |
//! |-------------|--------------------------------------------------------------------------|
//! | `pass`      | forward both ways, no delay, and listen again after `refuse` (default)   |
//! | `drop`      | close every current connection cleanly (FIN, both sides)                 |
//! | `reset`     | close every current connection with an RST (both sides)                  |
//! | `delay MS`  | forward again, each chunk held MS ms (both ways, order kept)             |
//! | `blackhole` | keep connections open but swallow every byte (and FIN), both ways        |
//! | `refuse`    | close the listener (connects get ECONNREFUSED) until `pass`              |
//! | `count`     | `ok count <n>`: connections accepted so far                              |
//!
//! Each accepted connection gets one task that connects to the target and
//! runs four loops: for each direction a reader, which stamps each chunk with
//! the time it is due, and a writer, which waits until then and writes it.
//! A queue between them keeps the order while letting every chunk wait its
//! own delay (a delay adds latency; it does not cut throughput).

use crate::control::{self, Commands};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Largest chunk read at once.
const CHUNK: usize = 16 * 1024;
/// Chunks that may wait in one direction before the reader stops reading
/// (and TCP flow control pushes back on the sender).
const QUEUE: usize = 256;

pub struct Config {
    /// Port of the real server on 127.0.0.1.
    pub target: u16,
    /// Port to listen on (0 = any free port).
    pub listen: u16,
}

/// How the bytes flow right now; every connection watches it.
#[derive(Clone, Copy, Default)]
struct Forward {
    blackhole: bool,
    delay: Duration,
}

/// How `drop` and `reset` close a connection.
#[derive(Clone, Copy)]
enum Close {
    Fin,
    Rst,
}

/// Order to a connection task to close its sockets; it answers on `done`
/// once the FIN or RST is on its way.
struct Kill {
    close: Close,
    done: oneshot::Sender<()>,
}

struct Shared {
    target: SocketAddr,
    forward: watch::Sender<Forward>,
    /// Connections still open, by id, with the way to close them.
    live: Mutex<HashMap<u64, oneshot::Sender<Kill>>>,
    /// Connections accepted so far (also the next id).
    accepted: AtomicU64,
}

/// Runs the proxy until stdin closes.
pub async fn run(config: Config) -> io::Result<()> {
    let listener = control::bind(config.listen)?;
    let port = listener.local_addr()?.port();
    if port == config.target {
        // `--listen 0` drew the target's port (free, so nothing listens on
        // it): every connection would open another one, without end.
        return Err(io::Error::new(io::ErrorKind::AddrInUse, format!("drew port {port}, the target's own; try again")));
    }
    let shared = Arc::new(Shared {
        target: SocketAddr::from((Ipv4Addr::LOCALHOST, config.target)),
        forward: watch::Sender::new(Forward::default()),
        live: Mutex::new(HashMap::new()),
        accepted: AtomicU64::new(0),
    });
    // `None` while refusing.
    let mut acceptor = Some(tokio::spawn(accept(listener, shared.clone())));
    control::say(&format!("listening on port {port}"));

    let mut commands = Commands::new();
    while let Some(words) = commands.next().await {
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let result = match words.as_slice() {
            ["pass"] => {
                shared.forward.send_replace(Forward::default());
                match acceptor {
                    Some(_) => Ok("pass".to_string()),
                    // SO_REUSEADDR lets the same port be bound again even
                    // though connections accepted on it are still open.
                    None => match control::bind(port) {
                        Ok(listener) => {
                            acceptor = Some(tokio::spawn(accept(listener, shared.clone())));
                            Ok("pass".to_string())
                        }
                        Err(e) => Err(format!("cannot listen on port {port} again: {e}")),
                    },
                }
            }
            ["drop"] => {
                kill_all(&shared, Close::Fin).await;
                Ok("drop".to_string())
            }
            ["reset"] => {
                kill_all(&shared, Close::Rst).await;
                Ok("reset".to_string())
            }
            ["delay", ms] => match ms.parse::<u64>() {
                Ok(ms) => {
                    shared.forward.send_replace(Forward { blackhole: false, delay: Duration::from_millis(ms) });
                    Ok(format!("delay {ms}"))
                }
                Err(_) => Err(format!("delay wants milliseconds, got {ms:?}")),
            },
            ["blackhole"] => {
                shared.forward.send_modify(|f| f.blackhole = true);
                Ok("blackhole".to_string())
            }
            ["refuse"] => {
                if let Some(task) = acceptor.take() {
                    // Once the aborted task is reaped its listener is closed.
                    task.abort();
                    let _ = task.await;
                }
                Ok("refuse".to_string())
            }
            ["count"] => Ok(format!("count {}", shared.accepted.load(Ordering::SeqCst))),
            [] => Err("empty command".to_string()),
            _ => Err(format!("unknown command {:?}", words.join(" "))),
        };
        control::answer(result);
    }
    Ok(())
}

/// Accepts connections until aborted (by `refuse`); dropping the task closes
/// the listener.
async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((client, _)) => {
                let id = shared.accepted.fetch_add(1, Ordering::SeqCst);
                // Registered before the task runs, so a `drop` right after
                // the accept already covers this connection.
                let (kill_tx, kill_rx) = oneshot::channel();
                shared.live.lock().unwrap().insert(id, kill_tx);
                tokio::spawn(serve(id, client, shared.clone(), kill_rx));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait, then go on.
                eprintln!("copilot-chaos proxy: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Closes every connection open right now and waits until each one's FIN or
/// RST is sent. Connections accepted later are not affected.
async fn kill_all(shared: &Shared, close: Close) {
    let victims: Vec<_> = shared.live.lock().unwrap().drain().map(|(_, kill)| kill).collect();
    let mut pending = Vec::new();
    for kill in victims {
        let (done, closed) = oneshot::channel();
        // A send fails only if the connection just ended by itself.
        if kill.send(Kill { close, done }).is_ok() {
            pending.push(closed);
        }
    }
    for closed in pending {
        // An error means the task is gone, which closed its sockets too.
        let _ = closed.await;
    }
}

/// How a connection ends.
enum Fate {
    /// Both directions finished with a FIN (or one was swallowed).
    Ended,
    /// A read or write failed, or the target could not be reached.
    Broken,
    /// `drop` or `reset` closes it.
    Killed(Kill),
}

/// One client connection, from accept to close.
async fn serve(id: u64, mut client: TcpStream, shared: Arc<Shared>, kill: oneshot::Receiver<Kill>) {
    let _ = client.set_nodelay(true);
    let mut upstream = None;
    let forward = shared.forward.subscribe();
    let fate = tokio::select! {
        fate = relay(&mut client, &mut upstream, shared.target, &forward) => fate,
        // A receive error only happens at exit; the branch is then disabled.
        Ok(kill) = kill => Fate::Killed(kill),
    };
    shared.live.lock().unwrap().remove(&id);
    match fate {
        Fate::Ended => {}
        // Reset both ends, so that a reset on one side shows up as a reset
        // on the other (and a target that cannot be reached as a reset).
        Fate::Broken => reset_both(client, upstream),
        Fate::Killed(Kill { close: Close::Rst, done }) => {
            reset_both(client, upstream);
            let _ = done.send(());
        }
        Fate::Killed(Kill { close: Close::Fin, done }) => {
            let _ = client.shutdown().await;
            if let Some(upstream) = &mut upstream {
                let _ = upstream.shutdown().await;
            }
            let _ = done.send(());
            let drain_upstream = async {
                if let Some(upstream) = &mut upstream {
                    control::drain(upstream).await;
                }
            };
            tokio::join!(control::drain(&mut client), drain_upstream);
        }
    }
}

fn reset_both(client: TcpStream, upstream: Option<TcpStream>) {
    control::reset(client);
    if let Some(upstream) = upstream {
        control::reset(upstream);
    }
}

/// Connects to the target, then forwards both ways until both directions
/// are finished or something breaks. `upstream` receives the target
/// connection so that the caller can close it afterwards.
async fn relay(
    client: &mut TcpStream,
    upstream: &mut Option<TcpStream>,
    target: SocketAddr,
    forward: &watch::Receiver<Forward>,
) -> Fate {
    let server = match TcpStream::connect(target).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("copilot-chaos proxy: cannot reach the target {target}: {e}");
            return Fate::Broken;
        }
    };
    let _ = server.set_nodelay(true);
    let server = upstream.insert(server);
    let (client_read, client_write) = client.split();
    let (server_read, server_write) = server.split();
    let (to_server, for_server) = mpsc::channel(QUEUE);
    let (to_client, for_client) = mpsc::channel(QUEUE);
    let all = tokio::try_join!(
        read_side(client_read, to_server, forward),
        write_side(for_server, server_write, forward),
        read_side(server_read, to_client, forward),
        write_side(for_client, client_write, forward),
    );
    match all {
        Ok(_) => Fate::Ended,
        Err(Broken) => Fate::Broken,
    }
}

/// A read or write failed: the whole connection is to be reset.
struct Broken;

/// Bytes read from one side, to be written to the other at `due`. Empty
/// bytes stand for the end of the stream (a FIN to pass on).
struct Chunk {
    due: Instant,
    bytes: Vec<u8>,
}

/// Reads one side and queues what it reads, stamped with the delay in force
/// at that moment; drops it instead while blackholed.
async fn read_side(
    mut from: impl AsyncRead + Unpin,
    queue: mpsc::Sender<Chunk>,
    forward: &watch::Receiver<Forward>,
) -> Result<(), Broken> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = from.read(&mut buf).await.map_err(|_| Broken)?;
        let now = *forward.borrow();
        if n > 0 && now.blackhole {
            continue;
        }
        let chunk = Chunk { due: Instant::now() + now.delay, bytes: buf[..n].to_vec() };
        // The writer is gone only after it passed the end of the stream on.
        if queue.send(chunk).await.is_err() || n == 0 {
            return Ok(());
        }
    }
}

/// Writes the queued chunks to the other side, each when it is due, unless
/// a blackhole started meanwhile; passes the end of the stream on as a FIN.
async fn write_side(
    mut queue: mpsc::Receiver<Chunk>,
    mut to: impl AsyncWrite + Unpin,
    forward: &watch::Receiver<Forward>,
) -> Result<(), Broken> {
    while let Some(chunk) = queue.recv().await {
        if chunk.due > Instant::now() {
            tokio::time::sleep_until(chunk.due).await;
        }
        let blackhole = forward.borrow().blackhole;
        match (chunk.bytes.is_empty(), blackhole) {
            // A swallowed FIN leaves the other side open, as a vanished
            // host would.
            (true, true) => return Ok(()),
            (true, false) => {
                let _ = to.shutdown().await;
                return Ok(());
            }
            (false, true) => {}
            (false, false) => to.write_all(&chunk.bytes).await.map_err(|_| Broken)?,
        }
    }
    Ok(())
}
